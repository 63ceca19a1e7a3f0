"""The abuse limits (docs/protocol.md, "Limits") for arbitrary request times: the GCRA
arithmetic (chat.gcra) admits at most burst + rate * t in any window of t, always admits a
stream at the sustained rate, and its wait is honest; the real LimitsStore on moto does exactly
what that arithmetic says and writes nothing when it refuses; through the Limiter, retryAfter
seconds later a request is admitted and a second earlier it is not; and failed logins answer
the same, known username or not."""

from __future__ import annotations

import itertools
import json
from typing import Any

import boto3
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from chat import gcra, keys
from chat.config import LimitSettings
from chat.errors import RateLimitedError
from chat.gcra import Bucket
from chat.limits import Limiter
from chat.store import LimitsStore
from tests.events import load_event
from tests.unit.harness import Harness, LambdaContext

START_MS = 1_800_000_000_000
# Each example of these runs moto (or the handlers on it): fewer examples than the pure ones.
ON_MOTO = settings(max_examples=20)
THROUGH_HANDLERS = settings(max_examples=8)

buckets = st.builds(
    Bucket,
    rate=st.integers(1, 2000),
    per_seconds=st.sampled_from([1, 2, 60, 3600]),
    burst=st.integers(1, 25),
)


@st.composite
def requests(draw: st.DrawFn, max_size: int = 120) -> tuple[Bucket, list[int]]:
    """A bucket and non-decreasing request times (ms), with gaps around its interval: bursts,
    pauses and everything between."""
    bucket = draw(buckets)
    interval_ms = bucket.ms(bucket.interval)
    gaps = draw(
        st.lists(
            st.one_of(
                st.just(0), st.integers(0, 2 * interval_ms), st.integers(0, 50 * interval_ms)
            ),
            max_size=max_size,
        )
    )
    return bucket, list(itertools.accumulate(gaps, initial=START_MS))


def run(bucket: Bucket, times: list[int], tat: int | None = None) -> tuple[list[int], int | None]:
    """The times admitted by the arithmetic from `tat`, and the tat after the last (ticks)."""
    admitted = []
    for now in times:
        new = gcra.admit(bucket, tat, bucket.ticks(now))
        if new is not None:
            tat = new
            admitted.append(now)
    return admitted, tat


@given(requests())
def test_no_window_of_t_ms_admits_more_than_the_burst_and_the_rate_times_t(
    case: tuple[Bucket, list[int]],
) -> None:
    bucket, times = case
    admitted, _ = run(bucket, times)
    period_ms = bucket.per_seconds * 1000
    for i, first in enumerate(admitted):
        for j in range(i, len(admitted)):
            # j - i + 1 admitted in [first, admitted[j]]: at most burst + rate * t / period.
            assert (j - i + 1 - bucket.burst) * period_ms <= (admitted[j] - first) * bucket.rate


