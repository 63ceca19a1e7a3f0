"""Typed domain errors. The protocol code and HTTP status come from the type, never from text."""

from __future__ import annotations


class ChatError(Exception):
    code = "internal"
    status = 500

    def __init__(self, message: str = "Something went wrong on our side.") -> None:
        super().__init__(message)
        self.message = message


class InvalidInputError(ChatError):
    code = "invalid_input"
    status = 400


class TooLargeError(ChatError):
    code = "too_large"
    status = 413


class UnknownActionError(ChatError):
    code = "unknown_action"
    status = 400


class UnauthorizedError(ChatError):
    code = "unauthorized"
    status = 401


class InvalidCredentialsError(ChatError):
    code = "invalid_credentials"
    status = 401


class ForbiddenError(ChatError):
    code = "forbidden"
    status = 403


class NotFoundError(ChatError):
    code = "not_found"
    status = 404


class MethodNotAllowedError(ChatError):
    """A known path called with another method; `allowed` goes in the response's Allow header."""

    code = "method_not_allowed"
    status = 405

    def __init__(self, allowed: list[str]) -> None:
        super().__init__("That method is not allowed here.")
        self.allowed = allowed


class ConflictError(ChatError):
    code = "conflict"
    status = 409


class UsernameTakenError(ConflictError):
    code = "username_taken"


class RateLimitedError(ChatError):
    code = "rate_limited"
    status = 429

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message or f"Slow down: try again in {retry_after} s.")
        self.retry_after = retry_after


# What AWS answers when a table or the account is over its capacity. botocore retries them
# itself (client_config in runtime.py); one that outlasts those retries is the service being
# busy, not a fault in the request: the caller may try again shortly.
THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "SlowDown",
    }
)


def as_busy(error: BaseException) -> RateLimitedError | None:
    """A throttled AWS call (botocore's ClientError, read by its shape so that the domain does
    not import botocore) as `rate_limited` with a short retryAfter; None for anything else."""
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    if code in THROTTLING_CODES:
        return RateLimitedError(1, "The service is busy: try again in 1 s.")
    return None
