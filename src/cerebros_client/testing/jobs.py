"""Job records: creation, rendering per profile, and the changes workers make.

These functions work on plain job documents (dicts) read inside a store
transaction; the caller writes the changed document back.
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from typing import Any

from .errors import Conflict
from .profiles import Profile

Job = dict[str, Any]

DEFAULT_LEASE_SECONDS = 60.0

# Status changes a strict coordinator accepts. Repeating the current status
# is allowed so that a worker retrying a request whose response was lost
# does not get a 409. "running -> queued" is how a worker hands a job back.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    "queued": frozenset({"queued", "running", "failed", "cancelled"}),
    "running": frozenset({"running", "queued", "completed", "failed", "cancelled"}),
    "completed": frozenset({"completed"}),
    "failed": frozenset({"failed"}),
    "cancelled": frozenset({"cancelled"}),
}

# Fields of the job object as the deployed server writes it.
_PUBLIC_FIELDS = (
    "id",
    "training_dataset_id",
    "model_id",
    "status",
    "hyperparameters",
    "metadata",
    "phase",
    "metrics",
    "error_message",
    "started_at",
    "completed_at",
    "checkpoint_urls",
    "current_checkpoint_url",
    "fine_tuned_model",
    "model_loaded",
    "model_format",
    "inserted_at",
    "updated_at",
)


def isoformat(timestamp: float) -> str:
    """Format seconds since the epoch as the server does: microseconds, UTC, ``Z``."""
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_job(
    dataset_id: str,
    model_id: str,
    hyperparameters: dict[str, Any],
    metadata: dict[str, Any],
    now: float,
) -> Job:
    """Build the document of a new queued job."""
    stamp = isoformat(now)
    return {
        "id": str(uuid.uuid4()),
        "training_dataset_id": dataset_id,
        "model_id": model_id,
        "status": "queued",
        "hyperparameters": hyperparameters,
        "metadata": metadata,
        "phase": 0,
        "metrics": {},
        "error_message": None,
        "started_at": None,
        "completed_at": None,
        "checkpoint_urls": [],
        "current_checkpoint_url": None,
        "fine_tuned_model": None,
        "model_loaded": False,
        "model_format": None,
        "inserted_at": stamp,
        "updated_at": stamp,
        "final_model_id": None,
        "phase_metrics": {},
        "checkpoints": [],
        "worker_id": None,
        "lease_expires_ts": None,
    }


def render_job(job: Job, profile: Profile, *, detail: bool = False) -> Job:
    """Return the job as the API sends it.

    The compat profile sends only the deployed server's fields. The strict
    profile adds ``final_model_id``, ``worker_id`` and ``lease_expires_at``.
    ``detail`` (``GET /api/jobs/{id}``) adds the metrics of every phase and
    the checkpoint list with phases, in both profiles.
    """
    body = {name: copy.deepcopy(job[name]) for name in _PUBLIC_FIELDS}
    if profile.claims:
        body["final_model_id"] = job["final_model_id"]
        body["worker_id"] = job["worker_id"]
        expires = job["lease_expires_ts"]
        body["lease_expires_at"] = None if expires is None else isoformat(expires)

    if detail:
        body["phase_metrics"] = copy.deepcopy(job["phase_metrics"])
        body["checkpoints"] = copy.deepcopy(job["checkpoints"])
    return body


def apply_status(
    job: Job,
    status: str,
    *,
    final_model_id: str | None,
    fine_tuned_model: str | None,
    error_message: str | None,
    profile: Profile,
    now: float,
) -> None:
    """Move the job to ``status``, raising Conflict for an illegal strict transition."""
    current = job["status"]
    if profile.check_transitions and status not in ALLOWED_TRANSITIONS[current]:
        raise Conflict(
            f"job {job['id']!r} cannot move from {current!r} to {status!r}:"
            f" from {current!r} the allowed statuses are"
            f" {sorted(ALLOWED_TRANSITIONS[current])}",
            field="status",
        )

    stamp = isoformat(now)
    repeated = status == current
    job["status"] = status
    job["updated_at"] = stamp
    if error_message is not None:
        job["error_message"] = error_message
    if fine_tuned_model is not None:
        job["fine_tuned_model"] = fine_tuned_model
    if final_model_id is not None and profile.accepts_final_model_id:
        job["final_model_id"] = final_model_id
        job["fine_tuned_model"] = final_model_id

    if status == "running" and not repeated:
        job["started_at"] = stamp
        job["completed_at"] = None
    elif status == "queued":
        job["started_at"] = None
        job["worker_id"] = None
        job["lease_expires_ts"] = None
    elif status in ("completed", "failed", "cancelled") and not repeated:
        job["completed_at"] = stamp
        job["lease_expires_ts"] = None


def apply_metrics(
    job: Job, metrics: dict[str, Any], phase: int | None, profile: Profile, now: float
) -> None:
    """Record metrics of one phase.

    Every profile keeps each phase's metrics in ``phase_metrics``. The job's
    ``metrics`` map is every phase merged in compat (a later phase's loss
    overwrites an earlier one's), and only the reported phase's map in strict.
    """
    _require_running(job, "metrics", profile)
    phase = job["phase"] if phase is None else phase
    key = str(phase)
    merged = {**job["phase_metrics"].get(key, {}), **metrics}
    job["phase_metrics"][key] = merged
    if profile.merge_metrics:
        job["metrics"] = {**job["metrics"], **metrics}
    else:
        job["metrics"] = dict(merged)
    job["phase"] = phase
    job["updated_at"] = isoformat(now)


def apply_checkpoint(
    job: Job, checkpoint_url: str, phase: int | None, profile: Profile, now: float
) -> None:
    """Append a checkpoint URL and make it the job's current checkpoint.

    Strict skips a URL the job already lists; compat appends the duplicate,
    as the deployed server does.
    """
    _require_running(job, "checkpoints", profile)
    phase = job["phase"] if phase is None else phase
    stamp = isoformat(now)
    listed = checkpoint_url in job["checkpoint_urls"]
    if not (listed and profile.dedupe_checkpoints):
        job["checkpoint_urls"].append(checkpoint_url)
        job["checkpoints"].append(
            {"checkpoint_url": checkpoint_url, "phase": phase, "inserted_at": stamp}
        )
    job["current_checkpoint_url"] = checkpoint_url
    job["phase"] = phase
    job["updated_at"] = stamp


def grant_lease(job: Job, worker_id: str, lease_seconds: float, now: float) -> None:
    """Mark a queued job running under ``worker_id`` until the lease expires."""
    stamp = isoformat(now)
    job["status"] = "running"
    job["worker_id"] = worker_id
    job["lease_expires_ts"] = now + lease_seconds
    job["started_at"] = stamp
    job["completed_at"] = None
    job["updated_at"] = stamp


def renew_lease(job: Job, worker_id: str, lease_seconds: float, now: float) -> None:
    """Extend the lease of ``worker_id``, raising Conflict if it does not hold one."""
    if job["status"] != "running" or job["lease_expires_ts"] is None:
        raise Conflict(
            f"worker {worker_id!r} has no lease on job {job['id']!r}: the job is"
            f" {job['status']!r}; its lease expired or it was handed back, so"
            " stop working on it and claim again",
            field="worker_id",
        )
    if job["worker_id"] != worker_id:
        raise Conflict(
            f"job {job['id']!r} is leased to worker {job['worker_id']!r}, not"
            f" {worker_id!r}; stop working on it",
            field="worker_id",
        )
    job["lease_expires_ts"] = now + lease_seconds
    job["updated_at"] = isoformat(now)


def requeue_expired(job: Job, now: float) -> None:
    """Put a job whose lease expired back in the queue, keeping its checkpoints."""
    job["status"] = "queued"
    job["worker_id"] = None
    job["lease_expires_ts"] = None
    job["started_at"] = None
    job["updated_at"] = isoformat(now)


def lease_body(job: Job) -> dict[str, Any]:
    """Return the ``lease`` object sent with a claim or a renewal."""
    return {
        "worker_id": job["worker_id"],
        "expires_at": isoformat(job["lease_expires_ts"]),
    }


def _require_running(job: Job, update_kind: str, profile: Profile) -> None:
    if profile.check_transitions and job["status"] != "running":
        raise Conflict(
            f"job {job['id']!r} is {job['status']!r}: {update_kind} are accepted only"
            " while it is 'running'; set status 'running' first",
            field="status",
        )
