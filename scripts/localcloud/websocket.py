"""The WebSocket API and its Management API, with API Gateway's behaviour.

- Handshake: the REQUEST authorizer (when the `$connect` route has `authorizer = true`), then
  the `$connect` route; a missing identity source is 401, a Deny 403, an authorizer failure
  500, a non-2xx `$connect` that status: in every case no connection is left behind.
- Frames: route selection by `$request.body.action`, falling back to `$default`; two-way
  routes (`reply = true`) send the function's returned `body` back as one frame; a function
  error sends `{"message": "Internal server error", ...}`.
- Limits: frames over 32 KB close the connection with 1009; idle and maximum lifetimes.
- `$disconnect` once per connection, whoever closed it.
- Management API: POST / GET / DELETE `/@connections/{id}` (also under `/{stage}`), 410
  `GoneException` for an id that is not connected.
"""

from __future__ import annotations

import asyncio
import base64
import fnmatch
import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSCloseCode, WSMsgType, web

from localcloud import events
from localcloud.faults import MANAGEMENT_STATUSES
from localcloud.functions import FunctionError
from localcloud.terraform import Route

if TYPE_CHECKING:
    from localcloud.app import LocalCloud

log = logging.getLogger("localcloud")

# API Gateway WebSocket quotas.
MAX_FRAME_BYTES = 32 * 1024
MAX_POST_BYTES = 128 * 1024
# Frames a client may have in flight (being handled) at once; reading pauses past it.
MAX_IN_FLIGHT = 64
# How long a Management API post may wait for a slow client before it is refused (429).
SEND_TIMEOUT = 5.0
# A post that arrives after $connect returned 200 but before the upgrade is written waits this
# long for it (a few event-loop steps); a post while $connect still runs is 410, as on AWS,
# where a connection exists only once $connect has succeeded.
HANDSHAKE_WAIT = 2.0


@dataclass
class Connection:
    connection_id: str
    connected_at: float  # epoch seconds
    source_ip: str
    user_agent: str
    authorizer: dict[str, Any]
    ws: web.WebSocketResponse | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    open: bool = False
    connect_returned: bool = False  # $connect succeeded; the upgrade is being completed
    last_active: float = field(default_factory=time.time)
    closing_reason: str | None = None
    in_flight: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_IN_FLIGHT))
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def user(self) -> str:
        value = self.authorizer.get("username") or self.authorizer.get("principalId") or "-"
        return str(value)

    def touch(self) -> None:
        self.last_active = time.time()


class Reject(Exception):
    def __init__(self, status: int, message: str, outcome: str) -> None:
        super().__init__(outcome)
        self.status = status
        self.message = message


# The shape of a SigV4 Authorization header for the Management API (execute-api). The local cloud's
# credentials are fake, so the signature itself is not verified: presence and shape are.
SIGV4_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 "
    r"Credential=[A-Za-z0-9]+/\d{8}/[a-z0-9-]+/execute-api/aws4_request, ?"
    r"SignedHeaders=[a-z0-9-]+(;[a-z0-9-]+)*, ?"
    r"Signature=[0-9a-f]{64}"
)


MISSING_TOKEN = "Missing Authentication Token"  # noqa: S105 (API Gateway's message, no secret)


def _log_task_failure(task: asyncio.Task[Any]) -> None:
    """Done callback: a frame task's exception is logged, never dropped silently."""
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("ws  frame task failed: %r", error, exc_info=error)


def _policy_allows(policy: Any, method_arn: str) -> bool:
    """IAM evaluation for an authorizer's policy: an explicit Deny wins, else an Allow of
    execute-api:Invoke on a resource matching the method ARN."""
    if not isinstance(policy, dict):
        return False
    statements = policy.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]

    def as_list(value: Any) -> list[str]:
        return [value] if isinstance(value, str) else [str(v) for v in value or []]

    def applies(statement: dict[str, Any]) -> bool:
        actions = as_list(statement.get("Action"))
        resources = as_list(statement.get("Resource"))
        action_ok = any(fnmatch.fnmatchcase("execute-api:Invoke", a) for a in actions)
        resource_ok = any(fnmatch.fnmatchcase(method_arn, r) for r in resources)
        return action_ok and resource_ok

    allowed = False
    for statement in statements:
        if not isinstance(statement, dict) or not applies(statement):
            continue
        effect = str(statement.get("Effect", "")).lower()
        if effect == "deny":
            return False
        if effect == "allow":
            allowed = True
    return allowed


