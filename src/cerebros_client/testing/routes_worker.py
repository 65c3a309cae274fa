"""The endpoints a worker calls: poll, corpus, status, metrics, checkpoints, leases."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Response
from fastapi.responses import JSONResponse

from . import jobs
from .context import Coordinator, get_coordinator
from .errors import Conflict, NotFound, ServerFailure
from .schemas import (
    CheckpointCreate,
    ClaimRequest,
    LeaseRenewal,
    MetricsUpdate,
    StatusUpdate,
)
from .store import StoredResponse, Transaction

logger = logging.getLogger(__name__)

OK = {"ok": True}
IDEMPOTENCY_HEADER = "Idempotency-Key"
HONORED_HEADER = "Idempotency-Key-Honored"

router = APIRouter(prefix="/api")
claim_router = APIRouter(prefix="/api")

CoordinatorDep = Annotated[Coordinator, Depends(get_coordinator)]


def require_job(tx: Transaction, job_id: str) -> jobs.Job:
    """Return the job with this id or raise NotFound."""
    job = tx.get_job(job_id)
    if job is None:
        raise NotFound("job", job_id)
    return job


@router.get("/jobs/poll", responses={204: {"description": "No job is queued"}})
def poll_job(coordinator: CoordinatorDep) -> Any:
    """Return the oldest queued job without claiming it, or 204 when none is queued."""
    with coordinator.store.transaction() as tx:
        job = tx.oldest_queued_job()
    if job is None:
        return Response(status_code=204)
    return jobs.render_job(job, coordinator.profile)


@router.get("/datasets/{dataset_id}/corpus")
def get_corpus(dataset_id: str, coordinator: CoordinatorDep) -> dict[str, Any]:
    """Return where the corpus of a dataset is and how many chunks it has."""
    with coordinator.store.transaction() as tx:
        dataset = tx.get_dataset(dataset_id)
    if dataset is None:
        raise NotFound("dataset", dataset_id)

    path = dataset["corpus_path"]
    if path is None:
        _corpus_unavailable(
            coordinator,
            f"dataset {dataset_id!r} has no corpus_path; set it with"
            f" PATCH /api/datasets/{dataset_id}",
        )
    elif "://" not in path and not Path(path).exists():
        _corpus_unavailable(
            coordinator,
            f"corpus_path {path!r} of dataset {dataset_id!r} does not exist on the"
            " coordinator's disk",
        )
    return {
        "corpus_path": path,
        "dataset_id": dataset["id"],
        "dataset_name": dataset["name"],
        "total_chunks": dataset["total_chunks"],
        "metadata": dataset["metadata"],
    }


def _corpus_unavailable(coordinator: Coordinator, detail: str) -> None:
    # The deployed server crashes on these and returns 500.
    if coordinator.profile.detailed_errors:
        raise Conflict(detail, field="corpus_path")
    raise ServerFailure(detail)


@router.patch("/jobs/{job_id}/status")
def update_status(
    job_id: str, body: StatusUpdate, coordinator: CoordinatorDep
) -> dict[str, bool]:
    """Change a job's status, recording the final model id or the error message."""
    with coordinator.store.transaction() as tx:
        job = require_job(tx, job_id)
        jobs.apply_status(
            job,
            body.status,
            final_model_id=body.final_model_id,
            fine_tuned_model=body.fine_tuned_model,
            error_message=body.error_message,
            profile=coordinator.profile,
            now=coordinator.clock(),
        )
        tx.update_job(job)
    logger.info("job %s is now %s", job_id, body.status)
    return OK


@router.patch("/jobs/{job_id}/metrics")
def update_metrics(
    job_id: str, body: MetricsUpdate, coordinator: CoordinatorDep
) -> dict[str, bool]:
    """Record the metrics of one phase of a job."""
    with coordinator.store.transaction() as tx:
        job = require_job(tx, job_id)
        jobs.apply_metrics(
            job, body.metrics, body.phase, coordinator.profile, coordinator.clock()
        )
        tx.update_job(job)
    return OK


@router.post("/jobs/{job_id}/checkpoints")
def add_checkpoint(
    job_id: str,
    body: CheckpointCreate,
    coordinator: CoordinatorDep,
    idempotency_key: Annotated[str | None, Header(alias=IDEMPOTENCY_HEADER)] = None,
) -> Any:
    """Append a checkpoint URL to a job.

    In the strict profile a repeat carrying the same ``Idempotency-Key``
    returns the first response and appends nothing.
    """
    profile = coordinator.profile
    use_key = idempotency_key is not None and profile.idempotency_keys
    request_hash = _hash_body(body.model_dump())

    with coordinator.store.transaction() as tx:
        job = require_job(tx, job_id)
        if use_key:
            assert idempotency_key is not None
            stored = tx.get_idempotent_response(job_id, idempotency_key)
            if stored is not None:
                return _replay(stored, request_hash, idempotency_key)

        jobs.apply_checkpoint(
            job, body.checkpoint_url, body.phase, profile, coordinator.clock()
        )
        tx.update_job(job)
        if use_key:
            assert idempotency_key is not None
            response = StoredResponse(request_hash, 200, OK)
            tx.put_idempotent_response(job_id, idempotency_key, response)

    if use_key:
        return JSONResponse(OK, headers={HONORED_HEADER: "true"})
    return OK


def _hash_body(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(stored: StoredResponse, request_hash: str, key: str) -> JSONResponse:
    if stored.request_hash != request_hash:
        raise Conflict(
            f"Idempotency-Key {key!r} was first used with a different request body;"
            " send a new key for a different checkpoint",
            field=IDEMPOTENCY_HEADER,
        )
    return JSONResponse(
        stored.body, status_code=stored.status_code, headers={HONORED_HEADER: "true"}
    )


@claim_router.post("/jobs/claim", responses={204: {"description": "No job is queued"}})
def claim_job(body: ClaimRequest, coordinator: CoordinatorDep) -> Any:
    """Move the oldest queued job to running under a lease held by ``worker_id``."""
    seconds = body.lease_seconds or jobs.DEFAULT_LEASE_SECONDS
    with coordinator.store.transaction() as tx:
        job = tx.oldest_queued_job()
        if job is None:
            return Response(status_code=204)
        jobs.grant_lease(job, body.worker_id, seconds, coordinator.clock())
        tx.update_job(job)

    logger.info("worker %s claimed job %s for %g s", body.worker_id, job["id"], seconds)
    return {
        "job": jobs.render_job(job, coordinator.profile),
        "lease": jobs.lease_body(job),
    }


@claim_router.post("/jobs/{job_id}/lease")
def renew_lease(
    job_id: str, body: LeaseRenewal, coordinator: CoordinatorDep
) -> dict[str, Any]:
    """Extend a worker's lease on a running job; 409 when the worker has none."""
    seconds = body.lease_seconds or jobs.DEFAULT_LEASE_SECONDS
    with coordinator.store.transaction() as tx:
        job = require_job(tx, job_id)
        jobs.renew_lease(job, body.worker_id, seconds, coordinator.clock())
        tx.update_job(job)
    return {"ok": True, "lease": jobs.lease_body(job)}
