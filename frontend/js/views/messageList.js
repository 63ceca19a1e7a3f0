// The open room's messages. A full render happens only when a room is opened; afterwards each
// change inserts or replaces the one item it concerns.

import { $, messageItem, pendingItem } from "../render.js";

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

  function renderRoom() {
    const room = store.currentRoom();
    nodes = new Map();
    pendingNodes = new Map();
    if (!room) return list.replaceChildren();
    const fragment = document.createDocumentFragment();
    for (const id of room.ids) {
      const node = messageItem(room.messages.get(id), store.isMine(room.messages.get(id)));
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
    const node = messageItem(message, store.isMine(message));
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
