"""The stream processor: grouping, one Query per room, ordering, 410 clean-up, retries."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.credentials import Credentials

from chat import keys
from chat.fanout import DeliveryLog, FanOut, StreamRecord
from chat.models import Connection, Message
from chat.notifier import POST_ATTEMPTS, DeliveryError, GoneConnectionError, ManagementApiPoster
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

    def room_pages(self, room_id: str, page_size: int | None = None) -> Iterator[list[Connection]]:
        connections = self.of_room(room_id)
        size = page_size or len(connections) or 1
        for start in range(0, max(1, len(connections)), size):
            yield connections[start : start + size]

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
    return FanOut(connections, poster, ThreadPoolExecutor(8), **kwargs)


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


def test_the_fan_out_does_not_retry_what_the_poster_gave_up_on() -> None:
    """The poster's retries are the only ones (chat.notifier.POST_ATTEMPTS): a DeliveryError
    from it fails the connection's records for this invocation, with no post tried again."""
    connections = FakeConnections({"r1": ["c1", "c2"]})
    poster = RecordingPoster(failing={"c1": 1})
    calls: list[str] = []
    post = poster.post

    def counted(connection_id: str, data: bytes) -> None:
        calls.append(connection_id)
        post(connection_id, data)

    poster.post = counted  # type: ignore[method-assign]
    report = fanout(connections, poster).deliver([record(1, "r1", "a"), record(2, "r1", "b")])
    assert calls.count("c1") == 1 and calls.count("c2") == 2
    assert report.failed_sequence_numbers == ["1", "2"]
    assert poster.texts_for("c2") == ["a", "b"] and poster.texts_for("c1") == []


def test_persistent_failures_are_reported_per_record_and_a_retry_skips_who_already_got_it() -> None:
    connections = FakeConnections({"r1": ["ok", "flaky"], "r2": ["other"]})
    poster = RecordingPoster(failing={"flaky": 1})
    processor = fanout(connections, poster, delivered=DeliveryLog())
    batch = [record(1, "r1", "a"), record(2, "r2", "x"), record(3, "r1", "b")]
    report = processor.deliver(batch)
    # The first message to "flaky" failed (the poster gave up): it and the later one in that room
    # go back.
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


def test_a_query_page_that_fails_fails_the_rooms_records_and_a_retry_skips_who_got_them() -> None:
    class FailsOnSecondPage(FakeConnections):
        fail = True

        def room_pages(
            self, room_id: str, page_size: int | None = None
        ) -> Iterator[list[Connection]]:
            for number, page in enumerate(super().room_pages(room_id, 1)):
                if number == 1 and self.fail:
                    raise RuntimeError("throttled")
                yield page

    connections = FailsOnSecondPage({"r1": ["c1", "c2"]})
    poster = RecordingPoster()
    processor = fanout(connections, poster, delivered=DeliveryLog())
    batch = [record(1, "r1", "a"), record(2, "r1", "b")]
    assert processor.deliver(batch).failed_sequence_numbers == ["1", "2"]
    assert poster.texts_for("c1") == ["a", "b"] and poster.texts_for("c2") == []
    connections.fail = False
    retry = processor.deliver(batch)
    assert retry.failed_sequence_numbers == [] and retry.skipped_already_delivered == 2
    assert poster.texts_for("c1") == ["a", "b"] and poster.texts_for("c2") == ["a", "b"]


