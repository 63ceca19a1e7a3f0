"""Room-purge queue consumer (SQS): deletes what a deleted room left behind, in bounded runs."""

from __future__ import annotations

import logging
import time
from typing import Any

from chat.config import Settings
from chat.jobs import purge_requests
from chat.purge import RoomPurge
from chat.runtime import Stores, configure_logging, optional_media_service, purge_queue

settings = Settings.from_env()
configure_logging(settings.log_level)
stores = Stores.from_settings(settings)
purge = RoomPurge(
    stores.rooms,
    stores.connections,
    stores.messages,
    purge_queue(settings),
    time.time,
    grace_seconds=settings.room_purge_grace_seconds,
    media=optional_media_service(settings, stores, time.time),
)
log = logging.getLogger("chat.room_purge")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures = []
    for message_id, room_id in purge_requests(event):
        if not room_id:
            log.error("dropped a malformed purge request", extra={"messageId": message_id})
            continue
        try:
            outcome = purge.run(room_id, context.get_remaining_time_in_millis)
        except Exception:
            # SQS makes it visible again after the visibility timeout: the next run resumes.
            log.exception("purge failed", extra={"roomId": room_id})
            failures.append({"itemIdentifier": message_id})
            continue
        log.info(
            "purge run",
            extra={
                "roomId": room_id,
                "messages": outcome.messages,
                "items": outcome.items,
                "finished": outcome.finished,
            },
        )
    return {"batchItemFailures": failures}
