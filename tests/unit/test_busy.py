"""A throttled AWS call that outlasts botocore's retries is `rate_limited`, never `internal`
(tests/integration/test_faults.py drives it end to end through the local cloud)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from chat.errors import THROTTLING_CODES, RateLimitedError, as_busy


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "from AWS"}}, "BatchGetItem")


def test_every_throttling_code_is_busy_with_a_retry_after() -> None:
    for code in THROTTLING_CODES:
        busy = as_busy(client_error(code))
        assert isinstance(busy, RateLimitedError), code
        assert busy.code == "rate_limited" and busy.status == 429 and busy.retry_after == 1


def test_other_failures_are_not_busy() -> None:
    assert as_busy(client_error("ValidationException")) is None
    assert as_busy(client_error("ResourceNotFoundException")) is None
    assert as_busy(ValueError("no response attribute")) is None
    broken = ValueError()
    broken.response = "not a dict"  # type: ignore[attr-defined]
    assert as_busy(broken) is None
