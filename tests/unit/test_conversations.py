"""Conversations: direct rooms, leaving, removal, deletion and its purge, read positions and the
room list's unread counts, over the real handlers against moto."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key

from tests.unit.harness import Harness, LambdaContext
from tests.unit.test_rooms import create_room, error_of


def group_with(chat: Harness, people: dict[str, tuple[str, str]], *members: str) -> str:
    """A room of alice's with these members approved; every frame so far read."""
    room = create_room(chat, people["alice"][1])
    for name in members:
        chat.send(people[name][1], name, {"action": "joinRoom", "roomId": room})
        ack = chat.send(
            people["alice"][1], "alice", {"action": "approveJoin", "roomId": room, "username": name}
        )
        assert ack is not None and ack["type"] == "joinApprovedAck", ack
    for _, connection in people.values():
        chat.frames(connection)
    return room


def open_direct(chat: Harness, alice_connection: str) -> str:
    reply = chat.send(alice_connection, "alice", {"action": "openDirect", "username": "bob"})
    assert reply is not None and reply["type"] == "directOpened", reply
    return str(reply["room"]["roomId"])


def say(chat: Harness, connection: str, user: str, room: str, text: str) -> None:
    assert (
        chat.send(connection, user, {"action": "sendMessage", "roomId": room, "text": text}) is None
    )


def delivered(chat: Harness, connection: str) -> list[str]:
    return [f["message"]["text"] for f in chat.frames(connection) if f["type"] == "message"]


def index_items(room: str) -> list[dict[str, Any]]:
    table = boto3.resource("dynamodb").Table("test-connections")
    return table.query(KeyConditionExpression=Key("pk").eq(f"ROOM#{room}"))["Items"]


# -- direct rooms ---------------------------------------------------------------------------


def test_direct_room_is_one_room_from_either_side_and_the_other_user_hears_once(
    chat: Harness, people: dict[str, tuple[str, str]]
) -> None:
    (alice, a), (bob, b) = people["alice"], people["bob"]
    status, body = chat.rest("POST", "/rooms/direct", {"username": "bob"}, token=alice)
    assert status == 201, body
    room = body["room"]
    assert room["kind"] == "direct" and room["peer"] == "bob" and room["name"] == "bob"
    assert room["admin"] is None
    [added] = chat.frames(b)
    assert added["type"] == "roomAdded"
    assert added["room"]["roomId"] == room["roomId"] and added["room"]["peer"] == "alice"

    status, again = chat.rest("POST", "/rooms/direct", {"username": "ALICE"}, token=bob)
    assert status == 200 and again["room"]["roomId"] == room["roomId"]
    reply = chat.send(a, "alice", {"action": "openDirect", "username": "bob", "requestId": "d"})
    assert reply is not None and reply["type"] == "directOpened" and reply["requestId"] == "d"
    assert reply["room"]["roomId"] == room["roomId"]
    assert chat.frames(b) == [] and chat.frames(a) == []  # not new: nobody is told again

    say(chat, b, "bob", room["roomId"], "hi alice")
    chat.pump()
    assert delivered(chat, a) == ["hi alice"] and delivered(chat, b) == ["hi alice"]
    status, listed = chat.rest("GET", "/rooms", token=alice)
    [item] = listed["rooms"]
    assert (item["kind"], item["peer"], item["role"]) == ("direct", "bob", "member")
    assert item["unread"] == 1 and item["lastMessage"]["text"] == "hi alice"


@pytest.mark.parametrize(
    ("username", "code"),
    [
        ("alice", "invalid_input"),
        ("Alice", "invalid_input"),
        ("nobody", "not_found"),
        ("bob\n", "invalid_input"),
        (7, "invalid_input"),
        (None, "invalid_input"),
    ],
)
def test_bad_direct_rooms_change_nothing(
    chat: Harness, people: dict[str, tuple[str, str]], username: Any, code: str
) -> None:
    alice, a = people["alice"]
    before = chat.snapshot()
    reply = chat.send(a, "alice", {"action": "openDirect", "username": username})
    assert error_of(reply) == code
    status, body = chat.rest("POST", "/rooms/direct", {"username": username}, token=alice)
    assert body["error"]["code"] == code and status in (400, 404)
    assert chat.snapshot() == before


