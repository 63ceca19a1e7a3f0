// The connection indicator in the top bar.

import { $ } from "../render.js";

const LABELS = { connected: "connected", connecting: "connecting…", reconnecting: "reconnecting…", offline: "offline" };

export function mountConnection({ store }) {
  store.subscribe("connection", (state) => {
    $("connection-status").textContent = LABELS[state] || state;
    $("connection-status").dataset.state = state;
  });
}
