"""Accounts: signup, login, sessions (JWT) and single-use WebSocket tickets, with the accounts
held by the builtin users table or by Amazon Cognito (IdentityProvider)."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from chat.errors import (
    InvalidCredentialsError,
    InvalidInputError,
    UnauthorizedError,
    UsernameTakenError,
)
from chat.ids import new_ticket
from chat.models import iso_now
from chat.passwords import PasswordHasher
from chat.store import UsersStore
from chat.tokens import CognitoTokenVerifier, TokenService

WRONG_CREDENTIALS = "Wrong username or password."
# The passwordHash of a users-table entry whose account lives in Cognito: no password matches it.
COGNITO_ACCOUNT = "cognito"


def ticket_hash(ticket: str) -> str:
    # Only the hash is stored: a read of the table does not yield usable tickets.
    # surrogatepass: a forged ticket holding a lone surrogate hashes to a key that matches nothing.
    return hashlib.sha256(ticket.encode("utf-8", errors="surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Session:
    token: str
    expires_at: int
    username: str


class IdentityProvider(Protocol):
    """Who holds the accounts: the builtin users table or Cognito (IDENTITY_PROVIDER). The
    handlers see only this interface, so neither mode is a branch in a handler."""

    def signup(self, username: str, password: str) -> str:
        """Create the account; the username as it will be shown. UsernameTakenError,
        InvalidInputError (a password the provider's policy refuses)."""
        ...

    def login(self, username: str, password: str) -> Session:
        """A session; InvalidCredentialsError, identical for unknown users and wrong passwords."""
        ...

    def verify(self, token: str) -> str:
        """The username in a valid token; UnauthorizedError for anything else."""
        ...


class BuiltinIdentity:
    """Accounts in the users table (bcrypt) and our own HS256 JWTs."""

    def __init__(
        self,
        users: UsersStore,
        hasher: PasswordHasher,
        tokens: TokenService,
        clock: Callable[[], float],
    ) -> None:
        self.users = users
        self.hasher = hasher
        self.tokens = tokens
        self.clock = clock

    def signup(self, username: str, password: str) -> str:
        self.users.create_user(username, self.hasher.hash(password), iso_now(self.clock()))
        return username

    def login(self, username: str, password: str) -> Session:
        user = self.users.get_user(username)
        stored = user.password_hash if user else None
        # verify() spends the same bcrypt work when the user is unknown.
        if not self.hasher.verify(password, stored) or user is None:
            raise InvalidCredentialsError(WRONG_CREDENTIALS)
        canonical = user.username
        token, expires_at = self.tokens.issue(canonical)
        return Session(token, expires_at, canonical)

    def verify(self, token: str) -> str:
        return self.tokens.verify(token)


class CognitoIdentity:
    """Accounts in an Amazon Cognito user pool, through its app client (no secret).

    The pool's username is the name lowercased, so names are unique regardless of case whatever
    the pool's own setting (and moto's, which ignores it); the name as typed goes in
    preferred_username, which the ID token carries back (see CognitoTokenVerifier.verify).

    Sign-up confirms the account at once with AdminConfirmSignUp: the chat collects no e-mail or
    phone number to verify. A team that wants verified addresses would add one to the form and let
    Cognito send the code (ConfirmSignUp), or confirm in a pre-sign-up Lambda trigger
    (autoConfirmUser) to keep the REST function without any admin permission.
    """

    def __init__(
        self,
        client: Any,
        user_pool_id: str,
        client_id: str,
        verifier: CognitoTokenVerifier,
        clock: Callable[[], float],
        users: UsersStore | None = None,
    ) -> None:
        self.client = client
        self.user_pool_id = user_pool_id
        self.client_id = client_id
        self.verifier = verifier
        self.clock = clock
        self.users = users

    def _list(self, username: str) -> None:
        """The user's entry in the users table, with no password (COGNITO_ACCOUNT): what the
        rest of the chat looks users up by (direct rooms). Made at sign-up, and at login for an
        account made in Cognito itself (console, admin API)."""
        if self.users is None or self.users.get_user(username) is not None:
            return
        with contextlib.suppress(UsernameTakenError):  # a concurrent login listed it
            self.users.create_user(username, COGNITO_ACCOUNT, iso_now(self.clock()))

    def _code(self, error: Exception) -> str:
        response = getattr(error, "response", None) or {}
        return str(response.get("Error", {}).get("Code", ""))

    def signup(self, username: str, password: str) -> str:
        try:
            self.client.sign_up(
                ClientId=self.client_id,
                Username=username.lower(),
                Password=password,
                UserAttributes=[{"Name": "preferred_username", "Value": username}],
            )
        except self.client.exceptions.ClientError as e:
            code = self._code(e)
            if code in ("UsernameExistsException", "AliasExistsException"):
                raise UsernameTakenError("That username is taken.") from e
            if code in ("InvalidPasswordException", "InvalidParameterException"):
                reason = str(e.response.get("Error", {}).get("Message") or "").strip()
                what = (
                    "The password does not meet the user directory's policy"
                    if code == "InvalidPasswordException"
                    else "The user directory refused this sign-up"
                )
                raise InvalidInputError(what + (f": {reason}" if reason else ".")) from e
            raise
        self._confirm(username)
        self._list(username)
        return username

    def _confirm(self, username: str) -> None:
        self.client.admin_confirm_sign_up(UserPoolId=self.user_pool_id, Username=username.lower())

    def _initiate(self, username: str, password: str) -> dict[str, Any]:
        response: dict[str, Any] = self.client.initiate_auth(
            ClientId=self.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username.lower(), "PASSWORD": password},
        )
        return response

    def login(self, username: str, password: str) -> Session:
        started = int(self.clock())
        try:
            try:
                response = self._initiate(username, password)
            except self.client.exceptions.UserNotConfirmedException:
                # Sign-up was cut off between SignUp and its confirmation: finish it, then
                # retry, so Cognito still checks the password.
                self._confirm(username)
                response = self._initiate(username, password)
        except self.client.exceptions.ClientError as e:
            if self._code(e) in (
                "NotAuthorizedException",
                "UserNotFoundException",
                "PasswordResetRequiredException",
            ):
                raise InvalidCredentialsError(WRONG_CREDENTIALS) from e
            raise
        result = response.get("AuthenticationResult")
        if not result:
            # A challenge (MFA, a new password): POST /auth/login has no step to answer it.
            raise InvalidCredentialsError(
                "This account needs a sign-in step the chat does not support "
                f"({response.get('ChallengeName', 'a challenge')}); ask your administrator."
            )
        token = str(result["IdToken"])
        shown = self.verifier.verify(token)
        self._list(shown)
        return Session(token, started + int(result.get("ExpiresIn", 3600)), shown)

    def verify(self, token: str) -> str:
        return self.verifier.verify(token)


