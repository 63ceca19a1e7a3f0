"""The items the stores write, attribute for attribute. Deployed tables hold data in this
layout, so a refactor of the data layer must leave every key and attribute name as it is."""

from __future__ import annotations

import json
from typing import Any

import boto3

from chat.models import (
    ClosedConnection,
    Connection,
    JoinRequest,
    Member,
    Message,
    Room,
    Ticket,
    TokenState,
    User,
)
from chat.store import ConnectionsStore, MessagesStore, RoomsStore, UsersStore

T0, T1, T2 = "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:01.000Z", "2026-01-01T00:00:02.000Z"
ROOM = Room(room_id="r1", name="General", admin="Alice", created_at=T0)


def _items(table: str) -> list[dict[str, Any]]:
    items = boto3.resource("dynamodb").Table(f"test-{table}").scan()["Items"]
    return sorted(items, key=lambda i: json.dumps(i, sort_keys=True, default=str))


def _sorted(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda i: json.dumps(i, sort_keys=True, default=str))


def _stores() -> tuple[UsersStore, RoomsStore, ConnectionsStore, MessagesStore]:
    dynamodb = boto3.resource("dynamodb")
    return (
        UsersStore(dynamodb.Table("test-users")),
        RoomsStore(dynamodb.Table("test-rooms")),
        ConnectionsStore(dynamodb.Table("test-connections")),
        MessagesStore(dynamodb.Table("test-messages")),
    )


def test_users_table_items(aws: None) -> None:
    users, _, _, _ = _stores()
    users.create_user("Alice", "bcrypt-hash", T0)
    ticket = Ticket("Alice", "jti-1", 3, 1_899_999_000)
    users.put_ticket("ab12", ticket, 1_900_000_000)
    assert _items("users") == _sorted(
        [
            {
                "pk": "USER#alice",
                "username": "Alice",
                "passwordHash": "bcrypt-hash",
                "createdAt": T0,
            },
            {
                "pk": "TICKET#ab12",
                "username": "Alice",
                "expiresAt": 1_900_000_000,
                "ttl": 1_900_000_000,
                "tokenId": "jti-1",
                "tokenVersion": 3,
                "tokenIssuedAt": 1_899_999_000,
            },
        ]
    )
    assert users.get_user("ALICE") == User("Alice", "bcrypt-hash", T0)
    assert users.consume_ticket("ab12", 1_800_000_000) == ticket
    assert [i["pk"] for i in _items("users")] == ["USER#alice"]


def test_the_token_record_lives_on_the_user_item(aws: None) -> None:
    users, _, _, _ = _stores()
    users.create_user("Alice", "bcrypt-hash", T0)
    # An item written before logout existed: nothing revoked, version 0.
    assert users.token_state("alice") == TokenState()
    first = TokenState(version=0, revoked={"jti-1": 1_900_000_000}, revision=0)
    assert users.save_token_state("alice", TokenState(), first)
    second = TokenState(version=1, signed_out_at=1_800_000_000, revoked={}, revision=1)
    assert users.save_token_state("alice", users.token_state("alice") or TokenState(), second)
    # A write from a stale read (revision 0 again) loses, and changes nothing.
    assert not users.save_token_state("alice", TokenState(), first)
    assert _items("users") == [
        {
            "pk": "USER#alice",
            "username": "Alice",
            "passwordHash": "bcrypt-hash",
            "createdAt": T0,
            "tokenVersion": 1,
            "signedOutAt": 1_800_000_000,
            "revokedTokens": {},
            "tokenRevision": 2,
        }
    ]
    assert users.token_state("alice") == TokenState(1, 1_800_000_000, {}, 2)
    assert users.get_user("alice") == User("Alice", "bcrypt-hash", T0, 1, 1_800_000_000)
    # No entry, no record: a write creates nothing.
    assert users.token_state("nobody") is None
    assert not users.save_token_state("nobody", TokenState(), first)
    assert users.token_state("nobody") is None


