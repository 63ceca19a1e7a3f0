"""Abuse limits (docs/protocol.md, "Limits"), held in the limits table so they hold across
containers: a GCRA token bucket for message writes and sign-ups, fixed windows of failures for
login, and a cool-down after a rejected join request. RATE_LIMITS_ENABLED=false turns every
one of them off (load tests, benchmarks)."""

from __future__ import annotations

import math
from collections.abc import Callable

from chat import keys
from chat.config import LimitSettings
from chat.errors import RateLimitedError
from chat.gcra import Bucket
from chat.models import user_key
from chat.store import LimitsStore


def _seconds(ms: int) -> int:
    return max(1, math.ceil(ms / 1000))


class Limiter:
    def __init__(
        self, store: LimitsStore | None, settings: LimitSettings, clock: Callable[[], float]
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock

    @property
    def active(self) -> bool:
        return self.settings.enabled and self.store is not None

    def _now_ms(self) -> int:
        # Rounded, not truncated: 1800000000.123 s * 1000 is 1800000000122.9998 in floats.
        return round(self.clock() * 1000)

    def _take(self, what: str, who: str, bucket: Bucket) -> None:
        if not self.active:
            return
        assert self.store is not None
        wait = self.store.take(keys.rate(what, who, bucket.ticks_per_ms), self._now_ms(), bucket)
        if wait:
            raise RateLimitedError(_seconds(wait))

    def message_write(self, username: str) -> None:
        """sendMessage, editMessage, react: one bucket per user."""
        self._take("msg", user_key(username), self.settings.messages)

    def signup(self, source_ip: str) -> None:
        self._take("signup", source_ip, self.settings.signup)

    def _login_keys(self, username: str, source_ip: str) -> list[tuple[dict[str, str], int]]:
        who = user_key(username)
        s = self.settings
        return [
            (keys.rate("login", f"{who}#{source_ip}"), s.login_failures_per_source),
            (keys.rate("login", who), s.login_failures_per_user),
        ]

    def login_allowed(self, username: str, source_ip: str) -> None:
        """RateLimitedError while the (username, source) pair or the username has too many
        failures in its window; one read of both counters. Unknown usernames count the same."""
        if not self.active:
            return
        assert self.store is not None
        pairs = self._login_keys(username, source_ip)
        found = self.store.windows([k for k, _ in pairs])
        now = self._now_ms()
        waits = [
            end - now
            for key, limit in pairs
            for n, end in [found.get(key["pk"], (0, 0))]
            if n >= limit and end > now
        ]
        if waits:
            raise RateLimitedError(_seconds(max(waits)))

    def login_failed(self, username: str, source_ip: str) -> None:
        if not self.active:
            return
        assert self.store is not None
        now, window = self._now_ms(), self.settings.login_window_seconds * 1000
        for key, _ in self._login_keys(username, source_ip):
            self.store.count(key, now, window)

    def join_allowed(self, username: str, room_id: str) -> None:
        """After a rejection the user's next join request to the room within the cool-down is
        rate_limited; one read."""
        if not self.active:
            return
        assert self.store is not None
        wait = self.store.wait_ms(
            keys.rate("join", f"{user_key(username)}#{room_id}"), self._now_ms(), self._cooldown
        )
        if wait:
            raise RateLimitedError(_seconds(wait))

    def join_rejected(self, username: str, room_id: str) -> None:
        if not self.active:
            return
        assert self.store is not None
        # A bucket of one unit refilling over the cool-down: tat = now + cool-down.
        self.store.take(
            keys.rate("join", f"{user_key(username)}#{room_id}"), self._now_ms(), self._cooldown
        )

    @property
    def _cooldown(self) -> Bucket:
        """The join cool-down as a bucket of one, refilling over the cool-down (whole ms)."""
        return Bucket(1, self.settings.join_cooldown_seconds, 1)