class AccountService:
    """Sign-up, login and the bearer header, over whichever IdentityProvider is configured."""

    def __init__(self, provider: IdentityProvider) -> None:
        self.provider = provider

    def signup(self, username: str, password: str) -> str:
        return self.provider.signup(username, password)

    def login(self, username: str, password: str) -> Session:
        return self.provider.login(username, password)

    def authenticate(self, authorization_header: str | None) -> str:
        """The username behind an `Authorization: Bearer <jwt>` header."""
        if not authorization_header:
            raise UnauthorizedError("Log in first: the Authorization header is missing.")
        scheme, _, token = authorization_header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthorizedError("The Authorization header must be 'Bearer <token>'.")
        return self.provider.verify(token.strip())


class TicketService:
    """Single-use WebSocket tickets: the JWT itself never travels in a URL."""

    def __init__(self, users: UsersStore, clock: Callable[[], float], ttl_seconds: int = 30):
        self.users = users
        self.clock = clock
        self.ttl_seconds = ttl_seconds

    def issue(self, username: str) -> tuple[str, int]:
        ticket = new_ticket()
        expires_at = int(self.clock()) + self.ttl_seconds
        self.users.put_ticket(ticket_hash(ticket), username, expires_at)
        return ticket, expires_at

    def redeem(self, ticket: str | None) -> str | None:
        """The username a valid ticket was issued to, consuming it; None otherwise."""
        if not ticket or len(ticket) > 256:
            return None
        return self.users.consume_ticket(ticket_hash(ticket), int(self.clock()))
