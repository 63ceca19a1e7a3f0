// The sidebar: create, join and direct-message forms, invite links, and at phone width the Rooms panel, which
// traps focus while open and gives it back to the menu button when it closes.

import { $, describe } from "../render.js";

const INVITE = /^#join=([A-Za-z0-9_-]{1,64})$/;
const FOCUSABLE = "button:not([disabled]), input:not([disabled]), textarea, [href], [tabindex]:not([tabindex='-1'])";

export function invitedRoomId() {
  const match = INVITE.exec(location.hash);
  return match ? match[1] : null;
}

export function mountSidebar({ store, actions, onSelect }) {
  const sidebar = $("sidebar");
  const menu = $("menu-button");
  const isOpen = () => sidebar.classList.contains("open");

  function open() {
    sidebar.classList.add("open");
    menu.setAttribute("aria-expanded", "true");
    $("room-view").inert = true;
    const first = sidebar.querySelector(FOCUSABLE);
    if (first) first.focus();
  }

  function close({ returnFocus = true } = {}) {
    if (!isOpen()) return;
    sidebar.classList.remove("open");
    menu.setAttribute("aria-expanded", "false");
    $("room-view").inert = false;
    if (returnFocus) menu.focus();
  }

  menu.addEventListener("click", () => (isOpen() ? close() : open()));
  document.addEventListener("keydown", (e) => {
    if (!isOpen()) return;
    if (e.key === "Escape") {
      e.preventDefault();
      close();
    } else if (e.key === "Tab") {
      // The cycle is the menu button (which closes the panel) and the panel's own controls.
      const cycle = [menu, ...sidebar.querySelectorAll(FOCUSABLE)].filter((n) => n.offsetParent !== null);
      const at = cycle.indexOf(document.activeElement);
      const next = e.shiftKey ? (at <= 0 ? cycle.length - 1 : at - 1) : (at + 1) % cycle.length;
      e.preventDefault();
      cycle[next].focus();
    }
  });
  store.subscribe("current", () => close({ returnFocus: false }));

  // After an answer arrives: the box is emptied only if it still holds what was sent, so
  // nothing typed while the request was on its way is lost.
  const clearIfUnchanged = (input, sent) => {
    if (input.value.trim() === sent) input.value = "";
  };

  $("create-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = $("room-name").value.trim();
    $("create-error").textContent = "";
    if (!name) {
      $("create-error").textContent = "Give the room a name.";
      return;
    }
    try {
      const room = await actions.createRoom(name);
      clearIfUnchanged($("room-name"), name);
      onSelect(room.roomId);
    } catch (error) {
      $("create-error").textContent = describe(error);
    }
  });

  $("direct-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const username = $("direct-username").value.trim();
    $("direct-error").textContent = "";
    if (!username) {
      $("direct-error").textContent = "Type the username of the person to message.";
      return;
    }
    try {
      const room = await actions.openDirect(username);
      clearIfUnchanged($("direct-username"), username);
      onSelect(room.roomId);
    } catch (error) {
      $("direct-error").textContent = describe(error);
    }
  });

  function joinStatus(text, isError) {
    $("join-status").className = isError ? "small error" : "small";
    $("join-status").textContent = text;
  }

  $("join-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    let roomId = $("room-id").value.trim();
    const fromLink = /#join=([A-Za-z0-9_-]+)/.exec(roomId);
    if (fromLink) roomId = fromLink[1];
    joinStatus("", true);
    if (!roomId) return joinStatus("Paste a room ID or an invite link.", true);
    if (store.room(roomId)) {
      $("room-id").value = "";
      return onSelect(roomId);
    }
    try {
      await actions.joinRoom(roomId);
      $("room-id").value = "";
      joinStatus("Request sent. You'll get in once the room's admin approves.", false);
    } catch (error) {
      joinStatus(describe(error), true);
    }
  });

  store.subscribe("notice", (notice) => {
    if (notice.kind === "joinApproved") {
      joinStatus(`You're in: ${notice.room.name}.`, false);
      if (!store.state.currentRoomId) onSelect(notice.room.roomId);
    } else if (notice.kind === "joinRejected") joinStatus("Your request to join that room was declined.", true);
  });

  window.addEventListener("hashchange", () => {
    const invited = invitedRoomId();
    if (invited && store.state.session) $("room-id").value = invited;
  });
}
