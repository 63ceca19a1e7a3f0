"""sendMessage: validate, check membership, write exactly one item to Messages.

A one-way route: success posts nothing (the stream processor delivers what was stored, to the
sender too, with its clientMessageId); a rejected frame gets an `error` frame on the sender's
connection through the Management API.
"""

from __future__ import annotations

import time
from typing import Any

from chat import metrics, validation
from chat.config import Settings
from chat.handlers.websocket import Caller, dispatch
from chat.messages import MessageService
from chat.runtime import Stores, configure_logging, direct_replies

settings = Settings.from_env()
configure_logging(settings.log_level)
stores = Stores.from_settings(settings)
service = MessageService(stores.rooms, stores.messages, time.time)
replies = direct_replies(settings)


def send_message(caller: Caller, payload: dict[str, Any]) -> dict[str, Any] | None:
    room_id = validation.room_id(payload)
    text = validation.message_text(payload)
    client_message_id = validation.client_message_id(payload)
    service.send(room_id, caller.username, text, client_message_id)
    metrics.emit("send_message", {"MessagesStored": 1})
    return None


ACTIONS = {"sendMessage": send_message}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dispatch(event, ACTIONS, post_error=replies.send)
