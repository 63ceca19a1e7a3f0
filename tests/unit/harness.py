"""Drives the real Lambda handlers the way API Gateway and Lambda would, against moto."""

from __future__ import annotations

import functools
import importlib.util
import itertools
import json
import os
import sys
from importlib.machinery import ModuleSpec
from types import CodeType, ModuleType
from typing import Any
from unittest import mock
from urllib.parse import urlencode

import boto3
from boto3.dynamodb.types import TypeDeserializer
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from localcloud.motoserver import REGION
from tests.events import load_event
from tests.unit.schema import route_functions

HANDLERS = (
    "rest",
    "authorizer",
    "connections",
    "rooms",
    "send_message",
    "stream_processor",
    "room_purge",
    "fanout_worker",
)


class LambdaContext:
    function_name = "test"
    memory_limit_in_mb = 256
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def route_function(action: Any) -> str:
    """Which function API Gateway invokes for a frame (terraform/locals.tf websocket_routes;
    an action with no route of its own goes to $default)."""
    routes = route_functions()
    if isinstance(action, str) and not action.startswith("$") and action in routes:
        return routes[action]
    return routes["$default"]


_CLIENTS: dict[tuple[Any, ...], Any] = {}


def _shared(factory: Any) -> Any:
    """boto3.client/boto3.resource, but one object per service, endpoint and region for the
    session: making them was most of a handler module's import time. They hold no state of
    ours (moto's backends do, and are reset per test)."""

    def make(service_name: str, *args: Any, **kwargs: Any) -> Any:
        region = kwargs.get("region_name") or os.environ.get("AWS_REGION")
        key = (factory.__name__, service_name, kwargs.get("endpoint_url"), region)
        if key not in _CLIENTS:
            made = factory(service_name, *args, **kwargs)
            if hasattr(made, "Table"):
                # A DynamoDB Table object costs ~1.3 ms to make (boto3 builds its class from
                # the service model each time), 24 of them per test; it holds only its name.
                made.Table = functools.lru_cache(maxsize=None)(made.Table)
            _CLIENTS[key] = made
        return _CLIENTS[key]

    return make


_CODE: dict[str, tuple[ModuleSpec, CodeType]] = {}


def _handler_code(name: str) -> tuple[ModuleSpec, CodeType]:
    """A handler module's spec and compiled code, read once per process: importlib.reload
    reads and (with PYTHONDONTWRITEBYTECODE, as here) compiles the source again each time,
    two thirds of a reload's cost. The source does not change during a run."""
    qualified = f"chat.handlers.{name}"
    if qualified not in _CODE:
        spec = importlib.util.find_spec(qualified)
        assert spec is not None and spec.loader is not None, qualified
        code = spec.loader.get_code(qualified)  # type: ignore[attr-defined]
        _CODE[qualified] = (spec, code)
    return _CODE[qualified]


def fresh_handler(name: str) -> ModuleType:
    """A handler module executed anew in a new module object (what a new Lambda container
    does): its module-level settings, services and executors are built again from the current
    environment, and nothing of an earlier one's namespace survives."""
    spec, code = _handler_code(name)
    module = importlib.util.module_from_spec(spec)
    # As an import does: in sys.modules while it runs (dataclasses look their module up there)
    # and after, so `import chat.handlers.<name>` elsewhere gets this one.
    previous = sys.modules.get(spec.name)
    sys.modules[spec.name] = module
    try:
        with (
            mock.patch.object(boto3, "client", _shared(boto3.client)),
            mock.patch.object(boto3, "resource", _shared(boto3.resource)),
        ):
            exec(code, module.__dict__)  # noqa: S102  (what a loader does with the module)
    except BaseException:
        if previous is not None:
            sys.modules[spec.name] = previous
        else:
            sys.modules.pop(spec.name, None)
        raise
    setattr(importlib.import_module("chat.handlers"), name, module)
    return module


def fresh_handlers() -> dict[str, ModuleType]:
    """Every handler module executed anew (fresh_handler), so nothing a test changed survives."""
    return {name: fresh_handler(name) for name in HANDLERS}


