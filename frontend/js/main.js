// Wires the page: session, rooms, messages, members, and the live connection.

import { Api, ApiError } from "./api.js";
import { el, messageItem } from "./render.js";
import { ChatSocket } from "./socket.js";

const config = window.CHAT_CONFIG || {};
const SESSION_KEY = "chat.session";
const HISTORY_PAGE = 50;
const $ = (id) => document.getElementById(id);

const api = new Api(config.restUrl || "/api");
let socket = null;
let session = null; // {token, expiresAt, username}
let expiryTimer = null;
const rooms = new Map(); // roomId => {roomId, name, role, messages: Map, ids: [], loaded, hasOlder, unread, pending}
let currentRoomId = null;
const pendingReplies = new Map(); // requestId => {errorTarget, onReply}

// ---------------------------------------------------------------------------------------------
// Session

function saveSession(value) {
  session = value;
  if (value) localStorage.setItem(SESSION_KEY, JSON.stringify(value));
  else localStorage.removeItem(SESSION_KEY);
  api.token = value ? value.token : null;
}

function loadSession() {
  try {
    const stored = JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
    if (stored && stored.token && Date.parse(stored.expiresAt) > Date.now()) return stored;
    if (stored) return { expired: true };
  } catch {
    /* a damaged entry is the same as none */
  }
  return null;
}

function showAuth(message = "") {
  $("app-view").hidden = true;
  $("auth-view").hidden = false;
  $("auth-error").textContent = message;
  $("auth-username").focus();
}

async function enterApp() {
  $("auth-view").hidden = true;
  $("app-view").hidden = false;
  $("whoami").textContent = session.username;
  clearTimeout(expiryTimer);
  expiryTimer = setTimeout(
    () => logout("Your session has expired. Please log in again."),
    Math.max(0, Date.parse(session.expiresAt) - Date.now()),
  );
  await refreshRooms();
  socket = new ChatSocket({ url: config.wsUrl || "/ws", getTicket: async () => (await api.ticket()).ticket });
  socket.addEventListener("state", (e) => showConnectionState(e.detail));
  socket.addEventListener("open", () => catchUp());
  socket.addEventListener("frame", (e) => onFrame(e.detail));
  socket.addEventListener("unauthorized", () => logout("Your session has expired. Please log in again."));
  window.__chat = { dropConnection: () => socket.drop(), state: () => socket.state };
  socket.start();
  const invited = invitedRoomId();
  if (invited) {
    history.replaceState(null, "", location.pathname + location.search);
    if (rooms.has(invited)) selectRoom(invited);
    else $("room-id").value = invited;
  }
}

function logout(message = "") {
  if (socket) socket.stop();
  socket = null;
  clearTimeout(expiryTimer);
  saveSession(null);
  rooms.clear();
  currentRoomId = null;
  $("room-list").replaceChildren();
  $("messages").replaceChildren();
  $("room-content").hidden = true;
  $("empty-room").hidden = false;
  showConnectionState("offline");
  showAuth(message);
}

