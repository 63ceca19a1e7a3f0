"""Settings read once from the environment (see docs/design.md for the full list)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from chat.gcra import Bucket


@dataclass(frozen=True)
class LimitSettings:
    enabled: bool = True
    messages: Bucket = Bucket(5, 1, 20)
    signup: Bucket = Bucket(20, 3600, 20)
    login_failures_per_source: int = 5
    login_failures_per_user: int = 100
    login_window_seconds: int = 900
    join_cooldown_seconds: int = 600
    typing_window_seconds: int = 2

    @property
    def typing_window(self) -> int | None:
        """Seconds between the typing events forwarded per user and room; None with the limits
        off, when every one is forwarded (the contract's one switch turns every limit off)."""
        return self.typing_window_seconds if self.enabled else None


IDENTITY_PROVIDERS = ("builtin", "cognito")
DEFAULT_MEDIA_CONTENT_TYPES = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
    "application/zip",
)


class ConfigurationError(RuntimeError):
    """A required environment variable is missing or malformed."""


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError as e:
        raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from e


# Types a browser would run as a page or a script if it ever rendered them from our origin.
_NEVER_SERVED = ("text/html", "application/xhtml+xml", "image/svg+xml", "text/javascript")


def _content_types(raw: str | None) -> tuple[str, ...]:
    """MEDIA_CONTENT_TYPES: a comma-separated list of lowercase MIME types; never text/html."""
    if not raw:
        return DEFAULT_MEDIA_CONTENT_TYPES
    types = tuple(t.strip().lower() for t in raw.split(",") if t.strip())
    for value in types:
        if "/" not in value or ";" in value or value in _NEVER_SERVED:
            raise ConfigurationError(f"MEDIA_CONTENT_TYPES may not hold {value!r}")
    return types or DEFAULT_MEDIA_CONTENT_TYPES


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise ConfigurationError(f"{name} must be at least 1, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw not in ("true", "false"):
        raise ConfigurationError(f"{name} must be true or false, got {raw!r}")
    return raw == "true"


def _limits(env: Mapping[str, str]) -> LimitSettings:
    """RATE_LIMITS_* (terraform/variables.tf, rate_limits_* and rate_limit_*)."""
    return LimitSettings(
        enabled=_bool(env, "RATE_LIMITS_ENABLED", True),
        messages=Bucket(
            _positive(env, "RATE_LIMIT_MESSAGES_PER_SECOND", 5),
            1,
            _positive(env, "RATE_LIMIT_MESSAGES_BURST", 20),
        ),
        signup=Bucket(
            _positive(env, "RATE_LIMIT_SIGNUPS_PER_HOUR", 20),
            3600,
            _positive(env, "RATE_LIMIT_SIGNUPS_PER_HOUR", 20),
        ),
        login_failures_per_source=_positive(env, "RATE_LIMIT_LOGIN_FAILURES_PER_SOURCE", 5),
        login_failures_per_user=_positive(env, "RATE_LIMIT_LOGIN_FAILURES_PER_USER", 100),
        login_window_seconds=_positive(env, "RATE_LIMIT_LOGIN_WINDOW_SECONDS", 900),
        join_cooldown_seconds=_positive(env, "RATE_LIMIT_JOIN_COOLDOWN_SECONDS", 600),
        typing_window_seconds=_positive(env, "RATE_LIMIT_TYPING_WINDOW_SECONDS", 2),
    )


@dataclass(frozen=True)
class Settings:
    users_table: str
    rooms_table: str
    connections_table: str
    messages_table: str
    jwt_secret_parameter: str | None = None
    jwt_secret: str | None = None
    jwt_issuer: str = "serverless-chat"
    jwt_ttl_seconds: int = 3600
    ticket_ttl_seconds: int = 30
    bcrypt_rounds: int = 12
    management_endpoint: str | None = None
    fanout_concurrency: int = 32
    cors_allow_origin: str = "*"
    log_level: str = "INFO"
    identity_provider: str = "builtin"
    cognito_user_pool_id: str | None = None
    cognito_client_id: str | None = None
    cognito_issuer: str | None = None
    cognito_jwks_url: str | None = None
    room_purge_queue_url: str | None = None
    room_purge_grace_seconds: int = 60
    media_bucket: str | None = None
    media_max_bytes: int = 10 * 1024 * 1024
    media_content_types: tuple[str, ...] = DEFAULT_MEDIA_CONTENT_TYPES
    media_upload_ttl_seconds: int = 300
    media_download_ttl_seconds: int = 300
    media_endpoint_url: str | None = None
    # Rooms of more connections than this go to the fan-out workers through this FIFO queue
    # (0 or no queue: every room is fanned out by the stream processor itself).
    fanout_queue_url: str | None = None
    fanout_chunk_threshold: int = 0
    fanout_buckets: int = 64
    limits_table: str | None = None
    limits: LimitSettings = LimitSettings()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        missing = [
            n
            for n in ("USERS_TABLE", "ROOMS_TABLE", "CONNECTIONS_TABLE", "MESSAGES_TABLE")
            if not env.get(n)
        ]
        if missing:
            raise ConfigurationError("missing environment variables: " + ", ".join(missing))
        identity = (env.get("IDENTITY_PROVIDER") or "builtin").lower()
        if identity not in IDENTITY_PROVIDERS:
            raise ConfigurationError(
                f"IDENTITY_PROVIDER must be one of {', '.join(IDENTITY_PROVIDERS)}, got {identity!r}"
            )
        if identity == "cognito":
            names = ("COGNITO_USER_POOL_ID", "COGNITO_CLIENT_ID", "COGNITO_ISSUER")
            missing = [n for n in names if not env.get(n)]
            if missing:
                raise ConfigurationError("IDENTITY_PROVIDER=cognito needs " + ", ".join(missing))
        return cls(
            users_table=env["USERS_TABLE"],
            rooms_table=env["ROOMS_TABLE"],
            connections_table=env["CONNECTIONS_TABLE"],
            messages_table=env["MESSAGES_TABLE"],
            jwt_secret_parameter=env.get("JWT_SECRET_PARAMETER") or None,
            jwt_secret=env.get("JWT_SECRET") or None,
            jwt_issuer=env.get("JWT_ISSUER") or "serverless-chat",
            jwt_ttl_seconds=_int(env, "JWT_TTL_SECONDS", 3600),
            ticket_ttl_seconds=_int(env, "TICKET_TTL_SECONDS", 30),
            bcrypt_rounds=_int(env, "BCRYPT_ROUNDS", 12),
            management_endpoint=env.get("WS_MANAGEMENT_ENDPOINT") or None,
            fanout_concurrency=max(1, _int(env, "FANOUT_CONCURRENCY", 32)),
            cors_allow_origin=env.get("CORS_ALLOW_ORIGIN") or "*",
            log_level=env.get("LOG_LEVEL") or "INFO",
            identity_provider=identity,
            cognito_user_pool_id=env.get("COGNITO_USER_POOL_ID") or None,
            cognito_client_id=env.get("COGNITO_CLIENT_ID") or None,
            cognito_issuer=(env.get("COGNITO_ISSUER") or "").rstrip("/") or None,
            cognito_jwks_url=env.get("COGNITO_JWKS_URL") or None,
            room_purge_queue_url=env.get("ROOM_PURGE_QUEUE_URL") or None,
            room_purge_grace_seconds=max(0, _int(env, "ROOM_PURGE_GRACE_SECONDS", 60)),
            media_bucket=env.get("MEDIA_BUCKET") or None,
            media_max_bytes=max(1, _int(env, "MEDIA_MAX_BYTES", 10 * 1024 * 1024)),
            media_content_types=_content_types(env.get("MEDIA_CONTENT_TYPES")),
            media_upload_ttl_seconds=max(1, _int(env, "MEDIA_UPLOAD_TTL_SECONDS", 300)),
            media_download_ttl_seconds=max(1, _int(env, "MEDIA_DOWNLOAD_TTL_SECONDS", 300)),
            media_endpoint_url=env.get("MEDIA_ENDPOINT_URL") or None,
            fanout_queue_url=env.get("FANOUT_QUEUE_URL") or None,
            fanout_chunk_threshold=max(0, _int(env, "FANOUT_CHUNK_THRESHOLD", 0)),
            fanout_buckets=max(1, _int(env, "FANOUT_BUCKETS", 64)),
            limits_table=env.get("LIMITS_TABLE") or None,
            limits=_limits(env),
        )
