"""Background jobs through SQS: purging a deleted room (chat.purge does the work), and the
chunks of a large room's fan-out (chat.fanout.Chunking, a FIFO queue)."""

from __future__ import annotations

import json
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


class FanOutQueueError(Exception):
    """SQS refused some chunks; the stream batch's records of that room are retried."""


class FanOutQueue:
    """Adapter over boto3's SQS client for the FIFO fan-out queue: chunks are sent in order, ten
    a call, so each message group receives them in the order given."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self.client = client
        self.queue_url = queue_url

    def send(self, messages: list[tuple[str, str, str]]) -> None:
        """(group id, deduplication id, body) each."""
        for start in range(0, len(messages), 10):
            entries = [
                {
                    "Id": str(i),
                    "MessageGroupId": group,
                    "MessageDeduplicationId": dedup,
                    "MessageBody": body,
                }
                for i, (group, dedup, body) in enumerate(messages[start : start + 10])
            ]
            response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            if response.get("Failed"):
                raise FanOutQueueError(f"SQS refused {len(response['Failed'])} fan-out chunk(s)")


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
