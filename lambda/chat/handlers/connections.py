"""$connect and $disconnect: keep the connections table (and its room/user indexes) true.

The authorizer has already checked the ticket; its context names the user. The lifecycle and
presence live in chat.connections.ConnectionService.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from chat.config import Settings
from chat.connections import ConnectionService
from chat.runtime import Stores, configure_logging, notifier

settings = Settings.from_env()
configure_logging(settings.log_level)
stores = Stores.from_settings(settings)
service = ConnectionService(stores.connections, stores.rooms, notifier(settings, stores), time.time)
log = logging.getLogger("chat.connections")


def on_connect(event: dict[str, Any]) -> dict[str, Any]:
    context = event["requestContext"]
    username = (context.get("authorizer") or {}).get("username")
    if not isinstance(username, str) or not username:
        return {"statusCode": 401, "body": "Unauthorized"}
    connection_id = str(context["connectionId"])
    # `?batch=1`: the client understands `messageBatch` frames (any other value: it does not).
    batches = (event.get("queryStringParameters") or {}).get("batch") == "1"
    service.open(connection_id, username, batches=batches)
    log.info("connected", extra={"connectionId": connection_id, "username": username})
    return {"statusCode": 200}


def on_disconnect(event: dict[str, Any]) -> dict[str, Any]:
    connection_id = str(event["requestContext"]["connectionId"])
    closed = service.close(connection_id)
    username = closed.username if closed else None
    log.info("disconnected", extra={"connectionId": connection_id, "username": username})
    return {"statusCode": 200}


ROUTES = {"$connect": on_connect, "$disconnect": on_disconnect}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    route = (event.get("requestContext") or {}).get("routeKey")
    handler = ROUTES.get(str(route))
    if handler is None:
        return {"statusCode": 400, "body": f"unexpected route {route!r}"}
    return handler(event)
