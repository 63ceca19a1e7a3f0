"""Plain values passed between the data layer, the domain and the handlers.

Models know neither the wire protocol (chat.protocol) nor the table's attributes (chat.store).
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    token_version: int = 0  # TokenState.version: what a new token's `ver` claim carries
    signed_out_at: int = 0  # TokenState.signed_out_at


@dataclass(frozen=True)
class TokenState:
    """What the users table records about a user's tokens, read at every token check
    (docs/design.md, "Logout and log out everywhere")."""

    # Log out everywhere adds one: a token whose `ver` claim is another number is refused.
    version: int = 0
    # Epoch seconds of the last log out everywhere: a token that carries no `ver` (Cognito's
    # ID tokens) issued at or before it is refused.
    signed_out_at: int = 0
    # Tokens logged out one by one, token id -> the token's own expiry (epoch seconds); a
    # token is dropped from the map once it would have expired anyway.
    revoked: dict[str, int] = field(default_factory=dict)
    # Every write adds one and is conditional on the number read: two logouts at once cannot
    # lose each other's entry.
    revision: int = 0


@dataclass(frozen=True)
class Ticket:
    """A redeemed WebSocket ticket: whose, and which token asked for it, so that a ticket from
    a token logged out since it was issued (at most its 30 s ago) does not connect."""

    username: str
    token_id: str = ""
    token_version: int | None = None  # as Credential.version
    token_issued_at: int = 0


GROUP = "group"
DIRECT = "direct"


@dataclass(frozen=True)
class Room:
    room_id: str
    name: str  # a direct room has none of its own: each side sees the other's username
    admin: str  # "" for a direct room, which has no admin
    created_at: str
    kind: str = GROUP
    # A direct room's two members, as spelled at creation; () for a group room.
    members: tuple[str, ...] = ()

    def peer_of(self, username: str) -> str | None:
        """The other member of a direct room; None for a group room."""
        others = [m for m in self.members if user_key(m) != user_key(username)]
        return others[0] if self.kind == DIRECT and others else None


@dataclass(frozen=True)
class Member:
    room_id: str
    username: str
    role: str
    joined_at: str
    room_name: str
    room_created_at: str
    kind: str = GROUP
    peer: str | None = None  # direct rooms: the other member
    last_read: str | None = None  # the newest message id this member has read


@dataclass(frozen=True)
class MemberPresence:
    """A member as the member list shows it: with whether any connection of theirs is open."""

    username: str
    role: str
    online: bool
    last_read: str | None = None


@dataclass(frozen=True)
class JoinRequest:
    room_id: str
    username: str
    requested_at: str


@dataclass(frozen=True)
class Attachment:
    """A file attached to a message: an upload in the media bucket, as its uploader declared it
    and the send function checked it (HeadObject) before storing the message."""

    upload_id: str
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class Upload:
    """A presigned S3 POST for one file: the form's URL and fields, valid until `expires_at`."""

    upload_id: str
    url: str
    fields: dict[str, str]
    expires_at: int


@dataclass(frozen=True)
class Message:
    room_id: str
    message_id: str
    username: str
    text: str
    created_at: str
    client_message_id: str | None = None
    edited_at: str | None = None
    deleted: bool = False
    # (emoji, usernames who reacted with it), emojis in first-reacted order is not kept:
    # sorted by emoji, users sorted case-insensitively. Only emojis with at least one user.
    reactions: tuple[tuple[str, tuple[str, ...]], ...] = ()
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class RoomSummary:
    """A room as `GET /rooms` lists it for one member: unread count and newest message."""

    membership: Member
    unread: int
    last_message: Message | None


@dataclass(frozen=True)
class Connection:
    connection_id: str
    username: str
    # Asked for `messageBatch` frames when it connected (`?batch=1`): the stream processor may
    # then carry several messages of a batch in one post (docs/protocol.md).
    batches: bool = False


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
