"""Purging a deleted room: its messages, then its files (media bucket prefix), then memberships, requests and connection index items,
then the tombstone. Bounded per run; a run that stops short (time budget, timeout, crash) is
resumed by the next one, because every step deletes what is left rather than tracking a cursor.

Ordering keeps nothing resurrectable: the room answers not_found from the moment its META became
a tombstone (RoomsStore.mark_deleted), and the stream processor delivers nothing for it. The
tombstone goes last, and only once `grace_seconds` have passed since the delete, so a
sendMessage that checked membership just before the delete and wrote just after is purged too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from chat.jobs import PurgeQueue
from chat.media import MediaService
from chat.store import ConnectionsStore, MessagesStore, RoomsStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PurgeOutcome:
    messages: int
    items: int
    finished: bool


class RoomPurge:
    def __init__(
        self,
        rooms: RoomsStore,
        connections: ConnectionsStore,
        messages: MessagesStore,
        queue: PurgeQueue,
        clock: Callable[[], float],
        grace_seconds: float = 60.0,
        page_size: int = 100,
        media: MediaService | None = None,
    ) -> None:
        self.rooms = rooms
        self.connections = connections
        self.messages = messages
        self.queue = queue
        self.clock = clock
        self.grace_seconds = grace_seconds
        self.page_size = page_size
        self.media = media

    def run(
        self, room_id: str, remaining_ms: Callable[[], int], reserve_ms: int = 3000
    ) -> PurgeOutcome:
        """Deletes pages while more than `reserve_ms` of the invocation remain; asks for another
        run when it stops short. A room that is live (or gone entirely) is left alone."""
        deleted_at = self.rooms.deleted_at(room_id)
        if deleted_at is None:
            return PurgeOutcome(0, 0, True)
        messages = items = 0
        while True:
            if remaining_ms() < reserve_ms:
                self.queue.request(room_id)
                return PurgeOutcome(messages, items, False)
            page = self.messages.purge_page(room_id, self.page_size)
            if page:
                messages += page
                continue
            if self.media is not None and self.media.purge_room_page(room_id, self.page_size):
                continue  # the room's files (its prefix in the media bucket)
            page = self.connections.purge_room_index(room_id, self.page_size)
            page += self.rooms.purge_page(room_id, self.page_size)
            if page:
                items += page
                continue
            break
        wait = self.grace_seconds - self._age(deleted_at)
        if wait > 0:
            # A send racing the delete may still write: look once more after the grace period.
            self.queue.request(room_id, delay_seconds=int(wait) + 1)
            return PurgeOutcome(messages, items, False)
        self.rooms.forget_room(room_id)
        log.info("room purged", extra={"roomId": room_id})
        return PurgeOutcome(messages, items, True)

    def _age(self, deleted_at: str) -> float:
        try:
            moment = datetime.fromisoformat(deleted_at.replace("Z", "+00:00"))
        except ValueError:
            return self.grace_seconds
        return self.clock() - moment.timestamp()
