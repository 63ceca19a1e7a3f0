"""Posting frames to WebSocket connections through the API Gateway Management API."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import BotoCoreError
from botocore.httpsession import URLLib3Session
from botocore.utils import percent_encode

from chat.models import Connection
from chat.store import ConnectionsStore

log = logging.getLogger(__name__)


class GoneConnectionError(Exception):
    """The connection is closed (410 Gone): it will never accept another frame."""


class DeliveryError(Exception):
    """A post failed for another reason; it may succeed if tried again."""


def encode_frame(frame: dict[str, Any]) -> bytes:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class ManagementApiPoster:
    """Posts frames through the API Gateway Management API: one SigV4-signed HTTP POST per
    frame over a keep-alive connection pool.

    Built from a boto3 `apigatewaymanagementapi` client (its endpoint, region, timeouts, pool
    size and event hooks), but it does not call `post_to_connection`: botocore's per-call
    pipeline (parameter validation, serialisation, endpoint rules, a dozen event hooks,
    response parsing) cost about 1 ms of CPU per post, most of a fan-out's time (see
    docs/benchmarks.md). What is kept: botocore's own SigV4 signer and urllib3 session, and the
    `before-send` hook (so moto and other stubbers still see the request).

    410 is `GoneConnectionError`. 429, 5xx and connection errors are retried, at most
    `attempts` tries in all, sleeping a full-jitter exponential backoff between them; then
    `DeliveryError`. Any other status is a `DeliveryError` at once.
    """

    RETRYABLE = frozenset({429, 500, 502, 503, 504})

    def __init__(
        self,
        client: Any,
        credentials: Any = None,
        attempts: int = 3,
        backoff_seconds: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        meta = client.meta
        config = meta.config
        self.endpoint = meta.endpoint_url.rstrip("/")
        self.region = meta.region_name
        self.events = meta.events
        self.event_name = (
            f"before-send.{meta.service_model.service_id.hyphenize()}.PostToConnection"
        )
        self.credentials = (
            credentials if credentials is not None else boto3.session.Session().get_credentials()
        )
        if self.credentials is None:
            raise ValueError("no AWS credentials to sign Management API posts with")
        self.http = URLLib3Session(
            timeout=(config.connect_timeout, config.read_timeout),
            max_pool_connections=config.max_pool_connections,
            proxies=config.proxies,
        )
        self.attempts = max(1, attempts)
        self.backoff_seconds = backoff_seconds
        self.sleep = sleep
        self.jitter = jitter

    def post(self, connection_id: str, data: bytes) -> None:
        url = f"{self.endpoint}/@connections/{percent_encode(connection_id)}"
        for attempt in range(1, self.attempts + 1):
            try:
                status = self._send(url, data)
                failure = f"HTTP {status}"
            except BotoCoreError as e:  # connection refused, reset, timed out
                status, failure = None, str(e)
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

    def _send(self, url: str, data: bytes) -> int:
        request = AWSRequest(method="POST", url=url, data=data)
        SigV4Auth(self.credentials.get_frozen_credentials(), "execute-api", self.region).add_auth(
            request
        )
        prepared = request.prepare()
        _, stubbed = self.events.emit_until_response(self.event_name, request=prepared)
        response = stubbed if stubbed is not None else self.http.send(prepared)
        return int(response.status_code)


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

    def _post(self, connection: Connection, data: bytes) -> int:
        try:
            self.poster.post(connection.connection_id, data)
            return 1
        except GoneConnectionError:
            self.connections.remove_gone(connection.connection_id, time.time())
        except DeliveryError:
            log.warning("event not delivered", extra={"connectionId": connection.connection_id})
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
