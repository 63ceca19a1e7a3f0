"""Rooms: group rooms with admin-approved joins, direct rooms of two, leaving and removal,
deletion (a tombstone at once, a background purge after), read positions, and the reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from chat import keys, protocol
from chat.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from chat.ids import direct_room_id, id_floor, new_room_id
from chat.jobs import PurgeQueue
from chat.models import (
    DIRECT,
    Connection,
    JoinRequest,
    Member,
    MemberPresence,
    Message,
    Room,
    RoomSummary,
    iso_now,
    user_key,
)
from chat.notifier import Notifier
from chat.store import ConnectionsStore, MessagesStore, RoomsStore, UsersStore

# `unread` counts up to this: 100 means "100 or more" (docs/protocol.md).
UNREAD_CAP = 100


def require_member(rooms: RoomsStore, room_id: str, username: str) -> Member:
    """The caller's membership; NotFoundError for no room (or a deleted one), ForbiddenError for
    non-members. One round trip: the room's META and the member item in one BatchGetItem."""
    room, member = rooms.access(room_id, username)
    if room is None:
        raise NotFoundError("There is no room with that id.")
    if member is None:
        raise ForbiddenError("You are not a member of this room.")
    return member


def _joined_ms(joined_at: str) -> int:
    try:
        return int(datetime.fromisoformat(joined_at.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return 0


class RoomService:
    def __init__(
        self,
        rooms: RoomsStore,
        connections: ConnectionsStore,
        messages: MessagesStore,
        notifier: Notifier | None,
        clock: Callable[[], float],
        users: UsersStore | None = None,
        purge_queue: PurgeQueue | None = None,
    ) -> None:
        self.rooms = rooms
        self.connections = connections
        self.messages = messages
        self.notifier = notifier
        self.clock = clock
        self.users = users
        self.purge_queue = purge_queue

    # -- checks -------------------------------------------------------------------------------

    def require_member(self, room_id: str, username: str) -> Member:
        return require_member(self.rooms, room_id, username)

    def require_room(self, room_id: str) -> Room:
        room = self.rooms.get_room(room_id)
        if room is None:
            raise NotFoundError("There is no room with that id.")
        return room

    def require_admin(self, room_id: str, username: str) -> Room:
        room = self.require_room(room_id)
        if room.kind == DIRECT:
            raise ForbiddenError("A direct conversation has no admin.")
        if user_key(room.admin) != user_key(username):
            raise ForbiddenError("Only the room's admin can do that.")
        return room

    def _notify_user(self, username: str, frame: dict[str, object]) -> None:
        if self.notifier is not None:
            self.notifier.to_user(username, frame)

    def _notify_room(
        self, room_id: str, frame: dict[str, object], exclude_user: str | None = None
    ) -> None:
        if self.notifier is not None:
            self.notifier.to_room(room_id, frame, exclude_user=exclude_user)

    # -- group rooms --------------------------------------------------------------------------

    def create(self, name: str, admin: str) -> Room:
        room = Room(new_room_id(), name, admin, iso_now(self.clock()))
        self.rooms.create_room(room)
        # The creator's open connections start receiving the room's messages at once.
        self.connections.add_room(room.room_id, admin)
        return room

    def request_join(self, room_id: str, username: str) -> str:
        room = self.require_room(room_id)
        if room.kind == DIRECT:
            raise ForbiddenError("A direct conversation takes no join requests.")
        requested_at = iso_now(self.clock())
        self.rooms.add_request(room_id, username, requested_at)
        self._notify_user(
            room.admin, protocol.join_request_event(JoinRequest(room_id, username, requested_at))
        )
        return requested_at

    def approve(self, room_id: str, admin: str, username: str) -> Member:
        room = self.require_admin(room_id, admin)
        request = self.rooms.get_request(room_id, username)
        if request is None:
            raise NotFoundError(f"There is no pending join request from {username}.")
        member = self.rooms.approve(room, request.username, iso_now(self.clock()))
        self.connections.add_room(room_id, member.username)
        self._notify_user(member.username, protocol.join_approved(room))
        self._notify_room(room_id, protocol.member_joined(room_id, member.username))
        return member

    def reject(self, room_id: str, admin: str, username: str) -> str:
        self.require_admin(room_id, admin)
        request = self.rooms.get_request(room_id, username)
        if request is None:
            raise NotFoundError(f"There is no pending join request from {username}.")
        self.rooms.reject(room_id, request.username)
        self._notify_user(request.username, protocol.join_rejected(room_id))
        return request.username

    # -- direct rooms -------------------------------------------------------------------------

    def open_direct(self, caller: str, username: str) -> tuple[Room, bool]:
        """The direct room of the caller and `username`, created on first use; whether it is
        new. Either side, any number of times, concurrently: one room."""
        if user_key(caller) == user_key(username):
            raise InvalidInputError("A direct conversation needs someone other than you.")
        if self.users is None:
            raise RuntimeError("open_direct needs the users store")
        me, other = self.users.get_user(caller), self.users.get_user(username)
        if other is None:
            raise NotFoundError(f"There is no user called {username}.")
        mine = me.username if me is not None else caller
        now = iso_now(self.clock())
        room = Room(
            direct_room_id(mine, other.username),
            "",
            "",
            now,
            kind=DIRECT,
            members=tuple(sorted((mine, other.username), key=user_key)),
        )
        created = self.rooms.create_direct(room, now)
        if created:
            restored = list(room.members)
        else:
            existing = self.rooms.get_room(room.room_id)
            if existing is None:  # cannot be deleted: no admin; only a half-written purge
                raise ConflictError("That conversation is being removed; try again.")
            room = existing
            # Someone who left comes back when either side opens the conversation again.
            restored = [
                m
                for m in room.members
                if self.rooms.get_member(room.room_id, m) is None
                and self.rooms.restore_member(room, m, now) is not None
            ]
        for username_ in restored:
            self.connections.add_room(room.room_id, username_)
            if user_key(username_) != user_key(caller):
                self._notify_user(username_, protocol.room_added(room, username_))
        return room, created

    # -- leaving, removal, deletion -----------------------------------------------------------

    def leave(self, room_id: str, username: str, connection_id: str | None = None) -> None:
        """Ends the caller's membership; their other connections (other tabs, devices) hear
        `leftRoom` too, the one that asked gets it as its reply."""
        member = self.require_member(room_id, username)
        if member.role == "admin":
            raise ConflictError("The admin cannot leave the room; delete it instead.")
        connections = self._end_membership(room_id, member.username)
        others = [c for c in connections if c.connection_id != connection_id]
        if self.notifier is not None and others:
            self.notifier.to_connections(others, protocol.left_room(room_id))
        self._notify_room(room_id, protocol.member_left(room_id, member.username, removed=False))

    def remove_member(self, room_id: str, admin: str, username: str) -> str:
        self.require_admin(room_id, admin)
        member = self.rooms.get_member(room_id, username)
        if member is None:
            raise NotFoundError(f"{username} is not a member of this room.")
        if member.role == "admin":
            raise ConflictError("The admin cannot be removed; delete the room instead.")
        connections = self._end_membership(room_id, member.username)
        if self.notifier is not None:
            self.notifier.to_connections(connections, protocol.removed_from_room(room_id))
        self._notify_room(room_id, protocol.member_left(room_id, member.username, removed=True))
        return member.username

    def _end_membership(self, room_id: str, username: str) -> list[Connection]:
        """Membership and the room's index items of the user's connections go in one
        transaction: the next stream batch's Query of the room cannot find them."""
        connections = self.connections.of_user(username)
        index_keys = [keys.room_connection(room_id, c.connection_id) for c in connections]
        self.rooms.end_membership(room_id, username, index_keys)
        self.connections.drop_room(room_id, [c.connection_id for c in connections])
        return connections

    def delete(self, room_id: str, admin: str) -> None:
        room = self.require_admin(room_id, admin)
        self.rooms.mark_deleted(room_id, room.admin, iso_now(self.clock()))
        # Members hear it before the index items go (the purge job removes them).
        self._notify_room(room_id, protocol.room_deleted(room_id))
        if self.purge_queue is not None:
            self.purge_queue.request(room_id)

    # -- read positions -----------------------------------------------------------------------

    def mark_read(self, room_id: str, username: str, message_id: str) -> None:
        member = self.require_member(room_id, username)
        if self.messages.get(room_id, message_id) is None:
            raise NotFoundError("There is no message with that id in this room.")
        if self.rooms.mark_read(room_id, member.username, message_id):
            self._notify_room(room_id, protocol.read(room_id, member.username, message_id))

    # -- reads --------------------------------------------------------------------------------

    def list_for(self, username: str) -> list[RoomSummary]:
        memberships = self.rooms.rooms_of(username)
        live = self.rooms.live_rooms([m.room_id for m in memberships])
        summaries = []
        for membership in sorted(memberships, key=lambda m: m.room_created_at):
            if membership.room_id not in live:
                continue  # deleted: its member items wait for the purge job
            after = membership.last_read or id_floor(_joined_ms(membership.joined_at))
            unread, newest = self.messages.unread(membership.room_id, username, after, UNREAD_CAP)
            if newest is None:
                newest = self.messages.newest(membership.room_id)
            summaries.append(RoomSummary(membership, unread, newest))
        return summaries

    def members(
        self, room_id: str, username: str
    ) -> tuple[list[MemberPresence], list[JoinRequest] | None]:
        """The members (oldest first) with online flags; pending requests for the admin only."""
        caller = self.require_member(room_id, username)
        online = {user_key(c.username) for c in self.connections.of_room(room_id)}
        members = [
            MemberPresence(m.username, m.role, user_key(m.username) in online, m.last_read)
            for m in sorted(self.rooms.list_members(room_id), key=lambda m: m.joined_at)
        ]
        requests = None
        if caller.role == "admin":
            requests = sorted(self.rooms.list_requests(room_id), key=lambda r: r.requested_at)
        return members, requests

    def history(
        self, room_id: str, username: str, limit: int, before: str | None, after: str | None
    ) -> tuple[list[Message], bool]:
        self.require_member(room_id, username)
        return self.messages.page(room_id, limit, before, after)
