// Search in the open room: results newest first, "More results" goes further back, and a result
// jumps to the message in context (reading older history until it is there).

import { $, describe, el } from "../render.js";

export function mountSearch({ store, actions }) {
  let query = "";
  let cursor = null;

  function close() {
    $("search-results").hidden = true;
    $("search-list").replaceChildren();
    $("search-status").textContent = "";
    query = "";
    cursor = null;
  }

  async function jump(roomId, messageId) {
    if (!(await actions.loadUntil(roomId, messageId))) {
      $("search-status").textContent = "That message is no longer in this room.";
      return;
    }
    const node = document.querySelector(`#messages [data-id="${CSS.escape(messageId)}"]`);
    if (!node) return;
    node.classList.add("found");
    node.setAttribute("tabindex", "-1");
    node.scrollIntoView({ block: "center" });
    node.focus();
    setTimeout(() => node.classList.remove("found"), 4000);
  }

  function result(roomId, message) {
    const when = new Date(message.createdAt).toLocaleString();
    return el(
      "li",
      {},
      el("button", { type: "button", className: "result", onClick: () => jump(roomId, message.messageId) }, el("strong", { text: message.username }), ` ${when}: `, el("span", { text: message.text })),
    );
  }

  async function run(more) {
    const roomId = store.state.currentRoomId;
    if (!roomId || !query) return;
    $("search-status").textContent = "Searching…";
    try {
      const found = await actions.search(roomId, query, more ? cursor : null);
      if (roomId !== store.state.currentRoomId) return;
      cursor = found.cursor;
      if (!more) $("search-list").replaceChildren();
      $("search-list").append(...found.messages.map((m) => result(roomId, m)));
      const count = $("search-list").children.length;
      $("search-status").textContent = count === 0 && !cursor ? "No messages match." : `${count} result${count === 1 ? "" : "s"}${cursor ? " so far" : ""}.`;
      $("search-more").hidden = !cursor;
      $("search-results").hidden = false;
    } catch (error) {
      $("search-status").textContent = describe(error);
      $("search-results").hidden = false;
    }
  }

  $("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    query = $("search-input").value.trim();
    if (!query) return close();
    run(false);
  });
  $("search-more").addEventListener("click", () => run(true));
  $("search-close").addEventListener("click", () => {
    close();
    $("search-input").value = "";
    $("search-input").focus();
  });
  store.subscribe("current", () => {
    close();
    $("search-input").value = "";
  });
}
