// The open room's messages. A full render happens only when a room is opened; afterwards each
// change inserts or replaces the one item it concerns. Each message has its actions: reactions,
// inline edit (Enter saves, Escape cancels) and delete with confirmation.

import { $, el, messageItem, pendingItem } from "../render.js";

const STICK_PX = 80; // this close to the bottom, a new message keeps the view at the bottom

export function mountMessageList({ store, actions }) {
  const list = $("messages");
  let nodes = new Map(); // messageId => <li> of the open room
  let pendingNodes = new Map(); // clientMessageId => <li>

  const atBottom = () => list.scrollHeight - list.scrollTop - list.clientHeight < STICK_PX;
  const scrollToBottom = () => (list.scrollTop = list.scrollHeight);
  const me = () => store.state.session.username;

  function pendingNode(room, pending) {
    return pendingItem(pending, me(), {
      onRetry: () => actions.retrySend(room.roomId, pending.clientMessageId),
      onDiscard: () => actions.discardSend(room.roomId, pending.clientMessageId),
    });
  }

  function controls(room, message) {
    const act = (fn) => {
      try {
        fn();
      } catch (error) {
        $("composer-error").textContent = error.message;
      }
    };
    return {
      me: me(),
      canDelete: room.role === "admin",
      onReact: (emoji, on) => act(() => actions.react(room.roomId, message.messageId, emoji, on)),
      onDelete: () => {
        if (window.confirm("Delete this message for everyone?")) act(() => actions.deleteMessage(room.roomId, message.messageId));
      },
      onEdit: () => startEdit(room, message.messageId),
    };
  }

  // Attachments: fetched with the token, shown from blob URLs; a download saves that blob.
  function files(room) {
    return {
      imageUrl: (a) => actions.media.blobUrl(room.roomId, a.uploadId),
      onDownload: async (a) => {
        try {
          const link = el("a", { href: await actions.media.blobUrl(room.roomId, a.uploadId), download: a.filename, hidden: true });
          document.body.append(link);
          link.click();
          link.remove();
        } catch (error) {
          $("composer-error").textContent = `Couldn't download ${a.filename}: ${error.message}`;
        }
      },
    };
  }

  function item(room, messageId) {
    const message = room.messages.get(messageId);
    return messageItem(message, store.isMine(message), controls(room, message), files(room));
  }

  function startEdit(room, messageId) {
    const node = nodes.get(messageId);
    const message = room.messages.get(messageId);
    if (!node || !message || message.deleted) return;
    const box = el("textarea", { className: "edit-box", "aria-label": "Edit message", maxlength: "4000" });
    box.value = message.text;
    const cancel = () => node.replaceWith(replaceNode(room, messageId));
    const save = () => {
      const text = box.value;
      if (text.trim() && text !== message.text) {
        try {
          actions.editMessage(room.roomId, messageId, text);
        } catch (error) {
          $("composer-error").textContent = error.message;
        }
      }
      cancel();
    };
    box.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.preventDefault();
        cancel();
      } else if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        save();
      }
    });
    const form = el("div", { className: "edit-form" }, box, el("span", { className: "small muted", text: "Enter saves, Escape cancels" }));
    node.querySelector(".text").replaceWith(form);
    node.querySelector(".message-actions")?.remove();
    box.focus();
  }

  function replaceNode(room, messageId) {
    const node = item(room, messageId);
    nodes.set(messageId, node);
    return node;
  }

  function changeMessage({ roomId, messageId }) {
    const room = store.currentRoom();
    const old = nodes.get(messageId);
    if (!room || room.roomId !== roomId || !old) return;
    if (old.querySelector(".edit-box") && !room.messages.get(messageId).deleted) return; // mid-edit: keep the box
    old.replaceWith(replaceNode(room, messageId));
  }

  function renderRoom() {
    const room = store.currentRoom();
    nodes = new Map();
    pendingNodes = new Map();
    if (!room) return list.replaceChildren();
    const fragment = document.createDocumentFragment();
    for (const id of room.ids) {
      const node = item(room, id);
      nodes.set(id, node);
      fragment.append(node);
    }
    for (const pending of room.pending.values()) {
      const node = pendingNode(room, pending);
      pendingNodes.set(pending.clientMessageId, node);
      fragment.append(node);
    }
    list.replaceChildren(fragment);
    $("history-status").textContent = room.historyNote;
    scrollToBottom();
  }

  function insertMessage({ roomId, messageId }) {
    const room = store.currentRoom();
    if (!room || room.roomId !== roomId || nodes.has(messageId)) return;
    const message = room.messages.get(messageId);
    const index = room.ids.lastIndexOf(messageId); // from the end: live messages are the newest
    const next = nodes.get(room.ids[index + 1]) || list.querySelector(".pending");
    const stick = atBottom();
    const heightBefore = list.scrollHeight;
    const node = item(room, messageId);
    list.insertBefore(node, next || null);
    nodes.set(messageId, node);
    if (stick || (store.isMine(message) && index === room.ids.length - 1)) scrollToBottom();
    else if (node.offsetTop < list.scrollTop) list.scrollTop += list.scrollHeight - heightBefore; // older page above: keep the view still
  }

  function updatePending({ roomId, clientMessageId }) {
    const room = store.currentRoom();
    if (!room || room.roomId !== roomId) return;
    const old = pendingNodes.get(clientMessageId);
    const pending = room.pending.get(clientMessageId);
    if (!pending) {
      if (old) old.remove();
      pendingNodes.delete(clientMessageId);
      return;
    }
    const node = pendingNode(room, pending);
    pendingNodes.set(clientMessageId, node);
    if (old) old.replaceWith(node);
    else {
      list.append(node);
      scrollToBottom();
    }
  }

  store.subscribe("current", renderRoom);
  store.subscribe("message", insertMessage);
  store.subscribe("changed", changeMessage);
  store.subscribe("pending", updatePending);
  store.subscribe("history", ({ roomId }) => {
    const room = store.currentRoom();
    if (room && room.roomId === roomId) $("history-status").textContent = room.historyNote;
  });

  list.addEventListener("scroll", () => {
    const room = store.currentRoom();
    if (room && room.hasOlder && list.scrollTop < 40) actions.loadOlder(room.roomId);
  });
}
