// Wires the page: one store, the actions that talk to the server, and one module per view.
// Where each kind of change goes: docs/frontend.md.

import { createActions } from "./actions.js";
import { EXPIRED } from "./session.js";
import { createStore } from "./store.js";
import { mountAttention } from "./views/attention.js";
import { mountAuth } from "./views/auth.js";
import { mountComposer } from "./views/composer.js";
import { mountConnection } from "./views/connection.js";
import { mountMembers } from "./views/members.js";
import { mountMessageList } from "./views/messageList.js";
import { mountReadState } from "./views/readState.js";
import { mountRoom } from "./views/room.js";
import { mountRoomList } from "./views/roomList.js";
import { mountSearch } from "./views/search.js";
import { mountTyping } from "./views/typing.js";
import { invitedRoomId, mountSidebar } from "./views/sidebar.js";

const store = createStore();
const actions = createActions({ store, config: window.CHAT_CONFIG || {} });

// Opening a room: show what we hold at once, then read its newest page if we never did.
async function selectRoom(roomId) {
  const room = store.room(roomId);
  if (!room) return;
  store.selectRoom(roomId);
  if (!room.loaded) await actions.loadOlder(roomId, { initial: true });
}

const auth = mountAuth({ store, actions });
mountConnection({ store });
mountRoomList({ store, onSelect: selectRoom });
// Before the composer: opening a room closes the phone panel (and un-inerts the room) before
// the composer takes focus.
mountSidebar({ store, actions, onSelect: selectRoom });
mountRoom({ store, actions });
mountMessageList({ store, actions });
mountComposer({ store, actions, config: window.CHAT_CONFIG || {} });
mountMembers({ store, actions });
mountReadState({ store, actions });
mountTyping({ store, actions });
mountSearch({ store, actions });
mountAttention({ store });

// An invite link opened while signed in: go to the room, or offer to join it.
store.subscribe("session", (session) => {
  const invited = session && invitedRoomId();
  if (!invited) return;
  history.replaceState(null, "", location.pathname + location.search);
  if (store.room(invited)) selectRoom(invited);
  else document.getElementById("room-id").value = invited;
});

window.__chat = { ...actions.debug, store };

async function start() {
  const stored = actions.storedSession();
  if (!stored || stored.expired) return auth.showAuth(stored ? EXPIRED : "");
  await actions.resume(stored); // false: back at the login form with the reason
}

start();
