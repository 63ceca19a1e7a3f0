"""JWTs (HS256) for the REST API and the signing key behind them."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from chat.errors import UnauthorizedError
from chat.ids import new_token_id

ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32
NOT_VALID = "The token is missing or not valid."
MAX_TOKEN_ID_CHARS = 128


@dataclass(frozen=True)
class Credential:
    """What a verified token says: whose it is, which token it is, and what a logout checks it
    against (chat.accounts.AccountService)."""

    username: str
    # The `jti` claim; for a token that carries none (made before logout existed), a digest of
    # the token itself, which is just as unique to it.
    token_id: str
    issued_at: int
    expires_at: int
    # The builtin tokens' `ver` claim, 0 for tokens made before it existed; None for Cognito's
    # ID tokens, which carry no number of ours (log out everywhere then goes by `issued_at`).
    version: int | None


def _token_id(claims: dict[str, Any], token: str) -> str:
    jti = claims.get("jti")
    if jti is None:
        return "sha256:" + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    if not isinstance(jti, str) or not jti or len(jti) > MAX_TOKEN_ID_CHARS:
        raise UnauthorizedError(NOT_VALID)
    return jti


def _whole_number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UnauthorizedError(NOT_VALID)
    return value


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

    def issue(self, username: str, version: int = 0) -> tuple[str, int]:
        """A token for `username` at the user's current token version (TokenState.version)."""
        now = int(self._clock())
        expires_at = now + self._ttl
        claims = {
            "sub": username,
            "iat": now,
            "exp": expires_at,
            "iss": self._issuer,
            "jti": new_token_id(),
            "ver": version,
        }
        return jwt.encode(claims, self._key.get(), algorithm=ALGORITHM), expires_at

    def verify(self, token: str) -> str:
        """The username in a valid token; UnauthorizedError for anything else."""
        return self.credential(token).username

    def credential(self, token: str) -> Credential:
        """What a valid token says (signature, issuer, expiry checked); UnauthorizedError for
        anything else. Whether it was logged out is the caller's question (one read)."""
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
            raise UnauthorizedError(NOT_VALID) from e
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise UnauthorizedError(NOT_VALID)
        # Tokens made before logout existed carry no `ver`: version 0, deliberately, so the
        # first log out everywhere ends them (docs/design.md).
        return Credential(
            username=subject,
            token_id=_token_id(claims, token),
            issued_at=_whole_number(claims["iat"]),
            expires_at=_whole_number(claims["exp"]),
            version=_whole_number(claims.get("ver", 0)),
        )


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
            raise UnauthorizedError(NOT_VALID) from e
        if claims.get("token_use") != "id":
            raise UnauthorizedError(NOT_VALID)
        return claims

    def verify(self, token: str) -> str:
        """The username in a valid Cognito ID token."""
        return self.credential(token).username

    def credential(self, token: str) -> Credential:
        """What a valid Cognito ID token says; its `jti` names it for a logout."""
        claims = self.claims(token)
        name = claims.get("cognito:username")
        subject = claims.get("sub")
        if not isinstance(name, str) or not name or not isinstance(subject, str) or not subject:
            raise UnauthorizedError(NOT_VALID)
        preferred = claims.get("preferred_username")
        shown = (
            preferred if isinstance(preferred, str) and preferred.lower() == name.lower() else name
        )
        return Credential(
            username=shown,
            token_id=_token_id(claims, token),
            issued_at=_whole_number(claims["iat"]),
            expires_at=_whole_number(claims["exp"]),
            version=None,
        )
