"""$connect REQUEST authorizer: a single-use ticket (from POST /auth/ticket) in `?ticket=`.

The ticket is consumed atomically; Allow carries the username in the authorizer context, which
API Gateway hands to $connect and to every later route of the connection.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from chat.accounts import TicketService
from chat.config import Settings
from chat.runtime import Stores, configure_logging

settings = Settings.from_env()
configure_logging(settings.log_level)
stores = Stores.from_settings(settings)
tickets = TicketService(stores.users, time.time, settings.ticket_ttl_seconds)
log = logging.getLogger("chat.authorizer")


def policy(
    principal: str, effect: str, resource: str, context: dict[str, str] | None = None
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
    }
    if context:
        document["context"] = context
    return document


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ticket = (event.get("queryStringParameters") or {}).get("ticket")
    username = tickets.redeem(ticket if isinstance(ticket, str) else None)
    resource = str(event.get("methodArn", "*"))
    connection_id = (event.get("requestContext") or {}).get("connectionId")
    if username is None:
        log.info("connect denied", extra={"connectionId": connection_id, "outcome": "deny"})
        return policy("anonymous", "Deny", resource)
    log.info("connect allowed", extra={"connectionId": connection_id, "username": username})
    return policy(username, "Allow", resource, {"username": username})