async function authenticate(kind) {
  const username = $("auth-username").value.trim();
  const password = $("auth-password").value;
  $("auth-error").textContent = "";
  const buttons = [$("login-button"), $("signup-button")];
  buttons.forEach((b) => (b.disabled = true));
  try {
    if (kind === "signup") await api.signup(username, password);
    const result = await api.login(username, password);
    saveSession({ token: result.token, expiresAt: result.expiresAt, username: result.username });
    $("auth-password").value = "";
    await enterApp();
  } catch (error) {
    $("auth-error").textContent = describe(error);
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

function describe(error) {
  if (error instanceof ApiError) {
    if (error.code === "invalid_credentials") return "Wrong username or password.";
    if (error.code === "username_taken") return "That username is taken. Pick another one.";
    return error.message;
  }
  return "Something went wrong. Please try again.";
}

// ---------------------------------------------------------------------------------------------
// Connection indicator and catch-up

function showConnectionState(state) {
  const label = { connected: "connected", connecting: "connecting…", reconnecting: "reconnecting…", offline: "offline" }[state] || state;
  $("connection-status").textContent = label;
  $("connection-status").dataset.state = state;
}

// After every (re)connect: the rooms list may have changed while we were away, and each loaded
// room asks for what came after the last message it holds. Nothing is lost or shown twice.
async function catchUp() {
  try {
    await refreshRooms();
  } catch (error) {
    if (error.status === 401) return logout("Your session has expired. Please log in again.");
  }
  for (const room of rooms.values()) {
    if (!room.loaded) continue;
    let after = room.ids[room.ids.length - 1];
    for (let page = 0; page < 20; page++) {
      const params = { limit: 100 };
      if (after) params.after = after;
      let result;
      try {
        result = await api.messages(room.roomId, params);
      } catch {
        break;
      }
      result.messages.forEach((m) => addMessage(m, { live: true }));
      if (!result.hasMore || result.messages.length === 0) break;
      after = result.messages[result.messages.length - 1].messageId;
    }
  }
  if (currentRoomId) loadMembers(currentRoomId);
}

// ---------------------------------------------------------------------------------------------
// Rooms

async function refreshRooms() {
  const result = await api.rooms();
  const seen = new Set();
  for (const entry of result.rooms) {
    seen.add(entry.roomId);
    const known = rooms.get(entry.roomId);
    if (known) Object.assign(known, { name: entry.name, role: entry.role });
    else rooms.set(entry.roomId, newRoom(entry));
  }
  for (const roomId of [...rooms.keys()]) if (!seen.has(roomId)) rooms.delete(roomId);
  renderRoomList();
}

function newRoom(entry) {
  return { roomId: entry.roomId, name: entry.name, role: entry.role, messages: new Map(), ids: [], loaded: false, hasOlder: false, unread: 0, requests: 0 };
}

function renderRoomList() {
  const items = [...rooms.values()].map((room) => {
    const button = el(
      "button",
      { type: "button", "aria-current": room.roomId === currentRoomId ? "true" : "false", onClick: () => selectRoom(room.roomId) },
      el("span", { text: room.name }),
      room.role === "admin" ? el("span", { className: "role-tag", text: "admin" }) : null,
      room.unread + room.requests > 0 ? el("span", { className: "badge", "aria-label": "unread", text: String(room.unread + room.requests) }) : null,
    );
    return el("li", {}, button);
  });
  $("room-list").replaceChildren(...items);
  $("no-rooms").hidden = rooms.size > 0;
}

async function selectRoom(roomId) {
  const room = rooms.get(roomId);
  if (!room) return;
  currentRoomId = roomId;
  room.unread = 0;
  renderRoomList();
  closeSidebar();
  $("empty-room").hidden = true;
  $("room-content").hidden = false;
  $("room-title").textContent = room.name;
  $("copy-invite").hidden = room.role !== "admin";
  $("copy-status").textContent = "";
  $("composer-error").textContent = "";
  $("messages").replaceChildren(...room.ids.map((id) => messageItem(room.messages.get(id), session.username)));
  $("members").replaceChildren();
  $("requests-panel").hidden = true;
  if (!room.loaded) await loadOlder(room, true);
  scrollToBottom();
  loadMembers(roomId);
  $("message-input").focus();
}

async function loadOlder(room, initial = false) {
  if (room.loadingOlder) return;
  room.loadingOlder = true;
  $("history-status").textContent = "Loading…";
  try {
    const params = { limit: HISTORY_PAGE };
    if (!initial && room.ids.length) params.before = room.ids[0];
    const list = $("messages");
    const previousHeight = list.scrollHeight;
    const result = await api.messages(room.roomId, params);
    room.loaded = true;
    room.hasOlder = result.hasMore;
    result.messages.forEach((m) => addMessage(m, { live: false }));
    if (!initial && room.roomId === currentRoomId) list.scrollTop += list.scrollHeight - previousHeight;
    $("history-status").textContent = room.hasOlder ? "" : "This is the beginning of the room.";
  } catch (error) {
    $("history-status").textContent = `Couldn't load history: ${describe(error)}`;
  } finally {
    room.loadingOlder = false;
  }
}

async function loadMembers(roomId) {
  const room = rooms.get(roomId);
  try {
    const result = await api.members(roomId);
    if (roomId !== currentRoomId) return;
    $("members-error").textContent = "";
    renderMembers(result.members);
    renderRequests(room, result.requests || []);
  } catch (error) {
    if (roomId === currentRoomId) $("members-error").textContent = describe(error);
  }
}

function renderMembers(members) {
  const items = members.map((m) =>
    el(
      "li",
      { "data-username": m.username },
      el("span", { className: m.online ? "dot online" : "dot", "aria-hidden": "true" }),
      el("span", { text: m.username }),
      m.role === "admin" ? el("span", { className: "role-tag", text: "admin" }) : null,
      el("span", { className: "visually-hidden", text: m.online ? "(online)" : "(offline)" }),
    ),
  );
  $("members").replaceChildren(...items);
}

function renderRequests(room, requests) {
  room.requests = room.role === "admin" ? requests.length : 0;
  renderRoomList();
  $("requests-panel").hidden = room.role !== "admin" || requests.length === 0;
  const items = requests.map((r) => {
    const error = el("p", { className: "error small", role: "alert" });
    const decide = (action) => {
      const requestId = send({ action, roomId: room.roomId, username: r.username }, error, () => loadMembers(room.roomId));
      if (!requestId) error.textContent = "You are offline. Try again when the connection is back.";
    };
    return el(
      "li",
      { "data-username": r.username },
      el("span", { text: `${r.username} wants to join` }),
      el(
        "div",
        { className: "actions" },
        el("button", { type: "button", className: "primary", onClick: () => decide("approveJoin"), "aria-label": `Approve ${r.username}` }, "Approve"),
        el("button", { type: "button", onClick: () => decide("rejectJoin"), "aria-label": `Reject ${r.username}` }, "Reject"),
      ),
      error,
    );
  });
  $("requests").replaceChildren(...items);
}

// ---------------------------------------------------------------------------------------------
// Messages

function addMessage(message, { live }) {
  const room = rooms.get(message.roomId);
  if (!room || room.messages.has(message.messageId)) return; // at-least-once: de-duplicate
  room.messages.set(message.messageId, message);
  // Keep message-id order, which is the order the server stored them in.
  let index = room.ids.length;
  while (index > 0 && room.ids[index - 1] > message.messageId) index--;
  room.ids.splice(index, 0, message.messageId);
  if (room.roomId !== currentRoomId) {
    if (live && message.username.toLowerCase() !== session.username.toLowerCase()) {
      room.unread += 1;
      renderRoomList();
    }
    return;
  }
  const list = $("messages");
  const stick = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  const item = messageItem(message, session.username);
  const next = room.ids[index + 1];
  const before = next ? list.querySelector(`[data-id="${CSS.escape(next)}"]`) : null;
  list.insertBefore(item, before);
  if (stick || message.username.toLowerCase() === session.username.toLowerCase()) scrollToBottom();
}

function scrollToBottom() {
  const list = $("messages");
  list.scrollTop = list.scrollHeight;
}

function sendMessage() {
  const input = $("message-input");
  const text = input.value;
  $("composer-error").textContent = "";
  if (!text.trim() || !currentRoomId) return;
  const requestId = send(
    { action: "sendMessage", roomId: currentRoomId, text, clientMessageId: crypto.randomUUID() },
    $("composer-error"),
  );
  if (!requestId) {
    $("composer-error").textContent = "You are offline. Your message was not sent; it is still in the box.";
    return;
  }
  input.value = "";
  autosize(input);
}

// ---------------------------------------------------------------------------------------------
// Frames

function send(frame, errorTarget, onReply) {
  if (!socket) return null;
  const requestId = socket.send(frame);
  if (requestId) pendingReplies.set(requestId, { errorTarget, onReply });
  return requestId;
}

function onFrame(frame) {
  const pending = frame.requestId ? pendingReplies.get(frame.requestId) : null;
  if (pending) pendingReplies.delete(frame.requestId);
  switch (frame.type) {
    case "message":
      addMessage(frame.message, { live: true });
      break;
    case "roomCreated":
      rooms.set(frame.room.roomId, { ...newRoom({ ...frame.room, role: "admin" }), loaded: true });
      renderRoomList();
      selectRoom(frame.room.roomId);
      break;
    case "joinRequested":
      $("join-status").className = "small";
      $("join-status").textContent = "Request sent. You'll get in once the room's admin approves.";
      break;
    case "joinRequest":
      onJoinRequest(frame);
      break;
    case "joinApproved":
      onJoinApproved(frame.room);
      break;
    case "joinRejected":
      $("join-status").className = "small error";
      $("join-status").textContent = "Your request to join that room was declined.";
      break;
    case "memberJoined":
    case "presence":
      if (frame.roomId === currentRoomId) loadMembers(frame.roomId);
      break;
    case "joinApprovedAck":
    case "joinRejectedAck":
    case "messages":
    case "members":
    case "pong":
      break;
    case "error":
      if (pending && pending.errorTarget) pending.errorTarget.textContent = frame.message;
      else if (frame.action !== "ping") console.warn("server error", frame.code, frame.message);
      break;
    default:
      console.warn("unknown frame type", frame.type);
  }
  if (pending && pending.onReply && frame.type !== "error") pending.onReply(frame);
}

function onJoinRequest(frame) {
  const room = rooms.get(frame.roomId);
  if (!room) return;
  if (frame.roomId === currentRoomId) loadMembers(frame.roomId);
  else {
    room.requests += 1;
    renderRoomList();
  }
}

async function onJoinApproved(room) {
  if (!rooms.has(room.roomId)) rooms.set(room.roomId, newRoom({ ...room, role: "member" }));
  $("join-status").className = "small";
  $("join-status").textContent = `You're in: ${room.name}.`;
  renderRoomList();
  if (!currentRoomId) selectRoom(room.roomId);
}

function invitedRoomId() {
  const match = /^#join=([A-Za-z0-9_-]{1,64})$/.exec(location.hash);
  return match ? match[1] : null;
}

// ---------------------------------------------------------------------------------------------
// Sidebar forms, composer, scrolling

function autosize(textarea) {
  textarea.style.height = "auto";
  textarea.style.height = `${Math.min(textarea.scrollHeight, 160)}px`;
}

function closeSidebar() {
  $("sidebar").classList.remove("open");
  $("menu-button").setAttribute("aria-expanded", "false");
}

function wire() {
  $("auth-form").addEventListener("submit", (e) => {
    e.preventDefault();
    authenticate("login");
  });
  $("signup-button").addEventListener("click", () => authenticate("signup"));
  $("logout-button").addEventListener("click", () => logout());
  $("menu-button").addEventListener("click", () => {
    const open = $("sidebar").classList.toggle("open");
    $("menu-button").setAttribute("aria-expanded", String(open));
  });
  $("create-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const name = $("room-name").value.trim();
    $("create-error").textContent = "";
    if (!name) {
      $("create-error").textContent = "Give the room a name.";
      return;
    }
    if (!send({ action: "createRoom", name }, $("create-error"))) {
      $("create-error").textContent = "You are offline. Try again when the connection is back.";
      return;
    }
    $("room-name").value = "";
  });
  $("join-form").addEventListener("submit", (e) => {
    e.preventDefault();
    let roomId = $("room-id").value.trim();
    const fromLink = /#join=([A-Za-z0-9_-]+)/.exec(roomId);
    if (fromLink) roomId = fromLink[1];
    $("join-status").className = "small error";
    $("join-status").textContent = "";
    if (!roomId) {
      $("join-status").textContent = "Paste a room ID or an invite link.";
      return;
    }
    if (rooms.has(roomId)) {
      selectRoom(roomId);
      $("room-id").value = "";
      return;
    }
    if (!send({ action: "joinRoom", roomId }, $("join-status"))) {
      $("join-status").textContent = "You are offline. Try again when the connection is back.";
      return;
    }
    $("room-id").value = "";
  });
  $("copy-invite").addEventListener("click", async () => {
    const link = `${location.origin}${location.pathname}#join=${currentRoomId}`;
    try {
      await navigator.clipboard.writeText(link);
      $("copy-status").textContent = "Invite link copied.";
      setTimeout(() => ($("copy-status").textContent = ""), 3000);
    } catch {
      $("copy-status").textContent = link;
    }
  });
  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    sendMessage();
  });
  $("message-input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      sendMessage();
    }
  });
  $("message-input").addEventListener("input", (e) => autosize(e.target));
  $("messages").addEventListener("scroll", () => {
    const room = rooms.get(currentRoomId);
    if (room && room.hasOlder && $("messages").scrollTop < 40) loadOlder(room);
  });
  window.addEventListener("hashchange", () => {
    const invited = invitedRoomId();
    if (invited && session) $("room-id").value = invited;
  });
}

async function start() {
  wire();
  const stored = loadSession();
  if (!stored || stored.expired) {
    saveSession(null);
    showAuth(stored && stored.expired ? "Your session has expired. Please log in again." : "");
    return;
  }
  saveSession(stored);
  try {
    await api.me();
  } catch (error) {
    if (error.status === 401) return logout("Your session has expired. Please log in again.");
  }
  await enterApp();
}

start();
