"""The wire protocol: every frame the server sends and every REST body built from models.

One function per server frame, in the order docs/protocol.md lists them; the browser client's
dispatch (frontend/js) handles the same names. Services return models; only this module knows
the protocol's camelCase field names. The table's attribute names are a separate contract
(chat.store).
"""

from __future__ import annotations

import time
from typing import Any

from chat.errors import ChatError
from chat.models import (
    DIRECT,
    JoinRequest,
    MemberPresence,
    Message,
    Room,
    RoomSummary,
    Upload,
)

Frame = dict[str, Any]


# -- shared shapes ----------------------------------------------------------------------------


def room(value: Room, viewer: str | None = None) -> dict[str, Any]:
    """A room; a direct room as `viewer` sees it: named after the other member, no admin."""
    if value.kind == DIRECT:
        peer = value.peer_of(viewer) if viewer is not None else None
        return {
            "roomId": value.room_id,
            "name": peer or "",
            "admin": None,
            "createdAt": value.created_at,
            "kind": DIRECT,
            "peer": peer,
        }
    return {
        "roomId": value.room_id,
        "name": value.name,
        "admin": value.admin,
        "createdAt": value.created_at,
        "kind": value.kind,
    }


def message(value: Message) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "roomId": value.room_id,
        "messageId": value.message_id,
        "username": value.username,
        "text": value.text,
        "createdAt": value.created_at,
    }
    if value.client_message_id is not None:
        wire["clientMessageId"] = value.client_message_id
    if value.edited_at is not None:
        wire["editedAt"] = value.edited_at
    if value.deleted:
        wire["deleted"] = True
    if value.reactions:
        wire["reactions"] = {emoji: list(users) for emoji, users in value.reactions}
    if value.attachments:
        wire["attachments"] = [
            {
                "uploadId": a.upload_id,
                "filename": a.filename,
                "contentType": a.content_type,
                "size": a.size,
            }
            for a in value.attachments
        ]
    return wire


def upload_body(value: Upload) -> dict[str, Any]:
    """`POST /rooms/{roomId}/uploads`: the presigned POST the browser sends the file with."""
    return {
        "uploadId": value.upload_id,
        "url": value.url,
        "fields": value.fields,
        "expiresAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(value.expires_at)),
    }


def my_room(summary: RoomSummary) -> dict[str, Any]:
    """A room as `GET /rooms` lists it: with the caller's role, unread count and newest message."""
    membership = summary.membership
    return {
        "roomId": membership.room_id,
        "name": membership.room_name,
        "role": membership.role,
        "createdAt": membership.room_created_at,
        "kind": membership.kind,
        "peer": membership.peer,
        "unread": summary.unread,
        "lastRead": membership.last_read,
        "lastMessage": message(summary.last_message) if summary.last_message else None,
    }


def member(value: MemberPresence) -> dict[str, Any]:
    return {
        "username": value.username,
        "role": value.role,
        "online": value.online,
        "lastRead": value.last_read,
    }


def join_request(value: JoinRequest) -> dict[str, Any]:
    return {"username": value.username, "requestedAt": value.requested_at}


# -- REST bodies ------------------------------------------------------------------------------


def rooms_body(summaries: list[RoomSummary]) -> dict[str, Any]:
    return {"rooms": [my_room(s) for s in summaries]}


def direct_room_body(value: Room, viewer: str) -> dict[str, Any]:
    return {"room": room(value, viewer)}


def history_body(messages: list[Message], has_more: bool) -> dict[str, Any]:
    return {"messages": [message(m) for m in messages], "hasMore": has_more}


def search_body(messages: list[Message], cursor: str | None) -> dict[str, Any]:
    return {"messages": [message(m) for m in messages], "cursor": cursor}


def members_body(
    members: list[MemberPresence], requests: list[JoinRequest] | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"members": [member(m) for m in members]}
    if requests is not None:  # the admin's view only
        body["requests"] = [join_request(r) for r in requests]
    return body


# -- direct replies to actions ----------------------------------------------------------------


def room_created(value: Room) -> Frame:
    return {"type": "roomCreated", "room": room(value)}


