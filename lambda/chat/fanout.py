"""The stream processor's work: deliver each stored message to every connection in its room.

For one batch of stream records: group by room and order by message id; read each room's live
connections with one Query (paged: posts start on a page while the next is read); post concurrently (bounded by the executor), each connection
receiving its room's messages in order. 410 Gone removes the connection. Retries are the
poster's alone (ManagementApiPoster: 429, 5xx and connection errors, at most POST_ATTEMPTS
posts of a frame with full-jitter backoff); the fan-out posts each frame once through it and
stops at a connection's first failed frame, so a connection that keeps failing costs at most
POST_ATTEMPTS posts per invocation. Its records, from the failed one on, are reported so that
Lambda retries from the first of them (ReportBatchItemFailures). A per-container log of what
was delivered keeps a retried batch from re-posting to connections that already got a
message.

A connection that asked for batches (`?batch=1`) gets a room's records of one batch in as few
posts as fit API Gateway's 32 KB frame (a `messageBatch` of the single frames, in the same
order); a post that fails fails its records and every later one of that room for it. Each
record is encoded once per batch, not once per connection.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any

from chat import protocol
from chat.models import Connection, Message
from chat.notifier import DeliveryError, GoneConnectionError, encode_frame
from chat.store import ConnectionsStore, RoomsStore, message_from_stream_image

log = logging.getLogger(__name__)

# API Gateway's WebSocket frame limit, and the unit it charges messages in.
FRAME_LIMIT_BYTES = 32 * 1024


@dataclass(frozen=True)
class StreamRecord:
    sequence_number: str
    message: Message
    # A MODIFY record: an edit, a delete or a reaction, delivered as `messageUpdated`.
    update: bool = False

    @property
    def order(self) -> tuple[str, int]:
        """Within a room: message id order, and a message's own records in stream order (its
        INSERT before its updates)."""
        sequence = self.sequence_number
        return self.message.message_id, int(sequence) if sequence.isdigit() else 0

    @property
    def delivery_key(self) -> str:
        """What the delivery log remembers: a message once, each of its updates once."""
        if self.update:
            return f"{self.message.message_id}@{self.sequence_number}"
        return self.message.message_id

    def frame(self) -> dict[str, Any]:
        if self.update:
            return protocol.message_updated(self.message)
        return protocol.message_event(self.message)


class DeliveryLog:
    """A bounded, thread-safe memory of (message id, connection id) pairs delivered."""

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, key: tuple[str, str]) -> bool:
        with self._lock:
            return key in self._seen

    def add(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._seen[key] = None
            if len(self._seen) > self.capacity:
                self._seen.popitem(last=False)


@dataclass
class BatchReport:
    failed_sequence_numbers: list[str] = field(default_factory=list)
    posts: int = 0
    gone: int = 0
    skipped_already_delivered: int = 0
    skipped_deleted_room: int = 0
    chunks_enqueued: int = 0


@dataclass(frozen=True)
class Chunking:
    """Rooms of more than `threshold` connections are handed to the fan-out workers: their
    connections split into `buckets` FIFO message groups by a hash of the connection id (so a
    connection is always in the same group, and its frames keep their order across stream
    batches), each group's share sent as chunks of at most `connections_per_chunk`
    connections and `record_bytes` of frames (SQS takes 256 KB a message).

    A room once handed over stays with the workers for `sticky_seconds` after its last
    hand-over (marked on its META item, read with the live-room check each batch makes), even
    if it shrinks below the threshold: a batch posted directly could otherwise overtake the
    room's chunks still in the queue. 15 minutes covers the fan-out queue's 5 receives of a
    120-second visibility timeout before a chunk goes to the dead-letter queue."""

    queue: Any  # chat.jobs.FanOutQueue: send(list of (group id, deduplication id, body))
    threshold: int
    buckets: int = 64
    connections_per_chunk: int = 1000
    record_bytes: int = 100_000
    sticky_seconds: int = 900

    def bucket(self, connection_id: str) -> int:
        return zlib.crc32(connection_id.encode("utf-8")) % self.buckets

    def messages(
        self, frames: RoomFrames, connections: list[Connection]
    ) -> list[tuple[str, str, str]]:
        """(group id, deduplication id, body) of every chunk, in the order to send them."""
        runs: list[list[int]] = []
        size = 0
        for index, item in enumerate(frames.items):
            if runs and size + len(item) <= self.record_bytes:
                runs[-1].append(index)
                size += len(item)
            else:
                runs.append([index])
                size = len(item)
        groups: dict[int, list[Connection]] = {}
        for connection in connections:
            groups.setdefault(self.bucket(connection.connection_id), []).append(connection)
        messages = []
        for bucket, members in sorted(groups.items()):
            group = f"{frames.room_id}#{bucket}"
            for start in range(0, len(members), self.connections_per_chunk):
                part = members[start : start + self.connections_per_chunk]
                for run in runs:
                    body = json.dumps(
                        {
                            "roomId": frames.room_id,
                            "records": [
                                {
                                    "sequenceNumber": frames.sequence_numbers[i],
                                    "key": frames.delivery_keys[i],
                                    "frame": json.loads(frames.items[i]),
                                }
                                for i in run
                            ],
                            # What posting needs: the id, and whether it takes batches.
                            "connections": [[c.connection_id, c.batches] for c in part],
                        },
                        ensure_ascii=False,
                        separators=(",", ":"),
                    )
                    # The same chunk sent again (a retried stream batch, within SQS's 5-minute
                    # window) is dropped by SQS, not delivered twice.
                    dedup = hashlib.sha256(f"{group}|{body}".encode()).hexdigest()
                    messages.append((group, dedup, body))
        return messages


def parse_chunk(body: str) -> tuple[RoomFrames, list[Connection]]:
    """A fan-out chunk as Chunking.messages writes it; ValueError if it is not one."""
    try:
        chunk = json.loads(body)
        room_id = chunk["roomId"]
        records = chunk["records"]
        frames = RoomFrames(
            str(room_id),
            [str(r["sequenceNumber"]) for r in records],
            [str(r["key"]) for r in records],
            [encode_frame(r["frame"]) for r in records],
        )
        connections = [Connection(str(c), "", bool(b)) for c, b in chunk["connections"]]
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"not a fan-out chunk: {e}") from e
    if not isinstance(room_id, str) or not records:
        raise ValueError("not a fan-out chunk: no room or no records")
    return frames, connections


class FanOut:
    def __init__(
        self,
        connections: ConnectionsStore,
        poster: Any,
        executor: Executor,
        delivered: DeliveryLog | None = None,
        rooms: RoomsStore | None = None,
        page_size: int | None = 1000,
        chunking: Chunking | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.connections = connections
        self.clock = clock
        # With it, rooms past its threshold go to the fan-out workers (deliver_chunk).
        self.chunking = chunking
        # Connections read per Query page: posting starts after the first page, not the last.
        self.page_size = page_size
        # With it, messages of deleted rooms are dropped (one BatchGetItem per batch).
        self.rooms = rooms
        self.poster = poster
        self.executor = executor
        self.delivered = delivered if delivered is not None else DeliveryLog()

    def deliver(self, records: Iterable[StreamRecord]) -> BatchReport:
        by_room: dict[str, list[StreamRecord]] = {}
        for record in records:
            by_room.setdefault(record.message.room_id, []).append(record)
        report = BatchReport()
        failed: set[str] = set()
        workers_until: dict[str, int] = {}
        if self.rooms is not None and by_room:
            try:
                live = self.rooms.live_rooms(sorted(by_room))
            except Exception:
                log.exception("could not tell which rooms are live")
                report.failed_sequence_numbers = sorted(
                    r.sequence_number for rs in by_room.values() for r in rs
                )
                return report
            workers_until = live
            for room_id in set(by_room) - set(live):
                # Deleted (or never existed): nothing of it is delivered, ever.
                report.skipped_deleted_room += len(by_room.pop(room_id))
        run, futures = self._runner(report, failed)
        for room_id, room_records in by_room.items():
            room_records.sort(key=lambda r: r.order)
            frames = RoomFrames.of(room_id, room_records)
            try:
                pages = self._pages(frames, report, workers_until.get(room_id, 0))
                # Posting starts on each page of the room's connections while the next is read.
                for page in pages:
                    futures.extend(self.executor.submit(run, c, frames) for c in page)
            except Exception:
                log.exception("could not fan out to the room", extra={"roomId": room_id})
                failed.update(r.sequence_number for r in room_records)
        for future in futures:
            future.result()
        order = {r.sequence_number: i for rs in by_room.values() for i, r in enumerate(rs)}
        report.failed_sequence_numbers = sorted(failed, key=lambda s: (order.get(s, 0), s))
        return report

    def deliver_chunk(self, frames: RoomFrames, connections: list[Connection]) -> BatchReport:
        """A fan-out worker's part of a large room: the same posts, order, 410 handling and
        delivery log as `deliver`; failed records mean the chunk is to be tried again."""
        report = BatchReport()
        failed: set[str] = set()
        run, futures = self._runner(report, failed)
        futures.extend(self.executor.submit(run, c, frames) for c in connections)
        for future in futures:
            future.result()
        order = {s: i for i, s in enumerate(frames.sequence_numbers)}
        report.failed_sequence_numbers = sorted(failed, key=lambda s: (order.get(s, 0), s))
        return report

    def _runner(
        self, report: BatchReport, failed: set[str]
    ) -> tuple[Callable[[Connection, RoomFrames], None], list[Future[None]]]:
        lock = threading.Lock()

        def run(connection: Connection, frames: RoomFrames) -> None:
            outcome = self._deliver_to(connection, frames)
            with lock:
                report.posts += outcome.posts
                report.gone += outcome.gone
                report.skipped_already_delivered += outcome.skipped_already_delivered
                failed.update(outcome.failed_sequence_numbers)

        return run, []

    def _pages(
        self, frames: RoomFrames, report: BatchReport, workers_until: int
    ) -> Iterable[list[Connection]]:
        """The pages of connections to post to here; none when the room went to the workers
        (past the threshold, or handed over within the last `sticky_seconds`)."""
        chunking = self.chunking
        if chunking is None:
            return self.connections.room_pages(frames.room_id, self.page_size)
        # One page past the threshold tells a large room from a small one.
        pages = self.connections.room_pages(frames.room_id, chunking.threshold + 1)
        first = next(pages, [])
        now = self.clock()
        if len(first) <= chunking.threshold and workers_until <= now:
            return [first, *pages]
        if self.rooms is not None and workers_until < now + chunking.sticky_seconds / 2:
            # Marked before the chunks are queued: a failure after queueing cannot leave them
            # unmarked. Renewed at half-time, so a busy large room writes it rarely.
            self.rooms.keep_fanout_with_workers(frames.room_id, int(now) + chunking.sticky_seconds)
        connections = first + [c for page in pages for c in page]
        messages = chunking.messages(frames, connections)
        chunking.queue.send(messages)
        report.chunks_enqueued += len(messages)
        return []

    def _deliver_to(self, connection: Connection, frames: RoomFrames) -> BatchReport:
        outcome = BatchReport()
        pending: list[int] = []
        for index, key in enumerate(frames.delivery_keys):
            if (key, connection.connection_id) in self.delivered:
                outcome.skipped_already_delivered += 1
            else:
                pending.append(index)
        chunks = frames.chunks(pending) if connection.batches else [[i] for i in pending]
        for number, chunk in enumerate(chunks):
            try:
                # The poster's retries are the only ones: none are added here.
                self.poster.post(connection.connection_id, frames.encode(chunk))
            except GoneConnectionError:
                outcome.gone += 1
                self._forget(connection.connection_id)
                return outcome
            except DeliveryError:
                log.warning(
                    "delivery failed after retries",
                    extra={"connectionId": connection.connection_id, "roomId": frames.room_id},
                )
                # These records and the later ones (order matters) go back to Lambda.
                outcome.failed_sequence_numbers.extend(
                    frames.sequence_numbers[i] for later in chunks[number:] for i in later
                )
                return outcome
            outcome.posts += 1
            for i in chunk:
                self.delivered.add((frames.delivery_keys[i], connection.connection_id))
        return outcome

    def _forget(self, connection_id: str) -> None:
        try:
            self.connections.remove_gone(connection_id, time.time())
        except Exception:
            # TTL removes it eventually; a failed clean-up must not fail the batch.
            log.exception(
                "could not remove a gone connection", extra={"connectionId": connection_id}
            )


class RoomFrames:
    """One room's records of a batch, each encoded once, and the frames that carry them: a
    record alone as its own frame, or several as one `messageBatch` of at most
    FRAME_LIMIT_BYTES. Frames are cached by the records they carry: the connections of a room
    mostly get the same ones. Thread-safe (the cache only ever gains equal values)."""

    def __init__(
        self,
        room_id: str,
        sequence_numbers: list[str],
        delivery_keys: list[str],
        items: list[bytes],
        limit: int = FRAME_LIMIT_BYTES,
    ) -> None:
        self.room_id = room_id
        self.sequence_numbers = sequence_numbers
        self.delivery_keys = delivery_keys
        self.items = items
        self.limit = limit
        # The bytes of an empty batch: each item adds its length and a comma (but the first).
        self._overhead = len(encode_frame(protocol.message_batch(room_id, [])))
        self._chunks: dict[tuple[int, ...], list[list[int]]] = {}
        self._frames: dict[tuple[int, ...], bytes] = {}

    @classmethod
    def of(cls, room_id: str, records: list[StreamRecord]) -> RoomFrames:
        return cls(
            room_id,
            [r.sequence_number for r in records],
            [r.delivery_key for r in records],
            [encode_frame(r.frame()) for r in records],
        )

    def chunks(self, indexes: list[int]) -> list[list[int]]:
        """The records at these indexes, in order, split into frames that fit the limit."""
        key = tuple(indexes)
        cached = self._chunks.get(key)
        if cached is not None:
            return cached
        chunks: list[list[int]] = []
        size = 0
        for index in indexes:
            grown = size + len(self.items[index]) + 1
            if chunks and grown <= self.limit:
                chunks[-1].append(index)
                size = grown
            else:
                chunks.append([index])
                size = self._overhead + len(self.items[index])
        self._chunks[key] = chunks
        return chunks

    def encode(self, chunk: list[int]) -> bytes:
        if len(chunk) == 1:
            return self.items[chunk[0]]
        key = tuple(chunk)
        frame = self._frames.get(key)
        if frame is None:
            body = b",".join(self.items[i] for i in chunk)
            head = encode_frame(protocol.message_batch(self.room_id, []))[: -len(b"]}")]
            frame = head + body + b"]}"
            self._frames[key] = frame
        return frame


def parse_stream_records(
    raw_records: Iterable[dict[str, Any]],
) -> tuple[list[StreamRecord], list[str]]:
    """Message records to deliver, and sequence numbers of records that cannot be parsed
    (logged and skipped by the caller: retrying a malformed record would never succeed).
    INSERTs deliver as `message`, MODIFYs as `messageUpdated`; REMOVEs (a purge) never deliver:
    the stream mapping's filter already drops them on AWS."""
    records: list[StreamRecord] = []
    malformed: list[str] = []
    for raw in raw_records:
        dynamodb = raw.get("dynamodb") or {}
        sequence = str(dynamodb.get("SequenceNumber", ""))
        event_name = raw.get("eventName")
        if event_name not in ("INSERT", "MODIFY"):
            continue
        try:
            message = message_from_stream_image(dynamodb["NewImage"])
            records.append(StreamRecord(sequence, message, update=event_name == "MODIFY"))
        except (KeyError, TypeError, ValueError, AttributeError):
            malformed.append(sequence)
    return records, malformed