def test_direct_rooms_take_no_joins_approvals_removals_or_deletion(
    chat: Harness, people: dict[str, tuple[str, str]]
) -> None:
    (_, a), (_, b), (_, c) = people["alice"], people["bob"], people["carol"]
    room = open_direct(chat, a)
    chat.frames(b)
    before = chat.snapshot()
    assert error_of(chat.send(c, "carol", {"action": "joinRoom", "roomId": room})) == "forbidden"
    for action in ("approveJoin", "removeMember"):
        frame = {"action": action, "roomId": room, "username": "bob"}
        assert error_of(chat.send(a, "alice", frame)) == "forbidden"
    assert error_of(chat.send(a, "alice", {"action": "deleteRoom", "roomId": room})) == "forbidden"
    assert chat.snapshot() == before


def test_leaving_a_direct_room_and_coming_back(
    chat: Harness, people: dict[str, tuple[str, str]]
) -> None:
    (_, a), (_, b) = people["alice"], people["bob"]
    room = open_direct(chat, a)
    chat.frames(b)
    left = chat.send(b, "bob", {"action": "leaveRoom", "roomId": room})
    assert left is not None and left["type"] == "leftRoom"
    say(chat, a, "alice", room, "still there?")
    chat.pump()
    assert delivered(chat, b) == []
    chat.send(a, "alice", {"action": "openDirect", "username": "bob"})
    [added] = chat.frames(b)
    assert added["type"] == "roomAdded" and added["room"]["roomId"] == room
    say(chat, a, "alice", room, "welcome back")
    chat.pump()
    assert delivered(chat, b) == ["welcome back"]


# -- leaving and removal --------------------------------------------------------------------


def test_leaving_stops_delivery_at_once_and_tells_the_members(
    chat: Harness, people: dict[str, tuple[str, str]]
) -> None:
    (_, a), (bob, b) = people["alice"], people["bob"]
    room = group_with(chat, people, "bob")
    second_tab = chat.connect(bob)
    chat.frames(a)
    reply = chat.send(b, "bob", {"action": "leaveRoom", "roomId": room, "requestId": "l"})
    assert reply == {"type": "leftRoom", "roomId": room, "requestId": "l"}
    assert chat.frames(second_tab) == [{"type": "leftRoom", "roomId": room}]
    assert chat.frames(a) == [{"type": "memberLeft", "roomId": room, "username": "bob"}]
    assert {i["username"] for i in index_items(room)} == {"alice"}

    say(chat, a, "alice", room, "after bob left")
    chat.pump()
    assert delivered(chat, b) == [] and delivered(chat, second_tab) == []
    for action in ("getMessages", "getMembers", "sendMessage", "markRead", "leaveRoom"):
        frame = {"action": action, "roomId": room, "text": "x", "messageId": "0" * 26}
        reply = chat.send(b, "bob", frame)
        if action == "sendMessage":
            [reply] = chat.frames(b)
        assert error_of(reply) == "forbidden", action
    # They may ask to join again.
    again = chat.send(b, "bob", {"action": "joinRoom", "roomId": room})
    assert again is not None and again["type"] == "joinRequested"


def test_the_admin_cannot_leave(chat: Harness, people: dict[str, tuple[str, str]]) -> None:
    room = group_with(chat, people, "bob")
    before = chat.snapshot()
    reply = chat.send(people["alice"][1], "alice", {"action": "leaveRoom", "roomId": room})
    assert error_of(reply) == "conflict"
    assert chat.snapshot() == before


def test_removal_by_the_admin(chat: Harness, people: dict[str, tuple[str, str]]) -> None:
    (_, a), (_, b), (_, c) = people["alice"], people["bob"], people["carol"]
    room = group_with(chat, people, "bob", "carol")
    ack = chat.send(a, "alice", {"action": "removeMember", "roomId": room, "username": "BOB"})
    assert ack == {"type": "memberRemovedAck", "roomId": room, "username": "bob"}
    assert chat.frames(b) == [{"type": "removedFromRoom", "roomId": room}]
    left = {"type": "memberLeft", "roomId": room, "username": "bob", "removed": True}
    assert chat.frames(a) == [left] and chat.frames(c) == [left]
    say(chat, c, "carol", room, "bye bob")
    chat.pump()
    assert delivered(chat, b) == [] and delivered(chat, a) == ["bye bob"]
    assert error_of(chat.send(b, "bob", {"action": "getMessages", "roomId": room})) == "forbidden"


