"""Accounts: signup, login, sessions (JWT) and single-use WebSocket tickets, with the accounts
held by the builtin users table or by Amazon Cognito (IdentityProvider)."""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from chat.errors import (
    ConflictError,
    InvalidCredentialsError,
    InvalidInputError,
    UnauthorizedError,
    UsernameTakenError,
)
from chat.ids import new_ticket
from chat.models import Ticket, TokenState, User, iso_now
from chat.notifier import Notifier
from chat.passwords import PasswordHasher
from chat.store import UsersStore
from chat.tokens import NOT_VALID, CognitoTokenVerifier, Credential, TokenService

WRONG_CREDENTIALS = "Wrong username or password."
# The passwordHash of a users-table entry whose account lives in Cognito: no password matches it.
COGNITO_ACCOUNT = "cognito"
LOGGED_OUT = "This session was logged out. Please log in again."
LOGGED_OUT_EVERYWHERE = "You were logged out everywhere. Please log in again."
# Tokens logged out one by one that a user's item remembers (each until it would have expired);
# a logout that finds the map full logs out every session instead, so the item stays small
# (32 entries of about 40 bytes: the item stays well inside one 4 KB read unit).
MAX_REVOKED_TOKENS = 32
# Conditional writes of the token record that lost to a concurrent one are read and tried again.
SAVE_ATTEMPTS = 5


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

    def credential(self, token: str) -> Credential:
        """What a valid token says; UnauthorizedError for anything else. Whether it was logged
        out is AccountService's question."""
        ...

    def enrol(self, username: str) -> None:
        """Make sure the users table has the user's entry, where logouts are recorded."""
        ...

    def sign_out_everywhere(self, username: str) -> None:
        """What the provider itself offers for "log out everywhere" (Cognito's global sign-out),
        on top of the users table's record."""
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
        # The read above is the one that gives the token its version: no read of its own.
        token, expires_at = self.tokens.issue(canonical, user.token_version)
        return Session(token, expires_at, canonical)

    def credential(self, token: str) -> Credential:
        return self.tokens.credential(token)

    def enrol(self, username: str) -> None:
        """Every builtin account has its entry from sign-up."""

    def sign_out_everywhere(self, username: str) -> None:
        """Our tokens are ours alone: the users table's record is all there is."""


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
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.user_pool_id = user_pool_id
        self.client_id = client_id
        self.verifier = verifier
        self.clock = clock
        self.users = users
        self.sleep = sleep

    def _list(self, username: str) -> User | None:
        """The user's entry in the users table, with no password (COGNITO_ACCOUNT): what the
        rest of the chat looks users up by (direct rooms) and where logouts are recorded. Made
        at sign-up, and at login for an account made in Cognito itself (console, admin API).
        The entry as it was, or None if there was none."""
        if self.users is None:
            return None
        user = self.users.get_user(username)
        if user is None:
            with contextlib.suppress(UsernameTakenError):  # a concurrent login listed it
                self.users.create_user(username, COGNITO_ACCOUNT, iso_now(self.clock()))
        return user

    def enrol(self, username: str) -> None:
        self._list(username)

    def sign_out_everywhere(self, username: str) -> None:
        """AdminUserGlobalSignOut: Cognito stops taking the user's refresh and access tokens
        (other apps of the pool, a hosted UI). It does not make ID tokens fail a signature
        check, which is all our functions do, so the users table's record is what ends them."""
        try:
            self.client.admin_user_global_sign_out(
                UserPoolId=self.user_pool_id, Username=username.lower()
            )
        except self.client.exceptions.ClientError as e:
            if self._code(e) != "UserNotFoundException":  # deleted from the pool meanwhile
                raise

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
        session, wait = self._login(username, password)
        if wait > 0:
            # Logged out everywhere in this very second: a token from it would be refused
            # (Cognito's `iat` counts whole seconds), so take one from the next.
            self.sleep(wait)
            session, _ = self._login(username, password)
        return session

    def _login(self, username: str, password: str) -> tuple[Session, float]:
        """A session, and how long to wait before its token would outlive the user's last log
        out everywhere (0: it does; the entry's record is read by the listing anyway)."""
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
        credential = self.verifier.credential(token)
        user = self._list(credential.username)
        session = Session(token, started + int(result.get("ExpiresIn", 3600)), credential.username)
        if user is None or credential.issued_at > user.signed_out_at:
            return session, 0.0
        # Until the second after it (at most 2 s, should another container's clock run ahead).
        return session, min(2.0, max(0.001, user.signed_out_at + 1 - self.clock()))

    def credential(self, token: str) -> Credential:
        return self.verifier.credential(token)


@dataclass(frozen=True)
class Caller:
    """A bearer token that passed every check, and the token record it was checked against."""

    credential: Credential
    state: TokenState | None  # None: the users table has no entry for the user

    @property
    def username(self) -> str:
        return self.credential.username


def refusal(credential: Credential, state: TokenState | None) -> str | None:
    """Why a verified token no longer counts (logged out, alone or everywhere), or None."""
    if state is None:
        return None
    if credential.token_id in state.revoked:
        return LOGGED_OUT
    if credential.version is None:  # Cognito's ID tokens carry no version of ours
        ended = state.signed_out_at and credential.issued_at <= state.signed_out_at
        return LOGGED_OUT_EVERYWHERE if ended else None
    return LOGGED_OUT_EVERYWHERE if credential.version != state.version else None


