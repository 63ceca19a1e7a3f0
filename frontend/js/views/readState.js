// Read state of the open room: tells the server what we have seen (markRead, once per burst of
// messages while the tab is visible), and shows "Seen by …" under the newest message.

import { $ } from "../render.js";

const MARK_DELAY_MS = 300;

export function mountReadState({ store, actions }) {
  let timer = null;

  function markSoon() {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const roomId = store.state.currentRoomId;
      if (roomId && !document.hidden) actions.markRead(roomId);
    }, MARK_DELAY_MS);
  }

  function renderSeenBy() {
    const room = store.currentRoom();
    const line = $("seen-by");
    const newest = room && room.ids[room.ids.length - 1];
    if (!newest) return (line.textContent = "");
    const me = store.state.session.username.toLowerCase();
    const seen = room.members.filter((m) => m.username.toLowerCase() !== me && m.lastRead && m.lastRead >= newest).map((m) => m.username);
    line.textContent = seen.length === 0 ? "" : room.kind === "direct" ? "Seen" : `Seen by ${seen.join(", ")}`;
  }

  store.subscribe("current", () => {
    renderSeenBy();
    markSoon();
  });
  store.subscribe("message", ({ roomId }) => {
    if (roomId !== store.state.currentRoomId) return;
    renderSeenBy();
    markSoon();
  });
  store.subscribe("members", ({ roomId }) => {
    if (roomId === store.state.currentRoomId) renderSeenBy();
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) markSoon();
  });
}
