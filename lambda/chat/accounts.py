"""Accounts: signup, login, sessions (JWT) and single-use WebSocket tickets."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from chat.errors import InvalidCredentialsError, UnauthorizedError
from chat.ids import new_ticket
from chat.models import iso_now
from chat.passwords import PasswordHasher
from chat.store import UsersStore
from chat.tokens import TokenService


def ticket_hash(ticket: str) -> str:
    # Only the hash is stored: a read of the table does not yield usable tickets.
    # surrogatepass: a forged ticket holding a lone surrogate hashes to a key that matches nothing.
    return hashlib.sha256(ticket.encode("utf-8", errors="surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Session:
    token: str
    expires_at: int
    username: str


class AccountService:
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
            raise InvalidCredentialsError("Wrong username or password.")
        canonical = user.username
        token, expires_at = self.tokens.issue(canonical)
        return Session(token, expires_at, canonical)

    def authenticate(self, authorization_header: str | None) -> str:
        """The username behind an `Authorization: Bearer <jwt>` header."""
        if not authorization_header:
            raise UnauthorizedError("Log in first: the Authorization header is missing.")
        scheme, _, token = authorization_header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthorizedError("The Authorization header must be 'Bearer <token>'.")
        return self.tokens.verify(token.strip())


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
