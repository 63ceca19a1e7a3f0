"""Messages stream consumer (NEW_IMAGE): fan each stored message out to its room."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from chat.config import Settings
from chat.fanout import FanOut, StreamRecord
from chat.runtime import Stores, configure_logging, management_poster
from chat.store import message_from_item

settings = Settings.from_env()
configure_logging(settings.log_level)
stores = Stores.from_settings(settings, pool_size=settings.fanout_concurrency)
executor = ThreadPoolExecutor(max_workers=settings.fanout_concurrency, thread_name_prefix="fanout")
fanout = FanOut(stores.connections, management_poster(settings), executor)
deserializer = TypeDeserializer()
log = logging.getLogger("chat.stream_processor")


def parse_records(event: dict[str, Any]) -> tuple[list[StreamRecord], list[str]]:
    """Message records to deliver, and sequence numbers of records that cannot be parsed
    (logged and skipped: retrying a malformed record would never succeed)."""
    records: list[StreamRecord] = []
    malformed: list[str] = []
    for raw in event.get("Records") or []:
        dynamodb = raw.get("dynamodb") or {}
        sequence = str(dynamodb.get("SequenceNumber", ""))
        if raw.get("eventName") != "INSERT":
            continue
        try:
            image = {k: deserializer.deserialize(v) for k, v in dynamodb["NewImage"].items()}
            records.append(StreamRecord(sequence, message_from_item(image)))
        except (KeyError, TypeError, ValueError):
            malformed.append(sequence)
    return records, malformed


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    records, malformed = parse_records(event)
    if malformed:
        log.error("skipped malformed stream records", extra={"sequenceNumbers": malformed})
    report = fanout.deliver(records)
    log.info(
        "fan-out",
        extra={
            "records": len(records),
            "posts": report.posts,
            "gone": report.gone,
            "alreadyDelivered": report.skipped_already_delivered,
            "failed": len(report.failed_sequence_numbers),
            "durationMs": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    return {
        "batchItemFailures": [
            {"itemIdentifier": sequence} for sequence in report.failed_sequence_numbers
        ]
    }
