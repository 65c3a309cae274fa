"""Retrying a checkpoint upload while the store is briefly unavailable.

botocore retries each request a few times within seconds, which does not
cover an S3 endpoint that is down for a minute. `upload_with_retry` repeats
the whole upload with jittered exponential backoff until a deadline, but
only for `StorageUnavailable`: a missing bucket or a denied request fails at
once, because waiting cannot fix it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cerebros_trainer.storage.base import CheckpointStore, StorageUnavailable

logger = logging.getLogger(__name__)

DEFAULT_BACKOFF_INITIAL = 1.0
"""Upper bound in seconds of the first jittered wait, which doubles per attempt."""

DEFAULT_BACKOFF_MAX = 30.0
"""Largest upper bound in seconds of a jittered wait."""


@dataclass(frozen=True)
class UploadRetry:
    """How long and how often an unavailable store is retried.

    No retry starts when its wait would end more than `deadline` seconds
    after the first attempt. `sleep` and `clock` can be replaced in tests.
    """

    deadline: float
    backoff_initial: float = DEFAULT_BACKOFF_INITIAL
    backoff_max: float = DEFAULT_BACKOFF_MAX
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    def __post_init__(self) -> None:
        if self.deadline < 0:
            raise ValueError(
                f"upload retry deadline is invalid: received {self.deadline!r}, "
                "expected seconds >= 0"
            )

    def wait_before(self, attempt: int) -> float:
        """Return the jittered wait in seconds before attempt `attempt` (2, 3, ...)."""
        bound = min(self.backoff_max, self.backoff_initial * 2 ** (attempt - 2))
        return random.uniform(0, bound)


def upload_with_retry(
    store: CheckpointStore,
    local_path: Path,
    *,
    job_id: str,
    phase: int,
    partial: bool = False,
    retry: UploadRetry,
) -> str:
    """Upload a checkpoint, retrying `StorageUnavailable` until the deadline.

    Returns the checkpoint URL. When the deadline passes, the last error is
    raised as `StorageUnavailable` with the attempt count and the time spent
    added to its message.
    """
    started = retry.clock()
    attempt = 1
    while True:
        try:
            return store.upload(local_path, job_id=job_id, phase=phase, partial=partial)
        except StorageUnavailable as error:
            elapsed = retry.clock() - started
            wait = retry.wait_before(attempt + 1)
            if elapsed + wait > retry.deadline:
                raise StorageUnavailable(
                    f"{error}. Gave up after {attempt} upload attempts in "
                    f"{elapsed:.1f} s (CEREBROS_S3_UPLOAD_DEADLINE is "
                    f"{retry.deadline:g} s)"
                ) from error

            logger.warning(
                "Upload of checkpoint for job %s phase %d failed (attempt %d): "
                "%s; retrying in %.1f s",
                job_id,
                phase,
                attempt,
                error,
                wait,
            )
            retry.sleep(wait)
            attempt += 1