def without_token(state: TokenState, credential: Credential, now: int, limit: int) -> TokenState:
    """The record after logging out one token: expired entries pruned, this one added; when
    the map is full, every session is logged out instead (the version moves on)."""
    revoked = {token_id: exp for token_id, exp in state.revoked.items() if exp > now}
    if len(revoked) >= limit:
        return everywhere(state, now)
    revoked[credential.token_id] = credential.expires_at
    return replace(state, revoked=revoked)


def everywhere(state: TokenState, now: int) -> TokenState:
    """The record after logging out everywhere: every token made so far is refused by its
    version or its issue time, so the one-by-one entries are no longer needed."""
    return replace(
        state, version=state.version + 1, signed_out_at=max(now, state.signed_out_at), revoked={}
    )


class AccountService:
    """Sign-up, login, the bearer header and logout, over whichever IdentityProvider is
    configured.

    Every token check is the provider's signature check plus one strongly consistent GetItem
    of the user's item (UsersStore.token_state), which holds the token version, the time of
    the last log out everywhere and the tokens logged out one by one (docs/design.md)."""

    def __init__(
        self,
        provider: IdentityProvider,
        users: UsersStore,
        clock: Callable[[], float],
        notifier: Notifier | None = None,
        max_revoked: int = MAX_REVOKED_TOKENS,
    ) -> None:
        self.provider = provider
        self.users = users
        self.clock = clock
        # Closes the user's open WebSocket connections on log out everywhere.
        self.notifier = notifier
        self.max_revoked = max_revoked

    def signup(self, username: str, password: str) -> str:
        return self.provider.signup(username, password)

    def login(self, username: str, password: str) -> Session:
        return self.provider.login(username, password)

    def authenticate(self, authorization_header: str | None) -> str:
        """The username behind an `Authorization: Bearer <jwt>` header."""
        return self.caller(authorization_header).username

    def caller(self, authorization_header: str | None) -> Caller:
        """The checked token behind an `Authorization: Bearer <jwt>` header: valid, and
        neither logged out alone nor everywhere; UnauthorizedError otherwise."""
        if not authorization_header:
            raise UnauthorizedError("Log in first: the Authorization header is missing.")
        scheme, _, token = authorization_header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthorizedError("The Authorization header must be 'Bearer <token>'.")
        credential = self.provider.credential(token.strip())
        state = self.users.token_state(credential.username)
        reason = refusal(credential, state)
        if reason is not None:
            raise UnauthorizedError(reason)
        return Caller(credential, state)

    def logout(self, authorization_header: str | None) -> None:
        """This token stops working, at once; the user's other sessions keep theirs."""
        caller = self.caller(authorization_header)

        def change(state: TokenState, now: int) -> TokenState | None:
            if refusal(caller.credential, state) is not None:
                return None  # logged out meanwhile (another request, or everywhere)
            return without_token(state, caller.credential, now, self.max_revoked)

        self._change(caller, change)

    def logout_everywhere(self, authorization_header: str | None) -> int:
        """Every token issued to the user until now stops working, and the user's open
        WebSocket connections are closed; how many were closed."""
        caller = self.caller(authorization_header)
        self._change(caller, everywhere)
        self.provider.sign_out_everywhere(caller.username)
        # After the record is written: a connect racing this reads it at redemption and is
        # refused, or is listed here (short of a window of milliseconds between the two).
        return self.notifier.disconnect_user(caller.username) if self.notifier else 0

    def _change(
        self, caller: Caller, change: Callable[[TokenState, int], TokenState | None]
    ) -> None:
        """Applies `change` to the user's token record with a conditional write, reading it
        again when a concurrent write came first."""
        username = caller.username
        state = caller.state
        for _ in range(SAVE_ATTEMPTS):
            if state is None:
                self.provider.enrol(username)
                state = self.users.token_state(username)
                if state is None:
                    raise UnauthorizedError(NOT_VALID)
            after = change(state, int(self.clock()))
            if after is None or self.users.save_token_state(username, state, after):
                return
            state = self.users.token_state(username)
        raise ConflictError("Your sessions changed while logging out. Please try again.")


class TicketService:
    """Single-use WebSocket tickets: the JWT itself never travels in a URL.

    A ticket records which token asked for it; redeeming it checks that token's record again
    (one GetItem of the user's item), so a logout in the ticket's 30 seconds holds for it too."""

    def __init__(self, users: UsersStore, clock: Callable[[], float], ttl_seconds: int = 30):
        self.users = users
        self.clock = clock
        self.ttl_seconds = ttl_seconds

    def issue(self, caller: Caller) -> tuple[str, int]:
        ticket = new_ticket()
        expires_at = int(self.clock()) + self.ttl_seconds
        credential = caller.credential
        held = Ticket(
            caller.username, credential.token_id, credential.version, credential.issued_at
        )
        self.users.put_ticket(ticket_hash(ticket), held, expires_at)
        return ticket, expires_at

    def redeem(self, ticket: str | None) -> str | None:
        """The username a valid ticket was issued to, consuming it; None otherwise (also when
        its token was logged out since)."""
        if not ticket or len(ticket) > 256:
            return None
        held = self.users.consume_ticket(ticket_hash(ticket), int(self.clock()))
        if held is None:
            return None
        credential = Credential(
            held.username, held.token_id, held.token_issued_at, 0, held.token_version
        )
        if refusal(credential, self.users.token_state(held.username)) is not None:
            return None
        return held.username
