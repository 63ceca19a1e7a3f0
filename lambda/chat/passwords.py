"""Password hashing with bcrypt.

bcrypt reads at most 72 bytes of a password and bcrypt 5 raises on longer input. A 128-character
password of multi-byte characters can be 512 bytes, so every password is first reduced to a
fixed 44-byte value (base64 of its SHA-256), which bcrypt then hashes in full: nothing is ever
truncated, and the base64 form has no NUL bytes (which bcrypt would also stop at).
"""

from __future__ import annotations

import base64
import hashlib
import secrets

import bcrypt

SCHEME = "bcrypt-sha256$"
# A cost-12 hash of a random value nobody kept: checked against for unknown usernames, so that
# such a login costs the same bcrypt work. Shipped precomputed so a cold start does not spend
# a quarter of a second making one; other costs make theirs at start-up.
_DUMMY_HASHES = {12: SCHEME + "$2b$12$ba9CBgVPyDMUKjqKtSbv3e6INIFIVk4M5cvcbpqbaw/aRkQ39qy8u"}


def _prehash(password: str) -> bytes:
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest())


class PasswordHasher:
    def __init__(self, rounds: int = 12) -> None:
        self.rounds = rounds
        # Checked against when a username is unknown, so that a login for an unknown user costs
        # the same bcrypt work as one with a wrong password.
        self._dummy_hash = _DUMMY_HASHES.get(rounds) or self.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        hashed = bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds=self.rounds))
        return SCHEME + hashed.decode("ascii")

    def verify(self, password: str, stored: str | None) -> bool:
        if stored is None:
            self._check(password, self._dummy_hash)
            return False
        return self._check(password, stored)

    @staticmethod
    def _check(password: str, stored: str) -> bool:
        if not stored.startswith(SCHEME):
            return False
        digest = stored[len(SCHEME) :].encode("ascii")
        try:
            return bool(bcrypt.checkpw(_prehash(password), digest))
        except ValueError:
            return False
