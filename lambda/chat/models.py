"""Plain values passed between the data layer, the domain and the handlers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


def iso_now(epoch_seconds: float) -> str:
    """ISO 8601 UTC with milliseconds, e.g. 2026-11-24T18:55:04.123Z."""
    moment = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def user_key(username: str) -> str:
    """Usernames are unique regardless of case; keys use the lowercased form."""
    return username.lower()


@dataclass(frozen=True)
class Room:
    room_id: str
    name: str
    admin: str
    created_at: str

    def to_wire(self) -> dict[str, Any]:
        return {
            "roomId": self.room_id,
            "name": self.name,
            "admin": self.admin,
            "createdAt": self.created_at,
        }


@dataclass(frozen=True)
class Member:
    room_id: str
    username: str
    role: str
    joined_at: str
    room_name: str
    room_created_at: str


@dataclass(frozen=True)
class JoinRequest:
    room_id: str
    username: str
    requested_at: str


@dataclass(frozen=True)
class Message:
    room_id: str
    message_id: str
    username: str
    text: str
    created_at: str
    client_message_id: str | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "roomId": self.room_id,
            "messageId": self.message_id,
            "username": self.username,
            "text": self.text,
            "createdAt": self.created_at,
        }
        if self.client_message_id is not None:
            wire["clientMessageId"] = self.client_message_id
        return wire

    def to_item(self) -> dict[str, Any]:
        return self.to_wire()

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Message:
        return cls(
            room_id=str(item["roomId"]),
            message_id=str(item["messageId"]),
            username=str(item["username"]),
            text=str(item["text"]),
            created_at=str(item["createdAt"]),
            client_message_id=(
                str(item["clientMessageId"]) if item.get("clientMessageId") else None
            ),
        )


@dataclass(frozen=True)
class Connection:
    connection_id: str
    username: str
