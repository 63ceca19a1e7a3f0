"""Input checks shared by the REST and WebSocket handlers. Lengths count Unicode code points.

The text policy (docs/protocol.md, "Text rules"):
- Every string field: no lone surrogates (they cannot be stored or encoded as UTF-8).
- Names (usernames, room names) are normalised with NFKC, so full-width and other compatibility
  look-alikes become the plain characters, and may hold no control, format (zero-width, bidi),
  private-use or unassigned characters. Usernames are then limited to ASCII and unique
  regardless of case, so the remaining look-alikes are ASCII ones (`l`/`I`, `0`/`O`).
- Message text keeps what the sender typed (no normalisation; `\\r\\n` becomes `\\n`), allows
  `\\n` and `\\t` but no other control characters, no bidi embeddings, overrides or isolates
  (U+202A-U+202E, U+2066-U+2069: the client isolates each message itself), and must contain at
  least one visible character. Zero-width joiners stay allowed: emoji sequences and Persian
  need them.
- Numbers are ASCII digits: `str.isdigit()` accepts `²`, which `int()` refuses.
- Patterns use `re.fullmatch`: `$` also matches before a final newline.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from chat.errors import InvalidInputError, TooLargeError

MAX_REST_BODY_BYTES = 64 * 1024
USERNAME_RE = re.compile(r"[A-Za-z0-9_.\-]{3,32}")
ROOM_ID_RE = re.compile(r"[A-Za-z0-9_\-]{1,64}")
MESSAGE_ID_RE = re.compile(r"[0-9A-Z]{26}")
ASCII_DIGITS_RE = re.compile(r"[0-9]{1,4}")
CLIENT_MESSAGE_ID_MAX = 64
REQUEST_ID_MAX = 128
PASSWORD_MIN, PASSWORD_MAX = 8, 128
ROOM_NAME_MAX = 64
MESSAGE_TEXT_MAX = 4000
HISTORY_LIMIT_MAX, HISTORY_LIMIT_DEFAULT = 100, 50
SEARCH_LIMIT_MAX, SEARCH_LIMIT_DEFAULT = 50, 20
SEARCH_QUERY_MAX = 100
EMOJI_MAX = 16

# Categories a name may not hold: controls, format characters (zero-width, bidi), surrogates,
# private use, unassigned.
_NAME_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_TEXT_ALLOWED_CONTROLS = frozenset("\n\t")
_BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
# What counts as not visible when deciding whether a message says anything.
_INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Mn", "Me"})
_INVISIBLE_EXTRA = frozenset("\u115f\u1160\u3164\uffa0\u2800")  # Hangul fillers, braille blank


def has_lone_surrogate(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def is_visible(char: str) -> bool:
    return unicodedata.category(char) not in _INVISIBLE_CATEGORIES and char not in _INVISIBLE_EXTRA


def parse_json_object(body: str | None, max_bytes: int = MAX_REST_BODY_BYTES) -> dict[str, Any]:
    if body is None or body == "":
        raise InvalidInputError("The request body must be a JSON object.")
    if len(body.encode("utf-8", errors="surrogatepass")) > max_bytes:
        raise InvalidInputError(f"The request body is larger than {max_bytes // 1024} KB.")
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as e:
        raise InvalidInputError("The request body is not valid JSON.") from e
    if not isinstance(value, dict):
        raise InvalidInputError("The request body must be a JSON object.")
    return value


def _string(payload: dict[str, Any], field: str) -> str:
    value = payload.get(field)
    if value is None:
        raise InvalidInputError(f"'{field}' is required.")
    if not isinstance(value, str):
        raise InvalidInputError(f"'{field}' must be a string.")
    if has_lone_surrogate(value):
        raise InvalidInputError(f"'{field}' holds an unpaired UTF-16 surrogate.")
    return value


def _name(payload: dict[str, Any], field: str) -> str:
    value = unicodedata.normalize("NFKC", _string(payload, field))
    if any(unicodedata.category(c) in _NAME_FORBIDDEN_CATEGORIES for c in value):
        raise InvalidInputError(
            f"'{field}' may not hold control, invisible or direction-changing characters."
        )
    return value


def username(payload: dict[str, Any], field: str = "username") -> str:
    value = _name(payload, field)
    if not USERNAME_RE.fullmatch(value):
        raise InvalidInputError("Usernames are 3-32 characters: letters, digits, '_', '.' or '-'.")
    return value


def password(payload: dict[str, Any]) -> str:
    value = _string(payload, "password")
    if not PASSWORD_MIN <= len(value) <= PASSWORD_MAX:
        raise InvalidInputError(f"Passwords are {PASSWORD_MIN}-{PASSWORD_MAX} characters long.")
    return value


def room_name(payload: dict[str, Any]) -> str:
    value = _name(payload, "name").strip()
    if not 1 <= len(value) <= ROOM_NAME_MAX or not any(map(is_visible, value)):
        raise InvalidInputError(f"Room names are 1-{ROOM_NAME_MAX} characters long.")
    return value


def room_id(payload: dict[str, Any], field: str = "roomId") -> str:
    value = _string(payload, field)
    if not ROOM_ID_RE.fullmatch(value):
        raise InvalidInputError(f"'{field}' is not a valid room id.")
    return value


def message_text(payload: dict[str, Any]) -> str:
    value = _string(payload, "text").replace("\r\n", "\n")
    if len(value) > MESSAGE_TEXT_MAX:
        raise TooLargeError(f"Messages are at most {MESSAGE_TEXT_MAX} characters long.")
    for char in value:
        if char in _BIDI_CONTROLS or (
            unicodedata.category(char) == "Cc" and char not in _TEXT_ALLOWED_CONTROLS
        ):
            raise InvalidInputError(
                f"Messages may not hold control or direction-override characters "
                f"(found U+{ord(char):04X})."
            )
    if not any(map(is_visible, value)):
        raise InvalidInputError("A message needs some visible text.")
    return value


def message_id(payload: dict[str, Any], field: str = "messageId") -> str:
    value = _string(payload, field)
    if not MESSAGE_ID_RE.fullmatch(value):
        raise InvalidInputError(f"'{field}' is not a valid message id.")
    return value


_EMOJI_PARTS = frozenset({"So", "Sk", "Mn", "Me"})
_KEYCAP_BASES = frozenset("0123456789#*")


def emoji(payload: dict[str, Any]) -> str:
    """One emoji: pictographs (So) with what builds sequences of them (skin tones, variation
    selectors, ZWJ, keycaps, flag tags), at most 16 code points."""
    value = _string(payload, "emoji")
    if not 1 <= len(value) <= EMOJI_MAX:
        raise InvalidInputError(f"'emoji' is one emoji of at most {EMOJI_MAX} code points.")
    keycap = "\u20e3" in value
    for char in value:
        category = unicodedata.category(char)
        tag = 0xE0020 <= ord(char) <= 0xE007F
        if not (
            category in _EMOJI_PARTS
            or char == "\u200d"
            or tag
            or (keycap and char in _KEYCAP_BASES)
        ):
            raise InvalidInputError("'emoji' must be an emoji.")
    if not any(unicodedata.category(c) == "So" for c in value) and not keycap:
        raise InvalidInputError("'emoji' must be an emoji.")
    return value


def flag(payload: dict[str, Any], field: str) -> bool:
    value = payload.get(field)
    if not isinstance(value, bool):
        raise InvalidInputError(f"'{field}' must be true or false.")
    return value


def search_query(params: dict[str, Any]) -> tuple[list[str], int, str | None]:
    """The words of `q` (case-folded), `limit` and `cursor` of a search."""
    raw = _string(params, "q").strip()
    if not 1 <= len(raw) <= SEARCH_QUERY_MAX:
        raise InvalidInputError(f"'q' is 1-{SEARCH_QUERY_MAX} characters.")
    if any(unicodedata.category(c) == "Cc" for c in raw):
        raise InvalidInputError("'q' may not hold control characters.")
    words = sorted(set(raw.casefold().split()))
    if not words:
        raise InvalidInputError(f"'q' is 1-{SEARCH_QUERY_MAX} characters.")
    limit = _limit(params, SEARCH_LIMIT_DEFAULT, SEARCH_LIMIT_MAX)
    return words, limit, _cursor(params, "cursor")


def _limit(params: dict[str, Any], default: int, maximum: int) -> int:
    raw = params.get("limit")
    problem = f"'limit' must be a whole number from 1 to {maximum}."
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        raise InvalidInputError(problem)
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and ASCII_DIGITS_RE.fullmatch(raw):
        value = int(raw)
    else:
        raise InvalidInputError(problem)
    if not 1 <= value <= maximum:
        raise InvalidInputError(problem)
    return value


def client_message_id(payload: dict[str, Any]) -> str | None:
    value = payload.get("clientMessageId")
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= CLIENT_MESSAGE_ID_MAX
        or has_lone_surrogate(value)
        or any(unicodedata.category(c) in _NAME_FORBIDDEN_CATEGORIES for c in value)
    ):
        raise InvalidInputError(
            f"'clientMessageId' must be a string of 1-{CLIENT_MESSAGE_ID_MAX} characters."
        )
    return value


def request_id(payload: dict[str, Any]) -> str | None:
    value = payload.get("requestId")
    if isinstance(value, str) and len(value) <= REQUEST_ID_MAX and not has_lone_surrogate(value):
        return value
    return None


def history_query(params: dict[str, Any]) -> tuple[int, str | None, str | None]:
    """limit, before and after from a query string or a WebSocket frame."""
    limit = _limit(params, HISTORY_LIMIT_DEFAULT, HISTORY_LIMIT_MAX)
    before = _cursor(params, "before")
    after = _cursor(params, "after")
    if before and after:
        raise InvalidInputError("Give 'before' or 'after', not both.")
    return limit, before, after


def _cursor(params: dict[str, Any], field: str) -> str | None:
    value = params.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not MESSAGE_ID_RE.fullmatch(value):
        raise InvalidInputError(f"'{field}' must be a message id.")
    return value


# -- media (docs/protocol.md, "Media") ----------------------------------------------------------

UPLOAD_ID_RE = re.compile(r"[0-9a-f]{32}")
FILENAME_MAX = 255
MAX_ATTACHMENTS = 4
_CONTENT_TYPE_RE = re.compile(r"[a-z0-9][a-z0-9.+\-]*/[a-z0-9][a-z0-9.+\-]*")


def upload_id(payload: dict[str, Any], field: str = "uploadId") -> str:
    value = _string(payload, field)
    if not UPLOAD_ID_RE.fullmatch(value):
        raise InvalidInputError(f"'{field}' is not a valid upload id.")
    return value


def upload_request(payload: dict[str, Any]) -> tuple[str, str, int]:
    """filename, contentType and size of `POST /rooms/{roomId}/uploads`. Whether the type and
    size are allowed is the media service's (they are settings)."""
    filename = _name(payload, "filename").strip()
    if not 1 <= len(filename) <= FILENAME_MAX or not any(map(is_visible, filename)):
        raise InvalidInputError(f"'filename' is 1-{FILENAME_MAX} characters.")
    if any(c in filename for c in "/\\"):
        raise InvalidInputError("'filename' may not hold '/' or '\\'.")
    content_type = _string(payload, "contentType").strip().lower()
    if not _CONTENT_TYPE_RE.fullmatch(content_type):
        raise InvalidInputError("'contentType' must be a MIME type such as image/png.")
    size = payload.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InvalidInputError("'size' must be a whole number of bytes, at least 1.")
    return filename, content_type, size


def attachments(payload: dict[str, Any]) -> list[str]:
    """The upload ids of a sendMessage's `attachments` (absent: none), at most 4, no repeats."""
    value = payload.get("attachments")
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInputError("'attachments' must be a list of upload ids.")
    if len(value) > MAX_ATTACHMENTS:
        raise InvalidInputError(f"A message holds at most {MAX_ATTACHMENTS} attachments.")
    ids = [upload_id({"attachments": v}, "attachments") for v in value]
    if len(set(ids)) != len(ids):
        raise InvalidInputError("'attachments' names an upload twice.")
    return ids


def message_text_or_empty(payload: dict[str, Any]) -> str:
    """The text of a message with attachments: may be absent or empty, else the usual rules."""
    value = payload.get("text")
    if value is None or value == "":
        return ""
    return message_text(payload)
