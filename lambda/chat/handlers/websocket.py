"""Shared plumbing for the WebSocket action handlers: parse the frame, dispatch, shape the reply.

Every action validates its input before it touches a table; any ChatError becomes an `error`
frame with the error's code, and the connection stays open.

Two-way routes (`reply = true` in terraform/locals.tf) return the reply as the response body.
A one-way route (sendMessage) has no route response, so API Gateway drops any body: its errors
are posted to the caller's connection through the Management API instead (`post_error`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chat import protocol
from chat.errors import (
    ChatError,
    InvalidInputError,
    TooLargeError,
    UnauthorizedError,
    UnknownActionError,
    as_busy,
)
from chat.validation import parse_json_object, request_id

log = logging.getLogger("chat.websocket")

# API Gateway caps a WebSocket frame at 32 KB; anything bigger never reaches a handler.
MAX_FRAME_BYTES = 32 * 1024


@dataclass(frozen=True)
class Caller:
    connection_id: str
    username: str


Action = Callable[[Caller, dict[str, Any]], dict[str, Any] | None]


def caller_of(event: dict[str, Any]) -> Caller:
    context = event.get("requestContext") or {}
    authorizer = context.get("authorizer") or {}
    username = authorizer.get("username")
    if not isinstance(username, str) or not username:
        raise UnauthorizedError("This connection is not authenticated.")
    return Caller(connection_id=str(context.get("connectionId", "")), username=username)


def reply(frame: dict[str, Any] | None) -> dict[str, Any]:
    if frame is None:
        return {"statusCode": 200}
    return {"statusCode": 200, "body": json.dumps(frame, ensure_ascii=False)}


ErrorPoster = Callable[[str, dict[str, Any]], None]


def dispatch(
    event: dict[str, Any], actions: Mapping[str, Action], post_error: ErrorPoster | None = None
) -> dict[str, Any]:
    """Run the frame's action. With `post_error` (one-way routes), errors go to the caller's
    connection through it and the response carries no body."""
    reply_with = reply if post_error is None else _posting(post_error, event)
    started = time.perf_counter()
    action: str | None = None
    req_id: str | None = None
    outcome = "ok"
    connection_id = (event.get("requestContext") or {}).get("connectionId")
    try:
        body = event.get("body")
        if body is not None and len(body.encode("utf-8", errors="surrogatepass")) > MAX_FRAME_BYTES:
            raise TooLargeError(f"Frames are at most {MAX_FRAME_BYTES // 1024} KB.")
        payload = parse_json_object(body, max_bytes=MAX_FRAME_BYTES)
        req_id = request_id(payload)
        raw_action = payload.get("action")
        action = raw_action if isinstance(raw_action, str) else None
        handler = actions.get(action) if action is not None else None
        if handler is None:
            if raw_action is None:
                raise UnknownActionError("Every frame needs an 'action'.")
            if action is None:
                raise InvalidInputError("'action' must be a string.")
            raise UnknownActionError(f"There is no action called {action[:64]!r}.")
        result = handler(caller_of(event), payload)
        if result is not None and req_id is not None:
            result["requestId"] = req_id
        return reply_with(result)
    except ChatError as e:
        outcome = e.code
        return reply_with(protocol.error(e, action, req_id))
    except Exception as e:
        busy = as_busy(e)
        if busy is not None:
            outcome = busy.code
            log.warning("action throttled", extra={"action": action, "connectionId": connection_id})
            return reply_with(protocol.error(busy, action, req_id))
        outcome = "internal"
        log.exception("action failed", extra={"action": action, "connectionId": connection_id})
        return reply_with(protocol.error(ChatError(), action, req_id))
    finally:
        log.info(
            "ws action",
            extra={
                "action": action,
                "connectionId": connection_id,
                "outcome": outcome,
                "durationMs": round((time.perf_counter() - started) * 1000, 1),
            },
        )


def _posting(
    post_error: ErrorPoster, event: dict[str, Any]
) -> Callable[[dict[str, Any] | None], dict[str, Any]]:
    connection_id = str((event.get("requestContext") or {}).get("connectionId", ""))

    def send(frame: dict[str, Any] | None) -> dict[str, Any]:
        if frame is not None and connection_id:
            post_error(connection_id, frame)  # never raises: DirectReplies logs what fails
        return {"statusCode": 200}

    return send
