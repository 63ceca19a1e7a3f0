"""messageBatch: several of a room's records in one post, for connections that asked for it.

Order per connection, the 32 KB split, 410s, retries, failures reported from the first record not
delivered, and no re-post on a retried batch, as for single frames (tests/unit/test_fanout.py).
"""

from __future__ import annotations

import json
from typing import Any

from chat import keys
from chat.fanout import FRAME_LIMIT_BYTES, DeliveryLog, StreamRecord
from chat.models import Connection, Message
from chat.notifier import DeliveryError
from tests.unit.harness import Harness
from tests.unit.test_fanout import FakeConnections, RecordingPoster, fanout, record
from tests.unit.test_rooms import create_room


class BatchingConnections(FakeConnections):
    """Like FakeConnections; the connections named in `batching` asked for `?batch=1`."""

    def __init__(self, rooms: dict[str, list[str]], batching: set[str]) -> None:
        super().__init__(rooms)
        self.rooms = {
            r: [Connection(c.connection_id, c.username, c.connection_id in batching) for c in cs]
            for r, cs in self.rooms.items()
        }


def frames_of(poster: RecordingPoster, connection_id: str) -> list[dict[str, Any]]:
    return [json.loads(d) for c, d in poster.posts if c == connection_id]


def unwrapped(frames: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(type, text) of every message frame, a batch's items in their order."""
    out: list[tuple[str, str]] = []
    for frame in frames:
        for item in frame["items"] if frame["type"] == "messageBatch" else [frame]:
            out.append((item["type"], item["message"]["text"]))
    return out


def update(seq: int, room: str, text: str, message_id: str) -> StreamRecord:
    message = Message(room, message_id, "alice", text, "2026-11-24T00:00:00.000Z")
    return StreamRecord(str(seq), message, update=True)


def test_a_batching_connection_gets_a_rooms_messages_in_one_frame_in_order() -> None:
    connections = BatchingConnections({"r1": ["new", "old"], "r2": ["new2"]}, {"new", "new2"})
    poster = RecordingPoster()
    batch = [
        record(3, "r1", "third", "01KWB3R0000000000000000003"),
        record(1, "r1", "first", "01KWB3R0000000000000000001"),
        record(2, "r2", "other", "01KWB3R0000000000000000002"),
        record(4, "r1", "second", "01KWB3R0000000000000000002"),
    ]
    report = fanout(connections, poster).deliver(batch)
    [frame] = frames_of(poster, "new")
    assert frame["type"] == "messageBatch" and frame["roomId"] == "r1"
    assert [i["message"]["text"] for i in frame["items"]] == ["first", "second", "third"]
    assert [i["type"] for i in frame["items"]] == ["message"] * 3
    # Each item is exactly the single frame a connection without batches gets.
    assert frame["items"] == frames_of(poster, "old")
    # A room's lone record goes as its own frame, even to a batching connection.
    assert [f["type"] for f in frames_of(poster, "new2")] == ["message"]
    assert report.posts == 1 + 3 + 1 and report.failed_sequence_numbers == []


def test_a_message_and_its_later_updates_keep_their_order_in_a_batch() -> None:
    connections = BatchingConnections({"r1": ["c1"]}, {"c1"})
    poster = RecordingPoster()
    mid = "01KWB3R0000000000000000001"
    batch = [update(7, "r1", "edited", mid), record(5, "r1", "sent", mid), update(9, "r1", "", mid)]
    fanout(connections, poster).deliver(batch)
    assert unwrapped(frames_of(poster, "c1")) == [
        ("message", "sent"),
        ("messageUpdated", "edited"),
        ("messageUpdated", ""),
    ]
    assert len(poster.posts) == 1


def test_batches_are_split_to_fit_api_gateways_frame_limit_and_keep_order() -> None:
    connections = BatchingConnections({"r1": ["c1"]}, {"c1"})
    poster = RecordingPoster()
    # 4,000 three-byte characters: about 12 KB a message, so two fit in a 32 KB frame.
    batch = [record(i, "r1", f"{i}" + "€" * 3999) for i in range(1, 8)]
    report = fanout(connections, poster).deliver(batch)
    sizes = [len(d) for _, d in poster.posts]
    assert max(sizes) <= FRAME_LIMIT_BYTES and len(sizes) == 4 == report.posts
    texts = [text for _, text in unwrapped(frames_of(poster, "c1"))]
    assert [t[0] for t in texts] == [str(i) for i in range(1, 8)]


def test_a_failed_batch_frame_fails_its_records_and_the_later_ones_and_a_retry_skips_the_rest() -> (
    None
):
    connections = BatchingConnections({"r1": ["c1", "c2"]}, {"c1", "c2"})
    # c1's first frame goes through; its second fails (the poster gave up on it).
    poster = RecordingPoster()
    batch = [record(i, "r1", f"{i}" + "€" * 3999) for i in range(1, 6)]
    original_post = poster.post
    calls = {"c1": 0}

    def post(connection_id: str, data: bytes) -> None:
        if connection_id == "c1":
            calls["c1"] += 1
            if calls["c1"] == 2:
                raise DeliveryError("throttled")
        original_post(connection_id, data)

    poster.post = post  # type: ignore[method-assign]
    processor = fanout(connections, poster, delivered=DeliveryLog())
    report = processor.deliver(batch)
    assert report.failed_sequence_numbers == ["3", "4", "5"]
    assert [t[0] for _, t in unwrapped(frames_of(poster, "c1"))] == ["1", "2"]
    # Lambda retries from record 3: c2 has them all, c1 gets only what it missed.
    retry = processor.deliver(batch[2:])
    assert retry.failed_sequence_numbers == [] and retry.skipped_already_delivered == 3
    assert [t[0] for _, t in unwrapped(frames_of(poster, "c1"))] == ["1", "2", "3", "4", "5"]
    assert [t[0] for _, t in unwrapped(frames_of(poster, "c2"))] == ["1", "2", "3", "4", "5"]


def test_a_gone_batching_connection_is_removed_and_fails_nothing() -> None:
    connections = BatchingConnections({"r1": ["live", "stale"]}, {"live", "stale"})
    poster = RecordingPoster(gone={"stale"})
    report = fanout(connections, poster).deliver([record(1, "r1", "a"), record(2, "r1", "b")])
    assert connections.removed == ["stale"] and report.gone == 1
    assert unwrapped(frames_of(poster, "live")) == [("message", "a"), ("message", "b")]
    assert report.failed_sequence_numbers == []


def _send_two(chat: Harness, connection: str, room: str) -> None:
    for text in ("one", "two"):
        chat.send(connection, "alice", {"action": "sendMessage", "roomId": room, "text": text})
    assert chat.pump() == {"batchItemFailures": []}


def test_only_connections_that_ask_with_batch_1_get_message_batches(chat: Harness) -> None:
    token = chat.signup_and_login("alice")
    plain = chat.connect(token)
    room = create_room(chat, plain)
    batching = chat.connect(token, batch="1")
    other_value = chat.connect(token, batch="yes")
    chat.frames(plain)
    _send_two(chat, plain, room)
    [frame] = chat.frames(batching)
    assert frame["type"] == "messageBatch" and frame["roomId"] == room
    assert [i["message"]["text"] for i in frame["items"]] == ["one", "two"]
    for connection in (plain, other_value):
        assert [f["type"] for f in chat.frames(connection)] == ["message", "message"]


def test_a_room_joined_after_connecting_keeps_the_connections_batch_choice(chat: Harness) -> None:
    alice = chat.connect(chat.signup_and_login("alice"))
    bob = chat.connect(chat.signup_and_login("bob"), batch="1")
    room = create_room(chat, alice)
    chat.send(bob, "bob", {"action": "joinRoom", "roomId": room})
    chat.send(alice, "alice", {"action": "approveJoin", "roomId": room, "username": "bob"})
    item = chat.dynamodb.Table("test-connections").get_item(Key=keys.room_connection(room, bob))[
        "Item"
    ]
    assert item["batches"] is True
    chat.frames(bob)
    _send_two(chat, alice, room)
    assert [f["type"] for f in chat.frames(bob)] == ["messageBatch"]


def test_room_pages_reads_a_rooms_connections_a_page_at_a_time(chat: Harness) -> None:
    token = chat.signup_and_login("alice")
    first = chat.connect(token)
    room = create_room(chat, first)
    others = [chat.connect(token, batch="1") for _ in range(2)]
    pages = list(chat.modules["stream_processor"].stores.connections.room_pages(room, 2))
    assert [len(p) for p in pages] == [2, 1]
    assert {c.connection_id for p in pages for c in p} == {first, *others}
    assert {c.connection_id for p in pages for c in p if c.batches} == set(others)