@pytest.mark.parametrize(
    ("who", "target", "code"),
    [
        ("bob", "carol", "forbidden"),
        ("alice", "dave", "not_found"),
        ("alice", "carol", "not_found"),
        ("alice", "alice", "conflict"),
        ("alice", "b", "invalid_input"),
    ],
)
def test_bad_removals_change_nothing(
    chat: Harness, people: dict[str, tuple[str, str]], who: str, target: str, code: str
) -> None:
    room = group_with(chat, people, "bob")
    before = chat.snapshot()
    frame = {"action": "removeMember", "roomId": room, "username": target}
    assert error_of(chat.send(people[who][1], who, frame)) == code
    assert chat.snapshot() == before


# -- deleting a room ------------------------------------------------------------------------


def test_deleting_a_room_answers_not_found_everywhere_at_once_and_purges_it(
    chat: Harness, people: dict[str, tuple[str, str]]
) -> None:
    (alice, a), (bob, b), (_, c) = people["alice"], people["bob"], people["carol"]
    room = group_with(chat, people, "bob")
    for n in range(5):
        say(chat, b, "bob", room, f"m{n}")
    chat.pump()
    chat.frames(a), chat.frames(b)
    chat.send(c, "carol", {"action": "joinRoom", "roomId": room})  # a pending request
    chat.frames(a)

    ack = chat.send(a, "alice", {"action": "deleteRoom", "roomId": room})
    assert ack == {"type": "roomDeletedAck", "roomId": room}
    assert chat.frames(a) == [{"type": "roomDeleted", "roomId": room}]
    assert chat.frames(b) == [{"type": "roomDeleted", "roomId": room}]

    # A send that checked membership just before the delete and wrote after it:
    boto3.resource("dynamodb").Table("test-messages").put_item(
        Item={
            "roomId": room,
            "messageId": "7" * 26,
            "username": "bob",
            "text": "late",
            "createdAt": "2026-12-03T00:00:00.000Z",
        }
    )
    chat.pump()
    assert delivered(chat, a) == [] and delivered(chat, b) == []

    for action in (
        "getMessages",
        "getMembers",
        "sendMessage",
        "markRead",
        "leaveRoom",
        "joinRoom",
        "deleteRoom",
        "approveJoin",
        "removeMember",
    ):
        frame = {
            "action": action,
            "roomId": room,
            "text": "x",
            "messageId": "7" * 26,
            "username": "carol",
        }
        for user, connection in (("alice", a), ("bob", b)):
            reply = chat.send(connection, user, frame)
            if action == "sendMessage":
                [reply] = chat.frames(connection)
            assert error_of(reply) == "not_found", (action, user)
    for path in (f"/rooms/{room}/messages", f"/rooms/{room}/members"):
        status, body = chat.rest("GET", path, token=bob)
        assert status == 404 and body["error"]["code"] == "not_found"
    for token in (alice, bob):
        assert chat.rest("GET", "/rooms", token=token)[1]["rooms"] == []

    assert chat.run_purge_jobs() >= 1
    tables = boto3.resource("dynamodb")
    assert (
        tables.Table("test-messages").query(KeyConditionExpression=Key("roomId").eq(room))["Items"]
        == []
    )
    assert (
        tables.Table("test-rooms").query(KeyConditionExpression=Key("pk").eq(f"ROOM#{room}"))[
            "Items"
        ]
        == []
    )
    assert index_items(room) == []
    assert error_of(chat.send(a, "alice", {"action": "deleteRoom", "roomId": room})) == "not_found"


def test_only_the_admin_deletes(chat: Harness, people: dict[str, tuple[str, str]]) -> None:
    room = group_with(chat, people, "bob")
    before = chat.snapshot()
    reply = chat.send(people["bob"][1], "bob", {"action": "deleteRoom", "roomId": room})
    assert error_of(reply) == "forbidden"
    reply = chat.send(people["carol"][1], "carol", {"action": "deleteRoom", "roomId": room})
    assert error_of(reply) == "forbidden"
    assert chat.snapshot() == before


