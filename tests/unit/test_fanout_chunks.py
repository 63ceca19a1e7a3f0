"""Rooms past FANOUT_CHUNK_THRESHOLD: the stream processor hands chunks of connections to the
fan-out workers through a FIFO queue (moto's SQS); every connection still gets every message,
in order, within a stream batch and across batches, with 410s, retries and no re-post."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from chat import keys
from chat.fanout import Chunking, DeliveryLog, RoomFrames, parse_chunk
from chat.jobs import FanOutQueue
from chat.models import Connection
from tests.unit.harness import Harness, LambdaContext
from tests.unit.test_fanout import FakeConnections, RecordingPoster, fanout, record
from tests.unit.test_fanout_batches import unwrapped
from tests.unit.test_rooms import create_room


class ListQueue:
    """Stands in for chat.jobs.FanOutQueue: keeps what was sent (or refuses it)."""

    def __init__(self, refuse: bool = False) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.refuse = refuse

    def send(self, messages: list[tuple[str, str, str]]) -> None:
        if self.refuse:
            raise RuntimeError("SQS throttled")
        self.sent.extend(messages)


@pytest.fixture
def big_rooms(aws: None, monkeypatch: pytest.MonkeyPatch) -> Harness:
    """Rooms of more than 2 connections go to the workers, in 3 FIFO groups."""
    monkeypatch.setenv("FANOUT_CHUNK_THRESHOLD", "2")
    monkeypatch.setenv("FANOUT_BUCKETS", "3")
    return Harness()


def _room_of(chat: Harness, people: int) -> tuple[str, dict[str, list[str]]]:
    """A room with `people` members, two connections each (one asks for batches)."""
    names = [f"user{i}" for i in range(people)]
    tokens = {n: chat.signup_and_login(n) for n in names}
    first = chat.connect(tokens[names[0]])
    room = create_room(chat, first, names[0])
    for name in names[1:]:
        chat.send(chat.connect(tokens[name]), name, {"action": "joinRoom", "roomId": room})
        chat.send(first, names[0], {"action": "approveJoin", "roomId": room, "username": name})
    connections = {n: [chat.connect(tokens[n]), chat.connect(tokens[n], batch="1")] for n in names}
    connections[names[0]].append(first)
    for conns in connections.values():
        for c in conns:
            chat.frames(c)
    return room, connections


def _texts(chat: Harness, connection: str) -> list[tuple[str, str]]:
    return unwrapped([f for f in chat.frames(connection) if "message" in f or "items" in f])


def test_a_large_rooms_messages_reach_every_connection_in_order_through_the_workers(
    big_rooms: Harness,
) -> None:
    chat = big_rooms
    room, connections = _room_of(chat, 3)
    sender = connections["user1"][0]
    for text in ("one", "two", "three"):
        chat.send(sender, "user1", {"action": "sendMessage", "roomId": room, "text": text})
    assert chat.pump() == {"batchItemFailures": []}
    every = [c for cs in connections.values() for c in cs]
    posted = {c: chat.frames(c) for c in every}
    assert all(f == [] for f in posted.values()), posted  # nothing posted by the processor
    assert chat.run_fanout_jobs() >= 1
    for connection in every:
        assert _texts(chat, connection) == [("message", t) for t in ("one", "two", "three")]


def test_a_message_and_its_edit_in_two_stream_batches_keep_their_order(
    big_rooms: Harness,
) -> None:
    chat = big_rooms
    room, connections = _room_of(chat, 3)
    sender = connections["user1"][0]
    chat.send(sender, "user1", {"action": "sendMessage", "roomId": room, "text": "typo"})
    assert chat.pump() == {"batchItemFailures": []}
    [message] = chat.dynamodb.Table("test-messages").scan()["Items"]
    edit = {"action": "editMessage", "roomId": room, "messageId": message["messageId"]}
    chat.send(sender, "user1", {**edit, "text": "fixed"})
    assert chat.pump() == {"batchItemFailures": []}
    # Both stream batches' chunks wait in the queue; the workers run them in FIFO order.
    chat.run_fanout_jobs()
    for connection in [c for cs in connections.values() for c in cs]:
        assert _texts(chat, connection) == [("message", "typo"), ("messageUpdated", "fixed")]


def test_a_room_that_shrinks_below_the_threshold_stays_with_the_workers_for_a_while(
    big_rooms: Harness,
) -> None:
    chat = big_rooms
    room, connections = _room_of(chat, 3)
    sender = connections["user1"][0]
    chat.send(sender, "user1", {"action": "sendMessage", "roomId": room, "text": "big"})
    assert chat.pump() == {"batchItemFailures": []}
    rooms = chat.dynamodb.Table("test-rooms")
    marked = rooms.get_item(Key=keys.room(room))["Item"]
    assert int(marked["fanoutWorkersUntil"]) > 0
    # Its chunks still queued, the room shrinks to 2 connections (the threshold).
    stayed = [sender, connections["user0"][0]]
    for item in chat.dynamodb.Table("test-connections").scan()["Items"]:
        if "connectionId" in item and item["connectionId"] not in stayed:
            chat.disconnect(item["connectionId"], item["username"])
    chat.send(sender, "user1", {"action": "sendMessage", "roomId": room, "text": "small"})
    assert chat.pump() == {"batchItemFailures": []}
    # Posted directly, "small" would overtake "big", still in the queue.
    assert all(_texts(chat, c) == [] for c in stayed)
    assert chat.run_fanout_jobs() >= 2
    for c in stayed:
        assert _texts(chat, c) == [("message", "big"), ("message", "small")]
    # Once the hand-over is older than sticky_seconds, a small room is posted directly again.
    fanout = chat.modules["stream_processor"].fanout
    fanout.clock = lambda: float(marked["fanoutWorkersUntil"]) + 1
    chat.send(sender, "user1", {"action": "sendMessage", "roomId": room, "text": "later"})
    assert chat.pump() == {"batchItemFailures": []}
    for c in stayed:
        assert _texts(chat, c) == [("message", "later")]
    assert chat.run_fanout_jobs() == 0


def test_a_room_at_the_threshold_is_posted_by_the_stream_processor(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FANOUT_CHUNK_THRESHOLD", "2")
    chat = Harness()
    alice = chat.connect(chat.signup_and_login("alice"))
    room = create_room(chat, alice)
    chat.send(alice, "alice", {"action": "sendMessage", "roomId": room, "text": "hi"})
    assert chat.pump() == {"batchItemFailures": []}
    assert _texts(chat, alice) == [("message", "hi")]
    assert chat.run_fanout_jobs() == 0


def test_chunks_split_connections_and_records_and_keep_each_connection_in_one_group() -> None:
    chunking = Chunking(
        ListQueue(), threshold=1, buckets=4, connections_per_chunk=3, record_bytes=30_000
    )
    records = [record(i, "r1", f"{i}" + "€" * 3999) for i in range(1, 6)]  # ~12 KB each
    frames = RoomFrames.of("r1", records)
    connections = [Connection(f"c{i}", f"u{i}", i % 2 == 0) for i in range(20)]
    messages = chunking.messages(frames, connections)
    seen: dict[str, list[str]] = {}
    groups: dict[str, set[str]] = {}
    for group, dedup, body in messages:
        assert len(body.encode()) < 256 * 1024 and len(dedup) <= 128
        chunk_frames, chunk_connections = parse_chunk(body)
        assert len(chunk_connections) <= 3
        for connection in chunk_connections:
            seen.setdefault(connection.connection_id, []).extend(chunk_frames.sequence_numbers)
            groups.setdefault(connection.connection_id, set()).add(group)
            assert connection.batches == (int(connection.connection_id[1:]) % 2 == 0)
        expected = [
            frames.items[frames.sequence_numbers.index(s)] for s in chunk_frames.sequence_numbers
        ]
        assert chunk_frames.items == expected  # the same bytes the stream processor would post
    # Every connection gets every record once, in order, always from the same group.
    assert seen == {c.connection_id: ["1", "2", "3", "4", "5"] for c in connections}
    assert all(len(g) == 1 for g in groups.values())
    assert len({dedup for _, dedup, _ in messages}) == len(messages)


def test_a_room_whose_chunks_cannot_be_queued_fails_its_records() -> None:
    connections = FakeConnections({"big": ["a", "b", "c"], "small": ["d"]})
    poster = RecordingPoster()
    processor = fanout(connections, poster, chunking=Chunking(ListQueue(refuse=True), 2))
    report = processor.deliver([record(1, "big", "x"), record(2, "small", "y")])
    assert report.failed_sequence_numbers == ["1"]
    assert poster.texts_for("d") == ["y"] and report.chunks_enqueued == 0


def test_a_chunk_that_fails_is_retried_without_reposting_to_who_got_it() -> None:
    poster = RecordingPoster(failing={"b": 1}, gone={"c"})
    connections = FakeConnections({})
    processor = fanout(connections, poster, delivered=DeliveryLog())
    queue = ListQueue()
    chunking = Chunking(queue, threshold=1, buckets=1)
    frames = RoomFrames.of("r1", [record(1, "r1", "x"), record(2, "r1", "y")])
    people = [Connection(c, f"user-{c}") for c in ("a", "b", "c")]
    [(_, _, body)] = chunking.messages(frames, people)
    report = processor.deliver_chunk(*parse_chunk(body))
    assert report.failed_sequence_numbers == ["1", "2"] and report.gone == 1
    assert connections.removed == ["c"]
    again = processor.deliver_chunk(*parse_chunk(body))
    assert again.failed_sequence_numbers == [] and again.skipped_already_delivered == 2
    assert poster.texts_for("a") == ["x", "y"] and poster.texts_for("b") == ["x", "y"]


def test_the_worker_reports_a_failed_chunk_and_every_later_one_and_drops_a_malformed_one(
    big_rooms: Harness,
) -> None:
    chat = big_rooms
    worker = chat.modules["fanout_worker"]
    worker.fanout.poster = RecordingPoster(failing={"bad": 100})
    frames = RoomFrames.of("r1", [record(1, "r1", "x")])
    chunking = Chunking(ListQueue(), threshold=1, buckets=1)
    [(_, _, failing)] = chunking.messages(frames, [Connection("bad", "u")])
    [(_, _, fine)] = chunking.messages(frames, [Connection("good", "u")])
    records: list[dict[str, Any]] = [
        {"messageId": "m0", "body": "not json"},
        {"messageId": "m1", "body": failing},
        {"messageId": "m2", "body": fine},
    ]
    result = worker.lambda_handler({"Records": records}, LambdaContext())
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}
    assert json.loads(fine)["connections"] == [["good", False]]
    with pytest.raises(ValueError, match="not a fan-out chunk"):
        parse_chunk('{"roomId": "r1", "records": [], "connections": []}')


def test_the_fanout_queue_keeps_each_groups_order_and_sqs_batch_limits() -> None:
    class RecordingSqs:
        def __init__(self) -> None:
            self.calls: list[list[dict[str, str]]] = []
            self.lock = threading.Lock()

        def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> Any:  # noqa: N803
            with self.lock:
                self.calls.append(Entries)
            return {"Successful": [{"Id": e["Id"]} for e in Entries]}

    sqs = RecordingSqs()
    messages = [(f"room#{i % 5}", f"d{i}", f"{i:03d}" + "x" * 60_000) for i in range(40)]
    FanOutQueue(sqs, "url", lanes=3).send(messages)
    for entries in sqs.calls:
        assert len(entries) <= 10 and sum(len(e["MessageBody"]) for e in entries) <= 256 * 1024
    sent = [e for entries in sqs.calls for e in entries]
    assert sorted(e["MessageDeduplicationId"] for e in sent) == sorted(d for _, d, _ in messages)
    for group in {g for g, _, _ in messages}:
        # Within a group, the order given; across groups, any.
        order = [int(e["MessageBody"][:3]) for e in sent if e["MessageGroupId"] == group]
        assert order == sorted(order)
