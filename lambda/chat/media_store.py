"""The media bucket (S3): presigned POSTs and GETs, HeadObject, and clearing a room's prefix.

An upload's declared filename, type and size live on the S3 object itself: the presigned POST's
policy pins `Content-Type` and the `x-amz-meta-filename` and `x-amz-meta-size` fields, and content-length-range
pins the size, so what HeadObject reads back is what the uploader declared and S3 accepted. No table
item is written for an upload that is never finished or never attached: the bucket's lifecycle
rule removes those objects, and nothing else needs cleaning up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from botocore.exceptions import ClientError

FILENAME_FIELD = "x-amz-meta-filename"
SIZE_FIELD = "x-amz-meta-size"
# Attached or not is the object's `media` tag: the POST policy pins `incoming`, attaching
# sets `attached`, and the bucket's lifecycle rule (terraform/media.tf) expires objects still
# tagged `incoming` after a day. The key stays rooms/<roomId>/<uploadId> either way, so the
# room's purge clears one prefix.
STATE_TAG = "media"
INCOMING, ATTACHED = "incoming", "attached"


def tagging(state: str) -> str:
    return f"<Tagging><TagSet><Tag><Key>{STATE_TAG}</Key><Value>{state}</Value></Tag></TagSet></Tagging>"


def object_key(room_id: str, upload_id: str) -> str:
    return f"{room_prefix(room_id)}{upload_id}"


def room_prefix(room_id: str) -> str:
    return f"rooms/{room_id}/"


@dataclass(frozen=True)
class StoredObject:
    size: int
    content_type: str
    filename: str
    declared_size: int  # x-amz-meta-size; -1 when absent or not a number


class MediaStore:
    def __init__(self, client: Any, bucket: str, presigner: Any | None = None) -> None:
        """`presigner` signs the URLs the browser uses (the local cloud: its own S3 endpoint,
        which checks POST policies); `client` makes the calls (HeadObject, tagging, deletes)."""
        self.client = client
        self.bucket = bucket
        self.presigner = presigner if presigner is not None else client

    def presign_post(
        self, key: str, size: int, content_type: str, filename: str, expires_in: int
    ) -> tuple[str, dict[str, str]]:
        """A form that accepts exactly this key, byte count and Content-Type, for `expires_in`
        seconds. The filename is percent-encoded: S3 metadata is ASCII."""
        encoded = quote(filename, safe="")
        post = self.presigner.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields={
                "Content-Type": content_type,
                FILENAME_FIELD: encoded,
                SIZE_FIELD: str(size),
                "tagging": tagging(INCOMING),
            },
            Conditions=[
                ["content-length-range", size, size],
                {"Content-Type": content_type},
                {FILENAME_FIELD: encoded},
                {SIZE_FIELD: str(size)},
                {"tagging": tagging(INCOMING)},
            ],
            ExpiresIn=expires_in,
        )
        return str(post["url"]), {str(k): str(v) for k, v in post["fields"].items()}

    def head(self, key: str) -> StoredObject | None:
        try:
            response = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        metadata = response.get("Metadata") or {}
        declared = str(metadata.get("size", ""))
        return StoredObject(
            declared_size=int(declared) if declared.isascii() and declared.isdigit() else -1,
            size=int(response.get("ContentLength", -1)),
            content_type=str(response.get("ContentType", "")),
            filename=unquote(str(metadata.get("filename", ""))),
        )

    def mark_attached(self, key: str) -> None:
        """Takes the object out of the lifecycle rule that expires unattached uploads."""
        self.client.put_object_tagging(
            Bucket=self.bucket,
            Key=key,
            Tagging={"TagSet": [{"Key": STATE_TAG, "Value": ATTACHED}]},
        )

    def presign_get(self, key: str, content_type: str, disposition: str, expires_in: int) -> str:
        return str(
            self.presigner.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.bucket,
                    "Key": key,
                    "ResponseContentType": content_type,
                    "ResponseContentDisposition": disposition,
                },
                ExpiresIn=expires_in,
            )
        )

    def delete_prefix_page(self, prefix: str, limit: int = 1000) -> int:
        """Deletes up to `limit` objects under `prefix`; how many."""
        response = self.client.list_objects_v2(
            Bucket=self.bucket, Prefix=prefix, MaxKeys=min(limit, 1000)
        )
        keys = [{"Key": o["Key"]} for o in response.get("Contents", [])]
        if keys:
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
        return len(keys)
