// The open room's members with their online state, and for the admin: join requests and a
// Remove button per member (with confirmation).

import { $, el, describe } from "../render.js";

export function mountMembers({ store, actions }) {
  async function remove(room, username) {
    if (!window.confirm(`Remove ${username} from ${room.name}?`)) return;
    $("members-error").textContent = "";
    try {
      await actions.removeMember(room.roomId, username);
    } catch (failure) {
      $("members-error").textContent = describe(failure);
    }
  }

  function renderMembers(room) {
    const items = room.members.map((m) =>
      el(
        "li",
        { "data-username": m.username },
        el("span", { className: m.online ? "dot online" : "dot", "aria-hidden": "true" }),
        el("span", { text: m.username }),
        m.role === "admin" ? el("span", { className: "role-tag", text: "admin" }) : null,
        el("span", { className: "visually-hidden", text: m.online ? "(online)" : "(offline)" }),
        room.role === "admin" && m.role !== "admin"
          ? el("button", { type: "button", className: "quiet small", "aria-label": `Remove ${m.username}`, onClick: () => remove(room, m.username) }, "Remove")
          : null,
      ),
    );
    $("members").replaceChildren(...items);
  }

  function renderRequests(room) {
    $("requests-panel").hidden = room.requests.length === 0;
    const items = room.requests.map((r) => {
      const error = el("p", { className: "error small", role: "alert" });
      const decide = async (approve) => {
        error.textContent = "";
        try {
          await actions.decideJoin(room.roomId, r.username, approve);
        } catch (failure) {
          error.textContent = describe(failure);
        }
      };
      return el(
        "li",
        { "data-username": r.username },
        el("span", { text: `${r.username} wants to join` }),
        el(
          "div",
          { className: "actions" },
          el("button", { type: "button", className: "primary", onClick: () => decide(true), "aria-label": `Approve ${r.username}` }, "Approve"),
          el("button", { type: "button", onClick: () => decide(false), "aria-label": `Reject ${r.username}` }, "Reject"),
        ),
        error,
      );
    });
    $("requests").replaceChildren(...items);
  }

  store.subscribe("current", (roomId) => {
    $("members").replaceChildren();
    $("requests").replaceChildren();
    $("requests-panel").hidden = true;
    $("members-error").textContent = "";
    if (roomId) actions.loadMembers(roomId);
  });
  store.subscribe("members", ({ roomId }) => {
    const room = store.currentRoom();
    if (!room || room.roomId !== roomId) return;
    $("members-error").textContent = "";
    renderMembers(room);
    renderRequests(room);
  });
  store.subscribe("notice", (notice) => {
    if (notice.kind === "membersFailed" && notice.roomId === store.state.currentRoomId) $("members-error").textContent = notice.message;
  });
}
