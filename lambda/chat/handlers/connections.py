"""$connect and $disconnect: keep the connections table (and its room/user indexes) true.

The authorizer has already checked the ticket; its context names the user. Presence events
tell the user's rooms when their first connection opens and their last one closes.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from chat.config import Settings
from chat.models import iso_now
from chat.rooms import PresenceService
from chat.runtime import Stores, configure_logging, notifier

# API Gateway closes every connection after 2 hours; the TTL only sweeps up after a lost
# $disconnect, so it sits a little past that.
CONNECTION_TTL_SECONDS = 2 * 3600 + 600

settings = Settings.from_env()
configure_logging(settings.log_level)
stores = Stores.from_settings(settings)
presence = PresenceService(stores.rooms, stores.connections, notifier(settings, stores))
log = logging.getLogger("chat.connections")


def on_connect(event: dict[str, Any]) -> dict[str, Any]:
    context = event["requestContext"]
    username = (context.get("authorizer") or {}).get("username")
    if not isinstance(username, str) or not username:
        return {"statusCode": 401, "body": "Unauthorized"}
    connection_id = str(context["connectionId"])
    now = time.time()
    was_online = bool(stores.connections.of_user(username))
    room_ids = presence.room_ids(username)
    stores.connections.add(
        connection_id, username, iso_now(now), int(now) + CONNECTION_TTL_SECONDS, room_ids
    )
    if not was_online:
        presence.announce(username, room_ids, online=True)
    log.info("connected", extra={"connectionId": connection_id, "username": username})
    return {"statusCode": 200}


def on_disconnect(event: dict[str, Any]) -> dict[str, Any]:
    connection_id = str(event["requestContext"]["connectionId"])
    meta = stores.connections.remove(connection_id)
    username = str(meta["username"]) if meta else None
    if meta and username and not stores.connections.of_user(username):
        presence.announce(username, sorted(meta.get("rooms", ())), online=False)
    log.info("disconnected", extra={"connectionId": connection_id, "username": username})
    return {"statusCode": 200}


ROUTES = {"$connect": on_connect, "$disconnect": on_disconnect}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    route = (event.get("requestContext") or {}).get("routeKey")
    handler = ROUTES.get(str(route))
    if handler is None:
        return {"statusCode": 400, "body": f"unexpected route {route!r}"}
    return handler(event)
