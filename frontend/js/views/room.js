// The open room's frame: the empty state (with why a room went away), the title, the admin's
// invite link, and leaving or deleting the room (each asks for confirmation first).

import { $, describe } from "../render.js";

const GONE = {
  removedFromRoom: (name) => `You were removed from ${name}.`,
  roomDeleted: (name) => `${name} was deleted by its admin.`,
};

export function mountRoom({ store, actions }) {
  function renderHeader(room) {
    $("room-title").textContent = room.kind === "direct" ? `Direct: ${room.name}` : room.name;
    $("copy-invite").hidden = room.role !== "admin";
    $("leave-room").hidden = room.role === "admin";
    $("leave-room").textContent = room.kind === "direct" ? "Close conversation" : "Leave room";
    $("delete-room").hidden = room.role !== "admin";
  }

  store.subscribe("current", () => {
    const room = store.currentRoom();
    $("empty-room").hidden = Boolean(room);
    $("room-content").hidden = !room;
    $("room-action-error").textContent = "";
    if (!room) return;
    $("room-notice").textContent = "";
    $("copy-status").textContent = "";
    renderHeader(room);
  });
  store.subscribe("rooms", () => {
    const room = store.currentRoom();
    if (room) renderHeader(room);
  });
  store.subscribe("notice", (notice) => {
    if (GONE[notice.kind]) $("room-notice").textContent = GONE[notice.kind](notice.name);
  });

  async function act(question, action) {
    const room = store.currentRoom();
    if (!room || !window.confirm(question(room))) return;
    $("room-action-error").textContent = "";
    try {
      await action(room.roomId);
    } catch (error) {
      $("room-action-error").textContent = describe(error);
    }
  }

  $("leave-room").addEventListener("click", () =>
    act((room) => (room.kind === "direct" ? `Close your conversation with ${room.name}? It comes back when either of you opens it again.` : `Leave ${room.name}? You will need the admin's approval to come back.`), actions.leaveRoom),
  );
  $("delete-room").addEventListener("click", () =>
    act((room) => `Delete ${room.name} for everyone? Its messages are deleted too. This cannot be undone.`, actions.deleteRoom),
  );

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
