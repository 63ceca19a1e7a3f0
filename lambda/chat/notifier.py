"""Posting frames to WebSocket connections through the API Gateway Management API."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from concurrent.futures import Executor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

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
    """Adapter over boto3's apigatewaymanagementapi client."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def post(self, connection_id: str, data: bytes) -> None:
        try:
            self.client.post_to_connection(ConnectionId=connection_id, Data=data)
        except ClientError as e:
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if e.response.get("Error", {}).get("Code") == "GoneException" or status == 410:
                raise GoneConnectionError(connection_id) from e
            raise DeliveryError(f"post to {connection_id} failed: {e}") from e
        except BotoCoreError as e:
            raise DeliveryError(f"post to {connection_id} failed: {e}") from e


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
