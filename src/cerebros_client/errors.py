"""Errors raised by `CerebrosClient`.

Every error derives from `CerebrosError`. The tree::

    CerebrosError
    ├── TransportError      no complete response: refused, reset, timeout, cut off
    ├── ApiError            the server returned a non-2xx status
    │   ├── BadRequest      400, 422
    │   ├── Unauthorized    401, 403
    │   ├── NotFound        404
    │   ├── Conflict        409
    │   ├── RateLimited     429
    │   └── ServerError     5xx
    └── ProtocolError       a 2xx body that does not match the API contract

Which errors are safe to retry: the client already retries `TransportError`,
`RateLimited`, `ServerError` with status 500, 502, 503 or 504, and `ApiError`
with status 408, so one that reaches the caller has used up its attempts or
its deadline. Retrying such a call later is safe for reads, status changes,
metrics, lease renewals and heartbeats, because they carry absolute values.
`add_checkpoint`, `claim_job` and `register_service` create something on the
server: retry them only where `TransportError.request_sent` is False or the
status is 429 or 503, since otherwise the first request may have been
processed. `BadRequest`, `Unauthorized`, `NotFound`, `Conflict` and
`ProtocolError` repeat on every retry: fix the request or the configuration.

The deployed coordinator returns 500 rather than 404 for an unknown but
well-formed id, so a `ServerError` from a by-id call may mean "not found".
"""

from __future__ import annotations

__all__ = [
    "ApiError",
    "BadRequest",
    "CerebrosError",
    "Conflict",
    "NotFound",
    "ProtocolError",
    "RateLimited",
    "ServerError",
    "TransportError",
    "Unauthorized",
]


class CerebrosError(Exception):
    """Root of every error raised by the Cerebros client.

    `call` is the client method that failed (for example ``"poll_job"``),
    `method` and `path` the HTTP request it sent.
    """

    def __init__(self, message: str, *, call: str, method: str, path: str) -> None:
        super().__init__(message)
        self.message = message
        self.call = call
        self.method = method
        self.path = path


class TransportError(CerebrosError):
    """No complete response arrived: refused, reset, timed out or cut off.

    `reason` is a short cause such as ``"read timed out"``. `request_sent`
    is False only when the connection was never established, so the server
    provably did not process the request. `retryable` is False for failures
    that repeat on every attempt, such as a TLS certificate that does not
    verify.
    """

    def __init__(
        self,
        message: str,
        *,
        call: str,
        method: str,
        path: str,
        reason: str,
        request_sent: bool,
        retryable: bool = True,
    ) -> None:
        super().__init__(message, call=call, method=method, path=path)
        self.reason = reason
        self.request_sent = request_sent
        self.retryable = retryable


class ApiError(CerebrosError):
    """The server returned a non-2xx status.

    `detail` is the server's own error text (``errors.detail`` or ``detail``
    in the JSON body), or None. `body_excerpt` is the start of the body with
    any token removed. `retry_after` is the parsed ``Retry-After`` header in
    seconds, or None where the header was absent or unparseable.
    """

    def __init__(
        self,
        message: str,
        *,
        call: str,
        method: str,
        path: str,
        status: int,
        detail: str | None,
        body_excerpt: str,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, call=call, method=method, path=path)
        self.status = status
        self.detail = detail
        self.body_excerpt = body_excerpt
        self.retry_after = retry_after


class BadRequest(ApiError):
    """The server rejected the request as invalid (400 or 422)."""


class Unauthorized(ApiError):
    """The server rejected the credentials (401) or the permission (403)."""


class NotFound(ApiError):
    """The job, dataset or registration does not exist, or the route is missing."""


class Conflict(ApiError):
    """The request conflicts with the server's state (409), such as a lost lease."""


class RateLimited(ApiError):
    """The server asked the client to slow down (429).

    `retry_after` is the wait in seconds that the server requested, or None.
    """


class ServerError(ApiError):
    """The server or a proxy in front of it failed (5xx)."""


class ProtocolError(CerebrosError):
    """A success response whose body does not match the API contract.

    Examples: HTML where JSON was expected, an empty 200 from the poll
    endpoint, a job without an ``id``. `status` is the HTTP status and
    `body_excerpt` the start of the body with any token removed.
    """

    def __init__(
        self,
        message: str,
        *,
        call: str,
        method: str,
        path: str,
        status: int,
        body_excerpt: str,
    ) -> None:
        super().__init__(message, call=call, method=method, path=path)
        self.status = status
        self.body_excerpt = body_excerpt
