// The list of the user's rooms, with what is unread or waiting in each.

import { $, el } from "../render.js";

export function mountRoomList({ store, onSelect }) {
  function render() {
    const current = store.state.currentRoomId;
    const items = [...store.state.rooms.values()].map((room) => {
      const count = room.unread + room.requestCount;
      const label = [room.unread ? `${room.unread} unread` : "", room.requestCount ? `${room.requestCount} waiting to join` : ""].filter(Boolean).join(", ");
      const button = el(
        "button",
        { type: "button", "aria-current": room.roomId === current ? "true" : "false", "data-room-id": room.roomId, onClick: () => onSelect(room.roomId) },
        el("span", { className: "room-name", text: room.name }),
        room.role === "admin" ? el("span", { className: "role-tag", text: "admin" }) : null,
        count > 0 ? el("span", { className: "badge", title: label, text: String(count) }) : null,
        count > 0 ? el("span", { className: "visually-hidden", text: `(${label})` }) : null,
      );
      return el("li", {}, button);
    });
    $("room-list").replaceChildren(...items);
    $("no-rooms").hidden = store.state.rooms.size > 0;
  }
  store.subscribe("rooms", render);
  store.subscribe("current", render);
}
