"""The stream processor: grouping, one Query per room, ordering, 410 clean-up, retries."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chat import keys
from chat.fanout import DeliveryLog, FanOut, StreamRecord
from chat.models import Connection, Message
from chat.notifier import DeliveryError, GoneConnectionError, ManagementApiPoster
from tests.events import load_event
from tests.unit.harness import Harness, LambdaContext
from tests.unit.test_rooms import create_room


class FakeConnections:
    """Stands in for ConnectionsStore, counting the Queries made per room."""

    def __init__(self, rooms: dict[str, list[str]]) -> None:
        self.rooms = {r: [Connection(c, f"user-{c}") for c in cs] for r, cs in rooms.items()}
        self.queries: list[str] = []
        self.removed: list[str] = []

    def of_room(self, room_id: str) -> list[Connection]:
        self.queries.append(room_id)
        return [c for c in self.rooms.get(room_id, []) if c.connection_id not in self.removed]

    def remove_gone(self, connection_id: str, now: float) -> bool:
        self.removed.append(connection_id)
        return True


class RecordingPoster:
    def __init__(self, gone: set[str] = frozenset(), failing: dict[str, int] | None = None) -> None:  # type: ignore[assignment]
        self.gone = set(gone)
        self.failing = dict(failing or {})  # connection id => how many posts fail first
        self.posts: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()

    def post(self, connection_id: str, data: bytes) -> None:
        with self.lock:
            if connection_id in self.gone:
                raise GoneConnectionError(connection_id)
            if self.failing.get(connection_id, 0) != 0:
                self.failing[connection_id] -= 1
                raise DeliveryError("throttled")
            self.posts.append((connection_id, data))

    def texts_for(self, connection_id: str) -> list[str]:
        import json

        return [json.loads(d)["message"]["text"] for c, d in self.posts if c == connection_id]


def record(seq: int, room: str, text: str, message_id: str | None = None) -> StreamRecord:
    mid = message_id or f"01KWB3R{seq:019d}"
    return StreamRecord(str(seq), Message(room, mid, "alice", text, "2026-11-24T00:00:00.000Z"))


def fanout(connections: Any, poster: Any, **kwargs: Any) -> FanOut:
    return FanOut(connections, poster, ThreadPoolExecutor(8), sleep=lambda s: None, **kwargs)


def test_each_room_is_queried_once_per_batch_and_each_connection_gets_its_rooms_messages() -> None:
    connections = FakeConnections({"r1": ["c1", "c2"], "r2": ["c3"]})
    poster = RecordingPoster()
    batch = [record(1, "r1", "a"), record(2, "r2", "b"), record(3, "r1", "c"), record(4, "r2", "d")]
    report = fanout(connections, poster).deliver(batch)
    assert sorted(connections.queries) == ["r1", "r2"]
    assert poster.texts_for("c1") == ["a", "c"]
    assert poster.texts_for("c2") == ["a", "c"]
    assert poster.texts_for("c3") == ["b", "d"]
    assert report.failed_sequence_numbers == [] and report.posts == 6


def test_messages_reach_each_connection_in_message_id_order() -> None:
    connections = FakeConnections({"r1": ["c1"]})
    poster = RecordingPoster()
    batch = [
        record(1, "r1", "second", "01KWB3R0000000000000000002"),
        record(2, "r1", "first", "01KWB3R0000000000000000001"),
    ]
    fanout(connections, poster).deliver(batch)
    assert poster.texts_for("c1") == ["first", "second"]


def test_a_gone_connection_is_removed_and_does_not_fail_the_batch() -> None:
    connections = FakeConnections({"r1": ["live", "stale"]})
    poster = RecordingPoster(gone={"stale"})
    report = fanout(connections, poster).deliver([record(1, "r1", "a"), record(2, "r1", "b")])
    assert connections.removed == ["stale"]
    assert poster.texts_for("live") == ["a", "b"]
    assert report.failed_sequence_numbers == [] and report.gone == 1


def test_transient_failures_are_retried() -> None:
    connections = FakeConnections({"r1": ["c1"]})
    poster = RecordingPoster(failing={"c1": 2})
    report = fanout(connections, poster, attempts=3).deliver([record(1, "r1", "a")])
    assert poster.texts_for("c1") == ["a"] and report.failed_sequence_numbers == []


def test_persistent_failures_are_reported_per_record_and_a_retry_skips_who_already_got_it() -> None:
    connections = FakeConnections({"r1": ["ok", "flaky"], "r2": ["other"]})
    poster = RecordingPoster(failing={"flaky": 3})
    processor = fanout(connections, poster, attempts=3, delivered=DeliveryLog())
    batch = [record(1, "r1", "a"), record(2, "r2", "x"), record(3, "r1", "b")]
    report = processor.deliver(batch)
    # The first message to "flaky" failed three times: it and the later one in that room go back.
    assert report.failed_sequence_numbers == ["1", "3"]
    assert poster.texts_for("ok") == ["a", "b"] and poster.texts_for("other") == ["x"]
    # Lambda retries from the first failed record; connections that got it are not posted again.
    retry = processor.deliver([r for r in batch if r.sequence_number in {"1", "2", "3"}])
    assert retry.failed_sequence_numbers == []
    assert poster.texts_for("ok") == ["a", "b"]
    assert poster.texts_for("other") == ["x"]
    assert poster.texts_for("flaky") == ["a", "b"]
    assert retry.skipped_already_delivered == 3


def test_a_failed_connections_query_fails_only_that_rooms_records() -> None:
    class Broken(FakeConnections):
        def of_room(self, room_id: str) -> list[Connection]:
            if room_id == "bad":
                raise RuntimeError("throttled")
            return super().of_room(room_id)

    poster = RecordingPoster()
    report = fanout(Broken({"good": ["c1"]}), poster).deliver(
        [record(1, "bad", "x"), record(2, "good", "y")]
    )
    assert report.failed_sequence_numbers == ["1"]
    assert poster.texts_for("c1") == ["y"]


def test_management_api_410_becomes_gone_and_other_errors_become_delivery_errors(aws: None) -> None:
    client = boto3.client("apigatewaymanagementapi", endpoint_url="https://example.com/dev")
    poster = ManagementApiPoster(client)
    with Stubber(client) as stub:
        stub.add_client_error("post_to_connection", "GoneException", http_status_code=410)
        stub.add_client_error("post_to_connection", "LimitExceededException", http_status_code=429)
        with pytest.raises(GoneConnectionError):
            poster.post("abc", b"{}")
        with pytest.raises(DeliveryError):
            poster.post("abc", b"{}")


def _bob_gone_from_room(chat: Harness) -> tuple[str, str, str]:
    a = chat.connect(chat.signup_and_login("alice"))
    b = chat.connect(chat.signup_and_login("bob"))
    room = create_room(chat, a)
    chat.send(b, "bob", {"action": "joinRoom", "roomId": room})
    chat.send(a, "alice", {"action": "approveJoin", "roomId": room, "username": "bob"})
    chat.frames(a)
    # bob's connection answers 410 from now on, as API Gateway does for a vanished connection.
    processor = chat.modules["stream_processor"]
    real = processor.fanout.poster

    class GoneForBob:
        def post(self, connection_id: str, data: bytes) -> None:
            if connection_id == b:
                raise GoneConnectionError(connection_id)
            real.post(connection_id, data)

    processor.fanout.poster = GoneForBob()
    return a, b, room


def _items_naming(chat: Harness, connection_id: str) -> list[dict[str, Any]]:
    items = chat.snapshot()["test-connections"]
    return [i for i in items if connection_id in i["pk"] or connection_id in i["sk"]]


def test_a_stale_connection_is_cleaned_when_the_real_handler_meets_410(chat: Harness) -> None:
    a, b, room = _bob_gone_from_room(chat)
    # It connected long ago and vanished without a $disconnect.
    chat.dynamodb.Table("test-connections").update_item(
        Key=keys.connection(b),
        UpdateExpression="SET connectedAt = :t",
        ExpressionAttributeValues={":t": "2026-01-01T00:00:00.000Z"},
    )
    chat.send(a, "alice", {"action": "sendMessage", "roomId": room, "text": "anyone?"})
    assert chat.pump() == {"batchItemFailures": []}
    assert [f["message"]["text"] for f in chat.frames(a)] == ["anyone?"]
    assert _items_naming(chat, b) == []


def test_a_connection_still_in_its_handshake_is_not_removed_on_410(chat: Harness) -> None:
    """API Gateway answers 410 while $connect runs; the new connection must survive that."""
    a, b, room = _bob_gone_from_room(chat)
    chat.send(a, "alice", {"action": "sendMessage", "roomId": room, "text": "welcome"})
    assert chat.pump() == {"batchItemFailures": []}
    assert len(_items_naming(chat, b)) == 3  # META, USER#, ROOM#


def test_the_documented_stream_event_sample_is_delivered(chat: Harness) -> None:
    a = chat.connect(chat.signup_and_login("alice"))
    room = create_room(chat, a)
    event = load_event("dynamodb_stream_insert")
    image = event["Records"][0]["dynamodb"]["NewImage"]
    image["roomId"]["S"] = room
    modify = load_event("dynamodb_stream_insert")["Records"][0]
    modify["eventName"] = "MODIFY"
    event["Records"].append(modify)
    result = chat.modules["stream_processor"].lambda_handler(event, LambdaContext())
    assert result == {"batchItemFailures": []}
    [frame] = chat.frames(a)
    assert frame["message"] == {
        "roomId": room,
        "messageId": "01KWB3R0000000000000000000",
        "username": "alice",
        "text": "hello",
        "createdAt": "2026-11-24T18:55:05.000Z",
        "clientMessageId": "c-1",
    }


def test_malformed_stream_records_are_skipped_not_retried(chat: Harness) -> None:
    event = load_event("dynamodb_stream_insert")
    del event["Records"][0]["dynamodb"]["NewImage"]["text"]
    result = chat.modules["stream_processor"].lambda_handler(event, LambdaContext())
    assert result == {"batchItemFailures": []}


def test_stream_batches_and_sends_emit_cloudwatch_emf_metrics(
    chat: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    a = chat.connect(chat.signup_and_login("alice"))
    reply = chat.send(a, "alice", {"action": "createRoom", "name": "Metrics"})
    assert reply is not None
    capsys.readouterr()
    chat.send(
        a, "alice", {"action": "sendMessage", "roomId": reply["room"]["roomId"], "text": "hi"}
    )
    chat.pump()
    records = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith('{"_aws"')
    ]
    by_function = {r["Function"]: r for r in records}
    assert by_function["send_message"]["MessagesStored"] == 1
    fanout = by_function["stream_processor"]
    assert fanout["Posts"] == 1 and fanout["BatchItemFailures"] == 0
    [definition] = fanout["_aws"]["CloudWatchMetrics"]
    assert definition["Namespace"] == "ServerlessChat"
    assert {"Name": "FanOutDuration", "Unit": "Milliseconds"} in definition["Metrics"]
