"""Media: presigned uploads straight to S3, attachments checked before a message is stored,
and downloads through a short-lived presigned GET (docs/protocol.md, "Media").

No file bytes pass through Lambda: the browser POSTs the file to the bucket with the form this
service presigns, `sendMessage` names the uploads, and each is checked (HeadObject: it exists,
under that room's prefix, with the declared size and an allowed type) before the message item
is written.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from urllib.parse import quote

from chat.errors import InvalidInputError, NotFoundError, TooLargeError
from chat.media_store import MediaStore, object_key, room_prefix
from chat.models import Attachment, Upload
from chat.rooms import require_member
from chat.store import RoomsStore

INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


def new_upload_id() -> str:
    return secrets.token_hex(16)


def content_disposition(filename: str, content_type: str) -> str:
    """Images inline (shown by <img>), everything else as a download; the name in RFC 6266's
    filename* form, with an ASCII fallback."""
    kind = "inline" if content_type in INLINE_TYPES else "attachment"
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class MediaService:
    def __init__(
        self,
        rooms: RoomsStore,
        store: MediaStore,
        clock: Callable[[], float],
        max_bytes: int,
        content_types: Sequence[str],
        upload_ttl_seconds: int = 300,
        download_ttl_seconds: int = 300,
    ) -> None:
        self.rooms = rooms
        self.store = store
        self.clock = clock
        self.max_bytes = max_bytes
        self.content_types = frozenset(content_types)
        self.upload_ttl_seconds = upload_ttl_seconds
        self.download_ttl_seconds = download_ttl_seconds

    def create_upload(
        self, room_id: str, username: str, filename: str, content_type: str, size: int
    ) -> Upload:
        require_member(self.rooms, room_id, username)
        self.check_declared(content_type, size)
        upload_id = new_upload_id()
        expires_at = int(self.clock()) + self.upload_ttl_seconds
        url, fields = self.store.presign_post(
            object_key(room_id, upload_id), size, content_type, filename, self.upload_ttl_seconds
        )
        return Upload(upload_id=upload_id, url=url, fields=fields, expires_at=expires_at)

    def check_declared(self, content_type: str, size: int) -> None:
        if content_type not in self.content_types:
            raise InvalidInputError(
                "That file type is not allowed; allowed: " + ", ".join(sorted(self.content_types))
            )
        if size > self.max_bytes:
            raise TooLargeError(f"Files are at most {self.max_bytes} bytes.")

    def attachments(self, room_id: str, upload_ids: Sequence[str]) -> tuple[Attachment, ...]:
        """The uploads as attachments, each checked in the bucket; InvalidInputError for any
        that was never uploaded (or under another room), has another size than it was
        declared with, or a type not allowed. The caller checked membership."""
        result = []
        for upload_id in upload_ids:
            stored = self.store.head(object_key(room_id, upload_id))
            if stored is None:
                raise InvalidInputError(f"There is no upload {upload_id} in this room.")
            if stored.content_type not in self.content_types or stored.size > self.max_bytes:
                raise InvalidInputError(f"Upload {upload_id} is not an allowed file.")
            if stored.size < 0 or stored.size != stored.declared_size:
                raise InvalidInputError(f"Upload {upload_id} is not the size it was declared with.")
            result.append(
                Attachment(
                    upload_id=upload_id,
                    filename=stored.filename or upload_id,
                    content_type=stored.content_type,
                    size=stored.size,
                )
            )
        return tuple(result)

    def mark_attached(self, room_id: str, attachments: Sequence[Attachment]) -> None:
        """After the message is stored: its files are kept past the unattached-upload expiry."""
        for attachment in attachments:
            self.store.mark_attached(object_key(room_id, attachment.upload_id))

    def download_url(self, room_id: str, upload_id: str, username: str) -> str:
        require_member(self.rooms, room_id, username)
        stored = self.store.head(object_key(room_id, upload_id))
        if stored is None:
            raise NotFoundError("There is no such upload in this room.")
        # What the bucket holds is served as an allowed type only, and never as a page.
        content_type = (
            stored.content_type
            if stored.content_type in self.content_types
            else "application/octet-stream"
        )
        if content_type == "text/plain":
            content_type = "text/plain; charset=utf-8"
        disposition = content_disposition(stored.filename or upload_id, stored.content_type)
        return self.store.presign_get(
            object_key(room_id, upload_id), content_type, disposition, self.download_ttl_seconds
        )

    def purge_room_page(self, room_id: str, limit: int = 1000) -> int:
        """Deletes up to `limit` of a deleted room's objects; how many."""
        return self.store.delete_prefix_page(room_prefix(room_id), limit)
