"""GCRA, the generic cell rate algorithm, as pure integer arithmetic: the rule that
chat.store.LimitsStore.take carries out with conditional writes, and that tests/property
checks both here and against the store.

A bucket of `rate` per `per_seconds` sustained and `burst` at once has one number of state, the
theoretical arrival time `tat`. A request at `now` is admitted iff tat <= now + tolerance, and
then tat becomes max(tat, now) + interval; a refused request changes nothing and is admitted
from tat - tolerance on. So in any window of t ms at most burst + rate * t / (per_seconds *
1000) requests are admitted, and a stream at the sustained rate always is.

Time is counted in ticks of 1/ticks_per_ms ms, the coarsest tick in which the emission
interval (per_seconds * 1000 / rate ms) is whole: 1 ms for 5 per second or 20 per hour, 1/3 ms
for 3 per second. That keeps both guarantees exact for every rate; in whole milliseconds 600
per second would be 1 ms apart, 1000 per second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Bucket:
    """`rate` per `per_seconds` sustained, `burst` at once."""

    rate: int
    per_seconds: int
    burst: int

    @property
    def _gcd(self) -> int:
        return math.gcd(self.rate, self.per_seconds * 1000)

    @property
    def ticks_per_ms(self) -> int:
        return self.rate // self._gcd

    @property
    def interval(self) -> int:
        """Ticks between two requests at the sustained rate."""
        return self.per_seconds * 1000 // self._gcd

    @property
    def tolerance(self) -> int:
        # `burst` back-to-back requests are admitted: the first sets tat = now + interval, the
        # burst-th finds tat = now + (burst - 1) * interval.
        return (self.burst - 1) * self.interval

    def ticks(self, ms: int) -> int:
        return ms * self.ticks_per_ms

    def ms(self, ticks: int) -> int:
        """Ticks as whole milliseconds, rounded up (a wait is never shortened)."""
        return -(-ticks // self.ticks_per_ms)


def admit(bucket: Bucket, tat: int | None, now: int) -> int | None:
    """The new tat (ticks) when a request at `now` (ticks) is admitted; None when refused, which
    leaves `tat` as it was. `tat` None: the bucket is idle (no item)."""
    if tat is None or tat < now:
        return now + bucket.interval
    if tat <= now + bucket.tolerance:
        return tat + bucket.interval
    return None


def wait(bucket: Bucket, tat: int | None, now: int) -> int:
    """Ticks until a request would be admitted: 0 when it would be now."""
    return 0 if tat is None else max(0, tat - bucket.tolerance - now)
