"""Reporting one job's progress to the coordinator without losing an update."""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from cerebros_client import CerebrosClient
from cerebros_trainer.outbox import Outbox, PendingUpdate

logger = logging.getLogger(__name__)

DELIVERY_BACKOFF_INITIAL = 5.0
"""Seconds after a failed delivery before a metric report tries again."""

DELIVERY_BACKOFF_MAX = 60.0
"""Largest pause in seconds between delivery attempts during an outage."""


def finite_metrics(metrics: Mapping[str, Any]) -> dict[str, float | int | None]:
    """Keep the numeric metrics, with NaN and infinity replaced by None.

    JSON has no NaN, and the coordinator stores metrics as numbers, so
    non-numeric values (an architecture name, say) are left out here and
    logged by the caller instead.
    """
    clean: dict[str, float | int | None] = {}
    for name, value in metrics.items():
        if isinstance(value, bool):
            clean[name] = int(value)
        elif isinstance(value, int):
            clean[name] = value
        elif isinstance(value, float):
            clean[name] = value if math.isfinite(value) else None
        elif value is None:
            clean[name] = None
        else:
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue
            clean[name] = number if math.isfinite(number) else None
    return clean


def checkpoint_idempotency_key(job_id: str, checkpoint_url: str, phase: int) -> str:
    """Derive the key that makes a repeated checkpoint registration harmless.

    The key depends only on the registration itself, so a worker restarted
    after a crash sends the same key as the attempt it interrupted.
    """
    digest = hashlib.sha256(f"{job_id}\n{phase}\n{checkpoint_url}".encode())
    return f"ckpt-{digest.hexdigest()[:32]}"


class JobReporter:
    """Queues a job's metrics and checkpoints, then delivers them in order.

    After a failed delivery, metric reports and checkpoint registrations are
    only queued until a backoff pause has passed, so a coordinator outage
    costs training one client retry cycle per pause, not one per epoch. The
    final status always tries to deliver everything.
    """

    def __init__(
        self,
        client: CerebrosClient,
        outbox: Outbox,
        job_id: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._outbox = outbox
        self._job_id = job_id
        self._clock = clock
        self._backoff = 0.0
        self._next_attempt_at = 0.0

    def report_metrics(self, metrics: Mapping[str, Any], *, phase: int) -> None:
        """Queue a metrics report and try to deliver everything pending."""
        payload = finite_metrics(metrics)
        self._outbox.put(PendingUpdate("metrics", self._job_id, phase, payload))
        self._flush_when_due()

    def register_checkpoint(self, checkpoint_url: str, *, phase: int) -> None:
        """Queue a checkpoint registration and try to deliver everything pending."""
        payload = {
            "checkpoint_url": checkpoint_url,
            "idempotency_key": checkpoint_idempotency_key(
                self._job_id, checkpoint_url, phase
            ),
        }
        self._outbox.put(PendingUpdate("checkpoint", self._job_id, phase, payload))
        self._flush_when_due()

    def send_final_status(
        self,
        status: str,
        *,
        final_model_id: str | None = None,
        error_message: str | None = None,
        fallback_error_message: str | None = None,
    ) -> bool:
        """Queue the job's final status behind its other updates and deliver.

        Returns True when everything, the status included, was delivered.
        Otherwise the worker delivers the rest once the coordinator is back.
        """
        payload: dict[str, Any] = {"status": status}
        if final_model_id is not None:
            payload["final_model_id"] = final_model_id
        if error_message is not None:
            payload["error_message"] = error_message
        if fallback_error_message is not None:
            payload["fallback_error_message"] = fallback_error_message
        self._outbox.put(PendingUpdate("status", self._job_id, 0, payload))
        return self.flush()

    def flush(self) -> bool:
        """Deliver pending updates now and return True when none is left."""
        delivered = self._outbox.flush(self._client, self._job_id)
        if delivered:
            self._backoff = 0.0
            self._next_attempt_at = 0.0
        else:
            self._backoff = min(
                max(self._backoff * 2, DELIVERY_BACKOFF_INITIAL), DELIVERY_BACKOFF_MAX
            )
            self._next_attempt_at = self._clock() + self._backoff
        return delivered

    def _flush_when_due(self) -> None:
        if self._clock() < self._next_attempt_at:
            logger.debug(
                "Queued an update of job %s without sending it: the last "
                "delivery failed less than %.0f s ago",
                self._job_id,
                self._backoff,
            )
            return
        self.flush()

    def pending_count(self) -> int:
        """Number of updates not yet accepted by the coordinator."""
        return len(self._outbox.pending(self._job_id))
