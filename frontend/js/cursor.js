// History cursors for a lossless catch-up (docs/protocol.md, "Order and delivery").
// Message ids are ULIDs: 10 characters of creation time in milliseconds, then 16 random ones.
// Live delivery can arrive slightly out of id order, so "after the highest id held" could skip
// a lower id still in flight when the connection dropped. A cursor made from a time a window
// before the newest message held cannot.

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
export const CATCH_UP_WINDOW_MS = 60_000;

export function timeCursor(milliseconds) {
  let rest = Math.max(0, Math.floor(milliseconds));
  let time = "";
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[rest % 32] + time;
    rest = Math.floor(rest / 32);
  }
  return time + "0".repeat(16);
}

// The cursor to catch a room up from, or null when it holds nothing (then the newest page is
// what it needs). Only the newest few messages can hold the newest createdAt.
export function catchUpCursor(room) {
  let newest = -Infinity;
  for (const id of room.ids.slice(-50)) newest = Math.max(newest, Date.parse(room.messages.get(id).createdAt));
  return Number.isFinite(newest) ? timeCursor(newest - CATCH_UP_WINDOW_MS) : null;
}
