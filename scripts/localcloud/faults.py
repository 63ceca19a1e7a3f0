"""Fault injection for tests: only with `--faults`, never by default.

A control endpoint, `/_localcloud/faults`, arms rules that the local cloud's own parts obey:

- `management`: the Management API answers `status` (410, 429 or 500) to the next `count`
  posts, optionally only those to one `connectionId` or to one `username`'s connections;
- `dynamodb`: the next `count` DynamoDB calls of `operation` (e.g. `Query`, `PutItem`) made
  by the functions (or by one `function` of local.lambda_functions) fail with ProvisionedThroughputExceededException;
- `streamCrash`: the next `count` stream batches crash after `afterRecords` records (the
  function runs on those, then the invocation fails, as a container dying mid-batch);
- `streamDuplicate`: the next `count` stream batches are delivered twice.

`POST` arms one rule (JSON object with `kind`), `GET` reports the rules and counters, `DELETE`
clears them. Without `--faults` the endpoint answers 404 and no hook is installed.

DynamoDB throttling is a botocore `before-send` hook on boto3's default session, in the local
cloud's process, registered before the handlers are imported (their clients copy the session's
hooks). Why not a proxy in front of moto: the functions already run in this process, a hook
costs nothing when no rule is armed, it needs no second port or process, and the throttled
response goes through botocore's own retry logic exactly as a real 400 from DynamoDB would
(standard mode, 3 attempts), so `count` is counted per HTTP attempt. The local cloud's own
clients (stream poller, queues) use their own sessions and are never throttled.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web
from botocore.awsrequest import AWSResponse

from localcloud.functions import running

MANAGEMENT_STATUSES = {
    410: ("GoneException", "Connection is gone (injected)"),
    429: ("LimitExceededException", "Rate exceeded (injected)"),
    500: ("InternalServerErrorException", "Internal server error (injected)"),
}
KINDS = ("management", "dynamodb", "streamCrash", "streamDuplicate")
MAX_COUNT = 100_000
THROTTLE_BODY = json.dumps(
    {
        "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "message": "The level of configured provisioned throughput for the table was exceeded "
        "(injected by the local cloud)",
    }
).encode()


class FaultError(ValueError):
    """A rule that cannot be armed: the control endpoint answers 400 with this message."""


@dataclass
class Rule:
    kind: str
    count: int
    status: int | None = None
    connection_id: str | None = None
    username: str | None = None
    operation: str | None = None
    function: str | None = None
    after_records: int = 0
    fired: int = 0


def _int(body: dict[str, Any], name: str, low: int, high: int, default: int | None = None) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FaultError(f"'{name}' must be an integer from {low} to {high}")
    return value


def _text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and (not isinstance(value, str) or not value):
        raise FaultError(f"'{name}' must be a non-empty string")
    return value


def parse_rule(body: Any) -> Rule:
    if not isinstance(body, dict):
        raise FaultError("the body must be a JSON object")
    kind = body.get("kind")
    if kind not in KINDS:
        raise FaultError(f"'kind' must be one of {', '.join(KINDS)}")
    rule = Rule(kind=kind, count=_int(body, "count", 1, MAX_COUNT, 1))
    if kind == "management":
        rule.status = _int(body, "status", 0, 999)
        if rule.status not in MANAGEMENT_STATUSES:
            raise FaultError("'status' must be 410, 429 or 500")
        rule.connection_id = _text(body, "connectionId")
        rule.username = _text(body, "username")
    elif kind == "dynamodb":
        rule.operation = _text(body, "operation")
        if rule.operation is None:
            raise FaultError("'operation' (a DynamoDB operation name, e.g. Query) is required")
        rule.function = _text(body, "function")
    elif kind == "streamCrash":
        rule.after_records = _int(body, "afterRecords", 0, 10_000)
    return rule


class _Body:
    """The raw body of an injected AWSResponse (botocore reads it with .stream())."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Any:
        yield self.data


class Faults:
    """The armed rules and what they did. Thread-safe: the Management API consults it on the
    event loop, the DynamoDB hook on the functions' threads."""

    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self.management_posts: Counter[str] = Counter()  # username => posts received
        self._lock = threading.Lock()

    def arm(self, rule: Rule) -> None:
        with self._lock:
            self.rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self.management_posts.clear()

    def _take(self, kind: str, **match: Any) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.kind != kind or rule.fired >= rule.count:
                    continue
                if any(
                    getattr(rule, name) is not None and getattr(rule, name) != value
                    for name, value in match.items()
                ):
                    continue
                rule.fired += 1
                return rule
        return None

    def management(self, connection_id: str, username: str) -> int | None:
        """The status to answer this post with instead of delivering it, or None."""
        with self._lock:
            self.management_posts[username] += 1
        rule = self._take("management", connection_id=connection_id, username=username)
        return rule.status if rule is not None else None

    def stream_crash(self) -> int | None:
        rule = self._take("streamCrash")
        return rule.after_records if rule is not None else None

    def stream_duplicate(self) -> bool:
        return self._take("streamDuplicate") is not None

    def install_dynamodb_hook(self) -> None:
        import boto3

        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("before-send.dynamodb", self._dynamodb)

    def _dynamodb(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        function = getattr(running, "function", None)
        if self._take("dynamodb", operation=operation, function=function) is None:
            return None
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "injected"}
        return AWSResponse(request.url, 400, headers, _Body(THROTTLE_BODY))

    def report(self) -> dict[str, Any]:
        with self._lock:
            return {
                "rules": [asdict(r) for r in self.rules],
                "managementPosts": dict(self.management_posts),
            }


def control(faults: Faults | None) -> Any:
    """The handler of /_localcloud/faults: 404 unless the local cloud runs with --faults."""

    async def handle(request: web.Request) -> web.Response:
        return await _control(faults, request)

    return handle


async def _control(faults: Faults | None, request: web.Request) -> web.Response:
    if faults is None:
        return web.json_response(
            {"message": "fault injection is off (start the local cloud with --faults)"},
            status=404,
        )
    if request.method == "GET":
        return web.json_response(faults.report())
    if request.method == "DELETE":
        faults.clear()
        return web.json_response(faults.report())
    if request.method != "POST":
        return web.json_response({"message": "use GET, POST or DELETE"}, status=405)
    try:
        rule = parse_rule(json.loads(await request.text()))
    except ValueError as e:  # FaultError, or a body that is not JSON
        return web.json_response({"message": str(e)}, status=400)
    faults.arm(rule)
    return web.json_response(asdict(rule), status=201)