def test_rooms_table_items(aws: None) -> None:
    _, rooms, _, _ = _stores()
    rooms.create_room(ROOM)
    rooms.add_request("r1", "Bob", T1)
    rooms.add_request("r1", "Cy", T1)
    bob = rooms.approve(ROOM, "Bob", T2)
    member = {"pk": "ROOM#r1", "roomId": "r1", "roomName": "General", "roomCreatedAt": T0}
    assert _items("rooms") == _sorted(
        [
            {
                "pk": "ROOM#r1",
                "sk": "META",
                "roomId": "r1",
                "name": "General",
                "admin": "Alice",
                "createdAt": T0,
            },
            {
                **member,
                "sk": "MEMBER#alice",
                "username": "Alice",
                "role": "admin",
                "joinedAt": T0,
                "userKey": "USER#alice",
            },
            {
                **member,
                "sk": "MEMBER#bob",
                "username": "Bob",
                "role": "member",
                "joinedAt": T2,
                "userKey": "USER#bob",
            },
            {
                "pk": "ROOM#r1",
                "sk": "REQUEST#cy",
                "roomId": "r1",
                "username": "Cy",
                "requestedAt": T1,
            },
        ]
    )
    assert bob == Member("r1", "Bob", "member", T2, "General", T0)
    assert rooms.get_room("r1") == ROOM
    assert rooms.get_member("r1", "BOB") == bob
    assert {m.username for m in rooms.list_members("r1")} == {"Alice", "Bob"}
    assert rooms.list_requests("r1") == [JoinRequest("r1", "Cy", T1)]
    assert rooms.get_request("r1", "cy") == JoinRequest("r1", "Cy", T1)
    assert rooms.rooms_of("bob") == [bob]
    rooms.reject("r1", "Cy")
    assert rooms.get_request("r1", "Cy") is None


def test_connections_table_items(aws: None) -> None:
    _, _, connections, _ = _stores()
    connections.add("c1", "Alice", T0, 999, ["r1"])
    connections.add("c2", "Bob", T0, 999, [])
    assert connections.add_room("r1", "Bob") == [Connection("c2", "Bob")]
    index = {"username": "Alice", "connectionId": "c1", "ttl": 999}
    bob = {"username": "Bob", "connectionId": "c2", "ttl": 999}
    assert _items("connections") == _sorted(
        [
            {"pk": "CONN#c1", "sk": "META", **index, "connectedAt": T0, "rooms": {"r1"}},
            {"pk": "ROOM#r1", "sk": "CONN#c1", **index},
            {"pk": "USER#alice", "sk": "CONN#c1", **index},
            {"pk": "CONN#c2", "sk": "META", **bob, "connectedAt": T0, "rooms": {"r1"}},
            {"pk": "ROOM#r1", "sk": "CONN#c2", **bob},
            {"pk": "USER#bob", "sk": "CONN#c2", **bob},
        ]
    )
    assert sorted(c.connection_id for c in connections.of_room("r1")) == ["c1", "c2"]
    assert connections.of_user("ALICE") == [Connection("c1", "Alice")]
    assert connections.remove("c2") == ClosedConnection("c2", "Bob", ("r1",))
    assert connections.remove("c2") is None
    assert [(i["pk"], i["sk"]) for i in _items("connections")] == [
        ("CONN#c1", "META"),
        ("ROOM#r1", "CONN#c1"),
        ("USER#alice", "CONN#c1"),
    ]


