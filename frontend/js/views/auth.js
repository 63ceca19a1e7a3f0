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
  $("logout-button").addEventListener("click", () => actions.logout());

  store.subscribe("session", (session) => {
    $("app-view").hidden = !session;
    $("auth-view").hidden = Boolean(session);
    $("whoami").textContent = session ? session.username : "";
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
