"""Room actions on the WebSocket API, and its $default route (unknown actions)."""

from __future__ import annotations

import time
from typing import Any

from chat import protocol, validation
from chat.config import Settings
from chat.handlers.websocket import Caller, dispatch
from chat.rooms import RoomService
from chat.runtime import Stores, configure_logging, limiter, notifier, purge_queue

settings = Settings.from_env()
configure_logging(settings.log_level)
stores = Stores.from_settings(settings)
service = RoomService(
    stores.rooms,
    stores.connections,
    stores.messages,
    notifier(settings, stores),
    time.time,
    users=stores.users,
    purge_queue=purge_queue(settings),
)
limits = limiter(settings, time.time)


def create_room(caller: Caller, payload: dict[str, Any]) -> dict[str, Any]:
    room = service.create(validation.room_name(payload), caller.username)
    return protocol.room_created(room)


def join_room(caller: Caller, payload: dict[str, Any]) -> dict[str, Any]:
    room_id = validation.room_id(payload)
    limits.join_allowed(caller.username, room_id)
    requested_at = service.request_join(room_id, caller.username)
    return protocol.join_requested(room_id, requested_at)


def approve_join(caller: Caller, payload: dict[str, Any]) -> dict[str, Any]:
    room_id = validation.room_id(payload)
    member = service.approve(room_id, caller.username, validation.username(payload))
    return protocol.join_approved_ack(room_id, member.username)


def reject_join(caller: Caller, payload: dict[str, Any]) -> dict[str, Any]:
    room_id = validation.room_id(payload)
    username = service.reject(room_id, caller.username, validation.username(payload))
    limits.join_rejected(username, room_id)
    return protocol.join_rejected_ack(room_id, username)


def get_messages(caller: Caller, payload: dict[str, Any]) -> dict[str, Any]:
    room_id = validation.room_id(payload)
    limit, before, after = validation.history_query(payload)
    messages, has_more = service.history(room_id, caller.username, limit, before, after)
    return protocol.messages(room_id, messages, has_more)


def get_members(caller: Caller, payload: dict[str, Any]) -> dict[str, Any]:
    room_id = validation.room_id(payload)
    return protocol.members(room_id, *service.members(room_id, caller.username))


def open_direct(caller: Caller, payload: dict[str, Any]) -> dict[str, Any]:
    room, _ = service.open_direct(caller.username, validation.username(payload))
    return protocol.direct_opened(room, caller.username)


def leave_room(caller: Caller, payload: dict[str, Any]) -> dict[str, Any]:
    room_id = validation.room_id(payload)
    service.leave(room_id, caller.username, caller.connection_id)
    return protocol.left_room(room_id)


def remove_member(caller: Caller, payload: dict[str, Any]) -> dict[str, Any]:
    room_id = validation.room_id(payload)
    username = service.remove_member(room_id, caller.username, validation.username(payload))
    return protocol.member_removed_ack(room_id, username)


def delete_room(caller: Caller, payload: dict[str, Any]) -> dict[str, Any]:
    room_id = validation.room_id(payload)
    service.delete(room_id, caller.username)
    return protocol.room_deleted_ack(room_id)


def mark_read(caller: Caller, payload: dict[str, Any]) -> dict[str, Any]:
    room_id = validation.room_id(payload)
    message_id = validation.message_id(payload)
    service.mark_read(room_id, caller.username, message_id)
    return protocol.read_ack(room_id, message_id)


def ping(caller: Caller, payload: dict[str, Any]) -> dict[str, Any]:
    return protocol.pong()


ACTIONS = {
    "createRoom": create_room,
    "joinRoom": join_room,
    "approveJoin": approve_join,
    "rejectJoin": reject_join,
    "getMessages": get_messages,
    "getMembers": get_members,
    "openDirect": open_direct,
    "leaveRoom": leave_room,
    "removeMember": remove_member,
    "deleteRoom": delete_room,
    "markRead": mark_read,
    "ping": ping,
}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dispatch(event, ACTIONS)
