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
