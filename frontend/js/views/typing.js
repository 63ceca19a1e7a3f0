// "bob is typing…" under the open room's messages; our own typing tells the others (throttled
// in actions). Failed edits, deletes and reactions are said under the message box.

import { $ } from "../render.js";

export function mountTyping({ store, actions }) {
  function render() {
    const room = store.currentRoom();
    const now = Date.now();
    const names = room ? [...room.typing].filter(([, until]) => until > now).map(([name]) => name) : [];
    $("typing-line").textContent =
      names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing…` : `${names.slice(0, -1).join(", ")} and ${names.at(-1)} are typing…`;
  }
  store.subscribe("typing", ({ roomId }) => {
    if (roomId === store.state.currentRoomId) render();
  });
  store.subscribe("current", render);
  store.subscribe("notice", (notice) => {
    if (notice.kind === "writeFailed" && notice.roomId === store.state.currentRoomId) $("composer-error").textContent = notice.message;
  });
  $("message-input").addEventListener("input", () => {
    const roomId = store.state.currentRoomId;
    if (roomId && $("message-input").value.trim()) actions.typing(roomId);
  });
}
