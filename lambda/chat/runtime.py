"""The composition helpers every handler module uses at import (once per container).

This is the only module besides the adapters (store, notifier) that touches boto3: clients are
made here with explicit timeouts and retries and handed to the domain.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from chat.accounts import BuiltinIdentity, CognitoIdentity, IdentityProvider
from chat.config import ConfigurationError, Settings
from chat.fanout import Chunking
from chat.jobs import FanOutQueue, PurgeQueue
from chat.limits import Limiter
from chat.media import MediaService
from chat.media_store import MediaStore
from chat.notifier import DirectReplies, ManagementApiPoster, Notifier
from chat.passwords import PasswordHasher
from chat.store import (
    ConnectionsStore,
    LimitsStore,
    MessagesStore,
    RoomsStore,
    UsersStore,
)
from chat.tokens import CognitoTokenVerifier, SigningKey, TokenService

_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with whatever `extra=` fields the call gave."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    # The Lambda runtime installs its own handler; format it rather than adding a second one.
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stdout))
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter())
    root.setLevel(level.upper() if level.upper() in logging._nameToLevel else "INFO")
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def client_config(pool_size: int = 10) -> Config:
    return Config(
        connect_timeout=2,
        read_timeout=5,
        retries={"max_attempts": 3, "mode": "standard"},
        max_pool_connections=max(10, pool_size),
    )


@dataclass(frozen=True)
class Stores:
    users: UsersStore
    rooms: RoomsStore
    connections: ConnectionsStore
    messages: MessagesStore

    @classmethod
    def from_settings(cls, settings: Settings, pool_size: int = 10) -> Stores:
        dynamodb = boto3.resource("dynamodb", config=client_config(pool_size))
        return cls(
            users=UsersStore(dynamodb.Table(settings.users_table)),
            rooms=RoomsStore(
                dynamodb.Table(settings.rooms_table), dynamodb.Table(settings.connections_table)
            ),
            connections=ConnectionsStore(dynamodb.Table(settings.connections_table)),
            messages=MessagesStore(dynamodb.Table(settings.messages_table)),
        )


def limiter(settings: Settings, clock: Callable[[], float]) -> Limiter:
    """The abuse limits; off without LIMITS_TABLE or with RATE_LIMITS_ENABLED=false."""
    store = None
    if settings.limits.enabled and settings.limits_table:
        dynamodb = boto3.resource("dynamodb", config=client_config())
        store = LimitsStore(dynamodb.Table(settings.limits_table))
    return Limiter(store, settings.limits, clock)


def signing_key(settings: Settings) -> SigningKey:
    if settings.jwt_secret_parameter:
        ssm = boto3.client("ssm", config=client_config())
        return SigningKey.from_ssm(ssm, settings.jwt_secret_parameter)
    if settings.jwt_secret:
        return SigningKey.fixed(settings.jwt_secret)
    raise ConfigurationError("set JWT_SECRET_PARAMETER (or JWT_SECRET for local use)")


def identity_provider(
    settings: Settings, stores: Stores, clock: Callable[[], float]
) -> IdentityProvider:
    """The accounts of IDENTITY_PROVIDER: builtin (users table, HS256) or cognito."""
    if settings.identity_provider == "cognito":
        # Settings.from_env refuses cognito without these three.
        assert settings.cognito_issuer and settings.cognito_client_id
        assert settings.cognito_user_pool_id
        verifier = CognitoTokenVerifier(
            settings.cognito_issuer, settings.cognito_client_id, settings.cognito_jwks_url
        )
        client = boto3.client("cognito-idp", config=client_config())
        return CognitoIdentity(
            client,
            settings.cognito_user_pool_id,
            settings.cognito_client_id,
            verifier,
            clock,
            users=stores.users,
        )
    tokens = TokenService(
        signing_key(settings), settings.jwt_issuer, settings.jwt_ttl_seconds, clock
    )
    return BuiltinIdentity(stores.users, PasswordHasher(settings.bcrypt_rounds), tokens, clock)


def management_poster(settings: Settings) -> ManagementApiPoster:
    if not settings.management_endpoint:
        raise ConfigurationError("WS_MANAGEMENT_ENDPOINT is required to post to connections")
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=settings.management_endpoint,
        config=client_config(settings.fanout_concurrency),
    )
    return ManagementApiPoster(client)


def notifier(settings: Settings, stores: Stores) -> Notifier:
    executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="notify")
    return Notifier(management_poster(settings), stores.connections, executor)


def direct_replies(settings: Settings) -> DirectReplies:
    return DirectReplies(management_poster(settings))


def purge_queue(settings: Settings) -> PurgeQueue:
    if not settings.room_purge_queue_url:
        raise ConfigurationError("ROOM_PURGE_QUEUE_URL is required to delete rooms")
    return PurgeQueue(boto3.client("sqs", config=client_config()), settings.room_purge_queue_url)


def media_service(settings: Settings, stores: Stores, clock: Callable[[], float]) -> MediaService:
    """The media bucket's service; ConfigurationError without MEDIA_BUCKET. MEDIA_ENDPOINT_URL
    (the local cloud) points presigned URLs at an S3 the browser can reach; the calls the
    functions make go to the usual endpoint."""
    if not settings.media_bucket:
        raise ConfigurationError("MEDIA_BUCKET is required for uploads and attachments")
    config = Config(
        connect_timeout=2,
        read_timeout=5,
        retries={"max_attempts": 3, "mode": "standard"},
        signature_version="s3v4",
        s3={"addressing_style": "path" if settings.media_endpoint_url else "virtual"},
    )
    client = boto3.client("s3", config=config)
    presigner = (
        boto3.client("s3", endpoint_url=settings.media_endpoint_url, config=config)
        if settings.media_endpoint_url
        else None
    )
    return MediaService(
        stores.rooms,
        MediaStore(client, settings.media_bucket, presigner),
        clock,
        settings.media_max_bytes,
        settings.media_content_types,
        settings.media_upload_ttl_seconds,
        settings.media_download_ttl_seconds,
    )


def optional_media_service(
    settings: Settings, stores: Stores, clock: Callable[[], float]
) -> MediaService | None:
    """media_service, or None where no bucket is configured (uploads then answer not enabled)."""
    return media_service(settings, stores, clock) if settings.media_bucket else None


def fanout_chunking(settings: Settings) -> Chunking | None:
    """The stream processor's hand-off of large rooms to the fan-out workers, if configured."""
    if not settings.fanout_queue_url or settings.fanout_chunk_threshold <= 0:
        return None
    queue = FanOutQueue(boto3.client("sqs", config=client_config()), settings.fanout_queue_url)
    return Chunking(queue, settings.fanout_chunk_threshold, buckets=settings.fanout_buckets)
