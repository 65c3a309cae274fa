"""Errors raised by the stand-in's handlers and turned into HTTP responses."""

from __future__ import annotations


class CoordinatorError(Exception):
    """Root of the errors a handler raises to end a request with an error status."""

    status_code = 500

    def __init__(self, detail: str, *, field: str | None = None):
        super().__init__(detail)
        self.detail = detail
        self.field = field


class InvalidRequest(CoordinatorError):
    """A body value is missing or invalid: 422 in strict, 400 in compat."""

    status_code = 422


class NotFound(CoordinatorError):
    """No record has this id: 404 in strict, 500 (or 400 if not a UUID) in compat."""

    status_code = 404

    def __init__(self, kind: str, record_id: str, *, compat_crashes: bool = True):
        super().__init__(f"{kind} {record_id!r} not found")
        self.kind = kind
        self.record_id = record_id
        self.compat_crashes = compat_crashes
        """False where the deployed server returns 404 (the registry)."""


class Conflict(CoordinatorError):
    """The request does not fit the record's current state."""

    status_code = 409


class ServerFailure(CoordinatorError):
    """A failure that the deployed server reports as 500, such as a missing corpus."""

    status_code = 500


class Unauthorized(CoordinatorError):
    """The request has no bearer token, or one the server does not accept."""

    status_code = 401


class RateLimited(CoordinatorError):
    """The token sent more requests than the rate limit allows."""

    status_code = 429

    def __init__(self, detail: str, *, retry_after: int):
        super().__init__(detail)
        self.retry_after = retry_after