def test_messages_table_items(aws: None) -> None:
    _, _, _, messages = _stores()
    message = Message("r1", "01J0000000000000000000000A", "Alice", "hi", T0, "client-1")
    messages.put(message)
    messages.put(Message("r1", "01J0000000000000000000000B", "Bob", "yo", T1))
    assert _items("messages") == _sorted(
        [
            {
                "roomId": "r1",
                "messageId": "01J0000000000000000000000A",
                "username": "Alice",
                "text": "hi",
                "textLower": "hi",
                "createdAt": T0,
                "clientMessageId": "client-1",
            },
            {
                "roomId": "r1",
                "messageId": "01J0000000000000000000000B",
                "username": "Bob",
                "text": "yo",
                "textLower": "yo",
                "createdAt": T1,
            },
        ]
    )
    page, more = messages.page("r1", 1, None, None)
    assert [m.text for m in page] == ["yo"] and more


def test_message_life_items(aws: None) -> None:
    """An edit, reactions and a delete change the item in place; a tombstone keeps its place."""
    _, _, _, messages = _stores()
    first, second = "01J0000000000000000000000A", "01J0000000000000000000000B"
    messages.put(Message("r1", first, "Alice", "Hi", T0))
    messages.put(Message("r1", second, "Bob", "yo", T1))
    assert messages.edit("r1", first, "Alice", "Hello WORLD", T2)
    assert messages.react("r1", first, "👍", "Bob", True, 200)
    assert messages.react("r1", first, "👍", "Carol", True, 200)
    assert messages.delete("r1", second)
    assert _items("messages") == _sorted(
        [
            {
                "roomId": "r1",
                "messageId": first,
                "username": "Alice",
                "text": "Hello WORLD",
                "textLower": "hello world",
                "createdAt": T0,
                "editedAt": T2,
                "reactions": {"👍 Bob", "👍 Carol"},
            },
            {
                "roomId": "r1",
                "messageId": second,
                "username": "Bob",
                "text": "",
                "createdAt": T1,
                "deleted": True,
            },
        ]
    )
    assert not messages.edit("r1", first, "Bob", "not mine", T2)
    assert not messages.react("r1", second, "👍", "Bob", True, 200)


def test_direct_room_read_position_and_tombstone_items(aws: None) -> None:
    _, rooms, connections, _ = _stores()
    direct = Room("dm-x", "", "", T0, kind="direct", members=("Alice", "bob"))
    assert rooms.create_direct(direct, T0)
    assert not rooms.create_direct(direct, T0)
    assert rooms.mark_read("dm-x", "bob", "01J0000000000000000000000B")
    assert not rooms.mark_read("dm-x", "bob", "01J0000000000000000000000A")
    connections.claim_typing("dm-x", "Alice", 1_800_000_000.0, 2.0)
    items = _items("rooms")
    assert items == _sorted(
        [
            {
                "pk": "ROOM#dm-x",
                "sk": "META",
                "roomId": "dm-x",
                "name": "",
                "admin": "",
                "createdAt": T0,
                "kind": "direct",
                "members": ["Alice", "bob"],
            },
            {
                "pk": "ROOM#dm-x",
                "sk": "MEMBER#alice",
                "roomId": "dm-x",
                "username": "Alice",
                "role": "member",
                "joinedAt": T0,
                "userKey": "USER#alice",
                "roomName": "bob",
                "roomCreatedAt": T0,
                "kind": "direct",
                "peer": "bob",
            },
            {
                "pk": "ROOM#dm-x",
                "sk": "MEMBER#bob",
                "roomId": "dm-x",
                "username": "bob",
                "role": "member",
                "joinedAt": T0,
                "userKey": "USER#bob",
                "roomName": "Alice",
                "roomCreatedAt": T0,
                "kind": "direct",
                "peer": "Alice",
                "lastRead": "01J0000000000000000000000B",
            },
        ]
    )
    assert _items("connections") == [
        {"pk": "TYPING#dm-x", "sk": "USER#alice", "until": 1_800_000_002_000, "ttl": 1_800_000_062}
    ]
    rooms.create_room(ROOM)
    rooms.mark_deleted("r1", "Alice", T1)
    [meta] = [i for i in _items("rooms") if i["pk"] == "ROOM#r1" and i["sk"] == "META"]
    assert meta["deletedAt"] == T1 and rooms.get_room("r1") is None
