"""TensorBoard event files written for real and simulated jobs."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("tensorboard")

import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import (
    EventAccumulator,
)

from cerebros_client import Job
from cerebros_trainer.hyperparams import TrainingConfig
from cerebros_trainer.integrations.tensorboard_logs import TensorBoardObserver
from cerebros_trainer.runner import JobResult
from cerebros_trainer.worker import Worker
from tests.fixtures_worker import WorkerStack


def _scalars(directory: Path) -> dict[str, list[tuple[int, float]]]:
    # size_guidance 0 keeps every event, where the default samples them.
    accumulator = EventAccumulator(str(directory), size_guidance={"tensors": 0})
    accumulator.Reload()
    return {
        tag: [
            (event.step, float(tf.make_ndarray(event.tensor_proto)))
            for event in accumulator.Tensors(tag)
        ]
        for tag in accumulator.Tags()["tensors"]
    }


def test_worker_job_writes_scalars(worker_stack: WorkerStack, tmp_path: Path) -> None:
    job_id = worker_stack.seed(n_epochs=2)
    log_dir = tmp_path / "tensorboard"
    settings = worker_stack.settings(tensorboard_dir=log_dir)

    with Worker(settings, verbose=0) as worker:
        result = worker.run_once()

    assert result is not None
    assert result.status == "completed"
    job_dir = log_dir / job_id
    assert list(job_dir.glob("events.out.tfevents.*")), "no event file written"
    scalars = _scalars(job_dir)
    assert [step for step, _ in scalars["loss"]] == [1, 2, 3, 4]
    assert scalars["phase"] == [(1, 1.0), (2, 1.0), (3, 2.0), (4, 2.0)]
    assert scalars["loss"][3][1] == pytest.approx(result.phase_metrics[2]["loss"])
    assert [step for step, _ in scalars["parameters"]] == [2, 4]


def test_resumed_job_appends_to_its_directory(tmp_path: Path) -> None:
    observer = TensorBoardObserver(tmp_path)
    job = Job(id="job-3", training_dataset_id="ds-1", model_id="byte-gru")
    config = TrainingConfig(n_epochs=1, phases=2)

    observer.on_job_start(job, config, "byte-gru", 1)
    observer.on_epoch_end(job, 1, 1, {"loss": 2.0, "val_loss": None})
    observer.on_job_end(job, JobResult(job_id=job.id, status="queued"))
    observer.on_job_start(job, config, "byte-gru", 2)
    observer.on_epoch_end(job, 2, 1, {"loss": 1.0})
    observer.on_phase_end(
        job,
        2,
        {"loss": 1.0, "corpus_documents": 120},
        "s3://bucket/job-3/phase-2.keras",
        tmp_path / "phase-2.keras",
    )
    observer.on_job_end(job, JobResult(job_id=job.id, status="completed"))

    scalars = _scalars(observer.job_log_dir(job.id))
    assert scalars["loss"] == [(1, 2.0), (2, 1.0)]
    assert scalars["corpus_documents"] == [(2, 120.0)]
    assert "val_loss" not in scalars


def test_events_of_unstarted_job_are_ignored(tmp_path: Path) -> None:
    observer = TensorBoardObserver(tmp_path)
    job = Job(id="job-4")

    observer.on_epoch_end(job, 1, 1, {"loss": 2.0})
    observer.on_job_end(job, JobResult(job_id=job.id, status="failed"))

    assert list(tmp_path.iterdir()) == []


def test_job_directory_name_is_safe(tmp_path: Path) -> None:
    observer = TensorBoardObserver(tmp_path / "logs")

    assert observer.job_log_dir("../escape") == tmp_path / "logs" / ".._escape"
