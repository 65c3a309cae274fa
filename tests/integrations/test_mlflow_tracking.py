"""MLflow runs of real jobs, trained by a worker on loopback.

The tracking store is file-based under the test's temporary directory;
the coordinator and S3 are the stand-in and moto from `worker_stack`.
"""

from __future__ import annotations

import hashlib
import logging
import socket
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mlflow")

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from cerebros_client import Job
from cerebros_trainer.control import StopFlag
from cerebros_trainer.errors import StorageError
from cerebros_trainer.hyperparams import TrainingConfig
from cerebros_trainer.integrations import build_observers
from cerebros_trainer.integrations.mlflow_tracking import (
    MlflowObserver,
    is_transient_mlflow_error,
    redact_uri,
)
from cerebros_trainer.runner import JobResult
from cerebros_trainer.storage import CheckpointStore, open_checkpoint_store
from cerebros_trainer.worker import Worker
from tests.fixtures_worker import BUCKET, PREFIX, WorkerStack


def _find_runs(tracking_uri: str, job_id: str) -> list[Any]:
    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name("cerebros")
    assert experiment is not None, "the observer did not create the experiment"
    return list(
        client.search_runs(
            [experiment.experiment_id],
            filter_string=f"tags.`cerebros.job_id` = '{job_id}'",
        )
    )


def _only_run(tracking_uri: str, job_id: str) -> Any:
    runs = _find_runs(tracking_uri, job_id)
    assert len(runs) == 1, f"expected one run for job {job_id}, found {len(runs)}"
    return runs[0]


def _history(tracking_uri: str, run_id: str, key: str) -> list[tuple[int, float]]:
    client = MlflowClient(tracking_uri=tracking_uri)
    points = client.get_metric_history(run_id, key)
    return sorted((point.step, point.value) for point in points)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _FailingUploads:
    """A checkpoint store whose uploads of one phase fail for good."""

    def __init__(self, inner: CheckpointStore, failing_phase: int) -> None:
        self._inner = inner
        self._failing_phase = failing_phase

    def preflight(self) -> None:
        self._inner.preflight()

    def upload(
        self, local_path: Path, *, job_id: str, phase: int, partial: bool = False
    ) -> str:
        if phase == self._failing_phase:
            raise StorageError(f"upload of phase {phase} denied by the test store")
        return self._inner.upload(
            local_path, job_id=job_id, phase=phase, partial=partial
        )

    def download(self, url: str, dest: Path) -> Path:
        return self._inner.download(url, dest)

    def exists(self, url: str) -> bool:
        return self._inner.exists(url)


class _StopAfterPhase:
    """An observer that requests a shutdown once a phase has finished."""

    def __init__(self, stop_flag: StopFlag, phase: int) -> None:
        self._stop_flag = stop_flag
        self._phase = phase

    def on_phase_end(self, job: Job, phase: int, *args: object) -> None:
        if phase == self._phase:
            self._stop_flag.request()


