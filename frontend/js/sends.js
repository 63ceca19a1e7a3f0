// Our own messages on their way: shown at once as pending, settled by the stored message
// (matched by clientMessageId), failed by an error with their requestId or by SEND_TIMEOUT_MS
// of silence. One send per room is in flight at a time, the rest wait in order: the server
// gives a message its id (its place in the room) when it stores it, and two sends in flight at
// once run as two concurrent invocations that may store them either way round. A send refused
// as rate_limited stored nothing: it is held, with a note, and goes again by itself (the same
// clientMessageId) after the server's retryAfter, the room's later sends waiting behind it.

// A send with neither its stored message nor an error by then is shown as not sent.
const SEND_TIMEOUT_MS = 10_000;
// rate_limited resends of one message at most; then it is shown as not sent (with Retry).
const RATE_LIMITED_RESENDS = 3;

export function createSends({ store, getSocket }) {
  const inFlight = new Map(); // requestId => {roomId, clientMessageId}
  const holds = new Map(); // roomId => the timer that sends its held message

  function queue(roomId, { clientMessageId, text, attachments }) {
    store.addPending(roomId, { clientMessageId, text, attachments, requestId: null, status: "queued" });
    next(roomId);
  }

  // Sends the room's oldest waiting message, unless one is already in flight or the oldest is
  // held until the time the server gave: then a timer sends it.
  function next(roomId) {
    const waiting = [...(store.room(roomId)?.pending.values() || [])];
    if (waiting.some((p) => p.status === "sending")) return;
    const pending = waiting.find((p) => p.status === "queued");
    if (!pending) return;
    const wait = (pending.notBefore || 0) - Date.now();
    if (wait > 0) {
      if (!holds.has(roomId)) {
        holds.set(roomId, setTimeout(() => {
          holds.delete(roomId);
          next(roomId);
        }, wait));
      }
      return;
    }
    const { clientMessageId, text, attachments } = pending;
    const frame = { action: "sendMessage", roomId, text, clientMessageId };
    if (attachments.length) frame.attachments = attachments.map((a) => a.uploadId);
    const socket = getSocket();
    const requestId = socket ? socket.send(frame) : null;
    if (!requestId) {
      store.updatePending(roomId, clientMessageId, { status: "failed", error: "Not sent: you were offline." });
      return next(roomId);
    }
    inFlight.set(requestId, { roomId, clientMessageId });
    store.updatePending(roomId, clientMessageId, { requestId, status: "sending", note: "" });
    setTimeout(() => {
      inFlight.delete(requestId);
      const current = store.room(roomId)?.pending.get(clientMessageId);
      if (current && current.requestId === requestId && current.status === "sending") {
        store.updatePending(roomId, clientMessageId, { status: "failed", error: "Not sent: no answer from the server." });
      }
    }, SEND_TIMEOUT_MS);
  }

  // A send settled (stored, failed or discarded): the next one in that room may go.
  store.subscribe("pending", ({ roomId }) => next(roomId));

  function retry(roomId, clientMessageId) {
    if (!store.room(roomId)?.pending.get(clientMessageId)) return;
    store.updatePending(roomId, clientMessageId, { status: "queued", error: "", requestId: null, resends: 0, notBefore: 0, note: "" });
  }

  // Held for a resend after retryAfter; false once it has been resent RATE_LIMITED_RESENDS times.
  function hold({ roomId, clientMessageId }, retryAfter) {
    const pending = store.room(roomId)?.pending.get(clientMessageId);
    const resends = pending?.resends || 0;
    if (!pending || resends >= RATE_LIMITED_RESENDS) return false;
    const seconds = Math.max(1, Math.ceil(Number(retryAfter) || 1));
    store.updatePending(roomId, clientMessageId, {
      status: "queued",
      requestId: null,
      resends: resends + 1,
      notBefore: Date.now() + seconds * 1000,
      note: `Sending too fast: trying again in ${seconds} s.`,
    });
    return true;
  }

  // An `error` frame: true when it answers one of our sends (then it is settled here).
  function refused(frame) {
    const send = frame.requestId ? inFlight.get(frame.requestId) : null;
    if (!send) return false;
    inFlight.delete(frame.requestId);
    if (frame.code === "rate_limited" && hold(send, frame.retryAfter)) return true;
    store.updatePending(send.roomId, send.clientMessageId, { status: "failed", error: frame.message });
    return true;
  }

  function clear() {
    inFlight.clear();
    for (const timer of holds.values()) clearTimeout(timer);
    holds.clear();
  }

  return {
    queue,
    retry,
    discard: (roomId, clientMessageId) => store.removePending(roomId, clientMessageId),
    refused,
    clear,
  };
}