class Harness:
    """Every handler module executed anew per test, against the per-test (reset) moto."""

    def __init__(self) -> None:
        self.modules = fresh_handlers()
        self._connection_ids = itertools.count(1)
        self.dynamodb = _shared(boto3.resource)("dynamodb")
        self.streams = _shared(boto3.client)("dynamodbstreams")
        self._shard_iterators: dict[str, str] | None = None
        self._read_offsets: dict[str, int] = {}

    # -- REST -------------------------------------------------------------------------------

    def rest(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        query: dict[str, str] | None = None,
        raw_body: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        event = load_event("rest_api_proxy")
        event["httpMethod"] = method
        event["path"] = path
        event["pathParameters"] = {"proxy": path.lstrip("/")}
        event["requestContext"]["httpMethod"] = method
        event["requestContext"]["path"] = "/dev" + path
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = (
            {k: [v] for k, v in query.items()} if query else None
        )
        if token is not None:
            event["headers"]["Authorization"] = f"Bearer {token}"
        event["body"] = (
            raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
        )
        response = self.modules["rest"].lambda_handler(event, LambdaContext())
        text = response.get("body") or ""
        return response["statusCode"], json.loads(text) if text else {}

    def login(self, username: str, password: str = "correct horse battery") -> str:
        status, body = self.rest(
            "POST", "/auth/login", {"username": username, "password": password}
        )
        assert status == 200, body
        return str(body["token"])

    def signup_and_login(self, username: str, password: str = "correct horse battery") -> str:
        status, _ = self.rest("POST", "/auth/signup", {"username": username, "password": password})
        assert status == 201
        return self.login(username, password)

    def ticket(self, token: str) -> str:
        status, body = self.rest("POST", "/auth/ticket", token=token)
        assert status == 201, body
        return str(body["ticket"])

    # -- WebSocket --------------------------------------------------------------------------

    def authorize(self, ticket: str | None, connection_id: str = "conn") -> dict[str, Any]:
        event = load_event("websocket_authorizer_request")
        event["queryStringParameters"] = {"ticket": ticket} if ticket is not None else {}
        event["multiValueQueryStringParameters"] = {"ticket": [ticket]} if ticket else {}
        event["requestContext"]["connectionId"] = connection_id
        result: dict[str, Any] = self.modules["authorizer"].lambda_handler(event, LambdaContext())
        return result

    def connect(self, token: str, batch: str | None = None) -> str:
        """Ticket, authorizer, $connect: what API Gateway does on a handshake (`batch`: the
        `?batch=` a client that takes `messageBatch` frames sends)."""
        # Real ids end in '='; moto's Management API keys connections by the URL-encoded id,
        # so the ids here avoid characters that need encoding.
        connection_id = f"Conn{next(self._connection_ids):04d}xIAMCJLQ"
        policy = self.authorize(self.ticket(token), connection_id)
        assert policy["policyDocument"]["Statement"][0]["Effect"] == "Allow", policy
        event = load_event("websocket_connect")
        event["requestContext"]["connectionId"] = connection_id
        event["requestContext"]["authorizer"] = {
            **policy["context"],
            "principalId": policy["principalId"],
        }
        event["queryStringParameters"] = {"ticket": "consumed"}
        if batch is not None:
            event["queryStringParameters"]["batch"] = batch
        response = self.modules["connections"].lambda_handler(event, LambdaContext())
        assert response["statusCode"] == 200
        # Moto's Management API stands in for API Gateway's side of the connection.
        self.frames(connection_id)
        return connection_id

    def disconnect(self, connection_id: str, username: str) -> None:
        event = load_event("websocket_disconnect")
        event["requestContext"]["connectionId"] = connection_id
        event["requestContext"]["authorizer"] = {"username": username, "principalId": username}
        response = self.modules["connections"].lambda_handler(event, LambdaContext())
        assert response["statusCode"] == 200

    def send(
        self, connection_id: str, username: str, frame: Any, raw: str | None = None
    ) -> dict[str, Any] | None:
        """One frame in; the direct reply (a two-way route's body) out, or None."""
        event = load_event("websocket_message")
        # Browsers send UTF-8 as is; \u-escaped astral characters would take 12 bytes each.
        body = raw if raw is not None else json.dumps(frame, ensure_ascii=False)
        action = frame.get("action") if isinstance(frame, dict) else None
        event["requestContext"]["routeKey"] = action if isinstance(action, str) else "$default"
        event["requestContext"]["connectionId"] = connection_id
        event["requestContext"]["authorizer"] = {"username": username, "principalId": username}
        event["body"] = body
        module = self.modules[route_function(action)]
        response = module.lambda_handler(event, LambdaContext())
        assert response["statusCode"] == 200
        text = response.get("body")
        return json.loads(text) if text else None

    # -- the room-purge queue (moto's SQS), as Lambda's SQS event source would drive it -----

    def run_purge_jobs(self, max_runs: int = 20) -> int:
        """Delivers every purge request waiting in the queue (and those the runs queue again)
        to the room_purge function; how many runs it made."""
        return self.run_queue("ROOM_PURGE_QUEUE_URL", "room_purge", max_runs)

    def run_fanout_jobs(self, max_runs: int = 200) -> int:
        """Delivers every chunk waiting in the FIFO fan-out queue to the fanout_worker
        function, in the queue's order; how many runs it made."""
        return self.run_queue("FANOUT_QUEUE_URL", "fanout_worker", max_runs)

    def run_queue(self, url_variable: str, function: str, max_runs: int) -> int:
        """What Lambda's SQS event source does, one message a run: failed ones come back."""
        sqs = boto3.client("sqs")
        url = os.environ[url_variable]
        runs = 0
        while runs < max_runs:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages")
            if not messages:
                return runs
            records = [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                }
                for m in messages
            ]
            result = self.modules[function].lambda_handler({"Records": records}, LambdaContext())
            runs += 1
            failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
            for record in records:
                if record["messageId"] not in failed:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=record["receiptHandle"])
        return runs

    # -- Management API (moto) --------------------------------------------------------------

    @property
    def _management(self) -> Any:
        return apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID][REGION]

    def frames(self, connection_id: str) -> list[dict[str, Any]]:
        """Frames posted to a connection since the last call (moto concatenates them)."""
        data = self._management.connections[connection_id].data.decode("utf-8")
        start = self._read_offsets.get(connection_id, 0)
        self._read_offsets[connection_id] = len(data)
        decoder = json.JSONDecoder()
        frames, index, text = [], 0, data[start:]
        while index < len(text):
            frame, index = decoder.raw_decode(text, index)
            frames.append(frame)
        return frames

    # -- DynamoDB Streams (moto) ------------------------------------------------------------

    def _init_stream(self) -> dict[str, str]:
        """An iterator at TRIM_HORIZON per shard, made at the first read: TRIM_HORIZON reads
        from the shard's start whenever it is asked for, so the records are the same as if made
        with the harness (most tests never read the stream: three calls saved)."""
        self._shard_iterators = {}
        table = self.dynamodb.meta.client.describe_table(TableName="test-messages")["Table"]
        self.stream_arn = table["LatestStreamArn"]
        description = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in description["Shards"]:
            iterator = self.streams.get_shard_iterator(
                StreamArn=self.stream_arn,
                ShardId=shard["ShardId"],
                ShardIteratorType="TRIM_HORIZON",
            )["ShardIterator"]
            self._shard_iterators[shard["ShardId"]] = iterator
        return self._shard_iterators

    def stream_event(self) -> dict[str, Any]:
        """New stream records since the last call, as Lambda's event source mapping sends them."""
        records: list[dict[str, Any]] = []
        iterators = self._shard_iterators
        if iterators is None:
            iterators = self._init_stream()
        for shard_id, iterator in list(iterators.items()):
            response = self.streams.get_records(ShardIterator=iterator)
            iterators[shard_id] = response["NextShardIterator"]
            for record in response["Records"]:
                dynamodb = dict(record["dynamodb"])
                created = dynamodb.get("ApproximateCreationDateTime")
                if created is not None and not isinstance(created, int | float):
                    dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
                records.append(
                    {
                        "eventID": record["eventID"],
                        "eventName": record["eventName"],
                        "eventVersion": record.get("eventVersion", "1.1"),
                        "eventSource": "aws:dynamodb",
                        "awsRegion": REGION,
                        "dynamodb": dynamodb,
                        "eventSourceARN": self.stream_arn,
                    }
                )
        return {"Records": records}

    def pump(self) -> dict[str, Any]:
        """Feed new stream records to the stream processor, as the event source mapping would."""
        event = self.stream_event()
        if not event["Records"]:
            return {"batchItemFailures": []}
        result: dict[str, Any] = self.modules["stream_processor"].lambda_handler(
            event, LambdaContext()
        )
        return result

    # -- reading tables directly, to prove that a rejected action changed nothing -----------

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Every item of every table, as a Scan returns them, read from moto's in-memory tables:
        through boto3, moto's response serialisation cost about 90 ms per snapshot."""
        tables = ("test-users", "test-rooms", "test-connections", "test-messages", "test-limits")
        backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]
        deserialize = TypeDeserializer().deserialize
        result = {}
        for name in tables:
            items = [
                {key: deserialize(value) for key, value in item.to_json()["Attributes"].items()}
                for item in backend.tables[name].all_items()
            ]
            result[name] = sorted(items, key=lambda i: json.dumps(i, sort_keys=True, default=str))
        return result

    def query_string(self, **params: str) -> str:
        return urlencode(params)