def test_completed_job_run_is_finished(
    worker_stack: WorkerStack, tracking_uri: str
) -> None:
    job_id = worker_stack.seed()
    settings = worker_stack.settings(mlflow_tracking_uri=tracking_uri)

    with Worker(settings, verbose=0) as worker:
        result = worker.run_once()

    assert result is not None
    assert result.status == "completed"
    run = _only_run(tracking_uri, job_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == job_id
    tags = run.data.tags
    assert tags["cerebros.job_id"] == job_id
    assert (
        tags["cerebros.dataset_id"] == worker_stack.job(job_id)["training_dataset_id"]
    )
    assert tags["cerebros.model_id"] == "byte-gru"
    assert tags["cerebros.worker_id"] == settings.worker_id
    assert tags["cerebros.architecture"] == result.architecture
    assert tags["cerebros.job_status"] == "completed"
    assert tags["cerebros.final_model_id"] == result.final_model_id
    for phase in (1, 2):
        expected_url = f"s3://{BUCKET}/{PREFIX}/{job_id}/phase-{phase}.keras"
        assert tags[f"cerebros.checkpoint_url.phase_{phase}"] == expected_url


def test_run_holds_params_metrics_checkpoint(
    worker_stack: WorkerStack, tracking_uri: str
) -> None:
    job_id = worker_stack.seed(n_epochs=2)
    settings = worker_stack.settings(mlflow_tracking_uri=tracking_uri)

    with Worker(settings, verbose=0) as worker:
        result = worker.run_once()

    assert result is not None
    run = _only_run(tracking_uri, job_id)
    params = run.data.params
    assert params["n_epochs"] == "2"
    assert params["phases"] == "2"
    assert params["batch_size"] == "8"
    assert params["learning_rate"] == "0.01"
    assert params["seq_len"] == "16"
    assert "num_heads" not in params

    run_id = run.info.run_id
    loss = _history(tracking_uri, run_id, "loss")
    assert [step for step, _ in loss] == [1, 2, 3, 4]
    assert [value for _, value in _history(tracking_uri, run_id, "phase")] == [
        1.0,
        1.0,
        2.0,
        2.0,
    ]
    assert [value for _, value in loss[1::2]] == [
        pytest.approx(result.phase_metrics[phase]["loss"]) for phase in (1, 2)
    ]
    parameters = _history(tracking_uri, run_id, "parameters")
    assert parameters == [(2, result.phase_metrics[1]["parameters"])] + [
        (4, result.phase_metrics[2]["parameters"])
    ]

    client = MlflowClient(tracking_uri=tracking_uri)
    artifacts = [item.path for item in client.list_artifacts(run_id, "checkpoints")]
    assert artifacts == ["checkpoints/phase-2.keras"]
    local = Path(client.download_artifacts(run_id, "checkpoints/phase-2.keras"))
    stored_key = f"{PREFIX}/{job_id}/phase-2.keras"
    assert hashlib.sha256(local.read_bytes()).hexdigest() == worker_stack.object_sha256(
        stored_key
    )


def test_job_failed_in_training_run_is_failed(
    worker_stack: WorkerStack, tracking_uri: str
) -> None:
    job_id = worker_stack.seed()
    settings = worker_stack.settings(mlflow_tracking_uri=tracking_uri)
    store = _FailingUploads(open_checkpoint_store(settings), failing_phase=2)

    with Worker(settings, store=store, verbose=0) as worker:
        result = worker.run_once()

    assert result is not None
    assert result.status == "failed"
    run = _only_run(tracking_uri, job_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["cerebros.job_status"] == "failed"
    assert "denied by the test store" in run.data.tags["cerebros.error_message"]
    assert run.data.params["phases"] == "2"
    steps = [step for step, _ in _history(tracking_uri, run.info.run_id, "loss")]
    assert steps == [1, 2]


def test_job_rejected_before_training_gets_failed_run(
    worker_stack: WorkerStack, tracking_uri: str
) -> None:
    job_id = worker_stack.seed(batch_size=-3)
    settings = worker_stack.settings(mlflow_tracking_uri=tracking_uri)

    with Worker(settings, verbose=0) as worker:
        result = worker.run_once()

    assert result is not None
    assert result.status == "failed"
    run = _only_run(tracking_uri, job_id)
    assert run.info.status == "FAILED"
    assert "batch_size" in run.data.tags["cerebros.error_message"]
    assert run.data.params == {}
    assert "cerebros.architecture" not in run.data.tags


@pytest.mark.timeout(120)
def test_unreachable_server_does_not_fail_job(
    worker_stack: WorkerStack, caplog: pytest.LogCaptureFixture
) -> None:
    job_id = worker_stack.seed()
    tracking_uri = f"http://127.0.0.1:{_closed_port()}"
    settings = worker_stack.settings(mlflow_tracking_uri=tracking_uri)
    observers = build_observers(settings)
    observer = observers[0]
    assert isinstance(observer, MlflowObserver)

    try:
        with (
            caplog.at_level(logging.WARNING),
            Worker(settings, observers=observers, verbose=0) as worker,
        ):
            result = worker.run_once()

        assert result is not None
        assert result.status == "completed"
        assert worker_stack.job(job_id)["status"] == "completed"
        assert observer.wait_until_sent(0.1) is False
        assert f"to MLflow at {tracking_uri}" in caplog.text
        assert "retrying in the background while training goes on" in caplog.text
        assert f"MLflow has not received every update of job {job_id}" in caplog.text
    finally:
        observer.close(timeout=0.1)


def test_resumed_job_continues_its_run(
    worker_stack: WorkerStack, tracking_uri: str
) -> None:
    job_id = worker_stack.seed()
    settings = worker_stack.settings(mlflow_tracking_uri=tracking_uri)
    stop_flag = StopFlag()
    observers = [*build_observers(settings), _StopAfterPhase(stop_flag, phase=1)]

    with Worker(settings, stop_flag=stop_flag, observers=observers, verbose=0) as first:
        handed_back = first.run_once()

    assert handed_back is not None
    assert handed_back.status == "queued"
    interrupted = _only_run(tracking_uri, job_id)
    assert interrupted.info.status == "KILLED"
    assert interrupted.data.tags["cerebros.job_status"] == "queued"

    with Worker(settings, verbose=0) as second:
        resumed = second.run_once()

    assert resumed is not None
    assert resumed.status == "completed"
    run = _only_run(tracking_uri, job_id)
    assert run.info.run_id == interrupted.info.run_id
    assert run.info.status == "FINISHED"
    assert run.data.tags["cerebros.job_status"] == "completed"
    steps = {step for step, _ in _history(tracking_uri, run.info.run_id, "loss")}
    assert steps == {1, 2}


def test_experiment_name_setting_is_used(
    worker_stack: WorkerStack, tracking_uri: str
) -> None:
    job_id = worker_stack.seed(phases=1)
    settings = worker_stack.settings(
        mlflow_tracking_uri=tracking_uri, mlflow_experiment="gru-sweep"
    )

    with Worker(settings, verbose=0) as worker:
        worker.run_once()

    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name("gru-sweep")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert [run.data.tags["cerebros.job_id"] for run in runs] == [job_id]


def test_observer_reopens_run_without_worker(tracking_uri: str, tmp_path: Path) -> None:
    job = Job(id="job-7", training_dataset_id="ds-1", model_id="byte-gru")
    config = TrainingConfig(n_epochs=1, phases=2)
    observer = MlflowObserver(
        tracking_uri,
        experiment_name="cerebros",
        worker_id="worker-a",
        staging_dir=tmp_path / "staging",
    )
    try:
        observer.on_job_start(job, config, "byte-gru", 1)
        observer.on_epoch_end(job, 1, 1, {"loss": 2.0})
        observer.on_job_end(job, JobResult(job_id=job.id, status="lease_lost"))
        observer.on_job_start(job, config, "byte-gru", 2)
        observer.on_epoch_end(job, 2, 1, {"loss": 1.0})
        observer.on_job_end(job, JobResult(job_id=job.id, status="completed"))
        assert observer.wait_until_sent(10.0) is True
    finally:
        observer.close()

    run = _only_run(tracking_uri, job.id)
    assert run.info.status == "FINISHED"
    assert _history(tracking_uri, run.info.run_id, "loss") == [(1, 2.0), (2, 1.0)]
    assert not (tmp_path / "staging" / job.id).exists()


def test_transient_error_classification() -> None:
    unreachable = MlflowException("API request to http://127.0.0.1:9 failed")
    rejected = MlflowException("bad key", error_code=INVALID_PARAMETER_VALUE)

    assert is_transient_mlflow_error(unreachable) is True
    assert is_transient_mlflow_error(rejected) is False
    assert is_transient_mlflow_error(ConnectionRefusedError("refused")) is True
    assert is_transient_mlflow_error(KeyError("run_id")) is False


def test_redact_uri_hides_credentials() -> None:
    assert redact_uri("https://alice:s3cret@mlflow.example:5000/x") == (
        "https://***@mlflow.example:5000/x"
    )
    assert redact_uri("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert redact_uri("file:///tmp/mlruns") == "file:///tmp/mlruns"
