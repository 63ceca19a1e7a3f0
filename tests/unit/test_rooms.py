"""Room actions over the WebSocket handlers: creation, join requests, approvals, members."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.harness import Harness


@pytest.fixture
def alice_and_bob(chat: Harness) -> dict[str, str]:
    connections = {}
    for name in ("alice", "bob"):
        connections[name] = chat.connect(chat.signup_and_login(name))
    return connections


def create_room(chat: Harness, connection: str, user: str = "alice", name: str = "General") -> str:
    reply = chat.send(connection, user, {"action": "createRoom", "name": name, "requestId": "r1"})
    assert reply is not None and reply["type"] == "roomCreated", reply
    assert reply["requestId"] == "r1"
    assert reply["room"]["admin"] == user
    return str(reply["room"]["roomId"])


def error_of(reply: dict[str, Any] | None) -> str:
    assert reply is not None and reply["type"] == "error", reply
    assert reply["message"]
    return str(reply["code"])


def test_join_request_approval_reaches_everyone_live(
    chat: Harness, alice_and_bob: dict[str, str]
) -> None:
    a, b = alice_and_bob["alice"], alice_and_bob["bob"]
    room = create_room(chat, a)
    reply = chat.send(b, "bob", {"action": "joinRoom", "roomId": room, "requestId": "j"})
    assert reply is not None
    assert (reply["type"], reply["roomId"], reply["requestId"]) == ("joinRequested", room, "j")
    [request] = chat.frames(a)
    assert (request["type"], request["roomId"], request["username"]) == ("joinRequest", room, "bob")
    assert chat.frames(b) == []

    ack = chat.send(a, "alice", {"action": "approveJoin", "roomId": room, "username": "bob"})
    assert ack == {"type": "joinApprovedAck", "roomId": room, "username": "bob"}
    assert chat.frames(a) == [{"type": "memberJoined", "roomId": room, "username": "bob"}]
    approved, joined = chat.frames(b)
    assert approved["type"] == "joinApproved" and approved["room"]["roomId"] == room
    assert joined == {"type": "memberJoined", "roomId": room, "username": "bob"}

    members = chat.send(b, "bob", {"action": "getMembers", "roomId": room})
    assert members is not None
    assert members["members"] == [
        {"username": "alice", "role": "admin", "online": True, "lastRead": None},
        {"username": "bob", "role": "member", "online": True, "lastRead": None},
    ]
    assert "requests" not in members  # only admins see pending requests
    status, rooms = chat.rest("GET", "/rooms", token=chat.signup_and_login("carol"))
    assert (status, rooms) == (200, {"rooms": []})


def test_rejection_notifies_the_requester_and_grants_nothing(
    chat: Harness, alice_and_bob: dict[str, str]
) -> None:
    a, b = alice_and_bob["alice"], alice_and_bob["bob"]
    room = create_room(chat, a)
    chat.send(b, "bob", {"action": "joinRoom", "roomId": room})
    chat.frames(a)
    ack = chat.send(a, "alice", {"action": "rejectJoin", "roomId": room, "username": "bob"})
    assert ack == {"type": "joinRejectedAck", "roomId": room, "username": "bob"}
    assert chat.frames(b) == [{"type": "joinRejected", "roomId": room}]
    assert error_of(chat.send(b, "bob", {"action": "getMembers", "roomId": room})) == "forbidden"
    # A rejected user may ask again.
    assert chat.send(b, "bob", {"action": "joinRoom", "roomId": room})["type"] == "joinRequested"  # type: ignore[index]


def test_admin_sees_pending_requests_in_the_member_list(
    chat: Harness, alice_and_bob: dict[str, str]
) -> None:
    a, b = alice_and_bob["alice"], alice_and_bob["bob"]
    room = create_room(chat, a)
    chat.send(b, "bob", {"action": "joinRoom", "roomId": room})
    token = chat.signup_and_login("alice2")
    del token
    members = chat.send(a, "alice", {"action": "getMembers", "roomId": room})
    assert members is not None
    assert [r["username"] for r in members["requests"]] == ["bob"]


def test_rooms_list_shows_my_rooms_with_my_role(
    chat: Harness, alice_and_bob: dict[str, str]
) -> None:
    a, b = alice_and_bob["alice"], alice_and_bob["bob"]
    room = create_room(chat, a, name="Design")
    chat.send(b, "bob", {"action": "joinRoom", "roomId": room})
    chat.send(a, "alice", {"action": "approveJoin", "roomId": room, "username": "bob"})
    status, rooms = chat.rest("GET", "/rooms", token=chat.login("bob"))
    assert status == 200
    [entry] = rooms["rooms"]
    assert (entry["roomId"], entry["name"], entry["role"]) == (room, "Design", "member")


@pytest.mark.parametrize(
    "frame",
    [
        {"action": "createRoom"},
        {"action": "createRoom", "name": ""},
        {"action": "createRoom", "name": "   "},
        {"action": "createRoom", "name": "x" * 65},
        {"action": "createRoom", "name": 42},
        {"action": "createRoom", "name": ["General"]},
    ],
)
def test_create_room_with_bad_input_is_rejected(
    chat: Harness, alice_and_bob: dict[str, str], frame: dict[str, Any]
) -> None:
    before = chat.snapshot()
    reply = chat.send(alice_and_bob["alice"], "alice", {**frame, "requestId": "q"})
    assert error_of(reply) == "invalid_input"
    assert reply is not None and reply["action"] == "createRoom" and reply["requestId"] == "q"
    assert chat.snapshot() == before


def test_join_request_errors_change_nothing(chat: Harness, alice_and_bob: dict[str, str]) -> None:
    a, b = alice_and_bob["alice"], alice_and_bob["bob"]
    room = create_room(chat, a)
    chat.send(b, "bob", {"action": "joinRoom", "roomId": room})
    chat.frames(a)
    before = chat.snapshot()
    assert (
        error_of(chat.send(b, "bob", {"action": "joinRoom", "roomId": "no-such-room"}))
        == "not_found"
    )
    assert error_of(chat.send(b, "bob", {"action": "joinRoom", "roomId": room})) == "conflict"
    assert error_of(chat.send(a, "alice", {"action": "joinRoom", "roomId": room})) == "conflict"
    assert (
        error_of(chat.send(b, "bob", {"action": "joinRoom", "roomId": "bad id!"}))
        == "invalid_input"
    )
    assert error_of(chat.send(b, "bob", {"action": "joinRoom"})) == "invalid_input"
    assert chat.snapshot() == before
    assert chat.frames(a) == []


def test_only_the_admin_may_approve_or_reject(chat: Harness, alice_and_bob: dict[str, str]) -> None:
    a, b = alice_and_bob["alice"], alice_and_bob["bob"]
    c = chat.connect(chat.signup_and_login("carol"))
    room = create_room(chat, a)
    chat.send(b, "bob", {"action": "joinRoom", "roomId": room})
    chat.send(c, "carol", {"action": "joinRoom", "roomId": room})
    chat.send(a, "alice", {"action": "approveJoin", "roomId": room, "username": "bob"})
    before = chat.snapshot()
    for action in ("approveJoin", "rejectJoin"):
        # bob is a member but not the admin; carol is not even a member
        assert (
            error_of(chat.send(b, "bob", {"action": action, "roomId": room, "username": "carol"}))
            == "forbidden"
        )
        assert (
            error_of(chat.send(c, "carol", {"action": action, "roomId": room, "username": "carol"}))
            == "forbidden"
        )
        # nothing pending from this user, or no such room
        assert (
            error_of(chat.send(a, "alice", {"action": action, "roomId": room, "username": "dave"}))
            == "not_found"
        )
        assert (
            error_of(
                chat.send(a, "alice", {"action": action, "roomId": "nope", "username": "carol"})
            )
            == "not_found"
        )
        assert (
            error_of(chat.send(a, "alice", {"action": action, "roomId": room, "username": 7}))
            == "invalid_input"
        )
    assert chat.snapshot() == before


def test_non_members_cannot_read_members_or_history(
    chat: Harness, alice_and_bob: dict[str, str]
) -> None:
    room = create_room(chat, alice_and_bob["alice"])
    b = alice_and_bob["bob"]
    assert error_of(chat.send(b, "bob", {"action": "getMembers", "roomId": room})) == "forbidden"
    assert error_of(chat.send(b, "bob", {"action": "getMessages", "roomId": room})) == "forbidden"
    assert (
        error_of(chat.send(b, "bob", {"action": "getMessages", "roomId": "missing"})) == "not_found"
    )
    token = chat.signup_and_login("carol")
    assert chat.rest("GET", f"/rooms/{room}/messages", token=token)[0] == 403
    assert chat.rest("GET", f"/rooms/{room}/members", token=token)[0] == 403
    assert chat.rest("GET", "/rooms/missing/members", token=token)[0] == 404


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json at all", "invalid_input"),
        ("[1, 2, 3]", "invalid_input"),
        ('"a string"', "invalid_input"),
        ('{"action": 5}', "invalid_input"),
        ('{"no": "action"}', "unknown_action"),
        ('{"action": "launchRockets", "requestId": "z"}', "unknown_action"),
        ('{"action": "createRoom", "name": "' + "x" * 40_000 + '"}', "too_large"),
    ],
)
def test_malformed_frames_get_an_error_frame(
    chat: Harness, alice_and_bob: dict[str, str], raw: str, code: str
) -> None:
    before = chat.snapshot()
    reply = chat.send(alice_and_bob["alice"], "alice", None, raw=raw)
    assert error_of(reply) == code
    assert chat.snapshot() == before


def test_ping_answers_pong(chat: Harness, alice_and_bob: dict[str, str]) -> None:
    assert chat.send(alice_and_bob["alice"], "alice", {"action": "ping", "requestId": "p"}) == {
        "type": "pong",
        "requestId": "p",
    }


def test_a_frame_without_an_authenticated_connection_is_refused(chat: Harness) -> None:
    reply = chat.send("ghost", "", {"action": "createRoom", "name": "x"})
    assert error_of(reply) == "unauthorized"


def test_disconnect_removes_the_connection_and_its_indexes(
    chat: Harness, alice_and_bob: dict[str, str]
) -> None:
    a = alice_and_bob["alice"]
    create_room(chat, a)
    create_room(chat, a, name="Second")
    chat.disconnect(a, "alice")
    remaining = [i for i in chat.snapshot()["test-connections"] if a in i["sk"] or a in i["pk"]]
    assert remaining == []


def test_presence_tells_room_members_when_someone_goes_offline_and_back(
    chat: Harness, alice_and_bob: dict[str, str]
) -> None:
    a, b = alice_and_bob["alice"], alice_and_bob["bob"]
    room = create_room(chat, a)
    chat.send(b, "bob", {"action": "joinRoom", "roomId": room})
    chat.send(a, "alice", {"action": "approveJoin", "roomId": room, "username": "bob"})
    chat.frames(a)
    chat.disconnect(b, "bob")
    assert chat.frames(a) == [
        {"type": "presence", "roomId": room, "username": "bob", "online": False}
    ]
    chat.connect(chat.login("bob"))
    assert chat.frames(a) == [
        {"type": "presence", "roomId": room, "username": "bob", "online": True}
    ]
