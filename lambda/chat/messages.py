"""Sending a message: validate, check membership, write one item. Delivery is the stream's job."""

from __future__ import annotations

from collections.abc import Callable

from chat.ids import new_message_id
from chat.models import Message, iso_now
from chat.rooms import require_member
from chat.store import MessagesStore, RoomsStore


class MessageService:
    def __init__(
        self, rooms: RoomsStore, messages: MessagesStore, clock: Callable[[], float]
    ) -> None:
        self.rooms = rooms
        self.messages = messages
        self.clock = clock

    def send(
        self, room_id: str, username: str, text: str, client_message_id: str | None
    ) -> Message:
        member = require_member(self.rooms, room_id, username)
        now = self.clock()
        message = Message(
            room_id=room_id,
            message_id=new_message_id(int(now * 1000)),
            username=member.username,
            text=text,
            created_at=iso_now(now),
            client_message_id=client_message_id,
        )
        self.messages.put(message)
        return message
