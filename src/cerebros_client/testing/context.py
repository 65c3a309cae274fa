"""Per-app state that route handlers reach through FastAPI dependencies."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastapi import Request

from . import jobs
from .faults import FaultSet
from .profiles import Profile
from .security import RateLimiter, check_token
from .store import Clock, Store

logger = logging.getLogger(__name__)


@dataclass
class Coordinator:
    """Everything a handler needs: storage, profile, clock and access rules."""

    store: Store
    profile: Profile
    clock: Clock
    faults: FaultSet
    tokens: tuple[str, ...] = ()
    limiter: RateLimiter | None = None

    def expire_leases(self) -> None:
        """Requeue running jobs whose lease expired, keeping their checkpoints."""
        now = self.clock()
        with self.store.transaction() as tx:
            for job in tx.expired_leases(now):
                logger.warning(
                    "lease of worker %s on job %s expired; job requeued",
                    job["worker_id"],
                    job["id"],
                )
                jobs.requeue_expired(job, now)
                tx.update_job(job)


def get_coordinator(request: Request) -> Coordinator:
    """Return the coordinator state of the app serving ``request``."""
    coordinator: Coordinator = request.app.state.coordinator
    return coordinator


def check_access(request: Request) -> None:
    """Apply the bearer token check and the rate limit to one request."""
    coordinator = get_coordinator(request)
    token = check_token(request.headers.get("authorization"), coordinator.tokens)
    if coordinator.limiter is not None:
        client = request.client.host if request.client else "unknown"
        coordinator.limiter.hit(token or client)


def expire_leases(request: Request) -> None:
    """Dependency that checks leases lazily before every API request."""
    get_coordinator(request).expire_leases()
