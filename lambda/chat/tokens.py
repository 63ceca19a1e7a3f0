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


COGNITO_ALGORITHM = "RS256"


class CognitoTokenVerifier:
    """Cognito ID tokens: RS256 against the pool's JWKS, issuer, audience (the app client id),
    token_use "id" and expiry. The JWKS is fetched on first use and cached per container
    (PyJWKClient); a token whose `kid` is not in the cached set triggers one refetch, so a key
    rotation needs no restart.

    The user is `cognito:username` (the pool's immutable name, lowercased at sign-up), shown
    as the `preferred_username` written at sign-up when that is the same name ignoring case:
    a user who rewrites preferred_username keeps their own name and cannot take another's.
    """

    def __init__(
        self,
        issuer: str,
        client_id: str,
        jwks_url: str | None = None,
        jwks_client: Any = None,
    ) -> None:
        self._issuer = issuer.rstrip("/")
        self._client_id = client_id
        self._jwks = jwks_client or jwt.PyJWKClient(
            jwks_url or f"{self._issuer}/.well-known/jwks.json",
            cache_keys=True,
            lifespan=6 * 3600,
            timeout=5,
        )

    def claims(self, token: str) -> dict[str, Any]:
        """The verified claims of a Cognito ID token; UnauthorizedError for anything else."""
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[COGNITO_ALGORITHM],
                issuer=self._issuer,
                audience=self._client_id,
                options={"require": ["sub", "iat", "exp", "iss", "aud", "token_use"]},
                leeway=0,
            )
        except jwt.ExpiredSignatureError as e:
            raise UnauthorizedError("Your session has expired. Please log in again.") from e
        except jwt.PyJWKClientConnectionError:
            raise  # the pool's JWKS is unreachable: our fault, not the caller's
        except (jwt.PyJWTError, UnicodeError, ValueError) as e:
            raise UnauthorizedError("The token is missing or not valid.") from e
        if claims.get("token_use") != "id":
            raise UnauthorizedError("The token is missing or not valid.")
        return claims

    def verify(self, token: str) -> str:
        """The username in a valid Cognito ID token."""
        claims = self.claims(token)
        name = claims.get("cognito:username")
        subject = claims.get("sub")
        if not isinstance(name, str) or not name or not isinstance(subject, str) or not subject:
            raise UnauthorizedError("The token is missing or not valid.")
        preferred = claims.get("preferred_username")
        if isinstance(preferred, str) and preferred.lower() == name.lower():
            return preferred
        return name
