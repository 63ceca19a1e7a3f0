// The session (token, expiry, username) kept in localStorage, so that it survives a reload.

const SESSION_KEY = "chat.session";
export const EXPIRED = "Your session has expired. Please log in again.";

export function keepSession(session) {
  if (session) localStorage.setItem(SESSION_KEY, JSON.stringify(session));
  else localStorage.removeItem(SESSION_KEY);
}

// The stored session; {expired: true} for one past its expiry; null for none.
export function storedSession() {
  try {
    const stored = JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
    if (stored && stored.token && Date.parse(stored.expiresAt) > Date.now()) return stored;
    if (stored) return { expired: true };
  } catch {
    /* a damaged entry is the same as none */
  }
  return null;
}