@given(requests(max_size=40), st.integers(1, 300))
def test_a_stream_at_the_sustained_rate_is_always_admitted(
    case: tuple[Bucket, list[int]], count: int
) -> None:
    """After any history and a pause long enough to empty the bucket, request k comes at k
    periods of the rate, rounded up to a whole ms. The rounding needs up to 1 ms - 1 tick of
    tolerance: a burst of 1 at a rate whose interval is not whole ms has none, and then the
    rounded stream itself has windows over the bound above (600 per second at 4 ms and 5 ms)."""
    bucket, history = case
    assume(bucket.tolerance >= bucket.ticks_per_ms - 1)
    _, tat = run(bucket, history)
    start = history[-1] + bucket.ms(bucket.tolerance + bucket.interval)
    assert tat is None or tat <= bucket.ticks(start)
    period_ms = bucket.per_seconds * 1000
    stream = [start - (-k * period_ms // bucket.rate) for k in range(count)]
    admitted, _ = run(bucket, stream, tat)
    assert admitted == stream


@given(requests())
def test_the_wait_is_honest_a_request_after_it_is_admitted_one_ms_before_is_not(
    case: tuple[Bucket, list[int]],
) -> None:
    bucket, times = case
    tat: int | None = None
    for now in times:
        new = gcra.admit(bucket, tat, bucket.ticks(now))
        if new is not None:
            tat = new
            continue
        wait_ms = bucket.ms(gcra.wait(bucket, tat, bucket.ticks(now)))
        assert wait_ms >= 1
        assert gcra.admit(bucket, tat, bucket.ticks(now + wait_ms)) is not None
        assert gcra.admit(bucket, tat, bucket.ticks(now + wait_ms - 1)) is None


# -- the real store on moto -------------------------------------------------------------------

_keys = itertools.count()


@pytest.fixture
def store(aws: None) -> LimitsStore:
    return LimitsStore(boto3.resource("dynamodb").Table("test-limits"))


@ON_MOTO
@given(requests(max_size=40))
def test_the_store_does_what_the_arithmetic_says_and_a_refusal_writes_nothing(
    store: LimitsStore, case: tuple[Bucket, list[int]]
) -> None:
    bucket, times = case
    key = keys.rate("msg", f"USER#p{next(_keys)}", bucket.ticks_per_ms)
    tat: int | None = None
    for now in times:
        before = store.table.get_item(Key=key, ConsistentRead=True).get("Item")
        wait_ms = store.take(key, now, bucket)
        after = store.table.get_item(Key=key, ConsistentRead=True).get("Item")
        new = gcra.admit(bucket, tat, bucket.ticks(now))
        if new is None:
            assert wait_ms == max(1, bucket.ms(gcra.wait(bucket, tat, bucket.ticks(now))))
            assert after == before  # tat and ttl as they were
        else:
            assert wait_ms == 0
            assert after is not None and int(after["tat"]) == new
            # The item outlives its tat: TTL never removes a bucket that still holds a burst.
            assert int(after["ttl"]) * 1000 >= bucket.ms(new)
            tat = new


@ON_MOTO
@given(requests(max_size=40))
def test_retry_after_seconds_later_a_write_is_admitted_and_a_second_earlier_it_is_not(
    store: LimitsStore, case: tuple[Bucket, list[int]]
) -> None:
    bucket, times = case
    clock = [0.0]
    limiter = Limiter(store, LimitSettings(messages=bucket), lambda: clock[0])
    user = f"p{next(_keys)}"
    for now in times:
        clock[0] = now / 1000
        try:
            limiter.message_write(user)
        except RateLimitedError as refused:
            retry_after = refused.retry_after
            break
    else:
        return  # nothing refused: no retryAfter to check
    assert retry_after >= 1
    clock[0] = (now + (retry_after - 1) * 1000) / 1000
    with pytest.raises(RateLimitedError):
        limiter.message_write(user)
    clock[0] = (now + retry_after * 1000) / 1000
    limiter.message_write(user)


# -- login, through the REST handler ----------------------------------------------------------

PASSWORD = "correct horse battery"


@pytest.fixture
def login_chat(aws: None, monkeypatch: pytest.MonkeyPatch) -> Harness:
    """The limits on, with small login limits so that short sequences reach both."""
    monkeypatch.setenv("RATE_LIMITS_ENABLED", "true")
    monkeypatch.setenv("RATE_LIMIT_LOGIN_FAILURES_PER_SOURCE", "2")
    monkeypatch.setenv("RATE_LIMIT_LOGIN_FAILURES_PER_USER", "4")
    monkeypatch.setenv("RATE_LIMIT_LOGIN_WINDOW_SECONDS", "60")
    monkeypatch.setenv("RATE_LIMIT_SIGNUPS_PER_HOUR", "1000")
    return Harness()


def _login(chat: Harness, username: str, password: str, source_ip: str) -> tuple[Any, ...]:
    """What the caller can see of an answer: status, error code, retryAfter, Retry-After."""
    event = load_event("rest_api_proxy")
    body = {"username": username, "password": password}
    event.update(httpMethod="POST", path="/auth/login", body=json.dumps(body))
    event["requestContext"]["identity"]["sourceIp"] = source_ip
    response = chat.modules["rest"].lambda_handler(event, LambdaContext())
    error = json.loads(response["body"] or "{}").get("error") or {}
    headers = response.get("headers") or {}
    return (
        response["statusCode"],
        error.get("code"),
        error.get("retryAfter"),
        headers.get("Retry-After"),
    )


@THROUGH_HANDLERS
@given(
    attempts=st.lists(
        st.tuples(
            st.sampled_from(["203.0.113.1", "203.0.113.2", "198.51.100.9"]), st.integers(0, 40)
        ),
        min_size=1,
        max_size=8,
    )
)
def test_login_answers_are_the_same_for_unknown_and_known_usernames(
    login_chat: Harness, attempts: list[tuple[str, int]]
) -> None:
    """The same wrong passwords, from the same sources at the same times, for a known username
    and an unknown one: the same answers, throttling included; and at the end the right password
    is refused alike (429, same Retry-After) or is the one difference (200 against 401)."""
    chat = login_chat
    n = next(_keys)
    known, unknown = f"kate{n}", f"zara{n}"
    status, _ = chat.rest("POST", "/auth/signup", {"username": known, "password": PASSWORD})
    assert status == 201
    clock = [START_MS / 1000]
    chat.modules["rest"].limits.clock = lambda: clock[0]
    for source_ip, seconds in attempts:
        clock[0] += seconds
        assert _login(chat, known, "wrong password!", source_ip) == _login(
            chat, unknown, "wrong password!", source_ip
        )
    source_ip = attempts[-1][0]
    right = _login(chat, known, PASSWORD, source_ip)
    other = _login(chat, unknown, PASSWORD, source_ip)
    if right[0] == 429:
        assert other == right
    else:
        assert (right[0], other[:2]) == (200, (401, "invalid_credentials"))
