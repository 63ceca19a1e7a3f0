// The open room's frame: the empty state, the title and the admin's invite link.

import { $ } from "../render.js";

export function mountRoom({ store }) {
  store.subscribe("current", () => {
    const room = store.currentRoom();
    $("empty-room").hidden = Boolean(room);
    $("room-content").hidden = !room;
    if (!room) return;
    $("room-title").textContent = room.name;
    $("copy-invite").hidden = room.role !== "admin";
    $("copy-status").textContent = "";
  });
  store.subscribe("rooms", () => {
    const room = store.currentRoom();
    if (room) $("room-title").textContent = room.name;
  });

  $("copy-invite").addEventListener("click", async () => {
    const link = `${location.origin}${location.pathname}#join=${store.state.currentRoomId}`;
    try {
      await navigator.clipboard.writeText(link);
      $("copy-status").textContent = "Invite link copied.";
      setTimeout(() => ($("copy-status").textContent = ""), 3000);
    } catch {
      $("copy-status").textContent = link;
    }
  });
}
