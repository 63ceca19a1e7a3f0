"""Benchmark 2: what one message costs, counted from the real calls the real handlers make.

For rooms of 2, 10 and 100 members (one connection each), one message goes through the real
send_message handler and the real stream processor (moto in-process for DynamoDB, Streams and the
Management API). botocore events count every DynamoDB request; capacity units are computed from
the request and response sizes by DynamoDB's rules (moto does not report consumed capacity):
a write is 1 WRU per KB of item (2 in a transaction), a read 0.5 RRU per 4 KB eventually
consistent (1 when strongly consistent), a Query or Scan is rounded up over the total size read.

    python bench/cost.py
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.common import BENCH_ENV, table

# us-east-1 list prices (AWS pricing pages; DynamoDB on-demand after its November 2024 cut).
PRICES = {
    "dynamodb_wru": 0.625 / 1e6,  # $ per write request unit, on-demand
    "dynamodb_rru": 0.125 / 1e6,  # $ per read request unit, on-demand
    "lambda_request": 0.20 / 1e6,  # $ per invocation
    "lambda_gb_second_arm64": 0.0000133334,  # $ per GB-second, arm64
    "apigw_ws_message": 1.00 / 1e6,  # $ per WebSocket message (first billion), 32 KB units
    "apigw_ws_connection_minute": 0.25 / 1e6,
}
MEMORY_MB = {"send_message": 256, "stream_processor": 512}  # terraform/locals.tf


class Meter:
    """Counts DynamoDB requests and request units from botocore's before/after-call events."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.wru = 0.0
        self.rru = 0.0
        self._pending: dict[int, dict[str, Any]] = {}

    def reset(self) -> None:
        self.requests.clear()
        self.wru = self.rru = 0.0

    def before(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        body = params.get("body") or b"{}"
        request = json.loads(body if isinstance(body, str) else body.decode())
        self._last = (model.name, request)

    def after(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        name, request = self._last
        self.requests[name] += 1
        size = lambda value: len(json.dumps(value))  # noqa: E731  (an item's size, near enough)
        if name == "PutItem":
            self.wru += math.ceil(size(request["Item"]) / 1024)
        elif name in ("UpdateItem", "DeleteItem"):
            self.wru += 1
        elif name == "BatchWriteItem":
            self.wru += sum(
                math.ceil(size(r.get("PutRequest", {}).get("Item", {})) / 1024) or 1
                for reqs in request["RequestItems"].values()
                for r in reqs
            )
        elif name == "TransactWriteItems":
            self.wru += 2 * len(request["TransactItems"])
        elif name == "GetItem":
            self.rru += 1.0 if request.get("ConsistentRead") else 0.5
        elif name == "BatchGetItem":
            # Billed as a GetItem per key asked for, found or not: 0.5 RRU per item under 4 KB
            # (1 when strongly consistent).
            self.rru += sum(
                (1.0 if read.get("ConsistentRead") else 0.5) * len(read.get("Keys", []))
                for read in request["RequestItems"].values()
            )
        elif name in ("Query", "Scan"):
            read = sum(size(i) for i in parsed.get("Items", []))
            self.rru += max(1, math.ceil(read / 4096)) * 0.5


@contextmanager
def metered_moto(meter: Meter) -> Iterator[None]:
    """moto in-process with the deployed tables, and `meter` counting every DynamoDB request of
    the default boto3 session for the duration of the block."""
    import boto3
    from moto import mock_aws

    from tests.unit.harness import _CLIENTS as harness_clients
    from tests.unit.schema import table_definitions

    with mock_aws():
        client = boto3.client("dynamodb")
        for definition in table_definitions("test").values():
            client.create_table(**definition)
        # Clients copy their session's event hooks when made: register before the handlers load.
        events = boto3._get_default_session().events
        events.register("before-call.dynamodb", meter.before)
        events.register("after-call.dynamodb", meter.after)
        # The harness shares boto3 clients across handler imports; clients made for another
        # measurement carry that Meter's hooks, so start from none.
        harness_clients.clear()
        try:
            yield
        finally:
            events.unregister("before-call.dynamodb", meter.before)
            events.unregister("after-call.dynamodb", meter.after)


def measure(room_size: int, batched: int = 0) -> dict[str, Any]:
    """One message's calls and durations; with `batched`, also what `batched` messages in one
    stream batch cost in API Gateway messages when every connection asked for `?batch=1`."""
    import os

    from chat import keys
    from chat.config import LimitSettings
    from chat.limits import Limiter
    from chat.models import OpenConnection
    from chat.notifier import encode_frame
    from chat.store import LimitsStore, connection_item
    from tests.unit.harness import Harness

    os.environ.update(
        {
            **BENCH_ENV,
            "USERS_TABLE": "test-users",
            "ROOMS_TABLE": "test-rooms",
            "CONNECTIONS_TABLE": "test-connections",
            "MESSAGES_TABLE": "test-messages",
            "LIMITS_TABLE": "test-limits",
            # Setting up a room of 100 signs up 100 users from one address: the limits go on
            # for the measured send only (below).
            "RATE_LIMITS_ENABLED": "false",
            "WS_MANAGEMENT_ENDPOINT": "https://wsapi12345.execute-api.us-east-1.amazonaws.com/v1",
        }
    )
    meter = Meter()
    with metered_moto(meter):
        chat = Harness()
        names = [f"user{i:03d}" for i in range(room_size)]
        tokens = {n: chat.signup_and_login(n) for n in names}
        conns = {n: chat.connect(tokens[n]) for n in names}
        room = chat.send(conns[names[0]], names[0], {"action": "createRoom", "name": "bench"})[
            "room"
        ]["roomId"]  # type: ignore[index]
        for n in names[1:]:
            chat.send(conns[n], n, {"action": "joinRoom", "roomId": room})
            chat.send(
                conns[names[0]], names[0], {"action": "approveJoin", "roomId": room, "username": n}
            )
        chat.pump()
        # sendMessage with the deployed default limits: its per-user bucket is one UpdateItem.
        send_message: Any = chat.modules["send_message"]  # a module: mypy cannot see its globals
        send_message.limits = Limiter(
            LimitsStore(chat.dynamodb.Table("test-limits")), LimitSettings(), time.time
        )
        meter.reset()
        started = time.perf_counter()
        chat.send(
            conns[names[1 % room_size]],
            names[1 % room_size],
            {"action": "sendMessage", "roomId": room, "text": "x" * 100},
        )
        send_ms = (time.perf_counter() - started) * 1000
        send = (dict(meter.requests), meter.wru, meter.rru)
        # The 100-message batch below is a load, not a user: the limits go off again.
        send_message.limits = Limiter(None, LimitSettings(enabled=False), time.time)
        meter.reset()
        event = chat.stream_event()
        started = time.perf_counter()
        result = chat.modules["stream_processor"].lambda_handler(event, None)
        fan_ms = (time.perf_counter() - started) * 1000
        fan = (dict(meter.requests), meter.wru, meter.rru)
        assert result == {"batchItemFailures": []}
        delivered = sum(
            1 for n in names for f in chat.frames(conns[n]) if f.get("type") == "message"
        )
        assert delivered == room_size, delivered
        billed = _batched_billing(chat, tokens, conns, room, batched, encode_frame)

        # The tutorial design: Scan the whole connections table for every message. Its cost
        # grows with every connection in the system; here, 1,000 of them.
        table_ = chat.dynamodb.Table("test-connections")
        with table_.batch_writer() as batch:
            for i in range(1000 - room_size):
                other = f"other{i}"
                meta = OpenConnection(other, other, "2026-11-24T00:00:00.000Z", 2**31, ())
                batch.put_item(Item=connection_item(meta))
        meter.reset()
        kwargs: dict[str, Any] = {
            "FilterExpression": "begins_with(pk, :p)",
            "ExpressionAttributeValues": {":p": keys.CONNECTION_PREFIX},
        }
        while True:
            page = table_.scan(**kwargs)
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        scan_rru = meter.rru
    return {
        "size": room_size,
        "send": send,
        "fan": fan,
        "send_ms": send_ms,
        "fan_ms": fan_ms,
        "scan_rru": scan_rru,
        "batched": batched,
        "batched_billed": billed,
    }


def _batched_billing(
    chat: Any, tokens: dict[str, str], conns: dict[str, str], room: str, count: int, encode: Any
) -> int:
    """API Gateway messages (32 KB units) the fan-out of `count` messages in one stream batch
    posts when every member's connection asked for `?batch=1` (0 when `count` is 0)."""
    if not count:
        return 0
    names = list(conns)
    batching = {n: chat.connect(tokens[n], batch="1") for n in names}
    for name, connection in conns.items():
        chat.disconnect(connection, name)
    for i in range(count):
        sender = names[i % len(names)]
        chat.send(
            batching[sender], sender, {"action": "sendMessage", "roomId": room, "text": "x" * 100}
        )
    assert chat.pump() == {"batchItemFailures": []}
    billed = received = 0
    for c in batching.values():
        for frame in chat.frames(c):
            billed += math.ceil(len(encode(frame)) / 32768)
            received += len(frame["items"]) if frame["type"] == "messageBatch" else 1
    assert received == count * len(names), received
    return billed


def dollars_per_million(
    m: dict[str, Any], per_batch: int, deliveries: float | None = None
) -> dict[str, float]:
    """$ per million messages; the stream processor's cost is shared by `per_batch` messages.
    `deliveries`: API Gateway messages posted per message sent (default: one per member)."""
    n = m["size"] if deliveries is None else deliveries
    wru = m["send"][1] + m["fan"][1]
    rru = m["send"][2] + m["fan"][2] / per_batch
    dynamo = wru * PRICES["dynamodb_wru"] + rru * PRICES["dynamodb_rru"]
    gb_s = (MEMORY_MB["send_message"] / 1024) * max(m["send_ms"], 1) / 1000 + (
        MEMORY_MB["stream_processor"] / 1024
    ) * max(m["fan_ms"], 1) / 1000 / per_batch
    lam = (1 + 1 / per_batch) * PRICES["lambda_request"] + gb_s * PRICES["lambda_gb_second_arm64"]
    apigw = (1 + n) * PRICES["apigw_ws_message"]
    return {
        k: v * 1e6
        for k, v in {
            "dynamodb": dynamo,
            "lambda": lam,
            "apigw": apigw,
            "total": dynamo + lam + apigw,
        }.items()
    }


def run(sizes: list[int]) -> str:
    measured = []
    for size in sizes:
        m = measure(size, batched=100)
        measured.append(m)
        print(f"  room of {size}: send {m['send'][0]}, fan-out {m['fan'][0]}", flush=True)
    rows = []
    for m in measured:
        one = dollars_per_million(m, 1)
        full = dollars_per_million(m, 100)
        batched = dollars_per_million(m, 100, m["batched_billed"] / m["batched"])
        tutorial_rru = m["scan_rru"] * PRICES["dynamodb_rru"] * 1e6
        rows.append(
            [
                m["size"],
                ", ".join(f"{k} {v}" for k, v in sorted(m["send"][0].items())),
                ", ".join(f"{k} {v}" for k, v in sorted(m["fan"][0].items())),
                f"{m['send'][1] + m['fan'][1]:g} / {m['send'][2] + m['fan'][2]:g}",
                "2 (1 + 1 per batch)",
                1 + m["size"],
                f"{one['dynamodb']:.2f} / {one['lambda']:.2f} / {one['apigw']:.2f} = **{one['total']:.2f}**",
                f"{full['total']:.2f}",
                f"{m['batched_billed'] / m['batched']:g} / **{batched['total']:.2f}**",
                f"{m['scan_rru']:g} RRU = +${tutorial_rru:.2f}",
            ]
        )
    headers = [
        "members",
        "sendMessage DynamoDB calls",
        "stream processor DynamoDB calls",
        "WRU / RRU per message",
        "Lambda invocations",
        "API Gateway messages",
        "$ per million messages, 1 message per batch (DynamoDB / Lambda / API GW = total)",
        "$ per million, 100 per batch",
        "100 per batch, clients with ?batch=1: API GW messages posted per message / $ per million",
        "tutorial Scan of 1,000 connections, extra per million",
    ]
    prices = ", ".join(
        f"{k} ${v * (1e6 if v < 1e-3 and 'gb' not in k else 1):g}{' per million' if v < 1e-3 and 'gb' not in k else ''}"
        for k, v in PRICES.items()
    )
    durations = "; ".join(
        f"{m['size']} members: send {m['send_ms']:.0f} ms, fan-out {m['fan_ms']:.0f} ms"
        for m in measured
    )
    return (
        "Per message sent, counted from the real handlers' calls (moto). Prices, us-east-1: "
        f"{prices}. Lambda GB-seconds use this machine's measured handler durations as an "
        f"estimate ({durations}) at the memory sizes in terraform/locals.tf. Connection minutes "
        "($0.25 per million) are billed separately and do not depend on messages.\n\n"
        + table(headers, rows)
    )


def main() -> None:
    print(run([2, 10, 100]))


if __name__ == "__main__":
    main()
