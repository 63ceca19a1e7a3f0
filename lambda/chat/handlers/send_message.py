"""The message writes: sendMessage, editMessage, deleteMessage, react; and typing.

One-way routes: success posts nothing (the stream processor delivers what was stored: a new
message as `message`, with its clientMessageId, and every later change as `messageUpdated`); a
rejected frame gets an `error` frame on the sender's connection through the Management API.
`typing` is never stored: it is posted to the room's other members at once, at most once per
user and room every RATE_LIMIT_TYPING_WINDOW_SECONDS (2 by default; every one with
RATE_LIMITS_ENABLED=false).
"""

from __future__ import annotations

import time
from typing import Any

from chat import metrics, validation
from chat.config import Settings
from chat.handlers.websocket import Caller, dispatch
from chat.messages import MessageService
from chat.runtime import (
    Stores,
    configure_logging,
    direct_replies,
    limiter,
    notifier,
    optional_media_service,
)

settings = Settings.from_env()
configure_logging(settings.log_level)
stores = Stores.from_settings(settings)
service = MessageService(
    stores.rooms,
    stores.messages,
    time.time,
    connections=stores.connections,
    notifier=notifier(settings, stores),
    media=optional_media_service(settings, stores, time.time),
    typing_window=settings.limits.typing_window,
)
replies = direct_replies(settings)
limits = limiter(settings, time.time)


def send_message(caller: Caller, payload: dict[str, Any]) -> dict[str, Any] | None:
    room_id = validation.room_id(payload)
    attachments = validation.attachments(payload)
    # A message with attachments may have no text (docs/protocol.md, "Media").
    text = (
        validation.message_text_or_empty(payload)
        if attachments
        else validation.message_text(payload)
    )
    client_message_id = validation.client_message_id(payload)
    limits.message_write(caller.username)
    service.send(room_id, caller.username, text, client_message_id, attachments)
    metrics.emit("send_message", {"MessagesStored": 1})
    return None


def edit_message(caller: Caller, payload: dict[str, Any]) -> dict[str, Any] | None:
    room_id, message_id = validation.room_id(payload), validation.message_id(payload)
    text = validation.message_text(payload)
    limits.message_write(caller.username)
    service.edit(room_id, message_id, caller.username, text)
    return None


def delete_message(caller: Caller, payload: dict[str, Any]) -> dict[str, Any] | None:
    room_id, message_id = validation.room_id(payload), validation.message_id(payload)
    service.delete(room_id, message_id, caller.username)
    return None


def react(caller: Caller, payload: dict[str, Any]) -> dict[str, Any] | None:
    room_id, message_id = validation.room_id(payload), validation.message_id(payload)
    emoji, on = validation.emoji(payload), validation.flag(payload, "on")
    limits.message_write(caller.username)
    service.react(room_id, message_id, caller.username, emoji, on)
    return None


def typing(caller: Caller, payload: dict[str, Any]) -> dict[str, Any] | None:
    service.typing(validation.room_id(payload), caller.username)
    return None


ACTIONS = {
    "sendMessage": send_message,
    "editMessage": edit_message,
    "deleteMessage": delete_message,
    "react": react,
    "typing": typing,
}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dispatch(event, ACTIONS, post_error=replies.send)