def join_requested(room_id: str, requested_at: str) -> Frame:
    return {"type": "joinRequested", "roomId": room_id, "requestedAt": requested_at}


def join_approved_ack(room_id: str, username: str) -> Frame:
    return {"type": "joinApprovedAck", "roomId": room_id, "username": username}


def join_rejected_ack(room_id: str, username: str) -> Frame:
    return {"type": "joinRejectedAck", "roomId": room_id, "username": username}


def direct_opened(value: Room, viewer: str) -> Frame:
    return {"type": "directOpened", "room": room(value, viewer)}


def left_room(room_id: str) -> Frame:
    return {"type": "leftRoom", "roomId": room_id}


def member_removed_ack(room_id: str, username: str) -> Frame:
    return {"type": "memberRemovedAck", "roomId": room_id, "username": username}


def room_deleted_ack(room_id: str) -> Frame:
    return {"type": "roomDeletedAck", "roomId": room_id}


def read_ack(room_id: str, message_id: str) -> Frame:
    return {"type": "readAck", "roomId": room_id, "messageId": message_id}


def messages(room_id: str, page: list[Message], has_more: bool) -> Frame:
    return {"type": "messages", "roomId": room_id, **history_body(page, has_more)}


def members(
    room_id: str, present: list[MemberPresence], requests: list[JoinRequest] | None
) -> Frame:
    return {"type": "members", "roomId": room_id, **members_body(present, requests)}


def pong() -> Frame:
    return {"type": "pong"}


def _encodable(text: str | None) -> str | None:
    """`text`, or None when it holds a lone surrogate (no UTF-8 frame can carry it)."""
    if text is None:
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return text


def error(failure: ChatError, action: str | None, request_id: str | None) -> Frame:
    frame: Frame = {
        "type": "error",
        "code": failure.code,
        "message": failure.message,
        # An action that cannot be encoded could not be read: null, as the contract says.
        "action": _encodable(action),
    }
    if request_id is not None:
        frame["requestId"] = request_id
    retry_after = getattr(failure, "retry_after", None)
    if retry_after is not None:
        frame["retryAfter"] = retry_after
    return frame


# -- events -----------------------------------------------------------------------------------


def message_event(value: Message) -> Frame:
    return {"type": "message", "message": message(value)}


def message_updated(value: Message) -> Frame:
    return {"type": "messageUpdated", "message": message(value)}


def message_batch(room_id: str, items: list[Frame]) -> Frame:
    """Several `message` / `messageUpdated` frames of one room in one post, in delivery order;
    only to connections that asked for it (`?batch=1`)."""
    return {"type": "messageBatch", "roomId": room_id, "items": items}


def typing(room_id: str, username: str) -> Frame:
    return {"type": "typing", "roomId": room_id, "username": username}


def join_request_event(value: JoinRequest) -> Frame:
    return {
        "type": "joinRequest",
        "roomId": value.room_id,
        "username": value.username,
        "requestedAt": value.requested_at,
    }


def join_approved(value: Room) -> Frame:
    return {"type": "joinApproved", "room": room(value)}


def join_rejected(room_id: str) -> Frame:
    return {"type": "joinRejected", "roomId": room_id}


def member_joined(room_id: str, username: str) -> Frame:
    return {"type": "memberJoined", "roomId": room_id, "username": username}


def room_added(value: Room, viewer: str) -> Frame:
    return {"type": "roomAdded", "room": room(value, viewer)}


def member_left(room_id: str, username: str, removed: bool) -> Frame:
    frame: Frame = {"type": "memberLeft", "roomId": room_id, "username": username}
    if removed:
        frame["removed"] = True
    return frame


def removed_from_room(room_id: str) -> Frame:
    return {"type": "removedFromRoom", "roomId": room_id}


def room_deleted(room_id: str) -> Frame:
    return {"type": "roomDeleted", "roomId": room_id}


def read(room_id: str, username: str, message_id: str) -> Frame:
    return {"type": "read", "roomId": room_id, "username": username, "messageId": message_id}


def presence(room_id: str, username: str, online: bool) -> Frame:
    return {"type": "presence", "roomId": room_id, "username": username, "online": online}
