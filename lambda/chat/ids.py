"""Identifiers.

Message ids are ULIDs: 48 bits of milliseconds then 80 random bits, in Crockford base32, so
they sort by the time they were made and work as history cursors. Within one process, ids made
in the same millisecond still increase (the random part is incremented), as the ULID spec says.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = threading.Lock()
_last_ms = -1
_last_rand = 0


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def new_message_id(now_ms: int | None = None) -> str:
    global _last_ms, _last_rand
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    with _lock:
        if ms <= _last_ms:
            ms = _last_ms
            _last_rand = (_last_rand + 1) % (1 << 80)
        else:
            _last_ms = ms
            _last_rand = secrets.randbits(80)
        rand = _last_rand
    return _encode(ms, 10) + _encode(rand, 16)


def new_room_id() -> str:
    """Short, unguessable, URL-safe: it travels in invite links."""
    return secrets.token_urlsafe(9)


DIRECT_ROOM_PREFIX = "dm-"


def direct_room_id(first: str, second: str) -> str:
    """The one room id of a pair of users, the same from either side (usernames are unique
    regardless of case). Guessable by design: a direct room admits no one but its two members."""
    pair = "\n".join(sorted((first.lower(), second.lower())))
    digest = hashlib.sha256(pair.encode("utf-8")).digest()[:18]
    return DIRECT_ROOM_PREFIX + base64.urlsafe_b64encode(digest).decode("ascii")


def id_floor(epoch_ms: int) -> str:
    """The smallest message id of a millisecond: every message made from then on sorts after it."""
    return _encode(epoch_ms, 10) + "0" * 16


def new_ticket() -> str:
    return secrets.token_urlsafe(32)


def new_token_id() -> str:
    """A JWT's `jti`: 96 random bits, so one session can be logged out alone."""
    return secrets.token_urlsafe(12)
