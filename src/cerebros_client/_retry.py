"""Retry policy: which failures repeat a request, how long to wait, when to stop."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import tenacity

from .errors import ApiError, CerebrosError, TransportError

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_MAX_ATTEMPTS = 5
"""Requests sent per call at most, the first one included."""

DEFAULT_DEADLINE = 60.0
"""Seconds after a call's first request past which no retry starts."""

DEFAULT_BACKOFF_INITIAL = 0.5
"""Upper bound in seconds of the first jittered wait; it doubles per attempt."""

DEFAULT_BACKOFF_MAX = 10.0
"""Largest upper bound in seconds of a jittered wait."""

DEFAULT_MAX_RETRY_AFTER = 60.0
"""Maximum wait in seconds taken from a server's ``Retry-After`` header."""

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""Statuses that a retry may cure. 400, 401, 403, 404, 409 and 422 never are."""

NOT_PROCESSED_STATUSES = frozenset({429, 503})
"""Statuses after which the server provably did not process the request."""


@dataclass(frozen=True)
class RetryPolicy:
    """Retry policy of `CerebrosClient` for a failed request.

    Waits use exponential backoff with full jitter: before attempt n+1 the
    client sleeps a random time between 0 and
    ``min(backoff_max, backoff_initial * 2 ** (n - 1))`` seconds, or the
    server's ``Retry-After`` capped at `max_retry_after`. No retry starts
    once `max_attempts` requests were sent or when its wait would end more
    than `deadline` seconds after the first request. `sleep` and `clock`
    can be replaced, so tests run without real waits.
    """

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    deadline: float = DEFAULT_DEADLINE
    backoff_initial: float = DEFAULT_BACKOFF_INITIAL
    backoff_max: float = DEFAULT_BACKOFF_MAX
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER
    retry_statuses: frozenset[int] = RETRYABLE_STATUSES
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(
                f"RetryPolicy.max_attempts is invalid: received "
                f"{self.max_attempts!r}, expected 1 or more (1 disables retries)"
            )
        if self.deadline < 0:
            raise ValueError(
                f"RetryPolicy.deadline is invalid: received {self.deadline!r}, "
                "expected seconds >= 0"
            )

    def is_retryable(self, error: CerebrosError) -> bool:
        """Return True when repeating an idempotent request may cure `error`."""
        if isinstance(error, TransportError):
            return error.retryable
        if isinstance(error, ApiError):
            return error.status in self.retry_statuses
        return False

    def is_unprocessed(self, error: CerebrosError) -> bool:
        """Return True when the server provably did not process the request.

        Only such failures are retried for calls that create something
        (a checkpoint, a claim, a registration) without an idempotency key
        the server honours.
        """
        if not self.is_retryable(error):
            return False
        if isinstance(error, TransportError):
            return not error.request_sent
        if isinstance(error, ApiError):
            return error.status in NOT_PROCESSED_STATUSES
        return False


NO_RETRY = RetryPolicy(max_attempts=1)
"""A policy that sends each request once."""


def describe(error: BaseException) -> str:
    """Return a short reason for a retry log line, without the full message."""
    if isinstance(error, ApiError):
        return f"HTTP {error.status}"
    if isinstance(error, TransportError):
        return error.reason
    return type(error).__name__


def call_with_retry(
    send: Callable[[], T],
    *,
    call: str,
    policy: RetryPolicy,
    retry_if: Callable[[CerebrosError], bool],
) -> T:
    """Run `send` until it succeeds, `retry_if` rejects its error, or the policy stops.

    The last `CerebrosError` is re-raised as it is, never wrapped.
    """
    started = policy.clock()
    jitter = tenacity.wait_random_exponential(
        multiplier=policy.backoff_initial, max=policy.backoff_max
    )

    def wait(state: tenacity.RetryCallState) -> float:
        error = _error_of(state)
        if isinstance(error, ApiError) and error.retry_after is not None:
            return min(error.retry_after, policy.max_retry_after)
        return float(jitter(state))

    def should_retry(state: tenacity.RetryCallState) -> bool:
        error = _error_of(state)
        return isinstance(error, CerebrosError) and retry_if(error)

    def log_retry(state: tenacity.RetryCallState) -> None:
        logger.warning(
            "%s: attempt %d of %d failed (%s); retrying in %.2f s",
            call,
            state.attempt_number,
            policy.max_attempts,
            describe(_error_of(state) or Exception()),
            state.upcoming_sleep,
        )

    retrying = tenacity.Retrying(
        retry=should_retry,
        stop=(
            tenacity.stop_after_attempt(policy.max_attempts)
            | _StopAtDeadline(policy, started)
        ),
        wait=wait,
        sleep=policy.sleep,
        before_sleep=log_retry,
        reraise=True,
    )
    return retrying(send)


class _StopAtDeadline(tenacity.stop.stop_base):
    # Stops when the next wait would end past the deadline, measured with
    # the policy's clock so tests can move time without sleeping.
    def __init__(self, policy: RetryPolicy, started: float) -> None:
        self.policy = policy
        self.started = started

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        elapsed = self.policy.clock() - self.started
        return elapsed + retry_state.upcoming_sleep > self.policy.deadline


def _error_of(state: tenacity.RetryCallState) -> BaseException | None:
    if state.outcome is None or not state.outcome.failed:
        return None
    return state.outcome.exception()
