"""Message life: edits, deletes, reactions (stored, then delivered from the stream's MODIFY
records as `messageUpdated`), typing (never stored) and search, over the real handlers."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.unit.harness import Harness, fresh_handler
from tests.unit.test_conversations import group_with, say


def one_way(chat: Harness, connection: str, user: str, frame: dict[str, Any]) -> str | None:
    """A one-way action: None on success, else the error code posted back."""
    assert chat.send(connection, user, frame) is None
    errors = [f for f in chat.frames(connection) if f["type"] == "error"]
    return str(errors[0]["code"]) if errors else None


def stored(room: str, message_id: str) -> dict[str, Any]:
    table = boto3.resource("dynamodb").Table("test-messages")
    return dict(table.get_item(Key={"roomId": room, "messageId": message_id})["Item"])


def setup_message(chat: Harness, people: dict[str, tuple[str, str]]) -> tuple[str, str]:
    room = group_with(chat, people, "bob")
    say(chat, people["bob"][1], "bob", room, "teh plan")
    chat.pump()
    [frame] = [f for f in chat.frames(people["alice"][1]) if f["type"] == "message"]
    chat.frames(people["bob"][1])
    return room, frame["message"]["messageId"]


def updates(chat: Harness, connection: str) -> list[dict[str, Any]]:
    return [f["message"] for f in chat.frames(connection) if f["type"] == "messageUpdated"]


def test_an_edit_reaches_everyone_through_the_stream(
    chat: Harness, people: dict[str, tuple[str, str]]
) -> None:
    (_, a), (_, b) = people["alice"], people["bob"]
    room, mid = setup_message(chat, people)
    frame = {"action": "editMessage", "roomId": room, "messageId": mid, "text": "the plan"}
    assert one_way(chat, b, "bob", frame) is None
    assert chat.frames(a) == []  # nothing before the stream delivers it
    chat.pump()
    for connection in (a, b):
        [update] = updates(chat, connection)
        assert (update["messageId"], update["text"]) == (mid, "the plan")
        assert update["editedAt"] and "deleted" not in update
    history = chat.send(a, "alice", {"action": "getMessages", "roomId": room})
    assert history is not None and history["messages"][-1]["text"] == "the plan"


def test_a_delete_leaves_a_tombstone_without_text_or_reactions(
    chat: Harness, people: dict[str, tuple[str, str]]
) -> None:
    (_, a), (_, b) = people["alice"], people["bob"]
    room, mid = setup_message(chat, people)
    react = {"action": "react", "roomId": room, "messageId": mid, "emoji": "👍", "on": True}
    assert one_way(chat, a, "alice", react) is None
    assert (
        one_way(chat, b, "bob", {"action": "deleteMessage", "roomId": room, "messageId": mid})
        is None
    )
    chat.pump()
    *_, last = updates(chat, a)
    assert last["deleted"] is True and last["text"] == "" and "reactions" not in last
    item = stored(room, mid)
    assert item["text"] == "" and "reactions" not in item and "textLower" not in item
    for action, extra in (
        ("editMessage", {"text": "x"}),
        ("deleteMessage", {}),
        ("react", {"emoji": "👍", "on": True}),
    ):
        frame = {"action": action, "roomId": room, "messageId": mid, **extra}
        assert one_way(chat, b, "bob", frame) == "conflict", action


def test_the_admin_deletes_any_message_members_only_their_own(
    chat: Harness, people: dict[str, tuple[str, str]]
) -> None:
    (_, a), (_, b), (_, c) = people["alice"], people["bob"], people["carol"]
    room = group_with(chat, people, "bob", "carol")
    say(chat, b, "bob", room, "bob's")
    chat.pump()
    [mid] = [f["message"]["messageId"] for f in chat.frames(c) if f["type"] == "message"]
    before = chat.snapshot()
    frame = {"action": "deleteMessage", "roomId": room, "messageId": mid}
    assert one_way(chat, c, "carol", frame) == "forbidden"
    edit = {"action": "editMessage", "roomId": room, "messageId": mid, "text": "mine now"}
    assert one_way(chat, a, "alice", edit) == "forbidden"  # not even the admin edits others'
    assert chat.snapshot() == before
    assert one_way(chat, a, "alice", frame) is None
    assert stored(room, mid)["deleted"] is True


def test_reactions_toggle_per_user_and_show_who(
    chat: Harness, people: dict[str, tuple[str, str]]
) -> None:
    (_, a), (_, b) = people["alice"], people["bob"]
    room, mid = setup_message(chat, people)
    for user, connection, emoji, on in (
        ("alice", a, "👍", True),
        ("bob", b, "👍", True),
        ("alice", a, "👍🏽", True),
        ("alice", a, "👍", True),
        ("bob", b, "👍", False),
        ("bob", b, "🇫🇷", True),
    ):
        frame = {"action": "react", "roomId": room, "messageId": mid, "emoji": emoji, "on": on}
        assert one_way(chat, connection, user, frame) is None
    chat.pump()
    *_, last = updates(chat, b)
    assert last["reactions"] == {"👍": ["alice"], "👍🏽": ["alice"], "🇫🇷": ["bob"]}


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"emoji": "a", "on": True}, "invalid_input"),
        ({"emoji": "👍 ", "on": True}, "invalid_input"),
        ({"emoji": "", "on": True}, "invalid_input"),
        ({"emoji": "👍" * 17, "on": True}, "invalid_input"),
        ({"emoji": "\u200d", "on": True}, "invalid_input"),
        ({"emoji": "👍", "on": "yes"}, "invalid_input"),
        ({"emoji": "👍"}, "invalid_input"),
        ({"emoji": 5, "on": True}, "invalid_input"),
        ({"emoji": "👍", "on": True, "messageId": "0" * 26}, "not_found"),
        ({"emoji": "👍", "on": True, "messageId": "nope"}, "invalid_input"),
    ],
)
def test_bad_reactions_change_nothing(
    chat: Harness, people: dict[str, tuple[str, str]], fields: dict[str, Any], code: str
) -> None:
    room, mid = setup_message(chat, people)
    before = chat.snapshot()
    frame = {"action": "react", "roomId": room, "messageId": mid, **fields}
    assert one_way(chat, people["bob"][1], "bob", frame) == code
    assert chat.snapshot() == before


@pytest.mark.parametrize(
    ("who", "fields", "code"),
    [
        ("bob", {"text": ""}, "invalid_input"),
        ("bob", {"text": "x" * 4001}, "too_large"),
        ("bob", {"text": "\u200b"}, "invalid_input"),
        ("bob", {"text": 7}, "invalid_input"),
        ("bob", {"messageId": "0" * 26, "text": "x"}, "not_found"),
        ("carol", {"text": "x"}, "forbidden"),
        ("alice", {"text": "x"}, "forbidden"),
    ],
)
def test_bad_edits_change_nothing(
    chat: Harness, people: dict[str, tuple[str, str]], who: str, fields: dict[str, Any], code: str
) -> None:
    room, mid = setup_message(chat, people)
    before = chat.snapshot()
    frame = {"action": "editMessage", "roomId": room, "messageId": mid, **fields}
    assert one_way(chat, people[who][1], who, frame) == code
    assert chat.snapshot() == before


def test_a_message_of_another_room_is_not_found(
    chat: Harness, people: dict[str, tuple[str, str]]
) -> None:
    (_, a) = people["alice"]
    room, mid = setup_message(chat, people)
    other = group_with(chat, people, "bob")
    before = chat.snapshot()
    for action, extra in (
        ("editMessage", {"text": "x"}),
        ("deleteMessage", {}),
        ("react", {"emoji": "👍", "on": True}),
    ):
        frame = {"action": action, "roomId": other, "messageId": mid, **extra}
        assert one_way(chat, people["bob"][1], "bob", frame) == "not_found", action
    assert chat.snapshot() == before
    assert room != other and a


def test_reactions_are_bounded(chat: Harness, people: dict[str, tuple[str, str]]) -> None:
    room, mid = setup_message(chat, people)
    b = people["bob"][1]
    emojis = [chr(0x1F600 + n) for n in range(21)]
    for emoji in emojis[:20]:
        frame = {"action": "react", "roomId": room, "messageId": mid, "emoji": emoji, "on": True}
        assert one_way(chat, b, "bob", frame) is None
    frame = {"action": "react", "roomId": room, "messageId": mid, "emoji": emojis[20], "on": True}
    assert one_way(chat, b, "bob", frame) == "conflict"
    assert len(stored(room, mid)["reactions"]) == 20


def test_typing_goes_to_the_others_at_most_once_per_two_seconds(
    chat: Harness, people: dict[str, tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    (_, a), (_, b), (_, c) = people["alice"], people["bob"], people["carol"]
    room = group_with(chat, people, "bob")
    # The throttle is one of the limits, which the unit tier's environment turns off.
    monkeypatch.delenv("RATE_LIMITS_ENABLED")
    chat.modules["send_message"] = fresh_handler("send_message")
    clock = [1_000_000.0]
    monkeypatch.setattr(chat.modules["send_message"].service, "clock", lambda: clock[0])
    messages_before = chat.snapshot()["test-messages"]
    for _ in range(3):
        assert one_way(chat, b, "bob", {"action": "typing", "roomId": room}) is None
    assert chat.frames(a) == [{"type": "typing", "roomId": room, "username": "bob"}]
    assert chat.frames(b) == []
    clock[0] += 2.5
    assert one_way(chat, b, "bob", {"action": "typing", "roomId": room}) is None
    assert len(chat.frames(a)) == 1
    assert chat.snapshot()["test-messages"] == messages_before  # never stored
    assert one_way(chat, c, "carol", {"action": "typing", "roomId": room}) == "forbidden"
    assert chat.frames(a) == []


def test_search_finds_every_word_in_any_case_newest_first_with_a_cursor(
    chat: Harness, people: dict[str, tuple[str, str]]
) -> None:
    alice, b = people["alice"][0], people["bob"][1]
    room = group_with(chat, people, "bob")
    texts = [
        "Deploy on Friday",
        "the DEPLOY failed",
        "friday lunch",
        "deploy friday again",
        "STRASSE deploy friday",
    ]
    for text in texts:
        say(chat, b, "bob", room, text)
    chat.pump()
    status, body = chat.rest(
        "GET", f"/rooms/{room}/search", token=alice, query={"q": "friday DEPLOY", "limit": "2"}
    )
    assert status == 200, body
    assert [m["text"] for m in body["messages"]] == ["STRASSE deploy friday", "deploy friday again"]
    assert body["cursor"]
    status, more = chat.rest(
        "GET",
        f"/rooms/{room}/search",
        token=alice,
        query={"q": "friday DEPLOY", "limit": "2", "cursor": body["cursor"]},
    )
    assert [m["text"] for m in more["messages"]] == ["Deploy on Friday"] and more["cursor"] is None
    status, folded = chat.rest("GET", f"/rooms/{room}/search", token=alice, query={"q": "straße"})
    assert [m["text"] for m in folded["messages"]] == ["STRASSE deploy friday"]

    # Deleted messages never match.
    [newest] = [m["messageId"] for m in body["messages"][:1]]
    assert (
        one_way(chat, b, "bob", {"action": "deleteMessage", "roomId": room, "messageId": newest})
        is None
    )
    status, after = chat.rest("GET", f"/rooms/{room}/search", token=alice, query={"q": "strasse"})
    assert after == {"messages": [], "cursor": None}


@pytest.mark.parametrize(
    ("query", "who", "status"),
    [
        ({"q": ""}, "alice", 400),
        ({"q": "   "}, "alice", 400),
        ({"q": "x" * 101}, "alice", 400),
        ({"q": "a", "limit": "51"}, "alice", 400),
        ({"q": "a", "limit": "²"}, "alice", 400),
        ({"q": "a", "cursor": "nope"}, "alice", 400),
        ({}, "alice", 400),
        ({"q": "a\u0000b"}, "alice", 400),
        ({"q": "plan"}, "carol", 403),
    ],
)
def test_bad_searches_are_clear_errors(
    chat: Harness,
    people: dict[str, tuple[str, str]],
    query: dict[str, str],
    who: str,
    status: int,
) -> None:
    room, _ = setup_message(chat, people)
    got, body = chat.rest("GET", f"/rooms/{room}/search", token=people[who][0], query=query)
    assert got == status and body["error"]["code"] in ("invalid_input", "forbidden"), body
