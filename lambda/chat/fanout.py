"""The stream processor's work: deliver each stored message to every connection in its room.

For one batch of stream records: group by room and order by message id; read each room's live
connections with one Query (paged: posts start on a page while the next is read); post concurrently (bounded by the executor), each connection
receiving its room's messages in order. 410 Gone removes the connection. Other failures are
retried a few times; records still undelivered are reported so that Lambda retries from the
first of them (ReportBatchItemFailures). A per-container log of what was delivered keeps a
retried batch from re-posting to connections that already got a message.

A connection that asked for batches (`?batch=1`) gets a room's records of one batch in as few
posts as fit API Gateway's 32 KB frame (a `messageBatch` of the single frames, in the same
order); a post that fails fails its records and every later one of that room for it. Each
record is encoded once per batch, not once per connection.
"""

from __future__ import annotations

import logging
import threading
import time
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


class FanOut:
    def __init__(
        self,
        connections: ConnectionsStore,
        poster: Any,
        executor: Executor,
        delivered: DeliveryLog | None = None,
        attempts: int = 3,
        backoff_seconds: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
        rooms: RoomsStore | None = None,
        page_size: int | None = 1000,
    ) -> None:
        self.connections = connections
        # Connections read per Query page: posting starts after the first page, not the last.
        self.page_size = page_size
        # With it, messages of deleted rooms are dropped (one BatchGetItem per batch).
        self.rooms = rooms
        self.poster = poster
        self.executor = executor
        self.delivered = delivered if delivered is not None else DeliveryLog()
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.sleep = sleep

    def deliver(self, records: Iterable[StreamRecord]) -> BatchReport:
        by_room: dict[str, list[StreamRecord]] = {}
        for record in records:
            by_room.setdefault(record.message.room_id, []).append(record)
        report = BatchReport()
        failed: set[str] = set()
        if self.rooms is not None and by_room:
            try:
                live = self.rooms.live_rooms(sorted(by_room))
            except Exception:
                log.exception("could not tell which rooms are live")
                report.failed_sequence_numbers = sorted(
                    r.sequence_number for rs in by_room.values() for r in rs
                )
                return report
            for room_id in set(by_room) - live:
                # Deleted (or never existed): nothing of it is delivered, ever.
                report.skipped_deleted_room += len(by_room.pop(room_id))
        lock = threading.Lock()

        def run(connection: Connection, frames: RoomFrames) -> None:
            outcome = self._deliver_to(connection, frames)
            with lock:
                report.posts += outcome.posts
                report.gone += outcome.gone
                report.skipped_already_delivered += outcome.skipped_already_delivered
                failed.update(outcome.failed_sequence_numbers)

        futures: list[Future[None]] = []
        for room_id, room_records in by_room.items():
            room_records.sort(key=lambda r: r.order)
            frames = RoomFrames(room_id, room_records)
            try:
                # Posting starts on each page of the room's connections while the next is read.
                for page in self.connections.room_pages(room_id, self.page_size):
                    futures.extend(self.executor.submit(run, c, frames) for c in page)
            except Exception:
                log.exception("could not read the room's connections", extra={"roomId": room_id})
                failed.update(r.sequence_number for r in room_records)
        for future in futures:
            future.result()
        order = {r.sequence_number: i for rs in by_room.values() for i, r in enumerate(rs)}
        report.failed_sequence_numbers = sorted(failed, key=lambda s: (order.get(s, 0), s))
        return report

    def _deliver_to(self, connection: Connection, frames: RoomFrames) -> BatchReport:
        outcome = BatchReport()
        records = frames.records
        pending: list[int] = []
        for index, record in enumerate(records):
            if (record.delivery_key, connection.connection_id) in self.delivered:
                outcome.skipped_already_delivered += 1
            else:
                pending.append(index)
        chunks = frames.chunks(pending) if connection.batches else [[i] for i in pending]
        for number, chunk in enumerate(chunks):
            try:
                self._post_with_retries(connection.connection_id, frames.encode(chunk))
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
                    records[i].sequence_number for later in chunks[number:] for i in later
                )
                return outcome
            outcome.posts += 1
            for i in chunk:
                self.delivered.add((records[i].delivery_key, connection.connection_id))
        return outcome

    def _post_with_retries(self, connection_id: str, frame: bytes) -> None:
        for attempt in range(1, self.attempts + 1):
            try:
                self.poster.post(connection_id, frame)
                return
            except DeliveryError:
                if attempt == self.attempts:
                    raise
                self.sleep(self.backoff_seconds * (2 ** (attempt - 1)))

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
        self, room_id: str, records: list[StreamRecord], limit: int = FRAME_LIMIT_BYTES
    ) -> None:
        self.room_id = room_id
        self.records = records
        self.limit = limit
        self.items = [encode_frame(r.frame()) for r in records]
        # The bytes of an empty batch: each item adds its length and a comma (but the first).
        self._overhead = len(encode_frame(protocol.message_batch(room_id, [])))
        self._chunks: dict[tuple[int, ...], list[list[int]]] = {}
        self._frames: dict[tuple[int, ...], bytes] = {}

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
