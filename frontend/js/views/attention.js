// Telling the user about messages they have not seen: the unread count in the tab title, and
// (opt-in, asked on a click) a desktop notification while the tab is hidden.

import { $ } from "../render.js";

const OPT_IN_KEY = "chat.notifications";
const TITLE = document.title;

export function mountAttention({ store }) {
  const button = $("notify-button");
  const supported = "Notification" in window;
  const enabled = () => supported && Notification.permission === "granted" && localStorage.getItem(OPT_IN_KEY) === "on";

  function renderButton() {
    button.hidden = !supported || Notification.permission === "denied";
    button.setAttribute("aria-pressed", String(enabled()));
  }

  button.addEventListener("click", async () => {
    if (enabled()) localStorage.setItem(OPT_IN_KEY, "off");
    else if ((await Notification.requestPermission()) === "granted") localStorage.setItem(OPT_IN_KEY, "on");
    renderButton();
  });

  store.subscribe("rooms", () => {
    const unread = store.totalUnread();
    document.title = unread > 0 ? `(${unread}) ${TITLE}` : TITLE;
  });

  store.subscribe("message", ({ roomId, messageId, live }) => {
    if (!live || !document.hidden || !enabled()) return;
    const room = store.room(roomId);
    const message = room && room.messages.get(messageId);
    if (!message || store.isMine(message)) return;
    const notification = new Notification(`${message.username} in ${room.name}`, { body: message.text.slice(0, 200), tag: roomId });
    notification.onclick = () => {
      window.focus();
      notification.close();
    };
  });

  // Coming back to the tab is seeing the open room.
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) store.markSeen();
  });

  renderButton();
}
