"""On-disk queue of coordinator updates that could not be delivered yet.

Metric reports, checkpoint registrations and final statuses go through the
outbox, so a coordinator outage loses none of them. Each update is appended
to a JSON Lines file before delivery and removed only after the coordinator
accepted it. The exceptions are an update the coordinator rejects with a 4xx
other than 429, and the oldest metric reports once a job's outbox is full.
Updates are delivered strictly in order. The final job status is queued
last, so it never overtakes a metric report or a checkpoint registration.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from cerebros_client import CerebrosClient
from cerebros_client.errors import (
    ApiError,
    BadRequest,
    CerebrosError,
    Conflict,
    RateLimited,
    ServerError,
    TransportError,
)

logger = logging.getLogger(__name__)

DEFAULT_MAX_ENTRIES = 10_000
MAX_FILE_STEM = 200

UpdateKind = Literal["metrics", "checkpoint", "status"]


@dataclass(frozen=True)
class PendingUpdate:
    """One coordinator update waiting for delivery."""

    kind: UpdateKind
    job_id: str
    phase: int
    payload: dict[str, Any]

    def to_json(self) -> str:
        """Serialise the update as one JSON line."""
        return json.dumps(
            {
                "kind": self.kind,
                "job_id": self.job_id,
                "phase": self.phase,
                "payload": self.payload,
            },
            allow_nan=False,
        )

    @classmethod
    def from_json(cls, line: str) -> PendingUpdate:
        """Parse one JSON line written by `to_json`."""
        data = json.loads(line)
        return cls(
            kind=data["kind"],
            job_id=data["job_id"],
            phase=int(data["phase"]),
            payload=dict(data["payload"]),
        )


def is_delivery_retryable(error: CerebrosError) -> bool:
    """Tell whether a failed delivery may succeed later without any change.

    Outages (connection failures, 5xx, 429) are worth keeping the update for.
    A 4xx other than 429 means the update itself was rejected, so keeping it
    would block every later update of the job.
    """
    if isinstance(error, (TransportError, ServerError, RateLimited)):
        return True
    return not isinstance(error, ApiError)


class Outbox:
    """Ordered, bounded, crash-safe queue of updates for each job.

    Each job has one file `<directory>/<job_id>.jsonl`, with the job id
    percent-encoded so that no id can name a path outside the directory
    (`../x` becomes `..%2Fx.jsonl`), or hashed when the encoded id is too
    long for a file name. The whole file is
    rewritten atomically after each delivery, which is cheap because an
    outbox contains at most a few hundred updates in normal operation.
    """

    def __init__(
        self, directory: Path, *, max_entries: int = DEFAULT_MAX_ENTRIES
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, received {max_entries}")
        self._directory = directory
        self._max_entries = max_entries
        self._lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)

    def put(self, update: PendingUpdate) -> None:
        """Append an update to its job's queue, dropping old metrics if full."""
        with self._lock:
            updates = self._read(update.job_id)
            updates.append(update)
            updates = self._enforce_bound(updates)
            self._write(update.job_id, updates)

    def pending(self, job_id: str) -> list[PendingUpdate]:
        """Return the updates of one job that are not delivered yet."""
        with self._lock:
            return self._read(job_id)

    def jobs_with_pending_updates(self) -> list[str]:
        """Return the ids of jobs whose outbox is not empty."""
        with self._lock:
            job_ids = set()
            for path in self._directory.glob("*.jsonl"):
                updates = self._read_path(path)
                if updates:
                    job_ids.add(updates[0].job_id)
            return sorted(job_ids)

    def flush(self, client: CerebrosClient, job_id: str) -> bool:
        """Deliver a job's pending updates in order.

        Returns True when the outbox of the job is empty afterwards. Stops at
        the first update that fails with a retryable error and keeps it, so
        order is preserved. An update the coordinator rejects outright (a 4xx
        other than 429) is logged and dropped because resending it can never
        succeed.
        """
        with self._lock:
            updates = self._read(job_id)
            while updates:
                update = updates[0]
                try:
                    deliver_update(client, update)
                except (ValueError, TypeError) as error:
                    # The client checks ids, phases and values before sending,
                    # so this update can never be sent: drop it like a 4xx.
                    logger.error(
                        "Dropped %s update of job %s phase %d because it is "
                        "invalid: %s",
                        update.kind,
                        job_id,
                        update.phase,
                        error,
                    )
                except CerebrosError as error:
                    if is_delivery_retryable(error):
                        logger.warning(
                            "Kept %s update of job %s phase %d for later "
                            "delivery (%d pending): %s",
                            update.kind,
                            job_id,
                            update.phase,
                            len(updates),
                            error,
                        )
                        self._write(job_id, updates)
                        return False
                    logger.error(
                        "Dropped %s update of job %s phase %d because the "
                        "coordinator rejected it: %s",
                        update.kind,
                        job_id,
                        update.phase,
                        error,
                    )
                updates.pop(0)
                self._write(job_id, updates)
            return True

    def discard(self, job_id: str) -> None:
        """Forget every pending update of a job (after it was handed over)."""
        with self._lock:
            self._path(job_id).unlink(missing_ok=True)

    def _enforce_bound(self, updates: list[PendingUpdate]) -> list[PendingUpdate]:
        # Checkpoint registrations are never dropped: losing one loses a
        # trained phase. Old metric reports go first, oldest first.
        while len(updates) > self._max_entries:
            oldest_metrics = next(
                (i for i, u in enumerate(updates) if u.kind == "metrics"), None
            )
            if oldest_metrics is None:
                break
            dropped = updates.pop(oldest_metrics)
            logger.warning(
                "Outbox of job %s is full (%d updates): dropped the oldest "
                "metrics report of phase %d",
                dropped.job_id,
                self._max_entries,
                dropped.phase,
            )
        return updates

    def _path(self, job_id: str) -> Path:
        name = quote(job_id, safe="")
        if len(name) > MAX_FILE_STEM:
            # Most filesystems cap a name at 255 bytes.
            name = "sha256-" + hashlib.sha256(job_id.encode()).hexdigest()
        return self._directory / f"{name}.jsonl"

    def _read(self, job_id: str) -> list[PendingUpdate]:
        return self._read_path(self._path(job_id))

    def _read_path(self, path: Path) -> list[PendingUpdate]:
        if not path.exists():
            return []
        updates = []
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                updates.append(PendingUpdate.from_json(line))
            except (ValueError, KeyError, TypeError) as error:
                # A line cut off by a crash mid-write is the only expected
                # cause, and it can only be the last one.
                logger.warning(
                    "Skipped unreadable outbox line %s:%d: %s", path, number, error
                )
        return updates

    def _write(self, job_id: str, updates: list[PendingUpdate]) -> None:
        path = self._path(job_id)
        if not updates:
            path.unlink(missing_ok=True)
            return
        temporary = path.with_suffix(".tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            for update in updates:
                handle.write(update.to_json() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)


def deliver_update(client: CerebrosClient, update: PendingUpdate) -> None:
    """Send one update to the coordinator, raising the client's error if refused."""
    if update.kind == "metrics":
        client.report_metrics(update.job_id, update.payload, phase=update.phase)
        return

    if update.kind == "checkpoint":
        client.add_checkpoint(
            update.job_id,
            update.payload["checkpoint_url"],
            phase=update.phase,
            idempotency_key=update.payload.get("idempotency_key"),
        )
        return

    deliver_status(client, update)


def deliver_status(client: CerebrosClient, update: PendingUpdate) -> None:
    """Send a final status, falling back to `failed` where the server rejects it.

    A job handed back after a shutdown is set to `queued` so another worker
    resumes it. A server that rejects that transition gets `failed` with the
    fallback message instead, so the job never stays `running` with no worker.
    """
    payload = update.payload
    try:
        client.update_status(
            update.job_id,
            payload["status"],
            final_model_id=payload.get("final_model_id"),
            error_message=payload.get("error_message"),
        )
    except (BadRequest, Conflict) as error:
        fallback_message = payload.get("fallback_error_message")
        if fallback_message is None:
            raise
        logger.warning(
            "Coordinator rejected status %s for job %s (%s): marking it failed",
            payload["status"],
            update.job_id,
            error,
        )
        client.fail_job(update.job_id, fallback_message)
