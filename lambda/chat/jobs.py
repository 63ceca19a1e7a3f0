"""Background jobs through SQS: today one, purging a deleted room (chat.purge does the work)."""

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
