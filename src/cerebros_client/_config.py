"""Timeouts and connection settings shared by every request."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_CONNECT_TIMEOUT = 5.0
"""Seconds to wait for a TCP (and TLS) connection to the coordinator."""

DEFAULT_READ_TIMEOUT = 30.0
"""Seconds to wait between bytes of a response before giving up on it."""

DEFAULT_BASE_URL = "http://localhost:5001"
"""Coordinator address used by `from_env` when no variable sets one."""

API_URL_VARIABLES = ("THUNDERLINE_API_URL", "THUNDERLINE_URL")
"""Environment variables read for the base URL, first non-empty one wins."""

TOKEN_VARIABLE = "CEREBROS_API_TOKEN"
"""Environment variable read for the bearer token."""

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class Timeout:
    """Connect and read timeouts in seconds, applied to every request."""

    connect: float = DEFAULT_CONNECT_TIMEOUT
    read: float = DEFAULT_READ_TIMEOUT

    def __post_init__(self) -> None:
        for name in ("connect", "read"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(
                    f"Timeout.{name} is invalid: received {value!r}, "
                    "expected a positive number of seconds"
                )

    def as_requests(self) -> tuple[float, float]:
        """Return the ``(connect, read)`` pair that `requests` accepts."""
        return (self.connect, self.read)


DEFAULT_TIMEOUT = Timeout()
"""Timeout used when the caller gives none: 5 s to connect, 30 s to read."""


def resolve_timeout(timeout: Timeout | float | None) -> Timeout:
    """Turn the constructor's timeout argument into a `Timeout`.

    A number sets both timeouts; None means `DEFAULT_TIMEOUT`, because a
    request without a timeout can hang a worker forever.
    """
    if timeout is None:
        return DEFAULT_TIMEOUT

    if isinstance(timeout, Timeout):
        return timeout

    return Timeout(connect=float(timeout), read=float(timeout))


def normalize_base_url(base_url: str) -> str:
    """Check the coordinator URL and strip a trailing ``/`` or ``/api``.

    Request paths already start with ``/api``, and ``http://host:5001/api``
    is a common way to write the address, so both spellings work.
    """
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"base_url is invalid: received {base_url!r}, "
            "expected an http or https URL such as http://localhost:5001"
        )

    return base_url.strip().rstrip("/").removesuffix("/api")


def is_plain_http_to_remote(base_url: str) -> bool:
    """Return True when `base_url` is plain http to a non-loopback host."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    is_loopback = host in LOOPBACK_HOSTS or host.startswith("127.")
    return parts.scheme == "http" and not is_loopback


def read_env_base_url() -> str:
    """Return the first non-empty base URL variable, or `DEFAULT_BASE_URL`."""
    for name in API_URL_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return DEFAULT_BASE_URL


def read_env_token() -> str | None:
    """Return the bearer token from the environment, or None when unset."""
    value = os.environ.get(TOKEN_VARIABLE, "").strip()
    return value or None
