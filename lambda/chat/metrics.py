"""CloudWatch metrics in the Embedded Metric Format: one JSON line on stdout per flush, which
Lambda's log pipeline turns into metrics with no API call and no extra permission.

Hand-written rather than Powertools' Metrics: the format is a dozen lines, and bench/cold_start.py
measures ~60 ms of import for the library (docs/design.md, "Powertools").
"""

from __future__ import annotations

import json
import sys
import time
from typing import TextIO

NAMESPACE = "ServerlessChat"


def emit(
    function: str,
    counts: dict[str, float],
    milliseconds: dict[str, float] | None = None,
    stream: TextIO | None = None,
) -> None:
    """One EMF record with dimension `Function`: `counts` as Count, `milliseconds` as ms."""
    values = {**counts, **(milliseconds or {})}
    definitions = [{"Name": name, "Unit": "Count"} for name in counts] + [
        {"Name": name, "Unit": "Milliseconds"} for name in (milliseconds or {})
    ]
    record = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {"Namespace": NAMESPACE, "Dimensions": [["Function"]], "Metrics": definitions}
            ],
        },
        "Function": function,
        **values,
    }
    print(json.dumps(record), file=stream or sys.stdout, flush=True)
