"""Connection lifecycle: $connect registers a connection and its room/user index items,
$disconnect removes them, and the user's rooms hear when their first connection opens and their
last one closes (presence)."""

from __future__ import annotations

from collections.abc import Callable

from chat import protocol
from chat.models import ClosedConnection, iso_now
from chat.notifier import Notifier
from chat.store import ConnectionsStore, RoomsStore

# API Gateway closes every connection after 2 hours; the TTL only sweeps up after a lost
# $disconnect, so it sits a little past that.
CONNECTION_TTL_SECONDS = 2 * 3600 + 600


class ConnectionService:
    def __init__(
        self,
        connections: ConnectionsStore,
        rooms: RoomsStore,
        notifier: Notifier,
        clock: Callable[[], float],
    ) -> None:
        self.connections = connections
        self.rooms = rooms
        self.notifier = notifier
        self.clock = clock

    def open(self, connection_id: str, username: str, batches: bool = False) -> None:
        now = self.clock()
        was_online = bool(self.connections.of_user(username))
        room_ids = [m.room_id for m in self.rooms.rooms_of(username)]
        self.connections.add(
            connection_id,
            username,
            iso_now(now),
            int(now) + CONNECTION_TTL_SECONDS,
            room_ids,
            batches=batches,
        )
        if not was_online:
            self._announce(username, room_ids, online=True)

    def close(self, connection_id: str) -> ClosedConnection | None:
        closed = self.connections.remove(connection_id)
        if closed is not None and not self.connections.of_user(closed.username):
            self._announce(closed.username, list(closed.room_ids), online=False)
        return closed

    def _announce(self, username: str, room_ids: list[str], online: bool) -> None:
        for room_id in room_ids:
            self.notifier.to_room(
                room_id, protocol.presence(room_id, username, online), exclude_user=username
            )
