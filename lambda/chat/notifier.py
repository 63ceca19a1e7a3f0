"""Posting frames to WebSocket connections through the API Gateway Management API."""

from __future__ import annotations

import functools
import hashlib
import hmac
import http.client
import json
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import boto3
from botocore.awsrequest import AWSPreparedRequest
from botocore.exceptions import BotoCoreError, ClientError
from botocore.utils import percent_encode

from chat.models import Connection
from chat.store import ConnectionsStore

log = logging.getLogger(__name__)


# The one bound on posting a frame: at most this many HTTP posts per frame per invocation, 429,
# 5xx and connection errors retried with full-jitter backoff between them. Nothing above the
# poster (FanOut, Notifier, DirectReplies) retries a post again.
POST_ATTEMPTS = 3


class GoneConnectionError(Exception):
    """The connection is closed (410 Gone): it will never accept another frame."""


class DeliveryError(Exception):
    """A post failed for another reason; it may succeed if tried again."""


def encode_frame(frame: dict[str, Any]) -> bytes:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class SigV4Signer:
    """AWS Signature Version 4 for the Management API's one request shape: a POST with a body
    to `/@connections/{id}` on one host. The same algorithm as botocore's `SigV4Auth` (a test
    compares the two on the same request), without its per-request work: the signing key is
    derived once per day and credentials, and only the headers we send are signed."""

    def __init__(self, region: str, service: str = "execute-api") -> None:
        self.region = region
        self.service = service
        self._keys: dict[tuple[str, str], bytes] = {}

    def _key(self, secret: str, day: str) -> bytes:
        key = self._keys.get((secret, day))
        if key is None:
            key = ("AWS4" + secret).encode("utf-8")
            for part in (day, self.region, self.service, "aws4_request"):
                key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
            self._keys = {(secret, day): key}  # only today's key is kept
        return key

    def headers(
        self, credentials: Any, host: str, path: str, body: bytes, now: datetime | None = None
    ) -> dict[str, str]:
        """The headers to send (Host not included: the HTTP client adds it)."""
        amz_date = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        day = amz_date[:8]
        signed = {"host": host, "x-amz-date": amz_date}
        if credentials.token:
            signed["x-amz-security-token"] = credentials.token
        names = ";".join(sorted(signed))
        canonical = "\n".join(
            [
                "POST",
                quote(path, safe="/~"),  # the path as sent, encoded once more, as SigV4 asks
                "",
                *(f"{name}:{signed[name]}" for name in sorted(signed)),
                "",
                names,
                hashlib.sha256(body).hexdigest(),
            ]
        )
        scope = f"{day}/{self.region}/{self.service}/aws4_request"
        to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256",
                amz_date,
                scope,
                hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
            ]
        )
        signature = hmac.new(
            self._key(credentials.secret_key, day), to_sign.encode("utf-8"), hashlib.sha256
        ).hexdigest()
        headers = {k: v for k, v in signed.items() if k != "host"}
        headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={names}, Signature={signature}"
        )
        return headers


@functools.lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """One TLS context per process, made on the first HTTPS post: loading the CA store takes
    about 50 ms, which an import (a cold start, or every test's fresh handlers) need not pay."""
    return ssl.create_default_context()


