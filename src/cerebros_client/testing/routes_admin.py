"""Admin endpoints for what the real server does through its console.

They turn the guide's setup steps (create a dataset, freeze it, set its
corpus path, create a job) into HTTP calls, and let tests read a job back
with the metrics of every phase. Served in both profiles.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from . import jobs
from .context import Coordinator, get_coordinator
from .errors import Conflict, InvalidRequest, NotFound
from .routes_worker import OK, require_job
from .schemas import DatasetCreate, DatasetUpdate, JobCreate, JobStatusName
from .store import Document, Transaction

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api")

CoordinatorDep = Annotated[Coordinator, Depends(get_coordinator)]


def require_dataset(tx: Transaction, dataset_id: str) -> Document:
    """Return the dataset with this id or raise NotFound."""
    dataset = tx.get_dataset(dataset_id)
    if dataset is None:
        raise NotFound("dataset", dataset_id)
    return dataset


@router.post("/datasets", status_code=201)
def create_dataset(body: DatasetCreate, coordinator: CoordinatorDep) -> Document:
    """Create a dataset that is still collecting (not frozen) and has no corpus."""
    stamp = jobs.isoformat(coordinator.clock())
    dataset = {
        "id": str(uuid.uuid4()),
        "name": body.name,
        "description": body.description,
        "status": "collecting",
        "corpus_path": None,
        "total_chunks": 0,
        "metadata": body.metadata,
        "inserted_at": stamp,
        "updated_at": stamp,
    }
    with coordinator.store.transaction() as tx:
        tx.put_dataset(dataset)
    logger.info("dataset %s created", dataset["id"])
    return dataset


@router.get("/datasets/{dataset_id}")
def get_dataset(dataset_id: str, coordinator: CoordinatorDep) -> Document:
    """Return one dataset."""
    with coordinator.store.transaction() as tx:
        return require_dataset(tx, dataset_id)


@router.post("/datasets/{dataset_id}/freeze")
def freeze_dataset(dataset_id: str, coordinator: CoordinatorDep) -> dict[str, bool]:
    """Freeze a dataset so jobs can train on it; freezing twice is harmless."""
    with coordinator.store.transaction() as tx:
        dataset = require_dataset(tx, dataset_id)
        dataset["status"] = "frozen"
        dataset["updated_at"] = jobs.isoformat(coordinator.clock())
        tx.put_dataset(dataset)
    return OK


@router.patch("/datasets/{dataset_id}")
def update_dataset(
    dataset_id: str, body: DatasetUpdate, coordinator: CoordinatorDep
) -> dict[str, bool]:
    """Set the corpus path of a dataset and its chunk count."""
    total = body.total_chunks
    if total is None:
        total = count_chunks(body.corpus_path)

    with coordinator.store.transaction() as tx:
        dataset = require_dataset(tx, dataset_id)
        dataset["corpus_path"] = body.corpus_path
        dataset["total_chunks"] = total
        dataset["updated_at"] = jobs.isoformat(coordinator.clock())
        tx.put_dataset(dataset)
    return OK


def count_chunks(corpus_path: str) -> int:
    """Count documents: JSONL lines, or CSV rows (less headers) in a directory.

    A URL or a path missing on this disk counts as 0 chunks, because the
    stand-in does not read remote storage.
    """
    path = Path(corpus_path)
    if "://" in corpus_path or not path.exists():
        return 0
    if path.is_dir():
        total = 0
        for csv_file in sorted(path.glob("*.csv")):
            total += max(0, _count_lines(csv_file) - 1)
        return total
    return _count_lines(path)


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


@router.post("/jobs", status_code=201)
def create_job(body: JobCreate, coordinator: CoordinatorDep) -> Document:
    """Queue a training job on a dataset; strict requires the dataset frozen."""
    profile = coordinator.profile
    dataset_id = body.training_dataset_id
    with coordinator.store.transaction() as tx:
        dataset = tx.get_dataset(dataset_id)
        if dataset is None and profile.detailed_errors:
            raise InvalidRequest(
                f"invalid field 'training_dataset_id': dataset {dataset_id!r}"
                " not found; create it with POST /api/datasets",
                field="training_dataset_id",
            )
        if dataset is None:
            raise NotFound("dataset", dataset_id)
        if profile.require_frozen_dataset and dataset["status"] != "frozen":
            raise Conflict(
                f"dataset {dataset_id!r} is not frozen; freeze it with"
                f" POST /api/datasets/{dataset_id}/freeze before creating a job",
                field="training_dataset_id",
            )

        job = jobs.new_job(
            dataset_id,
            body.model_id,
            body.hyperparameters,
            body.metadata,
            coordinator.clock(),
        )
        tx.insert_job(job)
    logger.info("job %s queued on dataset %s", job["id"], dataset_id)
    return jobs.render_job(job, profile)


@router.get("/jobs")
def list_jobs(
    coordinator: CoordinatorDep, status: Annotated[JobStatusName | None, Query()] = None
) -> dict[str, list[Document]]:
    """List jobs in creation order, optionally only those with one status."""
    with coordinator.store.transaction() as tx:
        found = tx.list_jobs(status)
    return {"jobs": [jobs.render_job(job, coordinator.profile) for job in found]}


@router.get("/jobs/{job_id}")
def get_job(job_id: str, coordinator: CoordinatorDep) -> Document:
    """Return a job with its checkpoints and the metrics of every phase."""
    with coordinator.store.transaction() as tx:
        job = require_job(tx, job_id)
    return jobs.render_job(job, coordinator.profile, detail=True)


@router.post("/jobs/{job_id}/cancel")
def cancel_job(job_id: str, coordinator: CoordinatorDep) -> dict[str, bool]:
    """Cancel a job; strict rejects cancelling a completed or failed job with 409."""
    with coordinator.store.transaction() as tx:
        job = require_job(tx, job_id)
        jobs.apply_status(
            job,
            "cancelled",
            final_model_id=None,
            fine_tuned_model=None,
            error_message=None,
            profile=coordinator.profile,
            now=coordinator.clock(),
        )
        tx.update_job(job)
    logger.info("job %s cancelled", job_id)
    return OK