class ShortContext(LambdaContext):
    """An invocation that is always about to time out after one page."""

    def __init__(self) -> None:
        self.calls = 0

    def get_remaining_time_in_millis(self) -> int:
        self.calls += 1
        return 30_000 if self.calls == 1 else 1_000


def test_a_purge_cut_short_resumes_until_the_room_is_gone(
    chat: Harness, people: dict[str, tuple[str, str]]
) -> None:
    a = people["alice"][1]
    room = group_with(chat, people, "bob")
    table = boto3.resource("dynamodb").Table("test-messages")
    with table.batch_writer() as batch:
        for n in range(250):
            batch.put_item(
                Item={
                    "roomId": room,
                    "messageId": f"{n:026d}",
                    "username": "bob",
                    "text": "x",
                    "createdAt": "2026-12-03T00:00:00.000Z",
                }
            )
    chat.send(a, "alice", {"action": "deleteRoom", "roomId": room})
    purge = chat.modules["room_purge"]
    sqs = boto3.client("sqs")
    url = purge.settings.room_purge_queue_url
    runs = 0
    while True:
        messages = sqs.receive_message(QueueUrl=url).get("Messages")
        if not messages:
            break
        [message] = messages
        event = {"Records": [{"messageId": message["MessageId"], "body": message["Body"]}]}
        assert purge.lambda_handler(event, ShortContext()) == {"batchItemFailures": []}
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        runs += 1
        assert runs < 10
    # One page a run: 3 runs for 250 messages, one for members, requests and index items, one
    # that finds nothing left and removes the tombstone.
    assert runs == 5
    assert table.query(KeyConditionExpression=Key("roomId").eq(room))["Items"] == []
    assert (
        boto3.resource("dynamodb")
        .Table("test-rooms")
        .query(KeyConditionExpression=Key("pk").eq(f"ROOM#{room}"))["Items"]
        == []
    )


def test_malformed_purge_requests_are_dropped(chat: Harness) -> None:
    purge = chat.modules["room_purge"]
    event = {"Records": [{"messageId": "1", "body": "not json"}, {"messageId": "2", "body": "[]"}]}
    assert purge.lambda_handler(event, LambdaContext()) == {"batchItemFailures": []}


# -- read positions and unread counts -------------------------------------------------------


def message_ids(chat: Harness, connection: str, user: str, room: str) -> list[str]:
    reply = chat.send(connection, user, {"action": "getMessages", "roomId": room})
    assert reply is not None
    return [m["messageId"] for m in reply["messages"]]


def test_read_positions_move_forward_only_and_members_get_receipts(
    chat: Harness, people: dict[str, tuple[str, str]]
) -> None:
    (alice, a), (bob, b) = people["alice"], people["bob"]
    room = group_with(chat, people, "bob")
    for n in range(3):
        say(chat, a, "alice", room, f"m{n}")
    chat.pump()
    chat.frames(a), chat.frames(b)
    first, _, third = message_ids(chat, b, "bob", room)

    ack = chat.send(b, "bob", {"action": "markRead", "roomId": room, "messageId": third})
    assert ack == {"type": "readAck", "roomId": room, "messageId": third}
    receipt = {"type": "read", "roomId": room, "username": "bob", "messageId": third}
    assert chat.frames(a) == [receipt] and chat.frames(b) == [receipt]

    before = chat.snapshot()
    ack = chat.send(b, "bob", {"action": "markRead", "roomId": room, "messageId": first})
    assert ack == {"type": "readAck", "roomId": room, "messageId": first}
    assert chat.frames(a) == []  # nothing moved, nobody is told
    assert chat.snapshot() == before

    status, body = chat.rest("GET", f"/rooms/{room}/members", token=alice)
    assert {m["username"]: m["lastRead"] for m in body["members"]} == {"alice": None, "bob": third}
    unread = {r["roomId"]: r["unread"] for r in chat.rest("GET", "/rooms", token=bob)[1]["rooms"]}
    assert unread == {room: 0}


