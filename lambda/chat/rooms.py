"""Rooms: creation, join requests decided by the room's admin, members, history."""

from __future__ import annotations

from collections.abc import Callable

from chat import protocol
from chat.errors import ForbiddenError, NotFoundError
from chat.ids import new_room_id
from chat.models import JoinRequest, Member, MemberPresence, Message, Room, iso_now, user_key
from chat.notifier import Notifier
from chat.store import ConnectionsStore, MessagesStore, RoomsStore


def require_member(rooms: RoomsStore, room_id: str, username: str) -> Member:
    """The caller's membership; NotFoundError for no room, ForbiddenError for non-members.

    The happy path costs one read: a member item proves the room exists.
    """
    member = rooms.get_member(room_id, username)
    if member is not None:
        return member
    if rooms.get_room(room_id) is None:
        raise NotFoundError("There is no room with that id.")
    raise ForbiddenError("You are not a member of this room.")


class RoomService:
    def __init__(
        self,
        rooms: RoomsStore,
        connections: ConnectionsStore,
        messages: MessagesStore,
        notifier: Notifier | None,
        clock: Callable[[], float],
    ) -> None:
        self.rooms = rooms
        self.connections = connections
        self.messages = messages
        self.notifier = notifier
        self.clock = clock

    # -- checks -------------------------------------------------------------------------------

    def require_member(self, room_id: str, username: str) -> Member:
        return require_member(self.rooms, room_id, username)

    def require_admin(self, room_id: str, username: str) -> Room:
        room = self.rooms.get_room(room_id)
        if room is None:
            raise NotFoundError("There is no room with that id.")
        if user_key(room.admin) != user_key(username):
            raise ForbiddenError("Only the room's admin can do that.")
        return room

    # -- actions ------------------------------------------------------------------------------

    def create(self, name: str, admin: str) -> Room:
        room = Room(new_room_id(), name, admin, iso_now(self.clock()))
        self.rooms.create_room(room)
        # The creator's open connections start receiving the room's messages at once.
        self.connections.add_room(room.room_id, admin)
        return room

    def request_join(self, room_id: str, username: str) -> str:
        room = self.rooms.get_room(room_id)
        if room is None:
            raise NotFoundError("There is no room with that id.")
        requested_at = iso_now(self.clock())
        self.rooms.add_request(room_id, username, requested_at)
        if self.notifier is not None:
            self.notifier.to_user(
                room.admin,
                protocol.join_request_event(JoinRequest(room_id, username, requested_at)),
            )
        return requested_at

    def approve(self, room_id: str, admin: str, username: str) -> Member:
        room = self.require_admin(room_id, admin)
        request = self.rooms.get_request(room_id, username)
        if request is None:
            raise NotFoundError(f"There is no pending join request from {username}.")
        member = self.rooms.approve(room, request.username, iso_now(self.clock()))
        self.connections.add_room(room_id, member.username)
        if self.notifier is not None:
            self.notifier.to_user(member.username, protocol.join_approved(room))
            self.notifier.to_room(room_id, protocol.member_joined(room_id, member.username))
        return member

    def reject(self, room_id: str, admin: str, username: str) -> str:
        self.require_admin(room_id, admin)
        request = self.rooms.get_request(room_id, username)
        if request is None:
            raise NotFoundError(f"There is no pending join request from {username}.")
        self.rooms.reject(room_id, request.username)
        if self.notifier is not None:
            self.notifier.to_user(request.username, protocol.join_rejected(room_id))
        return request.username

    # -- reads --------------------------------------------------------------------------------

    def list_for(self, username: str) -> list[Member]:
        return sorted(self.rooms.rooms_of(username), key=lambda m: m.room_created_at)

    def members(
        self, room_id: str, username: str
    ) -> tuple[list[MemberPresence], list[JoinRequest] | None]:
        """The members (oldest first) with online flags; pending requests for the admin only."""
        caller = self.require_member(room_id, username)
        online = {user_key(c.username) for c in self.connections.of_room(room_id)}
        members = [
            MemberPresence(m.username, m.role, user_key(m.username) in online)
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
