"""One HTTP request to the coordinator: send, time, log, translate failures."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import requests

from ._config import Timeout
from ._translate import api_error, is_send_failure, transport_error

logger = logging.getLogger(__name__)

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
"""Request header that lets a server drop a repeated create request."""

IDEMPOTENCY_HONOURED_HEADER = "Idempotency-Key-Honored"
"""Response header with value ``true`` from a server that deduplicates by key."""


class Transport:
    """Sends single requests over one pooled `requests.Session`.

    Each request gets the connect and read timeouts and, when a token is
    set, an ``Authorization: Bearer`` header. The header is added per
    request rather than to the session, so a caller's session is not
    changed, and requests drops it on a redirect to another host.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None,
        timeout: Timeout,
        session: requests.Session,
    ) -> None:
        self.base_url = base_url
        self.token = token
        self.timeout = timeout
        self.session = session
        self.idempotency_honoured = False

    def send(
        self,
        call: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send one request and return a 2xx response.

        Raises `TransportError` when no complete response arrived and the
        matching `ApiError` subclass for any other status.
        """
        request_headers = {"Accept": "application/json", **(headers or {})}
        if self.token:
            request_headers["Authorization"] = f"Bearer {self.token}"

        started = time.perf_counter()
        try:
            response = self.session.request(
                method,
                self.base_url + path,
                json=json,
                headers=request_headers,
                timeout=self.timeout.as_requests(),
            )
        except Exception as exc:
            if not is_send_failure(exc):
                raise
            elapsed_ms = (time.perf_counter() - started) * 1000
            logger.debug(
                "%s %s -> %s in %.0f ms", method, path, type(exc).__name__, elapsed_ms
            )
            raise transport_error(
                exc, call=call, method=method, path=path, token=self.token
            ) from exc

        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.debug(
            "%s %s -> %d in %.0f ms", method, path, response.status_code, elapsed_ms
        )
        self._note_idempotency_support(response)

        if not 200 <= response.status_code < 300:
            raise api_error(
                response, call=call, method=method, path=path, token=self.token
            )
        return response

    def _note_idempotency_support(self, response: requests.Response) -> None:
        # Once the server reports that it deduplicates by key, it is trusted
        # to do so for the rest of this client's life. A header on an error
        # response counts too.
        value = response.headers.get(IDEMPOTENCY_HONOURED_HEADER, "")
        if value.strip().lower() == "true":
            self.idempotency_honoured = True
