"""API Gateway ids, times and the parts of events that REST and WebSocket share."""

from __future__ import annotations

import base64
import os
import string
import time
from collections.abc import Iterable
from typing import Any

from multidict import CIMultiDictProxy, MultiMapping

from localcloud.motoserver import ACCOUNT_ID as ACCOUNT_ID
from localcloud.motoserver import REGION as REGION


def aws_id() -> str:
    """API Gateway style ids (connection ids, request ids): 16 characters ending in '='."""
    return base64.urlsafe_b64encode(os.urandom(11)).decode("ascii")


def api_id() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(alphabet[b % len(alphabet)] for b in os.urandom(10))


def epoch_ms(now: float | None = None) -> int:
    return int((time.time() if now is None else now) * 1000)


def request_time(now: float | None = None) -> str:
    """API Gateway's requestTime: 24/Nov/2026:18:55:04 +0000."""
    return time.strftime(
        "%d/%b/%Y:%H:%M:%S +0000", time.gmtime(time.time() if now is None else now)
    )


def iso8601(epoch_seconds: float) -> str:
    millis = int(round((epoch_seconds % 1) * 1000)) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_seconds)) + f".{millis:03d}Z"


def header_maps(
    headers: CIMultiDictProxy[str], extra: Iterable[tuple[str, str]] = ()
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """`headers` (the last value of each) and `multiValueHeaders`, names as the client sent
    them, plus the X-Forwarded-* headers API Gateway adds."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in [*headers.items(), *extra]:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def query_maps(
    query: MultiMapping[str],
) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    if not query:
        return None, None
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in query.items():
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def forwarded_headers(remote: str | None, port: int) -> list[tuple[str, str]]:
    return [
        ("X-Forwarded-For", remote or ""),
        ("X-Forwarded-Port", str(port)),
        ("X-Forwarded-Proto", "http"),
    ]


def identity(remote: str | None, user_agent: str | None) -> dict[str, Any]:
    return {"sourceIp": remote or "", "userAgent": user_agent or ""}
