"""JWTs (HS256) for the REST API and the signing key behind them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import jwt

from chat.errors import UnauthorizedError

ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32


class SigningKey:
    """The HS256 key, read once per container from SSM (or given directly for local use)."""

    def __init__(self, loader: Callable[[], str]) -> None:
        self._loader = loader
        self._value: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def fixed(cls, secret: str) -> SigningKey:
        return cls(lambda: secret)

    @classmethod
    def from_ssm(cls, ssm_client: Any, parameter_name: str) -> SigningKey:
        def load() -> str:
            response = ssm_client.get_parameter(Name=parameter_name, WithDecryption=True)
            return str(response["Parameter"]["Value"])

        return cls(load)

    def get(self) -> str:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    value = self._loader()
                    if len(value.encode()) < MIN_SECRET_BYTES:
                        raise RuntimeError(
                            f"The JWT signing key must be at least {MIN_SECRET_BYTES} bytes."
                        )
                    self._value = value
        return self._value


class TokenService:
    def __init__(
        self,
        key: SigningKey,
        issuer: str,
        ttl_seconds: int,
        clock: Callable[[], float],
    ) -> None:
        self._key = key
        self._issuer = issuer
        self._ttl = ttl_seconds
        self._clock = clock

    def issue(self, username: str) -> tuple[str, int]:
        now = int(self._clock())
        expires_at = now + self._ttl
        claims = {"sub": username, "iat": now, "exp": expires_at, "iss": self._issuer}
        return jwt.encode(claims, self._key.get(), algorithm=ALGORITHM), expires_at

    def verify(self, token: str) -> str:
        """The username in a valid token; UnauthorizedError for anything else."""
        try:
            claims = jwt.decode(
                token,
                self._key.get(),
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                options={"require": ["sub", "iat", "exp", "iss"]},
                leeway=0,
            )
        except jwt.ExpiredSignatureError as e:
            raise UnauthorizedError("Your session has expired. Please log in again.") from e
        except (jwt.PyJWTError, UnicodeError) as e:  # UnicodeError: a lone surrogate
            raise UnauthorizedError("The token is missing or not valid.") from e
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise UnauthorizedError("The token is missing or not valid.")
        return subject
