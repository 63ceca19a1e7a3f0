"""Fan-out queue consumer (SQS FIFO): posts a large room's chunk of connections their frames.

The stream processor hands rooms past FANOUT_CHUNK_THRESHOLD connections over as chunks
(chat.fanout.Chunking); each worker posts its chunk exactly as the stream processor posts a
small room. A chunk that cannot be delivered in full is reported, and so is every later record
of the batch (FIFO: nothing may overtake it); SQS delivers them again, and the per-container
delivery log keeps connections that got their frames from getting them twice.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chat import metrics
from chat.config import Settings
from chat.fanout import FanOut, parse_chunk
from chat.jobs import sqs_records
from chat.runtime import Stores, configure_logging, management_poster

settings = Settings.from_env()
configure_logging(settings.log_level)
stores = Stores.from_settings(settings, pool_size=settings.fanout_concurrency)
executor = ThreadPoolExecutor(max_workers=settings.fanout_concurrency, thread_name_prefix="fanout")
fanout = FanOut(stores.connections, management_poster(settings), executor)
log = logging.getLogger("chat.fanout_worker")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    failures: list[dict[str, str]] = []
    posts = gone = 0
    for message_id, body in sqs_records(event):
        if failures:  # FIFO: the records after a failed one wait for it
            failures.append({"itemIdentifier": message_id})
            continue
        try:
            frames, connections = parse_chunk(body)
        except ValueError:
            log.exception("dropped a malformed fan-out chunk", extra={"messageId": message_id})
            continue
        report = fanout.deliver_chunk(frames, connections)
        posts += report.posts
        gone += report.gone
        if report.failed_sequence_numbers:
            failures.append({"itemIdentifier": message_id})
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    log.info(
        "fan-out chunks",
        extra={"posts": posts, "gone": gone, "failed": len(failures), "durationMs": duration_ms},
    )
    metrics.emit(
        "fanout_worker",
        {"Posts": posts, "GoneConnections": gone, "BatchItemFailures": len(failures)},
        {"FanOutDuration": duration_ms},
    )
    return {"batchItemFailures": failures}
