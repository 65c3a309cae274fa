"""Optional bearer tokens and a per-token rate limit."""

from __future__ import annotations

import hmac
import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import RateLimited, Unauthorized
from .store import Clock


@dataclass(frozen=True)
class RateLimit:
    """At most ``max_requests`` per ``window_seconds`` for each token (or client)."""

    max_requests: int
    window_seconds: float

    def __post_init__(self) -> None:
        if self.max_requests < 1:
            raise ValueError(f"max_requests must be >= 1, received {self.max_requests}")
        if self.window_seconds <= 0:
            raise ValueError(
                f"window_seconds must be > 0, received {self.window_seconds}"
            )

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """Parse ``"N/S"``, N requests per S seconds, such as ``"10/1"``."""
        count, _, seconds = text.partition("/")
        try:
            return cls(int(count), float(seconds or "1"))
        except ValueError as exc:
            raise ValueError(
                f"invalid rate limit {text!r}: expected N/SECONDS such as 10/1 ({exc})"
            ) from None


def check_token(authorization: str | None, tokens: Iterable[str]) -> str | None:
    """Return the accepted token, None when no tokens are set, or raise Unauthorized."""
    accepted = tuple(tokens)
    if not accepted:
        return None

    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(
            "missing bearer token: send the header 'Authorization: Bearer <token>'"
        )
    for candidate in accepted:
        if hmac.compare_digest(candidate.encode(), token.strip().encode()):
            return candidate
    raise Unauthorized("invalid bearer token: the server does not accept this token")


class RateLimiter:
    """Fixed-window request counter per key."""

    def __init__(self, limit: RateLimit, clock: Clock):
        self.limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}

    def hit(self, key: str) -> None:
        """Count one request for ``key``, raising RateLimited over the limit."""
        now = self._clock()
        with self._lock:
            start, count = self._windows.get(key, (now, 0))
            if now - start >= self.limit.window_seconds:
                start, count = now, 0
            count += 1
            self._windows[key] = (start, count)

        if count > self.limit.max_requests:
            retry_after = max(1, math.ceil(start + self.limit.window_seconds - now))
            raise RateLimited(
                f"rate limit exceeded: at most {self.limit.max_requests} requests"
                f" per {self.limit.window_seconds:g} s; retry after {retry_after} s",
                retry_after=retry_after,
            )
