"""Messages stream consumer (NEW_IMAGE): fan each stored message out to its room."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chat import metrics
from chat.config import Settings
from chat.fanout import FanOut, parse_stream_records
from chat.runtime import Stores, configure_logging, fanout_chunking, management_poster

settings = Settings.from_env()
configure_logging(settings.log_level)
stores = Stores.from_settings(settings, pool_size=settings.fanout_concurrency)
executor = ThreadPoolExecutor(max_workers=settings.fanout_concurrency, thread_name_prefix="fanout")
fanout = FanOut(
    stores.connections,
    management_poster(settings),
    executor,
    rooms=stores.rooms,
    chunking=fanout_chunking(settings),
)
log = logging.getLogger("chat.stream_processor")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    records, malformed = parse_stream_records(event.get("Records") or [])
    if malformed:
        log.error("skipped malformed stream records", extra={"sequenceNumbers": malformed})
    report = fanout.deliver(records)
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    log.info(
        "fan-out",
        extra={
            "records": len(records),
            "posts": report.posts,
            "gone": report.gone,
            "alreadyDelivered": report.skipped_already_delivered,
            "deletedRoom": report.skipped_deleted_room,
            "chunksEnqueued": report.chunks_enqueued,
            "failed": len(report.failed_sequence_numbers),
            "durationMs": duration_ms,
        },
    )
    metrics.emit(
        "stream_processor",
        {
            "Posts": report.posts,
            "GoneConnections": report.gone,
            "BatchItemFailures": len(report.failed_sequence_numbers),
            "MalformedRecords": len(malformed),
            "FanOutChunks": report.chunks_enqueued,
        },
        {"FanOutDuration": duration_ms},
    )
    return {
        "batchItemFailures": [
            {"itemIdentifier": sequence} for sequence in report.failed_sequence_numbers
        ]
    }
