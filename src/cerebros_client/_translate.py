"""Translation of requests, urllib3 and pydantic failures into client errors.

This is the only module that inspects third-party exceptions, so the rest
of the client deals in `cerebros_client.errors` alone.
"""

from __future__ import annotations

import http.client
import json
import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import pydantic
import requests
import urllib3.exceptions

from ._redact import excerpt, redact
from .errors import (
    ApiError,
    BadRequest,
    Conflict,
    NotFound,
    ProtocolError,
    RateLimited,
    ServerError,
    TransportError,
    Unauthorized,
)

ModelT = TypeVar("ModelT", bound=pydantic.BaseModel)

_HINTS: dict[type[ApiError], str] = {
    BadRequest: "check the values sent; the server accepts statuses queued, "
    "running, completed, failed, cancelled and phases 0 to 4",
    Unauthorized: "check CEREBROS_API_TOKEN",
    NotFound: "check the id and that THUNDERLINE_API_URL points at the coordinator",
    Conflict: "another worker or an earlier request changed this resource first",
    RateLimited: "the client slows down and retries; lower the polling rate "
    "if this persists",
    ServerError: "retry later or read the coordinator's log; the deployed "
    "server also answers 500 for an unknown id or a missing corpus path",
    ApiError: "check the request and the coordinator's log",
}


def _error_class(status: int) -> type[ApiError]:
    if status in (400, 422):
        return BadRequest
    if status in (401, 403):
        return Unauthorized
    if status == 404:
        return NotFound
    if status == 409:
        return Conflict
    if status == 429:
        return RateLimited
    if status >= 500:
        return ServerError
    return ApiError


def transport_error(
    exc: BaseException, *, call: str, method: str, path: str, token: str | None
) -> TransportError:
    """Build a `TransportError` from an exception raised while sending.

    Connection refused, DNS failures and connect timeouts mean the request
    never reached the server (`request_sent` False). Resets, read timeouts
    and bodies cut off mid-stream may follow a processed request.
    """
    request_sent = True
    retryable = True
    if isinstance(exc, requests.exceptions.SSLError):
        reason = "TLS handshake or certificate verification failed"
        retryable = False
    elif isinstance(exc, requests.exceptions.ConnectTimeout):
        reason = "connect timed out"
        request_sent = False
    elif isinstance(exc, requests.exceptions.ReadTimeout):
        reason = "read timed out"
    elif isinstance(
        exc, requests.exceptions.ChunkedEncodingError | (http.client.IncompleteRead)
    ):
        reason = "response body cut off mid-stream"
    elif isinstance(exc, requests.exceptions.ConnectionError) and _never_connected(exc):
        reason = "connection failed"
        request_sent = False
    elif isinstance(exc, requests.exceptions.ConnectionError):
        reason = "connection reset or closed"
    elif isinstance(exc, requests.exceptions.ContentDecodingError):
        reason = "response body could not be decoded"
    else:
        reason = f"request failed ({type(exc).__name__})"
        retryable = False

    detail = redact(str(exc), token)
    message = (
        f"{call}: {method} {path} failed: {reason}: {detail}; check that the "
        "coordinator is running and THUNDERLINE_API_URL is correct"
    )
    return TransportError(
        message,
        call=call,
        method=method,
        path=path,
        reason=reason,
        request_sent=request_sent,
        retryable=retryable,
    )


def _never_connected(exc: requests.exceptions.ConnectionError) -> bool:
    # requests wraps urllib3's MaxRetryError, whose reason shows whether the
    # socket ever connected. NameResolutionError subclasses NewConnectionError.
    cause = exc.args[0] if exc.args else None
    reason = getattr(cause, "reason", cause)
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def is_send_failure(exc: BaseException) -> bool:
    """Return True for the exceptions `transport_error` translates."""
    return isinstance(
        exc,
        requests.exceptions.RequestException
        | http.client.HTTPException
        | urllib3.exceptions.HTTPError,
    )


