// The client's state in one place, changed only through the functions below. Each change tells
// the subscribers of its topic what changed, so a view re-renders the one thing that did:
//   "session"  the signed-in user (or none)
//   "rooms"    the room list, a room's name, role, unread or request count (added or removed)
//   "current"  the open room
//   "message"  {roomId, messageId}: one stored message was added
//   "changed"  {roomId, messageId}: a stored message was edited, deleted or reacted to
//   "typing"   {roomId}: who is typing in a room changed
//   "pending"  {roomId, clientMessageId}: one unsent message was added, failed or settled
//   "members"  {roomId}: the members, their read positions and the join requests of a room
//   "history"  {roomId}: a room's history paging state
//   "connection" the live connection's state
//   "notice"   {kind, ...}: something to tell the user that is not state (a join was declined,
//              a room was deleted or we were removed from it)

export function createStore() {
  const listeners = new Map(); // topic => Set of functions
  const state = {
    session: null, // {token, expiresAt, username}
    connection: "offline",
    rooms: new Map(), // roomId => Room (see newRoom)
    currentRoomId: null,
  };

  function emit(topic, detail) {
    for (const listener of listeners.get(topic) || []) listener(detail);
  }

  function newRoom(entry) {
    return {
      roomId: entry.roomId,
      name: entry.name,
      role: entry.role,
      kind: entry.kind || "group",
      peer: entry.peer || null,
      messages: new Map(), // messageId => message, as the server sent it
      ids: [], // messageIds in id order, which is the order the server stored them
      pending: new Map(), // clientMessageId => {clientMessageId, text, requestId, status, error}
      members: [],
      requests: [],
      loaded: false, // the newest page of history has been read
      hasOlder: false,
      loadingOlder: false,
      historyNote: "",
      unread: entry.unread || 0,
      requestCount: 0,
      lastRead: entry.lastRead || null, // my read position as the server holds it
      typing: new Map(), // username => until when (ms) to show "is typing…"
    };
  }

  const isMine = (message) =>
    state.session !== null && message.username.toLowerCase() === state.session.username.toLowerCase();

  return {
    state,
    isMine,

    subscribe(topic, listener) {
      if (!listeners.has(topic)) listeners.set(topic, new Set());
      listeners.get(topic).add(listener);
      return () => listeners.get(topic).delete(listener);
    },

    room: (roomId) => state.rooms.get(roomId) || null,
    currentRoom: () => state.rooms.get(state.currentRoomId) || null,
    totalUnread: () => [...state.rooms.values()].reduce((sum, room) => sum + room.unread, 0),

    setSession(session) {
      state.session = session;
      emit("session", session);
    },

    setConnection(connection) {
      state.connection = connection;
      emit("connection", connection);
    },

    // The room list as GET /rooms returns it: keeps what we hold for rooms we still belong to.
    setRooms(entries) {
      const seen = new Set();
      for (const entry of entries) {
        seen.add(entry.roomId);
        const known = state.rooms.get(entry.roomId);
        const unread = entry.roomId === state.currentRoomId && !document.hidden ? 0 : entry.unread || 0;
        if (known) {
          Object.assign(known, { name: entry.name, role: entry.role, unread });
          if (entry.lastRead && (!known.lastRead || known.lastRead < entry.lastRead)) known.lastRead = entry.lastRead;
        }
        else state.rooms.set(entry.roomId, { ...newRoom(entry), unread });
      }
      for (const roomId of [...state.rooms.keys()]) if (!seen.has(roomId)) state.rooms.delete(roomId);
      if (state.currentRoomId && !state.rooms.has(state.currentRoomId)) this.selectRoom(null);
      emit("rooms");
    },

    addRoom(entry, { loaded = false } = {}) {
      if (!state.rooms.has(entry.roomId)) state.rooms.set(entry.roomId, { ...newRoom(entry), loaded });
      emit("rooms");
      return state.rooms.get(entry.roomId);
    },

    // A room we no longer belong to (left, removed, deleted): gone from the list at once.
    removeRoom(roomId) {
      if (!state.rooms.delete(roomId)) return false;
      if (state.currentRoomId === roomId) this.selectRoom(null);
      emit("rooms");
      return true;
    },

    // A member's read position moved (a `read` receipt, or our own markRead).
    setRead(roomId, username, messageId) {
      const room = state.rooms.get(roomId);
      if (!room) return;
      const member = room.members.find((m) => m.username.toLowerCase() === username.toLowerCase());
      if (member && (!member.lastRead || member.lastRead < messageId)) member.lastRead = messageId;
      if (isMine({ username }) && (!room.lastRead || room.lastRead < messageId)) room.lastRead = messageId;
      emit("members", { roomId });
    },

    selectRoom(roomId) {
      state.currentRoomId = roomId;
      const room = state.rooms.get(roomId);
      if (room) room.unread = 0;
      emit("current", roomId);
      emit("rooms");
    },

    // A stored message, live or from history. Delivery is at least once: a message we hold is
    // ignored. Returns whether it was new.
    addMessage(message, { live }) {
      const room = state.rooms.get(message.roomId);
      if (!room || room.messages.has(message.messageId)) return false;
      room.messages.set(message.messageId, message);
      let index = room.ids.length;
      while (index > 0 && room.ids[index - 1] > message.messageId) index--;
      room.ids.splice(index, 0, message.messageId);
      if (live && room.typing.delete(message.username)) emit("typing", { roomId: room.roomId });
      const unseen = room.roomId !== state.currentRoomId || document.hidden;
      if (live && unseen && !isMine(message)) {
        room.unread += 1;
        emit("rooms");
      }
      emit("message", { roomId: room.roomId, messageId: message.messageId, live });
      // Our own unsent copy is settled by the stored one, once that is in place.
      if (message.clientMessageId && room.pending.delete(message.clientMessageId)) {
        emit("pending", { roomId: room.roomId, clientMessageId: message.clientMessageId });
      }
      return true;
    },

    // A stored message changed (messageUpdated): replaces the one we hold, if we hold it.
    updateMessage(message) {
      const room = state.rooms.get(message.roomId);
      if (!room || !room.messages.has(message.messageId)) return;
      room.messages.set(message.messageId, message);
      emit("changed", { roomId: room.roomId, messageId: message.messageId });
    },

    setTyping(roomId, username, untilMs) {
      const room = state.rooms.get(roomId);
      if (!room || isMine({ username })) return;
      if (untilMs) room.typing.set(username, untilMs);
      else room.typing.delete(username);
      emit("typing", { roomId });
    },

    setHistory(roomId, changes) {
      const room = state.rooms.get(roomId);
      if (!room) return;
      Object.assign(room, changes);
      emit("history", { roomId });
    },

    addPending(roomId, pending) {
      const room = state.rooms.get(roomId);
      if (!room) return;
      room.pending.set(pending.clientMessageId, { status: "sending", error: "", ...pending });
      emit("pending", { roomId, clientMessageId: pending.clientMessageId });
    },

    updatePending(roomId, clientMessageId, changes) {
      const pending = state.rooms.get(roomId)?.pending.get(clientMessageId);
      if (!pending) return;
      Object.assign(pending, changes);
      emit("pending", { roomId, clientMessageId });
    },

    removePending(roomId, clientMessageId) {
      if (state.rooms.get(roomId)?.pending.delete(clientMessageId)) emit("pending", { roomId, clientMessageId });
    },

    setMembers(roomId, members, requests) {
      const room = state.rooms.get(roomId);
      if (!room) return;
      room.members = members;
      room.requests = room.role === "admin" ? requests : [];
      room.requestCount = room.requests.length;
      emit("members", { roomId });
      emit("rooms");
    },

    countRequest(roomId) {
      const room = state.rooms.get(roomId);
      if (!room) return;
      room.requestCount += 1;
      emit("rooms");
    },

    markSeen() {
      const room = state.rooms.get(state.currentRoomId);
      if (room && room.unread) {
        room.unread = 0;
        emit("rooms");
      }
    },

    notice(kind, detail = {}) {
      emit("notice", { kind, ...detail });
    },

    reset() {
      state.rooms.clear();
      state.currentRoomId = null;
      emit("current", null);
      emit("rooms");
    },
  };
}
