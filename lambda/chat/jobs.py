"""Background jobs through SQS: purging a deleted room (chat.purge does the work), and the
chunks of a large room's fan-out (chat.fanout.Chunking, a FIFO queue)."""

from __future__ import annotations

import json
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any


class PurgeQueue:
    """Adapter over boto3's SQS client for the room-purge queue."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self.client = client
        self.queue_url = queue_url

    def request(self, room_id: str, delay_seconds: int = 0) -> None:
        """Asks for a purge of the room (again, when a run stops short: the job resumes)."""
        self.client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=json.dumps({"roomId": room_id}),
            DelaySeconds=max(0, min(900, delay_seconds)),  # SQS allows 0-900
        )


# SQS takes at most 10 messages and 256 KB in all per SendMessageBatch (kept under, for the
# attributes' share).
BATCH_BYTES = 250_000


class FanOutQueueError(Exception):
    """SQS refused some chunks; the stream batch's records of that room are retried."""


class FanOutQueue:
    """Adapter over boto3's SQS client for the FIFO fan-out queue. A message group's chunks are
    sent in the order given, ten a call, by one of `lanes` senders; the lanes run at once (a
    group always goes to the same lane, so its order holds)."""

    def __init__(self, client: Any, queue_url: str, lanes: int = 8) -> None:
        self.client = client
        self.queue_url = queue_url
        self.lanes = max(1, lanes)
        self._executor = ThreadPoolExecutor(max_workers=self.lanes, thread_name_prefix="sqs")

    def send(self, messages: list[tuple[str, str, str]]) -> None:
        """(group id, deduplication id, body) each; FanOutQueueError if any is refused."""
        lanes: dict[int, list[tuple[str, str, str]]] = {}
        for message in messages:
            lanes.setdefault(zlib.crc32(message[0].encode("utf-8")) % self.lanes, []).append(
                message
            )
        for refused in list(self._executor.map(self._send_lane, lanes.values())):
            if refused:
                raise FanOutQueueError(f"SQS refused {refused} fan-out chunk(s)")

    def _send_lane(self, messages: list[tuple[str, str, str]]) -> int:
        batches: list[list[tuple[str, str, str]]] = []
        size = 0
        for message in messages:
            length = len(message[2].encode("utf-8"))
            if batches and len(batches[-1]) < 10 and size + length <= BATCH_BYTES:
                batches[-1].append(message)
                size += length
            else:
                batches.append([message])
                size = length
        for batch in batches:
            entries = [
                {
                    "Id": str(i),
                    "MessageGroupId": group,
                    "MessageDeduplicationId": dedup,
                    "MessageBody": body,
                }
                for i, (group, dedup, body) in enumerate(batch)
            ]
            response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            if response.get("Failed"):
                # Nothing after a refused chunk is sent: its group's order must hold.
                return len(response["Failed"])
        return 0


def sqs_records(event: dict[str, Any]) -> list[tuple[str, str]]:
    """(messageId, body) of each SQS record of a Lambda event."""
    return [
        (str(r.get("messageId", "")), str(r.get("body") or "")) for r in event.get("Records") or []
    ]


def purge_requests(event: dict[str, Any]) -> list[tuple[str, str]]:
    """(messageId, roomId) of each SQS record; a record that is not a purge request has roomId
    "" (the job drops it: retrying would never make it valid)."""
    requests: list[tuple[str, str]] = []
    for record in event.get("Records") or []:
        message_id = str(record.get("messageId", ""))
        try:
            body = json.loads(record.get("body") or "")
            room_id = body.get("roomId") if isinstance(body, dict) else None
        except ValueError:
            room_id = None
        requests.append((message_id, room_id if isinstance(room_id, str) else ""))
    return requests