class ScriptedManagementApi(ThreadingHTTPServer):
    """A real HTTP server on loopback answering each post with the next scripted status."""

    daemon_threads = True

    def __init__(self, statuses: list[int], answer: Callable[[str], int] | None = None) -> None:
        self.statuses = list(statuses)
        # With it, each post's status comes from its path instead of the script.
        self.answer = answer
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.clients: list[int] = []  # the client port of each request
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server.requests.append((self.path, dict(self.headers), body))
                server.clients.append(self.client_address[1])
                if server.answer is not None:
                    status = server.answer(self.path)
                else:
                    status = server.statuses.pop(0) if server.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        # shutdown() waits for the loop's next poll: 0.5 s by default, every test.
        threading.Thread(target=self.serve_forever, args=(0.01,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/dev"


def _poster(url: str, sleeps: list[float]) -> ManagementApiPoster:
    client = boto3.client("apigatewaymanagementapi", endpoint_url=url, region_name="eu-west-1")
    return ManagementApiPoster(
        client, Credentials("AKIDEXAMPLE", "secret"), sleep=sleeps.append, jitter=lambda: 0.5
    )


@pytest.mark.parametrize(
    ("statuses", "expected", "tries"),
    [
        ([200], None, 1),
        ([410], GoneConnectionError, 1),
        ([429, 503, 200], None, 3),
        ([429, 500, 502], DeliveryError, 3),
        ([400], DeliveryError, 1),
        ([403], DeliveryError, 1),
    ],
)
def test_management_api_poster_maps_statuses_and_retries_only_throttling_and_5xx(
    statuses: list[int], expected: type[Exception] | None, tries: int
) -> None:
    server = ScriptedManagementApi(statuses)
    sleeps: list[float] = []
    poster = _poster(server.url, sleeps)
    try:
        if expected is None:
            poster.post("ab/c=", b'{"x":1}')
        else:
            with pytest.raises(expected):
                poster.post("ab/c=", b'{"x":1}')
    finally:
        poster.close()
        server.shutdown()
        server.server_close()
    assert len(server.requests) == tries
    # Exponential backoff with (here fixed) jitter between the tries, none after the last.
    assert sleeps == [0.5 * 0.05 * 2**i for i in range(tries - 1)] if tries > 1 else sleeps == []
    path, headers, body = server.requests[0]
    assert path == "/dev/@connections/ab%2Fc%3D"
    assert body == b'{"x":1}'
    assert (
        headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
        and "/eu-west-1/execute-api/aws4_request" in headers["Authorization"]
    )


def test_a_connection_answering_500_for_good_costs_post_attempts_posts_per_invocation() -> None:
    """The bound on retries is one number: under a persistent 500 a connection receives exactly
    POST_ATTEMPTS posts per invocation (the poster's tries of its first frame; its later frames
    are not tried), its records are failed for Lambda to retry, and 410 still cleans up."""
    paths = {c: f"/dev/@connections/{c}" for c in ("ok", "broken", "gone")}
    answers = {paths["broken"]: 500, paths["gone"]: 410}
    server = ScriptedManagementApi([], answer=lambda path: answers.get(path, 200))
    sleeps: list[float] = []
    poster = _poster(server.url, sleeps)
    connections = FakeConnections({"r1": ["ok", "broken", "gone"]})
    processor = fanout(connections, poster, delivered=DeliveryLog())
    batch = [record(n, "r1", f"m{n}") for n in range(1, 4)]
    try:
        reports = [processor.deliver(batch) for _ in range(2)]  # the batch, then Lambda's retry
    finally:
        poster.close()
        server.shutdown()
        server.server_close()
    posts = [path for path, _, _ in server.requests]
    assert POST_ATTEMPTS == 3
    assert posts.count(paths["broken"]) == 2 * POST_ATTEMPTS
    assert posts.count(paths["ok"]) == 3  # once each, the retried batch skips them
    assert posts.count(paths["gone"]) == 1 and connections.removed == ["gone"]
    assert [r.failed_sequence_numbers for r in reports] == [["1", "2", "3"]] * 2
    assert len(sleeps) == 2 * (POST_ATTEMPTS - 1)  # backoff between tries, none after the last


def test_management_api_poster_retries_a_refused_connection_then_fails() -> None:
    from localcloud.motoserver import free_port

    sleeps: list[float] = []
    poster = _poster(f"http://127.0.0.1:{free_port()}/dev", sleeps)
    with pytest.raises(DeliveryError, match="after 3 attempts"):
        poster.post("abc", b"{}")
    assert len(sleeps) == 2


def test_management_api_poster_backoff_is_jittered() -> None:
    server = ScriptedManagementApi([429, 429, 429])
    sleeps: list[float] = []
    client = boto3.client(
        "apigatewaymanagementapi", endpoint_url=server.url, region_name="eu-west-1"
    )
    poster = ManagementApiPoster(client, Credentials("AKIDEXAMPLE", "secret"), sleep=sleeps.append)
    try:
        with pytest.raises(DeliveryError):
            poster.post("abc", b"{}")
    finally:
        poster.close()
        server.shutdown()
        server.server_close()
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.05 and 0 <= sleeps[1] <= 0.1


def test_management_api_poster_keeps_its_connection_alive_until_closed() -> None:
    server = ScriptedManagementApi([200, 200, 200])
    poster = _poster(server.url, [])
    try:
        poster.post("a", b"1")
        poster.post("b", b"2")
        poster.close()
        poster.post("c", b"3")
    finally:
        poster.close()
        server.shutdown()
        server.server_close()
    first, second, third = server.clients
    assert first == second  # one keep-alive connection
    assert third != first  # a new one after close()


@pytest.mark.parametrize("token", [None, "session-token"])
@pytest.mark.parametrize("connection_id", ["abc", "ab/c+d=", "Zm9v~bar="])
def test_sigv4_signer_signs_as_botocore_does(
    token: str | None, connection_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime

    import botocore.auth
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.utils import percent_encode

    from chat.notifier import SigV4Signer

    now = datetime.datetime(2026, 12, 3, 13, 5, 9, tzinfo=datetime.UTC)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: now)
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", token)
    path = f"/prod/@connections/{percent_encode(connection_id)}"
    body = '{"type":"message","text":"hé"}'.encode()
    host = "abc123.execute-api.eu-west-1.amazonaws.com"
    request = AWSRequest(method="POST", url=f"https://{host}{path}", data=body)
    SigV4Auth(credentials, "execute-api", "eu-west-1").add_auth(request)

    ours = SigV4Signer("eu-west-1").headers(credentials, host, path, body, now=now)

    assert ours["Authorization"] == request.headers["Authorization"]
    assert ours["x-amz-date"] == request.headers["X-Amz-Date"]
    assert ours.get("x-amz-security-token") == request.headers.get("X-Amz-Security-Token")


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
