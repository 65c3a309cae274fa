"""Stop requests shared between signal handlers, background threads and training."""

from __future__ import annotations

import enum
import time


class StopReason(enum.Enum):
    """Reason for stopping the current job before it is finished."""

    SHUTDOWN = "shutdown"
    LEASE_LOST = "lease_lost"


class StopFlag:
    """A flag that a signal handler can set without taking any lock.

    Setting is a plain attribute assignment, which is safe inside a signal
    handler. Readers poll `is_set()`; training checks it after every batch.
    A shutdown stops every job. A lost lease names its job, so a renewal
    that failed just after one job ended cannot stop the next one.
    """

    def __init__(self) -> None:
        self._shutdown = False
        self._lease_lost_job: str | None = None
        self._shutdown_requested_at: float | None = None

    def request(self, reason: StopReason = StopReason.SHUTDOWN) -> None:
        """Ask the worker to shut down (the only reason without a job)."""
        if reason is not StopReason.SHUTDOWN:
            raise ValueError(f"use request_lease_lost() for {reason}")
        if not self._shutdown:
            self._shutdown_requested_at = time.monotonic()
        self._shutdown = True

    def request_lease_lost(self, job_id: str) -> None:
        """Ask the given job to stop because another worker now has its lease."""
        self._lease_lost_job = job_id

    def is_set(self) -> bool:
        """Tell whether any stop was requested."""
        return self._shutdown or self._lease_lost_job is not None

    def is_set_for(self, job_id: str) -> bool:
        """Tell whether the given job should stop."""
        return self._shutdown or self._lease_lost_job == job_id

    def reason_for(self, job_id: str) -> StopReason | None:
        """The reason the given job should stop, or None."""
        if self._shutdown:
            return StopReason.SHUTDOWN
        if self._lease_lost_job == job_id:
            return StopReason.LEASE_LOST
        return None

    @property
    def shutdown_requested(self) -> bool:
        """Tell whether the worker process was asked to stop."""
        return self._shutdown

    @property
    def shutdown_requested_at(self) -> float | None:
        """`time.monotonic()` when a shutdown was first requested."""
        return self._shutdown_requested_at

    def clear_lease_lost(self) -> None:
        """Forget a lost lease once its job has stopped, before the next job."""
        self._lease_lost_job = None

    def wait_for_shutdown(self, seconds: float, *, step: float = 0.2) -> bool:
        """Sleep up to `seconds`, waking early on a shutdown; return whether one came."""
        deadline = time.monotonic() + seconds
        while not self._shutdown:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            time.sleep(min(step, remaining))
        return self._shutdown
