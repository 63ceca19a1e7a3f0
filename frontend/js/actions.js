// Everything that talks to the server: the session, REST reads, WebSocket actions and the
// frames the server pushes. Results go into the store; views never call the network.

import { Api } from "./api.js";
import { catchUpCursor } from "./cursor.js";
import { createMedia } from "./media.js";
import { createSends } from "./sends.js";
import { EXPIRED, keepSession, storedSession } from "./session.js";
import { ChatSocket } from "./socket.js";

const HISTORY_PAGE = 50;
const CATCH_UP_PAGE = 100;
const CATCH_UP_MAX_PAGES = 50;
const REPLY_TIMEOUT_MS = 15_000;
// The server forwards one typing event per user and room every 2 s; sending more is waste.
const TYPING_EVERY_MS = 2_000;
const TYPING_SHOWN_MS = 5_000;
const FIND_MAX_PAGES = 20;
const OFFLINE = "You are offline. Try again when the connection is back.";

export class ActionError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

export function createActions({ store, config }) {
  const api = new Api(config.restUrl || "/api");
  const media = createMedia(api);
  let socket = null;
  let expiryTimer = null;
  const replies = new Map(); // requestId => {resolve, reject, timer}
  const sends = createSends({ store, getSocket: () => socket });
  const writes = new Map(); // requestId => roomId: an edit, delete or reaction (one-way)
  const typingSent = new Map(); // roomId => when we last said we are typing

  // A 401 to any call with our token (expired, logged out): the login form, with the reason.
  api.onUnauthorized = (message) => logout(message || EXPIRED);

  function saveSession(session) {
    keepSession(session);
    api.token = session ? session.token : null;
  }

  async function enter(session) {
    saveSession(session);
    await refreshRooms();
    store.setSession(session);
    clearTimeout(expiryTimer);
    expiryTimer = setTimeout(() => logout(EXPIRED), Math.max(0, Date.parse(session.expiresAt) - Date.now()));
    socket = new ChatSocket({ url: config.wsUrl || "/ws", getTicket: async () => (await api.ticket()).ticket });
    socket.addEventListener("state", (e) => store.setConnection(e.detail));
    socket.addEventListener("open", () => catchUp());
    socket.addEventListener("frame", (e) => onFrame(e.detail));
    socket.addEventListener("unauthorized", (e) => logout(e.detail || EXPIRED));
    socket.start();
  }

  function logout(message = "") {
    if (socket) socket.stop();
    socket = null;
    clearTimeout(expiryTimer);
    for (const { timer } of replies.values()) clearTimeout(timer);
    replies.clear();
    sends.clear();
    saveSession(null);
    media.forget();
    store.reset();
    store.setConnection("offline");
    store.setSession(null);
    store.notice("signedOut", { message });
  }

  // Frames with a reply: resolves with the reply, rejects with an ActionError.
  function request(frame) {
    const requestId = socket ? socket.send(frame) : null;
    if (!requestId) return Promise.reject(new ActionError("offline", OFFLINE));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        replies.delete(requestId);
        reject(new ActionError("timeout", "No answer from the server. Please try again."));
      }, REPLY_TIMEOUT_MS);
      replies.set(requestId, { resolve, reject, timer });
    });
  }

  // One-way, through the send queue (js/sends.js). `attachments`: [{uploadId, filename,
  // contentType, size}] of finished uploads.
  function sendMessage(roomId, text, clientMessageId = crypto.randomUUID(), attachments = []) {
    if (!socket || !socket.isOpen()) {
      throw new ActionError("offline", "You are offline. Your message was not sent; it is still in the box.");
    }
    sends.queue(roomId, { clientMessageId, text, attachments });
    return clientMessageId;
  }

  async function refreshRooms() {
    store.setRooms((await api.rooms()).rooms);
  }

  // After every (re)connect: the room list may have changed while we were away, and each
  // loaded room reads what it may have missed from a time cursor, page by page.
  async function catchUp() {
    try {
      await refreshRooms();
    } catch (error) {
      if (error.status === 401) return logout(error.message || EXPIRED);
    }
    for (const room of [...store.state.rooms.values()]) {
      if (!room.loaded) continue;
      let after = catchUpCursor(room);
      for (let page = 0; page < CATCH_UP_MAX_PAGES; page++) {
        const params = { limit: CATCH_UP_PAGE };
        if (after) params.after = after;
        let result;
        try {
          result = await api.messages(room.roomId, params);
        } catch {
          break;
        }
        result.messages.forEach((m) => store.addMessage(m, { live: true }));
        if (!after || !result.hasMore || result.messages.length === 0) break;
        after = result.messages[result.messages.length - 1].messageId;
      }
    }
    if (store.state.currentRoomId) loadMembers(store.state.currentRoomId);
  }

  async function loadOlder(roomId, { initial = false } = {}) {
    const room = store.room(roomId);
    if (!room || room.loadingOlder) return;
    store.setHistory(roomId, { loadingOlder: true, historyNote: "Loading…" });
    try {
      const params = { limit: HISTORY_PAGE };
      if (!initial && room.ids.length) params.before = room.ids[0];
      const result = await api.messages(roomId, params);
      result.messages.forEach((m) => store.addMessage(m, { live: false }));
      store.setHistory(roomId, {
        loaded: true,
        hasOlder: result.hasMore,
        historyNote: result.hasMore ? "" : "This is the beginning of the room.",
      });
    } catch (error) {
      store.setHistory(roomId, { historyNote: `Couldn't load history: ${error.message}` });
    } finally {
      store.setHistory(roomId, { loadingOlder: false });
    }
  }

  async function loadMembers(roomId) {
    try {
      const result = await api.members(roomId);
      store.setMembers(roomId, result.members, result.requests || []);
    } catch (error) {
      store.notice("membersFailed", { roomId, message: error.message });
    }
  }

  // Edits, deletes and reactions are one-way: the change arrives as messageUpdated; an error
  // comes back with the requestId and becomes a notice.
  function write(frame) {
    const requestId = socket ? socket.send(frame) : null;
    if (!requestId) throw new ActionError("offline", OFFLINE);
    writes.set(requestId, frame.roomId);
    setTimeout(() => writes.delete(requestId), REPLY_TIMEOUT_MS);
  }

  // Reads older pages until the message is held (a search result far back); whether it is.
  async function loadUntil(roomId, messageId) {
    for (let page = 0; page < FIND_MAX_PAGES; page++) {
      const room = store.room(roomId);
      if (!room) return false;
      if (room.messages.has(messageId)) return true;
      if (room.loaded && !room.hasOlder) return false;
      await loadOlder(roomId, { initial: !room.loaded });
    }
    return Boolean(store.room(roomId)?.messages.has(messageId));
  }

  // Removed from a room or the room deleted: it goes, with a notice naming it.
  function gone(roomId, why) {
    const room = store.room(roomId);
    if (room && store.removeRoom(roomId)) store.notice(why, { roomId, name: room.name });
  }

  // Tells the server how far we have read the open room: its newest stored message, once.
  function markRead(roomId) {
    const room = store.room(roomId);
    const newest = room && room.ids[room.ids.length - 1];
    if (!newest || (room.lastRead && room.lastRead >= newest) || !socket) return;
    room.lastRead = newest; // asked once; a failed ask is retried with the next message
    request({ action: "markRead", roomId, messageId: newest }).catch(() => {
      if (room.lastRead === newest) room.lastRead = null;
    });
  }

  function onFrame(frame) {
    const reply = frame.requestId ? replies.get(frame.requestId) : null;
    if (reply) {
      replies.delete(frame.requestId);
      clearTimeout(reply.timer);
      if (frame.type === "error") reply.reject(new ActionError(frame.code, frame.message));
      else reply.resolve(frame);
    }
    switch (frame.type) {
      case "message":
        store.addMessage(frame.message, { live: true });
        break;
      case "messageUpdated":
        store.updateMessage(frame.message);
        break;
      case "messageBatch": // several `message` / `messageUpdated` frames of a room, in order
        for (const item of frame.items) onFrame(item);
        break;
      case "typing":
        store.setTyping(frame.roomId, frame.username, Date.now() + TYPING_SHOWN_MS);
        setTimeout(() => {
          const until = store.room(frame.roomId)?.typing.get(frame.username);
          if (until && until <= Date.now()) store.setTyping(frame.roomId, frame.username, 0);
        }, TYPING_SHOWN_MS + 50);
        break;
      case "joinRequest":
        if (frame.roomId === store.state.currentRoomId) loadMembers(frame.roomId);
        else store.countRequest(frame.roomId);
        break;
      case "joinApproved":
        store.addRoom({ ...frame.room, role: "member" });
        store.notice("joinApproved", { room: frame.room });
        break;
      case "joinRejected":
        store.notice("joinRejected", { roomId: frame.roomId });
        break;
      case "roomAdded":
        store.addRoom({ ...frame.room, role: "member" });
        break;
      case "memberJoined":
      case "memberLeft":
      case "presence":
        if (frame.roomId === store.state.currentRoomId) loadMembers(frame.roomId);
        break;
      case "leftRoom":
        store.removeRoom(frame.roomId);
        break;
      case "removedFromRoom":
      case "roomDeleted":
        gone(frame.roomId, frame.type);
        break;
      case "read":
        store.setRead(frame.roomId, frame.username, frame.messageId);
        break;
      case "error":
        if (sends.refused(frame)) {
          // one of our sends: held for a resend or shown as not sent (js/sends.js)
        } else if (writes.has(frame.requestId)) {
          store.notice("writeFailed", { roomId: writes.get(frame.requestId), message: frame.message });
          writes.delete(frame.requestId);
        } else if (!reply && frame.action !== "ping") console.warn("server error", frame.code, frame.message);
        break;
      case "roomCreated":
      case "directOpened":
      case "memberRemovedAck":
      case "roomDeletedAck":
      case "readAck":
      case "joinRequested":
      case "joinApprovedAck":
      case "joinRejectedAck":
      case "messages":
      case "members":
      case "pong":
        break; // replies: handled by whoever asked
      default:
        console.warn("unknown frame type", frame.type);
    }
  }

  return {
    storedSession,
    // Checks a stored session with the server; false when it is no longer valid.
    async resume(session) {
      api.token = session.token;
      try {
        await api.me();
      } catch (error) {
        if (error.status === 401) return false; // api.onUnauthorized showed the reason
      }
      await enter(session);
      return true;
    },
    // Ends this session at the server, then here, even if the server could not be told.
    async endSession() {
      await api.logout().catch(() => {}); // offline, or ended already: cleared all the same
      logout();
    },
    // Ends every session of this user (every device, every socket); an error leaves this one.
    async endEverySession() {
      const { closedConnections } = await api.logoutAll();
      logout(`You logged out everywhere (${closedConnections} live connection${closedConnections === 1 ? "" : "s"} closed).`);
    },
    async authenticate(kind, username, password) {
      if (kind === "signup") await api.signup(username, password);
      const result = await api.login(username, password);
      await enter({ token: result.token, expiresAt: result.expiresAt, username: result.username });
    },
    logout,
    refreshRooms,
    loadOlder,
    loadMembers,
    sendMessage,
    media,
    retrySend: sends.retry,
    discardSend: sends.discard,
    async createRoom(name) {
      const reply = await request({ action: "createRoom", name });
      store.addRoom({ ...reply.room, role: "admin" }, { loaded: true });
      return reply.room;
    },
    joinRoom: (roomId) => request({ action: "joinRoom", roomId }),
    async openDirect(username) {
      const { room } = await api.openDirect(username);
      store.addRoom({ ...room, role: "member" });
      return room;
    },
    async leaveRoom(roomId) {
      await request({ action: "leaveRoom", roomId });
      store.removeRoom(roomId);
    },
    async deleteRoom(roomId) {
      await request({ action: "deleteRoom", roomId });
      store.removeRoom(roomId);
    },
    async removeMember(roomId, username) {
      await request({ action: "removeMember", roomId, username });
      await loadMembers(roomId);
    },
    markRead,
    editMessage: (roomId, messageId, text) => write({ action: "editMessage", roomId, messageId, text }),
    deleteMessage: (roomId, messageId) => write({ action: "deleteMessage", roomId, messageId }),
    react: (roomId, messageId, emoji, on) => write({ action: "react", roomId, messageId, emoji, on }),
    typing(roomId) {
      const last = typingSent.get(roomId) || 0;
      if (!socket || Date.now() - last < TYPING_EVERY_MS) return;
      typingSent.set(roomId, Date.now());
      socket.send({ action: "typing", roomId });
    },
    search: (roomId, q, cursor) => api.search(roomId, cursor ? { q, cursor } : { q }),
    loadUntil,
    async decideJoin(roomId, username, approve) {
      await request({ action: approve ? "approveJoin" : "rejectJoin", roomId, username });
      await loadMembers(roomId);
    },
    // Test and debugging hooks (the e2e tier drops the connection on purpose).
    debug: { dropConnection: () => socket && socket.drop(), state: () => (socket ? socket.state : "offline") },
  };
}

