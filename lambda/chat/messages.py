"""Messages: sending writes one item (delivery is the stream's job), and so does every later
change: an edit, a delete (a tombstone), a reaction. The stream carries them all (INSERT and
MODIFY records). Typing is the exception: never stored, posted straight to the room."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from chat import protocol
from chat.config import LimitSettings
from chat.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from chat.ids import new_message_id
from chat.media import MediaService
from chat.models import Attachment, Message, iso_now, user_key
from chat.notifier import Notifier
from chat.rooms import require_member
from chat.store import ConnectionsStore, MessagesStore, RoomsStore

# Reactions per message: at most this many distinct emojis, and this many (emoji, user) pairs
# in all; past either, a new reaction is `conflict` (removing one always works).
MAX_DISTINCT_EMOJIS = 20
MAX_REACTIONS = 200


class MessageService:
    def __init__(
        self,
        rooms: RoomsStore,
        messages: MessagesStore,
        clock: Callable[[], float],
        connections: ConnectionsStore | None = None,
        notifier: Notifier | None = None,
        media: MediaService | None = None,
        typing_window: int | None = LimitSettings().typing_window,
    ) -> None:
        """`typing_window`: typing events are forwarded at most once per user and room in this
        many seconds (RATE_LIMIT_TYPING_WINDOW_SECONDS); None forwards every one."""
        self.rooms = rooms
        self.messages = messages
        self.clock = clock
        self.connections = connections
        self.notifier = notifier
        self.media = media
        self.typing_window = typing_window

    def send(
        self,
        room_id: str,
        username: str,
        text: str,
        client_message_id: str | None,
        attachments: Sequence[str] = (),
    ) -> Message:
        """Stores a message; its attachments (upload ids) are each checked in the media bucket
        first, so a message never names a file that is not there."""
        member = require_member(self.rooms, room_id, username)
        files: tuple[Attachment, ...] = ()
        if attachments:
            if self.media is None:
                raise InvalidInputError("Attachments are not enabled here.")
            files = self.media.attachments(room_id, attachments)
        now = self.clock()
        message = Message(
            room_id=room_id,
            message_id=new_message_id(int(now * 1000)),
            username=member.username,
            text=text,
            created_at=iso_now(now),
            client_message_id=client_message_id,
            attachments=files,
        )
        self.messages.put(message)
        if files and self.media is not None:
            self.media.mark_attached(room_id, files)
        return message

    def _live_message(self, room_id: str, message_id: str) -> Message:
        message = self.messages.get(room_id, message_id)
        if message is None:
            raise NotFoundError("There is no message with that id in this room.")
        if message.deleted:
            raise ConflictError("That message was deleted.")
        return message

    def edit(self, room_id: str, message_id: str, username: str, text: str) -> None:
        member = require_member(self.rooms, room_id, username)
        message = self._live_message(room_id, message_id)
        if user_key(message.username) != user_key(member.username):
            raise ForbiddenError("You can only edit your own messages.")
        edited_at = iso_now(self.clock())
        if not self.messages.edit(room_id, message_id, message.username, text, edited_at):
            raise ConflictError("That message was deleted.")  # between the read and the write

    def delete(self, room_id: str, message_id: str, username: str) -> None:
        member = require_member(self.rooms, room_id, username)
        message = self._live_message(room_id, message_id)
        own = user_key(message.username) == user_key(member.username)
        if not own and member.role != "admin":
            raise ForbiddenError("You can only delete your own messages.")
        if not self.messages.delete(room_id, message_id):
            raise ConflictError("That message was deleted.")

    def react(self, room_id: str, message_id: str, username: str, emoji: str, on: bool) -> None:
        member = require_member(self.rooms, room_id, username)
        message = self._live_message(room_id, message_id)
        emojis = {e for e, _ in message.reactions}
        if on and emoji not in emojis and len(emojis) >= MAX_DISTINCT_EMOJIS:
            raise ConflictError(f"A message holds at most {MAX_DISTINCT_EMOJIS} different emojis.")
        if self.messages.react(room_id, message_id, emoji, member.username, on, MAX_REACTIONS):
            return
        self._live_message(room_id, message_id)  # deleted meanwhile: that error
        raise ConflictError(f"A message holds at most {MAX_REACTIONS} reactions.")

    def typing(self, room_id: str, username: str) -> bool:
        """Posts `typing` to the room's other members, at most once per window (without one,
        always, and with no write); whether it did."""
        member = require_member(self.rooms, room_id, username)
        if self.connections is None or self.notifier is None:
            raise RuntimeError("typing needs the connections store and the notifier")
        if self.typing_window is not None and not self.connections.claim_typing(
            room_id, member.username, self.clock(), self.typing_window
        ):
            return False
        self.notifier.to_room(
            room_id, protocol.typing(room_id, member.username), exclude_user=member.username
        )
        return True

    def search(
        self, room_id: str, username: str, words: list[str], limit: int, cursor: str | None
    ) -> tuple[list[Message], str | None]:
        require_member(self.rooms, room_id, username)
        return self.messages.search(room_id, words, limit, cursor)