def api_error(
    response: requests.Response,
    *,
    call: str,
    method: str,
    path: str,
    token: str | None,
) -> ApiError:
    """Build the `ApiError` subclass for a non-2xx response."""
    status = response.status_code
    cls = _error_class(status)
    detail = _server_detail(response)
    body = excerpt(response.content, token)
    retry_after = parse_retry_after(response.headers.get("Retry-After"))

    server_text = f"; server detail: {redact(detail, token)!r}" if detail else ""
    if _looks_like_html(response):
        server_text = "; the body is HTML, so a proxy or web server answered"
    wait = f"; Retry-After {retry_after:g} s" if retry_after is not None else ""
    message = (
        f"{call}: {method} {path} returned {status} {response.reason or ''}"
        f"{server_text}{wait}; {_HINTS[cls]}"
    )
    return cls(
        message,
        call=call,
        method=method,
        path=path,
        status=status,
        detail=redact(detail, token) if detail else None,
        body_excerpt=body,
        retry_after=retry_after,
    )


def _looks_like_html(response: requests.Response) -> bool:
    content_type = response.headers.get("Content-Type", "").lower()
    start = response.content[:100].lstrip().lower()
    return "html" in content_type or start.startswith((b"<!doctype", b"<html"))


def _server_detail(response: requests.Response) -> str | None:
    # Phoenix sends {"errors": {"detail": ...}}, FastAPI {"detail": ...}.
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None

    errors = body.get("errors")
    if isinstance(errors, dict) and "detail" in errors:
        return str(errors["detail"])
    if "detail" in body:
        detail = body["detail"]
        return detail if isinstance(detail, str) else json.dumps(detail)
    if "error" in body:
        return str(body["error"])
    return None


def parse_retry_after(value: str | None) -> float | None:
    """Read ``Retry-After`` as seconds or an HTTP date; None when unparseable.

    A date in the past gives 0. The result is not capped here: the retry
    policy caps it.
    """
    if value is None:
        return None
    text = value.strip()

    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is not None:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None

    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # RFC 9110 dates are GMT; a zone-less date is read the same way.
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def parse_json(
    response: requests.Response,
    *,
    call: str,
    method: str,
    path: str,
    token: str | None,
) -> Any:
    """Decode a 2xx body as JSON, raising `ProtocolError` when it is not."""
    body = response.content
    if not body.strip():
        raise _protocol_error(
            response,
            "the body is empty",
            call=call,
            method=method,
            path=path,
            token=token,
        )

    if _looks_like_html(response):
        raise _protocol_error(
            response,
            "the body is HTML, so a proxy or web server answered",
            call=call,
            method=method,
            path=path,
            token=token,
        )

    try:
        return json.loads(body)
    except ValueError as exc:
        raise _protocol_error(
            response,
            f"the body is not valid JSON ({exc})",
            call=call,
            method=method,
            path=path,
            token=token,
        ) from None


def parse_model(
    model: type[ModelT],
    data: Any,
    response: requests.Response,
    *,
    call: str,
    method: str,
    path: str,
    token: str | None,
) -> ModelT:
    """Validate decoded JSON against `model`, raising `ProtocolError` on mismatch."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
            for error in exc.errors()[:5]
        )
        raise _protocol_error(
            response,
            f"the body is not a valid {model.__name__} ({problems})",
            call=call,
            method=method,
            path=path,
            token=token,
        ) from None


def _protocol_error(
    response: requests.Response,
    what: str,
    *,
    call: str,
    method: str,
    path: str,
    token: str | None,
) -> ProtocolError:
    status = response.status_code
    message = (
        f"{call}: {method} {path} returned {status} but {what}; check that "
        "THUNDERLINE_API_URL points at the coordinator API and that the "
        "server speaks the same API version"
    )
    return ProtocolError(
        message,
        call=call,
        method=method,
        path=path,
        status=status,
        body_excerpt=excerpt(response.content, token),
    )