def test_bad_read_positions_change_nothing(
    chat: Harness, people: dict[str, tuple[str, str]]
) -> None:
    (_, a), (_, b), (_, c) = people["alice"], people["bob"], people["carol"]
    room = group_with(chat, people, "bob")
    other = create_room(chat, a, name="Other")
    say(chat, a, "alice", other, "elsewhere")
    chat.pump()
    [elsewhere] = message_ids(chat, a, "alice", other)
    chat.frames(a), chat.frames(b)
    before = chat.snapshot()
    cases = [
        (b, "bob", {"roomId": room, "messageId": elsewhere}, "not_found"),
        (b, "bob", {"roomId": room, "messageId": "0" * 26}, "not_found"),
        (b, "bob", {"roomId": room, "messageId": "not-an-id"}, "invalid_input"),
        (b, "bob", {"roomId": room, "messageId": elsewhere.lower()}, "invalid_input"),
        (b, "bob", {"roomId": room}, "invalid_input"),
        (c, "carol", {"roomId": other, "messageId": elsewhere}, "forbidden"),
        (b, "bob", {"roomId": "nope", "messageId": elsewhere}, "not_found"),
    ]
    for connection, user, fields, code in cases:
        reply = chat.send(connection, user, {"action": "markRead", **fields})
        assert error_of(reply) == code, fields
    assert chat.snapshot() == before


def test_unread_counts_others_messages_after_the_read_position_up_to_100(
    chat: Harness, people: dict[str, tuple[str, str]]
) -> None:
    (_, a), (bob, b) = people["alice"], people["bob"]
    room = group_with(chat, people, "bob")
    say(chat, b, "bob", room, "mine do not count")
    for n in range(3):
        say(chat, a, "alice", room, f"m{n}")
    [listed] = chat.rest("GET", "/rooms", token=bob)[1]["rooms"]
    assert listed["unread"] == 3 and listed["lastMessage"]["text"] == "m2"
    for n in range(120):
        say(chat, a, "alice", room, f"more {n}")
    [listed] = chat.rest("GET", "/rooms", token=bob)[1]["rooms"]
    assert listed["unread"] == 100  # "100 or more"
    newest = message_ids(chat, b, "bob", room)[-1]
    chat.send(b, "bob", {"action": "markRead", "roomId": room, "messageId": newest})
    [listed] = chat.rest("GET", "/rooms", token=bob)[1]["rooms"]
    assert listed["unread"] == 0 and listed["lastMessage"]["text"] == "more 119"


@pytest.mark.parametrize(
    "frame",
    [
        {"action": "leaveRoom", "roomId": "no-such-room"},
        {"action": "removeMember", "roomId": "no-such-room", "username": "bob"},
        {"action": "deleteRoom", "roomId": "no-such-room"},
        {"action": "markRead", "roomId": "no-such-room", "messageId": "0" * 26},
    ],
)
def test_unknown_rooms_are_not_found_and_change_nothing(
    chat: Harness, people: dict[str, tuple[str, str]], frame: dict[str, Any]
) -> None:
    before = chat.snapshot()
    assert error_of(chat.send(people["alice"][1], "alice", frame)) == "not_found"
    assert chat.snapshot() == before


def test_two_opens_racing_make_one_room(chat: Harness, people: dict[str, tuple[str, str]]) -> None:
    """Both sides open at once: each first tries the room's conditional Put; the loser finds the
    room and answers it. Threads would not test this here: moto's transactions are not
    thread-safe (a failed one restores a copy of the table taken before the other's write), so
    the interleaving is made explicit: bob's create fails because alice's won."""
    service = chat.modules["rooms"].service
    rooms = service.rooms
    real_create = rooms.create_direct
    calls: list[bool] = []

    def create_after_the_other_side(room: Any, joined_at: str) -> bool:
        if not calls:  # the other side's open lands first, between our check and our write
            calls.append(True)
            assert service.open_direct("bob", "alice")[1] is True
        created = real_create(room, joined_at)
        calls.append(created)
        return created

    rooms.create_direct = create_after_the_other_side  # type: ignore[method-assign]
    try:
        room, created = service.open_direct("alice", "bob")
    finally:
        rooms.create_direct = real_create  # type: ignore[method-assign]
    assert created is False and calls[-1] is False
    assert (
        room.room_id == chat.rest("GET", "/rooms", token=people["bob"][0])[1]["rooms"][0]["roomId"]
    )
    members = chat.rest("GET", f"/rooms/{room.room_id}/members", token=people["bob"][0])[1]
    assert sorted(m["username"] for m in members["members"]) == ["alice", "bob"]
