"""sendMessage, history paging and the full flow from signup to delivery."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.harness import Harness
from tests.unit.test_rooms import create_room, error_of


@pytest.fixture
def room(chat: Harness) -> dict[str, Any]:
    a = chat.connect(chat.signup_and_login("alice"))
    b = chat.connect(chat.signup_and_login("bob"))
    room_id = create_room(chat, a)
    chat.send(b, "bob", {"action": "joinRoom", "roomId": room_id})
    chat.send(a, "alice", {"action": "approveJoin", "roomId": room_id, "username": "bob"})
    chat.frames(a), chat.frames(b)
    return {"id": room_id, "alice": a, "bob": b}


def messages_of(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f["message"] for f in frames if f["type"] == "message"]


def test_full_flow_delivers_every_message_to_both_users_exactly_once_in_order(
    chat: Harness,
) -> None:
    """Two users sign up and log in, A creates a room, B asks to join, A approves, both send;
    the stream records from moto fed to the processor deliver every message to both users'
    connections exactly once; history returns them in order."""
    a = chat.connect(chat.signup_and_login("alice"))
    b = chat.connect(chat.signup_and_login("bob"))
    room_id = create_room(chat, a)
    chat.send(b, "bob", {"action": "joinRoom", "roomId": room_id})
    chat.send(a, "alice", {"action": "approveJoin", "roomId": room_id, "username": "bob"})
    chat.frames(a), chat.frames(b)

    sent = []
    for i in range(6):
        user, conn = ("alice", a) if i % 2 == 0 else ("bob", b)
        text = f"message {i} from {user}"
        assert (
            chat.send(conn, user, {"action": "sendMessage", "roomId": room_id, "text": text})
            is None
        )
        sent.append(text)
    # sendMessage posts nothing itself: delivery happens only through the stream.
    assert chat.frames(a) == [] and chat.frames(b) == []
    assert chat.pump() == {"batchItemFailures": []}
    for conn in (a, b):
        received = messages_of(chat.frames(conn))
        assert [m["text"] for m in received] == sent
    # Nothing is delivered twice when the stream is read again.
    assert chat.pump() == {"batchItemFailures": []}
    assert chat.frames(a) == [] and chat.frames(b) == []
    status, page = chat.rest("GET", f"/rooms/{room_id}/messages", token=chat.login("bob"))
    assert status == 200
    assert [m["text"] for m in page["messages"]] == sent
    assert page["hasMore"] is False
    ids = [m["messageId"] for m in page["messages"]]
    assert ids == sorted(ids)


def test_send_message_writes_exactly_one_item(chat: Harness, room: dict[str, Any]) -> None:
    before = len(chat.snapshot()["test-messages"])
    chat.send(
        room["alice"],
        "alice",
        {"action": "sendMessage", "roomId": room["id"], "text": "hi", "clientMessageId": "c-1"},
    )
    items = chat.snapshot()["test-messages"]
    assert len(items) == before + 1
    chat.pump()
    [message] = messages_of(chat.frames(room["bob"]))
    assert message["clientMessageId"] == "c-1"
    assert message["username"] == "alice"
    assert message["createdAt"].endswith("Z")


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"text": "hi"}, "invalid_input"),
        ({"roomId": "ROOM", "text": ""}, "invalid_input"),
        ({"roomId": "ROOM", "text": "   \n "}, "invalid_input"),
        ({"roomId": "ROOM", "text": 12}, "invalid_input"),
        ({"roomId": "ROOM"}, "invalid_input"),
        ({"roomId": "ROOM", "text": "x" * 4001}, "too_large"),
        ({"roomId": "ROOM", "text": "hi", "clientMessageId": 5}, "invalid_input"),
        ({"roomId": "ROOM", "text": "hi", "clientMessageId": "c" * 65}, "invalid_input"),
        ({"roomId": "no-such-room", "text": "hi"}, "not_found"),
    ],
)
def test_bad_messages_are_rejected_and_nothing_is_written(
    chat: Harness, room: dict[str, Any], frame: dict[str, Any], code: str
) -> None:
    frame = {k: (room["id"] if v == "ROOM" else v) for k, v in frame.items()}
    before = chat.snapshot()
    # sendMessage is one-way: no reply body; the error is posted to the sender's connection.
    reply = chat.send(room["alice"], "alice", {"action": "sendMessage", **frame, "requestId": "s"})
    assert reply is None
    [error] = chat.frames(room["alice"])
    assert error_of(error) == code
    assert error["action"] == "sendMessage" and error["requestId"] == "s"
    assert chat.snapshot() == before


def test_text_of_4000_code_points_is_accepted(chat: Harness, room: dict[str, Any]) -> None:
    text = "😀" * 4000  # 16,000 bytes: the limit counts code points
    assert (
        chat.send(
            room["alice"], "alice", {"action": "sendMessage", "roomId": room["id"], "text": text}
        )
        is None
    )


def test_non_members_cannot_send(chat: Harness, room: dict[str, Any]) -> None:
    carol = chat.connect(chat.signup_and_login("carol"))
    before = chat.snapshot()
    reply = chat.send(
        carol, "carol", {"action": "sendMessage", "roomId": room["id"], "text": "let me in"}
    )
    assert reply is None
    [error] = chat.frames(carol)
    assert error_of(error) == "forbidden"
    assert chat.snapshot() == before
    chat.pump()
    assert chat.frames(room["alice"]) == []


def test_a_pending_requester_receives_nothing_until_approved(chat: Harness) -> None:
    a = chat.connect(chat.signup_and_login("alice"))
    b = chat.connect(chat.signup_and_login("bob"))
    room_id = create_room(chat, a)
    chat.send(b, "bob", {"action": "joinRoom", "roomId": room_id})
    chat.send(a, "alice", {"action": "sendMessage", "roomId": room_id, "text": "private"})
    chat.pump()
    assert messages_of(chat.frames(b)) == []


def test_history_pages_backwards_and_forwards(chat: Harness, room: dict[str, Any]) -> None:
    for i in range(7):
        chat.send(
            room["alice"], "alice", {"action": "sendMessage", "roomId": room["id"], "text": str(i)}
        )

    def page(**params: Any) -> dict[str, Any]:
        reply = chat.send(
            room["bob"], "bob", {"action": "getMessages", "roomId": room["id"], **params}
        )
        assert reply is not None and reply["type"] == "messages", reply
        return reply

    newest = page(limit=3)
    assert [m["text"] for m in newest["messages"]] == ["4", "5", "6"] and newest["hasMore"]
    older = page(limit=3, before=newest["messages"][0]["messageId"])
    assert [m["text"] for m in older["messages"]] == ["1", "2", "3"] and older["hasMore"]
    oldest = page(limit=3, before=older["messages"][0]["messageId"])
    assert [m["text"] for m in oldest["messages"]] == ["0"] and not oldest["hasMore"]
    after = page(limit=4, after=oldest["messages"][0]["messageId"])
    assert [m["text"] for m in after["messages"]] == ["1", "2", "3", "4"] and after["hasMore"]
    rest = page(after=after["messages"][-1]["messageId"])
    assert [m["text"] for m in rest["messages"]] == ["5", "6"] and not rest["hasMore"]
    # The REST API pages the same way.
    status, rest_page = chat.rest(
        "GET", f"/rooms/{room['id']}/messages", token=chat.login("bob"), query={"limit": "3"}
    )
    assert status == 200 and rest_page["messages"] == newest["messages"]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": "ten"},
        {"limit": True},
        {"limit": -1},
        {"before": "not-an-id"},
        {"after": 5},
        {"before": "01M87F5TD32YY47FN9HA8G4Z20", "after": "01M87F5TD32YY47FN9HA8G4Z20"},
    ],
)
def test_bad_history_queries_are_rejected(
    chat: Harness, room: dict[str, Any], params: dict[str, Any]
) -> None:
    reply = chat.send(room["bob"], "bob", {"action": "getMessages", "roomId": room["id"], **params})
    assert error_of(reply) == "invalid_input"


@pytest.mark.parametrize("limit", ["0", "101", "abc", "-5", "1.5"])
def test_bad_history_limits_over_rest_are_rejected(
    chat: Harness, room: dict[str, Any], limit: str
) -> None:
    status, reply = chat.rest(
        "GET", f"/rooms/{room['id']}/messages", token=chat.login("bob"), query={"limit": limit}
    )
    assert status == 400 and reply["error"]["code"] == "invalid_input"
