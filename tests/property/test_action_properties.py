"""Arbitrary JSON in every WebSocket action and REST call, through the real handlers against
moto: a valid reply or a clear error (never `internal`, never a 500), and a rejected input
changes nothing in any table."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.property.strategies import JSON, objects_with
from tests.unit.harness import Harness

ACTIONS: dict[str, list[str]] = {
    "createRoom": ["name"],
    "joinRoom": ["roomId"],
    "approveJoin": ["roomId", "username"],
    "rejectJoin": ["roomId", "username"],
    "sendMessage": ["roomId", "text", "clientMessageId"],
    "getMessages": ["roomId", "limit", "before", "after"],
    "getMembers": ["roomId"],
    "openDirect": ["username"],
    "leaveRoom": ["roomId"],
    "removeMember": ["roomId", "username"],
    "deleteRoom": ["roomId"],
    "markRead": ["roomId", "messageId"],
    "editMessage": ["roomId", "messageId", "text"],
    "deleteMessage": ["roomId", "messageId"],
    "react": ["roomId", "messageId", "emoji", "on"],
    "typing": ["roomId"],
    "ping": ["requestId"],
}
# Each example runs the real handlers against moto: a smaller budget than the pure properties.
THROUGH_HANDLERS = settings(max_examples=40)


@pytest.fixture
def world(chat: Harness) -> dict[str, Any]:
    """alice admins a room bob belongs to; carol has asked to join it."""
    names = ("alice", "bob", "carol")
    connections = {n: chat.connect(chat.signup_and_login(n)) for n in names}
    reply = chat.send(connections["alice"], "alice", {"action": "createRoom", "name": "General"})
    assert reply is not None
    room_id = reply["room"]["roomId"]
    chat.send(connections["bob"], "bob", {"action": "joinRoom", "roomId": room_id})
    chat.send(
        connections["alice"],
        "alice",
        {"action": "approveJoin", "roomId": room_id, "username": "bob"},
    )
    chat.send(connections["carol"], "carol", {"action": "joinRoom", "roomId": room_id})
    for c in connections.values():
        chat.frames(c)
    return {"chat": chat, "room": room_id, "connections": connections}


def _with_room(payload: dict[str, Any], room_id: str, use_real_room: bool) -> dict[str, Any]:
    if use_real_room and "roomId" in payload:
        payload["roomId"] = room_id
    return payload


@pytest.mark.parametrize("action", list(ACTIONS))
@THROUGH_HANDLERS
@given(data=st.data(), use_real_room=st.booleans(), user=st.sampled_from(["alice", "bob", "carol"]))
def test_any_frame_gets_a_reply_or_a_clear_error_and_errors_change_nothing(
    world: dict[str, Any], action: str, data: st.DataObject, use_real_room: bool, user: str
) -> None:
    chat: Harness = world["chat"]
    connection = world["connections"][user]
    payload = _with_room(data.draw(objects_with(ACTIONS[action])), world["room"], use_real_room)
    payload["action"] = action
    before = chat.snapshot()
    reply = chat.send(connection, user, payload, raw=json.dumps(payload))
    posted = [f for f in chat.frames(connection) if f["type"] == "error"]
    errors = posted + ([reply] if reply is not None and reply["type"] == "error" else [])
    for error in errors:
        assert error["code"] != "internal", (payload, error)
        assert error["message"] and error["action"] == action
    if errors:
        assert chat.snapshot() == before, payload
    chat.pump()
    for c in world["connections"].values():
        chat.frames(c)


@THROUGH_HANDLERS
@given(raw=st.one_of(JSON.map(json.dumps), st.text(max_size=60)))
def test_any_frame_without_a_known_action_is_an_error_not_a_crash(
    world: dict[str, Any], raw: str
) -> None:
    chat: Harness = world["chat"]
    before = chat.snapshot()
    reply = chat.send(world["connections"]["bob"], "bob", {}, raw=raw)
    if reply is not None and reply["type"] == "error":
        assert reply["code"] != "internal"
        assert chat.snapshot() == before


@pytest.mark.parametrize("path", ["/auth/signup", "/auth/login"])
@THROUGH_HANDLERS
@given(body=objects_with(["username", "password"]))
def test_auth_bodies_never_answer_500(chat: Harness, path: str, body: dict[str, Any]) -> None:
    before = chat.snapshot()
    status, reply = chat.rest("POST", path, raw_body=json.dumps(body))
    assert status < 500, (body, reply)
    if status >= 400:
        assert reply["error"]["code"] != "internal" and reply["error"]["message"]
        assert chat.snapshot() == before


@THROUGH_HANDLERS
@given(query=objects_with(["limit", "before", "after"]))
def test_history_queries_over_rest_never_answer_500(
    world: dict[str, Any], query: dict[str, Any]
) -> None:
    chat: Harness = world["chat"]
    strings = {k: v for k, v in query.items() if isinstance(v, str)}
    status, reply = chat.rest(
        "GET", f"/rooms/{world['room']}/messages", token=chat.login("bob"), query=strings
    )
    assert status in (200, 400), (strings, reply)


@THROUGH_HANDLERS
@given(body=objects_with(["username"]))
def test_direct_room_bodies_never_answer_500_and_errors_change_nothing(
    world: dict[str, Any], body: dict[str, Any]
) -> None:
    chat: Harness = world["chat"]
    token = chat.login("bob")
    before = chat.snapshot()
    status, reply = chat.rest("POST", "/rooms/direct", raw_body=json.dumps(body), token=token)
    assert status in (200, 201, 400, 404), (body, reply)
    if status >= 400:
        assert reply["error"]["code"] != "internal" and reply["error"]["message"]
        assert chat.snapshot() == before, body
    for c in world["connections"].values():
        chat.frames(c)
