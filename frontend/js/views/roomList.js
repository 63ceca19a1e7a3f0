// The user's rooms and direct conversations, with what is unread or waiting in each.

import { $, el } from "../render.js";

export function mountRoomList({ store, onSelect }) {
  function item(room, current) {
    const count = room.unread + room.requestCount;
    const label = [room.unread ? `${room.unread >= 100 ? "100 or more" : room.unread} unread` : "", room.requestCount ? `${room.requestCount} waiting to join` : ""].filter(Boolean).join(", ");
    const button = el(
      "button",
      { type: "button", "aria-current": room.roomId === current ? "true" : "false", "data-room-id": room.roomId, onClick: () => onSelect(room.roomId) },
      el("span", { className: "room-name", text: room.name }),
      room.role === "admin" ? el("span", { className: "role-tag", text: "admin" }) : null,
      count > 0 ? el("span", { className: "badge", "aria-hidden": "true", title: label, text: room.unread >= 100 ? "99+" : String(count) }) : null,
      count > 0 ? el("span", { className: "visually-hidden", text: `(${label})` }) : null,
    );
    return el("li", {}, button);
  }

  function render() {
    const current = store.state.currentRoomId;
    const rooms = [...store.state.rooms.values()];
    const groups = rooms.filter((r) => r.kind !== "direct");
    const directs = rooms.filter((r) => r.kind === "direct");
    $("room-list").replaceChildren(...groups.map((r) => item(r, current)));
    $("direct-list").replaceChildren(...directs.map((r) => item(r, current)));
    $("no-rooms").hidden = groups.length > 0;
  }
  store.subscribe("rooms", render);
  store.subscribe("current", render);
}
