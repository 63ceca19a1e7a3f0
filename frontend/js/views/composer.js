// The message box: Enter sends, Shift+Enter adds a line; a sent message shows at once as pending.

import { $, describe } from "../render.js";

const MAX_HEIGHT_PX = 160;

export function mountComposer({ store, actions }) {
  const input = $("message-input");

  function autosize() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, MAX_HEIGHT_PX)}px`;
  }

  function send() {
    const text = input.value;
    const roomId = store.state.currentRoomId;
    $("composer-error").textContent = "";
    if (!text.trim() || !roomId) return;
    try {
      actions.sendMessage(roomId, text);
    } catch (error) {
      $("composer-error").textContent = describe(error);
      return;
    }
    input.value = "";
    autosize();
  }

  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    send();
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    }
  });
  input.addEventListener("input", autosize);
  store.subscribe("current", (roomId) => {
    $("composer-error").textContent = "";
    if (roomId) input.focus();
  });
}
