"""Input checks shared by the REST and WebSocket handlers. Lengths count Unicode code points."""

from __future__ import annotations

import json
import re
from typing import Any

from chat.errors import InvalidInputError, TooLargeError

MAX_REST_BODY_BYTES = 64 * 1024
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{3,32}$")
ROOM_ID_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
MESSAGE_ID_RE = re.compile(r"^[0-9A-Z]{26}$")
CLIENT_MESSAGE_ID_MAX = 64
PASSWORD_MIN, PASSWORD_MAX = 8, 128
ROOM_NAME_MAX = 64
MESSAGE_TEXT_MAX = 4000
HISTORY_LIMIT_MAX, HISTORY_LIMIT_DEFAULT = 100, 50


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
    return value


def username(payload: dict[str, Any], field: str = "username") -> str:
    value = _string(payload, field)
    if not USERNAME_RE.match(value):
        raise InvalidInputError("Usernames are 3-32 characters: letters, digits, '_', '.' or '-'.")
    return value


def password(payload: dict[str, Any]) -> str:
    value = _string(payload, "password")
    if not PASSWORD_MIN <= len(value) <= PASSWORD_MAX:
        raise InvalidInputError(f"Passwords are {PASSWORD_MIN}-{PASSWORD_MAX} characters long.")
    return value


def room_name(payload: dict[str, Any]) -> str:
    value = _string(payload, "name").strip()
    if not 1 <= len(value) <= ROOM_NAME_MAX:
        raise InvalidInputError(f"Room names are 1-{ROOM_NAME_MAX} characters long.")
    return value


def room_id(payload: dict[str, Any], field: str = "roomId") -> str:
    value = _string(payload, field)
    if not ROOM_ID_RE.match(value):
        raise InvalidInputError(f"'{field}' is not a valid room id.")
    return value


def message_text(payload: dict[str, Any]) -> str:
    value = _string(payload, "text")
    if len(value) > MESSAGE_TEXT_MAX:
        raise TooLargeError(f"Messages are at most {MESSAGE_TEXT_MAX} characters long.")
    if not value.strip():
        raise InvalidInputError("A message needs some text.")
    return value


def client_message_id(payload: dict[str, Any]) -> str | None:
    value = payload.get("clientMessageId")
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= CLIENT_MESSAGE_ID_MAX:
        raise InvalidInputError(
            f"'clientMessageId' must be a string of 1-{CLIENT_MESSAGE_ID_MAX} characters."
        )
    return value


def request_id(payload: dict[str, Any]) -> str | None:
    value = payload.get("requestId")
    if isinstance(value, str) and len(value) <= 128:
        return value
    return None


def history_query(params: dict[str, Any]) -> tuple[int, str | None, str | None]:
    """limit, before and after from a query string or a WebSocket frame."""
    raw_limit = params.get("limit")
    if raw_limit is None or raw_limit == "":
        limit = HISTORY_LIMIT_DEFAULT
    elif isinstance(raw_limit, bool):
        raise InvalidInputError("'limit' must be a whole number from 1 to 100.")
    elif isinstance(raw_limit, int):
        limit = raw_limit
    elif isinstance(raw_limit, str) and raw_limit.isdigit() and len(raw_limit) <= 4:
        limit = int(raw_limit)
    else:
        raise InvalidInputError("'limit' must be a whole number from 1 to 100.")
    if not 1 <= limit <= HISTORY_LIMIT_MAX:
        raise InvalidInputError("'limit' must be a whole number from 1 to 100.")
    before = _cursor(params, "before")
    after = _cursor(params, "after")
    if before and after:
        raise InvalidInputError("Give 'before' or 'after', not both.")
    return limit, before, after


def _cursor(params: dict[str, Any], field: str) -> str | None:
    value = params.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not MESSAGE_ID_RE.match(value):
        raise InvalidInputError(f"'{field}' must be a message id.")
    return value
