"""The text policy (docs/protocol.md, "Text rules") through the real handlers: each probe found
against the running local cloud answers a clear 400 / invalid_input and changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.harness import Harness
from tests.unit.test_messages import messages_of
from tests.unit.test_rooms import create_room, error_of

PASSWORD = "correct horse battery"


@pytest.mark.parametrize(
    "username",
    [
        "alice\n",  # `$` matches before a final newline; a full match does not
        "\nalice",
        "ali\u200bce",  # zero-width space
        "\u202ealice",  # right-to-left override
        "ali\x00ce",
        "ali\ud800ce",  # lone surrogate
        "аlice",  # Cyrillic а: outside the ASCII username alphabet
    ],
)
def test_usernames_with_hidden_or_look_alike_characters_are_refused(
    chat: Harness, username: str
) -> None:
    before = chat.snapshot()
    status, reply = chat.rest("POST", "/auth/signup", {"username": username, "password": PASSWORD})
    assert (status, reply["error"]["code"]) == (400, "invalid_input")
    assert chat.snapshot() == before


def test_full_width_usernames_normalise_to_the_plain_name_and_cannot_take_it(
    chat: Harness,
) -> None:
    assert chat.rest("POST", "/auth/signup", {"username": "alice", "password": PASSWORD})[0] == 201
    before = chat.snapshot()
    status, reply = chat.rest(
        "POST", "/auth/signup", {"username": "ａｌｉｃｅ", "password": PASSWORD}
    )
    assert (status, reply["error"]["code"]) == (409, "username_taken")
    assert chat.snapshot() == before
    # Logging in with the full-width spelling reaches the same account.
    status, body = chat.rest(
        "POST", "/auth/login", {"username": "ａｌｉｃｅ", "password": PASSWORD}
    )
    assert (status, body["username"]) == (200, "alice")


@pytest.mark.parametrize("path", ["/auth/signup", "/auth/login"])
def test_a_lone_surrogate_in_a_password_is_invalid_input_not_a_500(
    chat: Harness, path: str
) -> None:
    before = chat.snapshot()
    # As a browser's JSON.stringify sends it: an escaped, unpaired high surrogate.
    raw = '{"username": "alice", "password": "correct horse \\ud800"}'
    status, reply = chat.rest("POST", path, raw_body=raw)
    assert (status, reply["error"]["code"]) == (400, "invalid_input")
    assert chat.snapshot() == before


def test_a_token_holding_a_lone_surrogate_is_unauthorized(chat: Harness) -> None:
    status, reply = chat.rest("GET", "/me", token="eyJ\ud800.x.y")
    assert (status, reply["error"]["code"]) == (401, "unauthorized")


def test_a_ticket_holding_a_lone_surrogate_is_refused(chat: Harness) -> None:
    result = chat.authorize("tk\ud800")
    assert result["policyDocument"]["Statement"][0]["Effect"] == "Deny"


@pytest.fixture
def room(chat: Harness) -> dict[str, Any]:
    a = chat.connect(chat.signup_and_login("alice"))
    return {"id": create_room(chat, a), "alice": a}


def _send_raw(chat: Harness, room: dict[str, Any], raw_text_json: str) -> dict[str, Any] | None:
    raw = (
        f'{{"action": "sendMessage", "roomId": "{room["id"]}", '
        f'"text": {raw_text_json}, "requestId": "s"}}'
    )
    chat.send(room["alice"], "alice", {"action": "sendMessage"}, raw=raw)
    errors = [f for f in chat.frames(room["alice"]) if f["type"] == "error"]
    return errors[0] if errors else None


@pytest.mark.parametrize(
    "text_json",
    [
        '"hi \\ud800"',  # lone high surrogate
        '"\\udc00 hi"',  # lone low surrogate
        '"hi\\u0000there"',  # NUL
        '"bell\\u0007"',
        '"\\u202eevil.exe"',  # right-to-left override
        '"a\\u2066isolate"',
        '"\\u200b"',  # only a zero-width space
        '"\\u200b\\u200d\\ufeff \\u3164"',  # only invisible characters
        '"\\u0301"',  # only a combining mark
    ],
)
def test_message_texts_with_controls_or_nothing_visible_are_refused(
    chat: Harness, room: dict[str, Any], text_json: str
) -> None:
    before = chat.snapshot()
    error = _send_raw(chat, room, text_json)
    assert error is not None and error_of(error) == "invalid_input"
    assert error["requestId"] == "s" and error["action"] == "sendMessage"
    assert chat.snapshot() == before


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("line one\nline two\ttabbed", "line one\nline two\ttabbed"),
        ("windows\r\nline", "windows\nline"),
        ("👨\u200d👩\u200d👧 family", "👨\u200d👩\u200d👧 family"),  # ZWJ emoji sequence
        ("مرحبا\u200f!", "مرحبا\u200f!"),  # right-to-left mark stays allowed
        ("❤️", "❤️"),
    ],
)
def test_ordinary_text_is_stored_as_typed(
    chat: Harness, room: dict[str, Any], text: str, stored: str
) -> None:
    assert _send_raw(chat, room, json.dumps(text)) is None
    chat.pump()
    [message] = messages_of(chat.frames(room["alice"]))
    assert message["text"] == stored


@pytest.mark.parametrize(
    "name", ["\u202eGeneral", "Gen\u200beral", "\u200b", "   ", "Gen\x00", "Gen\ud800"]
)
def test_room_names_with_hidden_characters_are_refused(
    chat: Harness, room: dict[str, Any], name: str
) -> None:
    before = chat.snapshot()
    reply = chat.send(room["alice"], "alice", {"action": "createRoom", "name": name})
    assert error_of(reply) == "invalid_input"
    assert chat.snapshot() == before


def test_room_names_are_normalised_with_nfkc(chat: Harness, room: dict[str, Any]) -> None:
    reply = chat.send(room["alice"], "alice", {"action": "createRoom", "name": " Ｐｌａｎ ﬁve "})
    assert reply is not None and reply["room"]["name"] == "Plan five"


@pytest.mark.parametrize("limit", ["²", "١٠", "１０", "10\n", " 10"])
def test_non_ascii_digit_limits_are_invalid_input_not_a_500(
    chat: Harness, room: dict[str, Any], limit: str
) -> None:
    token = chat.login("alice")
    status, reply = chat.rest(
        "GET", f"/rooms/{room['id']}/messages", token=token, query={"limit": limit}
    )
    assert (status, reply["error"]["code"]) == (400, "invalid_input")
    frame = {"action": "getMessages", "roomId": room["id"], "limit": limit}
    assert error_of(chat.send(room["alice"], "alice", frame)) == "invalid_input"


@pytest.mark.parametrize("path", ["/me\n", "/rooms\n"])
def test_paths_match_in_full(chat: Harness, path: str) -> None:
    status, reply = chat.rest("GET", path, token=chat.signup_and_login("carol"))
    assert status == 404 and reply["error"]["code"] == "not_found"