class WebSocketGateway:
    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.connections: dict[str, Connection] = {}
        self.handlers: set[asyncio.Task[Any]] = set()

    # -- events ---------------------------------------------------------------------------------

    def _context(
        self, connection: Connection, route_key: str, event_type: str, request_id: str, now: float
    ) -> dict[str, Any]:
        cloud = self.cloud
        context: dict[str, Any] = {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": request_id,
            "requestTime": events.request_time(now),
            "messageDirection": "IN",
            "stage": cloud.stage,
            "connectedAt": events.epoch_ms(connection.connected_at),
            "requestTimeEpoch": events.epoch_ms(now),
            "identity": {"userAgent": connection.user_agent, "sourceIp": connection.source_ip},
            "requestId": request_id,
            "domainName": cloud.domain_name,
            "connectionId": connection.connection_id,
            "apiId": cloud.api_id,
        }
        if connection.authorizer:
            context["authorizer"] = dict(connection.authorizer)
        return context

    def authorizer_event(
        self, request: web.Request, connection: Connection, request_id: str, now: float
    ) -> dict[str, Any]:
        cloud = self.cloud
        headers, multi_headers = events.header_maps(
            request.headers, events.forwarded_headers(request.remote, cloud.port)
        )
        query, multi_query = events.query_maps(request.query)
        context = self._context(connection, "$connect", "CONNECT", request_id, now)
        context.pop("authorizer", None)
        return {
            "type": "REQUEST",
            "methodArn": (
                f"arn:aws:execute-api:{events.REGION}:{events.ACCOUNT_ID}:"
                f"{cloud.api_id}/{cloud.stage}/$connect"
            ),
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": query or {},
            "multiValueQueryStringParameters": multi_query or {},
            "stageVariables": {},
            "requestContext": context,
        }

    def connect_event(
        self, request: web.Request, connection: Connection, request_id: str, now: float
    ) -> dict[str, Any]:
        headers, multi_headers = events.header_maps(
            request.headers, events.forwarded_headers(request.remote, self.cloud.port)
        )
        query, multi_query = events.query_maps(request.query)
        event: dict[str, Any] = {"headers": headers, "multiValueHeaders": multi_headers}
        if query:
            event["queryStringParameters"] = query
            event["multiValueQueryStringParameters"] = multi_query
        event["requestContext"] = self._context(connection, "$connect", "CONNECT", request_id, now)
        event["isBase64Encoded"] = False
        return event

    def message_event(
        self, connection: Connection, route_key: str, body: str, is_base64: bool, request_id: str
    ) -> dict[str, Any]:
        now = time.time()
        context = self._context(connection, route_key, "MESSAGE", request_id, now)
        context["messageId"] = events.aws_id()
        return {"requestContext": context, "body": body, "isBase64Encoded": is_base64}

    def disconnect_event(
        self, connection: Connection, code: int | None, reason: str
    ) -> dict[str, Any]:
        now = time.time()
        host = self.cloud.domain_name
        headers = {"Host": host, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
        context = self._context(connection, "$disconnect", "DISCONNECT", events.aws_id(), now)
        context["disconnectStatusCode"] = code if code is not None else 1005
        context["disconnectReason"] = reason
        return {
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "requestContext": context,
            "isBase64Encoded": False,
        }

    # -- handshake ------------------------------------------------------------------------------

    def _missing_identity(self, request: web.Request) -> str | None:
        authorizer = self.cloud.topology.authorizer
        if authorizer is None:
            return None
        for source in authorizer.identity_sources:
            parts = source.split(".")
            if len(parts) == 4 and parts[:2] == ["route", "request"]:
                where, name = parts[2], parts[3]
                if where == "querystring" and not request.query.get(name):
                    return source
                if where == "header" and not request.headers.get(name):
                    return source
        return None

    async def _authorize(
        self, request: web.Request, connection: Connection, request_id: str, now: float
    ) -> None:
        cloud = self.cloud
        authorizer = cloud.topology.authorizer
        if authorizer is None:
            return
        missing = self._missing_identity(request)
        if missing is not None:
            raise Reject(401, "Unauthorized", f"401 identity source {missing} missing")
        event = self.authorizer_event(request, connection, request_id, now)
        started = time.monotonic()
        try:
            policy, _, _ = await cloud.invoker.invoke(authorizer.function, event)
        except FunctionError as e:
            if str(e.__cause__) == "Unauthorized":
                raise Reject(401, "Unauthorized", "401 authorizer raised Unauthorized") from e
            raise Reject(500, "Internal server error", f"500 authorizer failed: {e}") from e
        latency = int((time.monotonic() - started) * 1000)
        if not isinstance(policy, dict) or "policyDocument" not in policy:
            raise Reject(500, "Internal server error", "500 authorizer returned no policy")
        if not _policy_allows(policy.get("policyDocument"), event["methodArn"]):
            raise Reject(403, "Forbidden", "403 denied by authorizer")
        context = policy.get("context") or {}
        if not isinstance(context, dict) or any(
            not isinstance(v, str | int | float | bool) for v in context.values()
        ):
            raise Reject(
                500,
                "Internal server error",
                "500 authorizer context values must be strings, numbers or booleans",
            )
        connection.authorizer = {
            **context,
            "principalId": policy.get("principalId"),
            "integrationLatency": latency,
        }

    async def _connect_route(
        self, request: web.Request, connection: Connection, request_id: str, now: float
    ) -> None:
        route = self.cloud.topology.routes.get("$connect")
        if route is None:
            return
        event = self.connect_event(request, connection, request_id, now)
        try:
            result, _, _ = await self.cloud.invoker.invoke(route.function, event)
        except FunctionError as e:
            raise Reject(500, "Internal server error", f"500 $connect failed: {e}") from e
        status = result.get("statusCode") if isinstance(result, dict) else None
        if isinstance(status, str) and status.isdigit():
            status = int(status)
        if not isinstance(status, int) or not 200 <= status < 300:
            code = status if isinstance(status, int) and 400 <= status <= 599 else 500
            raise Reject(
                code,
                "Forbidden"
                if code == 403
                else "Unauthorized"
                if code == 401
                else "Internal server error",
                f"{code} $connect returned {status!r}",
            )

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        now = time.time()
        request_id = events.aws_id()
        connection = Connection(
            connection_id=events.aws_id(),
            connected_at=now,
            source_ip=request.remote or "",
            user_agent=request.headers.get("User-Agent", ""),
            authorizer={},
        )
        # aiohttp refuses payloads of max_msg_size bytes or more; API Gateway accepts 32 KB.
        ws = web.WebSocketResponse(
            max_msg_size=MAX_FRAME_BYTES + 1, compress=False, autoping=True, heartbeat=None
        )
        if not ws.can_prepare(request).ok:
            return web.Response(status=426, text="WebSocket upgrade required")
        # Registered (not yet open) before $connect runs: a post that lands between $connect's
        # success and the upgrade waits for the upgrade (the local cloud's own window, which
        # API Gateway does not have); one while $connect still runs is 410, as on AWS.
        self.connections[connection.connection_id] = connection
        try:
            route = self.cloud.topology.routes.get("$connect")
            if route is not None and route.authorizer:
                await self._authorize(request, connection, request_id, now)
            await self._connect_route(request, connection, request_id, now)
            connection.connect_returned = True
            await ws.prepare(request)
        except Reject as e:
            self._drop(connection)
            log.info(
                "ws  CONNECT    $connect      conn=%s user=%s %.1fms rejected: %s",
                connection.connection_id,
                connection.user,
                (time.monotonic() - started) * 1000,
                e,
            )
            return web.Response(
                status=e.status,
                text=json.dumps({"message": e.message}),
                content_type="application/json",
            )
        except BaseException:
            self._drop(connection)
            raise
        connection.ws = ws
        connection.open = True
        connection.touch()
        connection.ready.set()
        log.info(
            "ws  CONNECT    $connect      conn=%s user=%s %.1fms ok",
            connection.connection_id,
            connection.user,
            (time.monotonic() - started) * 1000,
        )
        task = asyncio.current_task()
        if task is not None:
            self.handlers.add(task)
        try:
            await self._read(connection, ws)
        finally:
            if task is not None:
                self.handlers.discard(task)
            await self._disconnect(connection, ws)
        return ws

    def _drop(self, connection: Connection) -> None:
        connection.open = False
        self.connections.pop(connection.connection_id, None)
        connection.ready.set()

    # -- frames ---------------------------------------------------------------------------------

    async def _read(self, connection: Connection, ws: web.WebSocketResponse) -> None:
        async for message in ws:
            if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                connection.touch()
                await connection.in_flight.acquire()
                task = asyncio.create_task(self._frame(connection, message.type, message.data))
                connection.tasks.add(task)
                task.add_done_callback(connection.tasks.discard)
                task.add_done_callback(_log_task_failure)
            elif message.type == WSMsgType.ERROR:
                connection.closing_reason = f"error: {ws.exception()}"
                break

    def select_route(self, data: str | bytes, is_text: bool) -> str:
        routes = self.cloud.topology.routes
        if is_text:
            try:
                payload = json.loads(data)
            except (ValueError, RecursionError):
                # Not JSON, or nested deeper than the parser goes: API Gateway falls back to
                # $default for both, so the handler answers the frame.
                payload = None
            if isinstance(payload, dict):
                action = payload.get("action")
                if isinstance(action, str) and action in routes and not action.startswith("$"):
                    return action
        return "$default"

    async def _frame(self, connection: Connection, kind: WSMsgType, data: Any) -> None:
        started = time.monotonic()
        request_id = events.aws_id()
        outcome = "ok"
        route_key = "-"
        try:
            is_text = kind == WSMsgType.TEXT
            route_key = self.select_route(data, is_text)
            route = self.cloud.topology.routes.get(route_key)
            if route is None:
                outcome = "no route"
                await self._send_json(
                    connection,
                    {
                        "message": "Forbidden",
                        "connectionId": connection.connection_id,
                        "requestId": request_id,
                    },
                )
                return
            body = data if is_text else base64.b64encode(data).decode("ascii")
            event = self.message_event(connection, route_key, body, not is_text, request_id)
            outcome = await self._invoke_route(connection, route, event, request_id)
        except Exception as e:  # the client gets an answer for every frame, as from API Gateway
            outcome = f"error: {e!r}"
            log.exception("ws  frame on %s failed", route_key)
            await self._send_json(
                connection,
                {
                    "message": "Internal server error",
                    "connectionId": connection.connection_id,
                    "requestId": request_id,
                },
            )
        finally:
            connection.in_flight.release()
            log.info(
                "ws  MESSAGE    %-13s conn=%s user=%s %.1fms %s",
                route_key,
                connection.connection_id,
                connection.user,
                (time.monotonic() - started) * 1000,
                outcome,
            )

    async def _invoke_route(
        self, connection: Connection, route: Route, event: dict[str, Any], request_id: str
    ) -> str:
        try:
            result, _, _ = await self.cloud.invoker.invoke(route.function, event)
        except FunctionError as e:
            await self._send_json(
                connection,
                {
                    "message": "Internal server error",
                    "connectionId": connection.connection_id,
                    "requestId": request_id,
                },
            )
            return f"error: {e}"
        if route.reply and isinstance(result, dict):
            body = result.get("body")
            if body:
                await self._send(connection, body if isinstance(body, str) else json.dumps(body))
                return "ok (replied)"
        return "ok"

    async def _send_json(self, connection: Connection, frame: dict[str, Any]) -> None:
        await self._send(connection, json.dumps(frame))

    async def _send(self, connection: Connection, data: str | bytes) -> bool:
        ws = connection.ws
        if ws is None or not connection.open or ws.closed:
            return False
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                if isinstance(data, bytes):
                    await ws.send_bytes(data)
                else:
                    await ws.send_str(data)
        except (ConnectionError, RuntimeError):
            return False
        connection.touch()
        return True

    # -- closing --------------------------------------------------------------------------------

    async def close(self, connection: Connection, code: int, reason: str) -> None:
        connection.closing_reason = reason
        if connection.ws is not None and not connection.ws.closed:
            await connection.ws.close(code=code, message=reason.encode("utf-8")[:120])

    async def _disconnect(self, connection: Connection, ws: web.WebSocketResponse) -> None:
        started = time.monotonic()
        self._drop(connection)
        code = ws.close_code
        reason = connection.closing_reason or (
            f"Client-side close frame status code '{code}'" if code else "Connection lost"
        )
        route = self.cloud.topology.routes.get("$disconnect")
        outcome = "ok"
        if route is not None:
            event = self.disconnect_event(connection, code, reason)
            try:
                await self.cloud.invoker.invoke(route.function, event)
            except FunctionError as e:
                outcome = f"error: {e}"
        log.info(
            "ws  DISCONNECT $disconnect   conn=%s user=%s %.1fms %s (close %s: %s)",
            connection.connection_id,
            connection.user,
            (time.monotonic() - started) * 1000,
            outcome,
            code,
            reason,
        )

    async def reap(self, idle_timeout: float, max_lifetime: float) -> None:
        """Close idle connections and connections past the maximum lifetime."""
        interval = max(0.05, min(1.0, idle_timeout / 4, max_lifetime / 4))
        while True:
            await asyncio.sleep(interval)
            now = time.time()
            for connection in list(self.connections.values()):
                if not connection.open or connection.ws is None:
                    continue
                if now - connection.connected_at >= max_lifetime:
                    await self.close(
                        connection,
                        WSCloseCode.GOING_AWAY,
                        "Going away (maximum connection duration)",
                    )
                elif now - connection.last_active >= idle_timeout:
                    await self.close(
                        connection, WSCloseCode.GOING_AWAY, "Going away (idle timeout)"
                    )

    async def close_all(self, timeout: float = 5.0) -> None:
        for connection in list(self.connections.values()):
            if connection.open:
                await self.close(
                    connection, WSCloseCode.GOING_AWAY, "Going away (local cloud stopping)"
                )
        if self.handlers:
            await asyncio.wait(list(self.handlers), timeout=timeout)

    # -- Management API -------------------------------------------------------------------------

    async def _find(self, connection_id: str) -> Connection | None:
        connection = self.connections.get(connection_id)
        if connection is None:
            return None
        if not connection.ready.is_set():
            if not connection.connect_returned:
                return None
            try:
                await asyncio.wait_for(connection.ready.wait(), HANDSHAKE_WAIT)
            except TimeoutError:
                return None
        return connection if connection.open else None

    @staticmethod
    def _error(status: int, error_type: str, message: str) -> web.Response:
        return web.Response(
            status=status,
            text=json.dumps({"message": message}),
            content_type="application/json",
            headers={"x-amzn-ErrorType": error_type, "x-amzn-RequestId": events.aws_id()},
        )

    def _gone(self, connection_id: str) -> web.Response:
        log.info("mgmt %s @connections/%s -> 410 GoneException", "-", connection_id)
        return self._error(410, "GoneException", f"Connection {connection_id} is gone")

    def _injected(self, connection: Connection) -> web.Response | None:
        """An armed `management` fault's answer to a post (--faults only), else None."""
        faults = self.cloud.faults
        if faults is None:
            return None
        status = faults.management(connection.connection_id, connection.user)
        if status is None:
            return None
        error_type, message = MANAGEMENT_STATUSES[status]
        log.info(
            "mgmt POST @connections/%s -> %d %s (injected)",
            connection.connection_id,
            status,
            error_type,
        )
        if status == 410:  # the connection is gone: its client sees it close
            task = asyncio.create_task(
                self.close(connection, WSCloseCode.GOING_AWAY, "Gone (injected)")
            )
            connection.tasks.add(task)
            task.add_done_callback(connection.tasks.discard)
        return self._error(status, error_type, message)

    async def _post(self, request: web.Request, connection_id: str) -> web.Response:
        data = await request.read()
        if len(data) > MAX_POST_BYTES:
            return self._error(413, "PayloadTooLargeException", "Payload too large")
        connection = await self._find(connection_id)
        if connection is None:
            return self._gone(connection_id)
        injected = self._injected(connection)
        if injected is not None:
            return injected
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        ws = connection.ws
        assert ws is not None
        try:
            # asyncio.timeout, not wait_for: no task per post (most posts never wait).
            async with asyncio.timeout(SEND_TIMEOUT):
                if text is not None:
                    await ws.send_str(text)
                else:
                    await ws.send_bytes(data)
        except TimeoutError:
            return self._error(429, "LimitExceededException", "The client side buffer is full")
        except (ConnectionError, RuntimeError):
            return self._gone(connection_id)
        connection.touch()
        log.debug("mgmt POST @connections/%s -> 200 (%d bytes)", connection_id, len(data))
        return web.Response(status=200)

    async def management(self, request: web.Request) -> web.StreamResponse:
        connection_id = request.match_info["connection_id"]
        method = request.method
        if not SIGV4_AUTHORIZATION.fullmatch(request.headers.get("Authorization", "")):
            log.info("mgmt %s @connections/%s -> 403 unsigned", method, connection_id)
            return self._error(403, "MissingAuthenticationTokenException", MISSING_TOKEN)
        if method == "POST":
            return await self._post(request, connection_id)
        connection = await self._find(connection_id)
        if connection is None:
            return self._gone(connection_id)
        if method == "GET":
            body = {
                "connectedAt": events.iso8601(connection.connected_at),
                "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent},
                "lastActiveAt": events.iso8601(connection.last_active),
            }
            return web.json_response(body)
        if method == "DELETE":
            await self.close(
                connection, WSCloseCode.OK, "Connection deleted through the Management API"
            )
            log.info("mgmt DELETE @connections/%s -> 204", connection_id)
            return web.Response(status=204)
        return self._error(405, "MethodNotAllowedException", "Method not allowed")
