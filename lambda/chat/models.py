"""Plain values passed between the data layer, the domain and the handlers.

Models know neither the wire protocol (chat.protocol) nor the table's attributes (chat.store).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


def iso_now(epoch_seconds: float) -> str:
    """ISO 8601 UTC with milliseconds, e.g. 2026-11-24T18:55:04.123Z."""
    moment = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def user_key(username: str) -> str:
    """Usernames are unique regardless of case; keys use the lowercased form."""
    return username.lower()


@dataclass(frozen=True)
class User:
    username: str  # the canonical spelling, as created
    password_hash: str
    created_at: str


@dataclass(frozen=True)
class Room:
    room_id: str
    name: str
    admin: str
    created_at: str


@dataclass(frozen=True)
class Member:
    room_id: str
    username: str
    role: str
    joined_at: str
    room_name: str
    room_created_at: str


@dataclass(frozen=True)
class MemberPresence:
    """A member as the member list shows it: with whether any connection of theirs is open."""

    username: str
    role: str
    online: bool


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


@dataclass(frozen=True)
class Connection:
    connection_id: str
    username: str


@dataclass(frozen=True)
class OpenConnection:
    """A connection as its own item records it: whose, since when, which rooms it receives."""

    connection_id: str
    username: str
    connected_at: str
    ttl: int
    room_ids: tuple[str, ...]


@dataclass(frozen=True)
class ClosedConnection:
    """What removing a connection leaves to tell: whose it was and which rooms it received."""

    connection_id: str
    username: str
    room_ids: tuple[str, ...]