class ManagementApiPoster:
    """Posts frames through the API Gateway Management API: one SigV4-signed HTTP POST per
    frame over a keep-alive connection per thread.

    Built from a boto3 `apigatewaymanagementapi` client (its endpoint, region, read timeout
    and event hooks), but it does not call `post_to_connection`: botocore's per-call pipeline
    (parameter validation, serialisation, endpoint rules, a dozen event hooks, response
    parsing) and urllib3's pool cost most of a fan-out's CPU (see docs/benchmarks.md). What
    is kept: SigV4 (`SigV4Signer`, checked against botocore's) and the client's `before-send`
    hook, so moto and other stubbers still answer the request. Proxies are not supported
    (Lambda has none).

    410 is `GoneConnectionError`. 429, 5xx and connection errors are retried, at most
    `attempts` (POST_ATTEMPTS) tries in all, sleeping a full-jitter exponential backoff between
    them; then `DeliveryError`. Any other status is a `DeliveryError` at once. These are the
    only retries of a post: callers never retry a `DeliveryError` themselves.
    """

    RETRYABLE = frozenset({429, 500, 502, 503, 504})

    def __init__(
        self,
        client: Any,
        credentials: Any = None,
        attempts: int = POST_ATTEMPTS,
        backoff_seconds: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        meta = client.meta
        endpoint = urlsplit(meta.endpoint_url)
        if endpoint.scheme not in ("http", "https") or not endpoint.hostname:
            raise ValueError(f"not an http(s) endpoint: {meta.endpoint_url!r}")
        self.client = client
        self.endpoint = meta.endpoint_url.rstrip("/")
        self.secure = endpoint.scheme == "https"
        self.host = endpoint.netloc
        self.base_path = endpoint.path.rstrip("/")
        self.timeout = float(meta.config.read_timeout)
        self.signer = SigV4Signer(meta.region_name)
        self.events = meta.events
        self.event_name = (
            f"before-send.{meta.service_model.service_id.hyphenize()}.PostToConnection"
        )
        # boto3's default session (which made the client): a new Session would register its
        # hundreds of event handlers again, tens of milliseconds per poster.
        self.credentials = (
            credentials
            if credentials is not None
            else boto3._get_default_session().get_credentials()
        )
        if self.credentials is None:
            raise ValueError("no AWS credentials to sign Management API posts with")
        self.attempts = max(1, attempts)
        self.backoff_seconds = backoff_seconds
        self.sleep = sleep
        self.jitter = jitter
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: set[http.client.HTTPConnection] = set()

    def post(self, connection_id: str, data: bytes) -> None:
        path = f"{self.base_path}/@connections/{percent_encode(connection_id)}"
        for attempt in range(1, self.attempts + 1):
            try:
                status = self._send(path, data)
                failure = f"HTTP {status}"
            except (OSError, http.client.HTTPException, BotoCoreError) as e:
                status, failure = None, f"{type(e).__name__}: {e}"
            if status is not None and 200 <= status < 300:
                return
            if status == 410:
                raise GoneConnectionError(connection_id)
            if status is not None and status not in self.RETRYABLE:
                raise DeliveryError(f"post to {connection_id} failed: {failure}")
            if attempt == self.attempts:
                raise DeliveryError(
                    f"post to {connection_id} failed after {attempt} attempts: {failure}"
                )
            self.sleep(self.jitter() * self.backoff_seconds * (2 ** (attempt - 1)))

    def delete(self, connection_id: str) -> None:
        """DeleteConnection: API Gateway closes the connection, and runs its $disconnect. Rare
        (log out everywhere), so through the boto3 client and its retries, not `_send`.
        410 is `GoneConnectionError`, any other failure `DeliveryError`."""
        try:
            self.client.delete_connection(ConnectionId=connection_id)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "GoneException":
                raise GoneConnectionError(connection_id) from e
            raise DeliveryError(f"delete of {connection_id} failed: {e}") from e
        except BotoCoreError as e:
            raise DeliveryError(f"delete of {connection_id} failed: {e}") from e

    def _send(self, path: str, data: bytes) -> int:
        headers = self.signer.headers(
            self.credentials.get_frozen_credentials(), self.host, path, data
        )
        stubbed = self._stubbed(path, headers, data)
        if stubbed is not None:
            return stubbed
        connection = self._connection()
        try:
            connection.request("POST", path, body=data, headers=headers)
            response = connection.getresponse()
            response.read()
        except BaseException:
            connection.close()
            self._local.connection = None
            raise
        if response.will_close:
            connection.close()
            self._local.connection = None
        return int(response.status)

    def _stubbed(self, path: str, headers: dict[str, str], data: bytes) -> int | None:
        """What a `before-send` hook (moto, botocore's Stubber) answers, if one does."""
        request = AWSPreparedRequest(
            "POST", f"{self.endpoint}{path[len(self.base_path) :]}", headers, data, False
        )
        _, response = self.events.emit_until_response(self.event_name, request=request)
        return None if response is None else int(response.status_code)

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            if self.secure:
                connection = http.client.HTTPSConnection(
                    self.host, timeout=self.timeout, context=_tls_context()
                )
            else:
                connection = http.client.HTTPConnection(self.host, timeout=self.timeout)
            self._local.connection = connection
            with self._lock:
                self._connections.add(connection)
        return connection

    def close(self) -> None:
        """Close every thread's keep-alive connection (the next post opens a new one)."""
        with self._lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            connection.close()
        self._local = threading.local()


class Notifier:
    """Sends control events (join requests, approvals, presence) to users and rooms.

    Stale connections found on the way (410 Gone) are removed; other failures are logged and
    dropped: these events are hints that a client can always re-read (members, rooms).
    """

    def __init__(self, poster: Any, connections: ConnectionsStore, executor: Executor) -> None:
        self.poster = poster
        self.connections = connections
        self.executor = executor

    def to_connections(self, connections: Iterable[Connection], frame: dict[str, Any]) -> int:
        data = encode_frame(frame)
        results = list(self.executor.map(lambda c: self._post(c, data), list(connections)))
        return sum(results)

    def to_user(self, username: str, frame: dict[str, Any]) -> int:
        return self.to_connections(self.connections.of_user(username), frame)

    def to_room(self, room_id: str, frame: dict[str, Any], exclude_user: str | None = None) -> int:
        targets = self.connections.of_room(room_id)
        if exclude_user is not None:
            targets = [c for c in targets if c.username.lower() != exclude_user.lower()]
        return self.to_connections(targets, frame)

    def disconnect_user(self, username: str) -> int:
        """Closes every open connection of the user (DeleteConnection, concurrently); how many
        were open and are now closed. One that had gone already (410) is removed."""
        connections = self.connections.of_user(username)
        return sum(self.executor.map(lambda c: self._call(c, self.poster.delete), connections))

    def _post(self, connection: Connection, data: bytes) -> int:
        return self._call(connection, lambda connection_id: self.poster.post(connection_id, data))

    def _call(self, connection: Connection, call: Callable[[str], None]) -> int:
        """1 if `call` (a post or a delete) reached the connection; a gone one is removed, any
        other failure is logged and dropped (0)."""
        try:
            call(connection.connection_id)
            return 1
        except GoneConnectionError:
            self.connections.remove_gone(connection.connection_id, time.time())
        except DeliveryError:
            log.warning("not delivered", extra={"connectionId": connection.connection_id})
        return 0


class DirectReplies:
    """Posts a frame to the one connection that sent an action: the error replies of a one-way
    route. A gone sender needs nothing more ($disconnect removes its items), so this needs no
    access to the connections table; any other failure is logged and dropped, like Notifier's."""

    def __init__(self, poster: Any) -> None:
        self.poster = poster

    def send(self, connection_id: str, frame: dict[str, Any]) -> None:
        try:
            self.poster.post(connection_id, encode_frame(frame))
        except GoneConnectionError:
            pass
        except DeliveryError:
            log.warning("reply not delivered", extra={"connectionId": connection_id})
