// The sign-in form, and switching between it and the app as the session comes and goes.

import { $, describe } from "../render.js";

export function mountAuth({ store, actions }) {
  async function authenticate(kind) {
    const username = $("auth-username").value.trim();
    const password = $("auth-password").value;
    $("auth-error").textContent = "";
    const buttons = [$("login-button"), $("signup-button")];
    buttons.forEach((b) => (b.disabled = true));
    try {
      await actions.authenticate(kind, username, password);
      $("auth-password").value = "";
    } catch (error) {
      $("auth-error").textContent = describe(error);
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  }

  $("auth-form").addEventListener("submit", (e) => {
    e.preventDefault();
    authenticate("login");
  });
  $("signup-button").addEventListener("click", () => authenticate("signup"));
  $("logout-button").addEventListener("click", () => actions.endSession());
  // The top bar's button, or the Rooms panel's at phone width: the same action.
  const everywhereButtons = [$("logout-all-button"), $("logout-all-menu-button")];
  async function endEverySession() {
    const sure = window.confirm("Log out everywhere? Every session of yours ends now, on every device and in every tab.");
    if (!sure) return;
    $("session-error").textContent = "";
    everywhereButtons.forEach((b) => (b.disabled = true));
    try {
      await actions.endEverySession();
    } catch (error) {
      $("session-error").textContent = `Not logged out everywhere: ${describe(error)}`;
    } finally {
      everywhereButtons.forEach((b) => (b.disabled = false));
    }
  }
  everywhereButtons.forEach((b) => b.addEventListener("click", endEverySession));

  store.subscribe("session", (session) => {
    $("app-view").hidden = !session;
    $("auth-view").hidden = Boolean(session);
    $("whoami").textContent = session ? session.username : "";
    $("session-error").textContent = "";
  });
  store.subscribe("notice", (notice) => {
    if (notice.kind === "signedOut") showAuth(notice.message);
  });

  function showAuth(message = "") {
    $("app-view").hidden = true;
    $("auth-view").hidden = false;
    $("auth-error").textContent = message;
    $("auth-username").focus();
  }

  return { showAuth };
}
