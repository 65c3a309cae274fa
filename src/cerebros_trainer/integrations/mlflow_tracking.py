"""Logging each training job as one MLflow run.

The run is named after the job and tagged with its job id, dataset id,
model id, worker id and trained architecture. Its parameters are the
validated hyperparameters, its metrics are logged per epoch at a global
step that counts epochs across phases, and the final phase's checkpoint is
logged as an artifact. The run's status follows the job: FINISHED,
FAILED, or KILLED when the job was handed back or its lease lost.

A resumed job finds its run again by the job-id tag and continues it.
Every MLflow call runs on a background thread (see `BackgroundSender`),
so an unreachable tracking server delays nothing in training.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import threading
import time
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from cerebros_trainer.integrations.mlflow_environment import (
    apply_mlflow_environment_defaults,
)

# Before the first import of mlflow, which starts its telemetry.
apply_mlflow_environment_defaults()

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from cerebros_trainer.integrations.background import BackgroundSender
from cerebros_trainer.integrations.metrics import (
    global_step,
    new_scalars,
    safe_path_name,
    scalar_metrics,
)

if TYPE_CHECKING:
    from cerebros_client import Job
    from cerebros_trainer.hyperparams import TrainingConfig
    from cerebros_trainer.runner import JobResult

logger = logging.getLogger(__name__)

JOB_ID_TAG = "cerebros.job_id"
DATASET_ID_TAG = "cerebros.dataset_id"
MODEL_ID_TAG = "cerebros.model_id"
WORKER_ID_TAG = "cerebros.worker_id"
ARCHITECTURE_TAG = "cerebros.architecture"
JOB_STATUS_TAG = "cerebros.job_status"
ERROR_MESSAGE_TAG = "cerebros.error_message"
FINAL_MODEL_TAG = "cerebros.final_model_id"
CHECKPOINT_TAG = "cerebros.checkpoint_url.phase_{phase}"
CHECKPOINT_ARTIFACT_PATH = "checkpoints"

# Job outcomes (JobResult.status) mapped to MLflow run statuses. A job
# handed back to the queue or taken over after a lost lease did not fail,
# but its run on this worker ended early.
RUN_STATUS_BY_JOB_STATUS = {
    "completed": "FINISHED",
    "failed": "FAILED",
    "queued": "KILLED",
    "lease_lost": "KILLED",
}

# mlflow 3.18 accepts 6000 characters per parameter value and 8000 per tag
# value, but older tracking servers reject values over 500 and 5000. Values
# are cut to the older limits, which hyperparameters rarely reach.
MAX_PARAM_LENGTH = 500
MAX_TAG_LENGTH = 5000
PARAMS_PER_REQUEST = 100
DEFAULT_DRAIN_TIMEOUT = 30.0


def is_transient_mlflow_error(error: Exception) -> bool:
    """Return whether a retry might succeed: unreachable server, 5xx or 429.

    MLflow reports connection failures and timeouts as an `MlflowException`
    with status 500. A 4xx response means the request itself was rejected.
    """
    if isinstance(error, MlflowException):
        status = int(error.get_http_status_code())  # type: ignore[no-untyped-call]
        return status >= 500 or status == 429
    return isinstance(error, OSError)


def redact_uri(uri: str) -> str:
    """Return `uri` without a user name or password, for log messages."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"***@{host}"))


@dataclasses.dataclass
class _JobProgress:
    """Step counts and last epoch metrics of one job, kept by the training thread."""

    epochs_per_phase: int
    final_phase: int
    last_epoch_metrics: dict[str, float] = dataclasses.field(default_factory=dict)


class MlflowObserver:
    """Job observer that mirrors each job into one MLflow run.

    `staging_dir` keeps copies of final checkpoints until they are
    uploaded, because the runner deletes its own copy when the job ends.
    `drain_timeout` bounds how long `on_job_end` waits for the job's
    updates to reach a reachable server, so a worker that exits after one
    job still leaves a complete run.
    """

    def __init__(
        self,
        tracking_uri: str,
        *,
        experiment_name: str,
        worker_id: str,
        staging_dir: Path,
        drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
        sender: BackgroundSender | None = None,
    ) -> None:
        apply_mlflow_environment_defaults()
        self._client = MlflowClient(tracking_uri=tracking_uri)
        self._experiment_name = experiment_name
        self._experiment_id: str | None = None
        self._worker_id = worker_id
        self._staging_dir = staging_dir
        self._drain_timeout = drain_timeout
        self._sender = sender or BackgroundSender(
            f"MLflow at {redact_uri(tracking_uri)}",
            is_transient=is_transient_mlflow_error,
            thread_name="cerebros-mlflow",
        )
        self._progress: dict[str, _JobProgress] = {}
        # Written by the sender thread, read by the tasks it runs, and by
        # `run_id_of` from any thread.
        self._run_ids: dict[str, str] = {}
        self._run_ids_lock = threading.Lock()

        # Staged files belong to calls of an earlier process, which are gone.
        shutil.rmtree(self._staging_dir, ignore_errors=True)

    def run_id_of(self, job_id: str) -> str | None:
        """Return the MLflow run id of a job once the run was created or found."""
        with self._run_ids_lock:
            return self._run_ids.get(job_id)

    def wait_until_sent(self, timeout: float) -> bool:
        """Wait until every queued update was sent; return whether all were."""
        return self._sender.wait_until_idle(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Send what the server accepts within `timeout` and stop the thread."""
        self._sender.close(timeout)

    def on_job_start(
        self, job: Job, config: TrainingConfig, architecture: str, first_phase: int
    ) -> None:
        """Queue creating the job's run, or reopening the run of an earlier attempt.

        The run is found by its job-id tag, so a job resumed at
        `first_phase` > 1, here or on another worker, continues its run.
        """
        self._progress[job.id] = _JobProgress(config.n_epochs, config.phases)
        tags = self._job_tags(job, architecture)
        params = _params_from_config(config)
        self._sender.submit(
            f"the start of job {job.id}",
            partial(self._start_run, job.id, tags, params),
            droppable=False,
        )

    def on_epoch_end(
        self, job: Job, phase: int, epoch: int, metrics: Mapping[str, Any]
    ) -> None:
        """Queue logging the epoch's metrics at its global step."""
        progress = self._progress.get(job.id)
        if progress is None:
            return

        scalars = scalar_metrics(metrics)
        scalars["phase"] = float(phase)
        progress.last_epoch_metrics = scalars
        step = global_step(phase, epoch, progress.epochs_per_phase)
        self._submit_metrics(job.id, scalars, step, f"phase {phase} epoch {epoch}")

    def on_phase_end(
        self,
        job: Job,
        phase: int,
        metrics: Mapping[str, Any],
        checkpoint_url: str,
        local_checkpoint: Path,
    ) -> None:
        """Queue the phase's remaining metrics, its checkpoint URL and the
        final checkpoint file."""
        progress = self._progress.get(job.id)
        if progress is None:
            return

        step = global_step(phase, progress.epochs_per_phase, progress.epochs_per_phase)
        scalars = new_scalars(scalar_metrics(metrics), progress.last_epoch_metrics)
        self._submit_metrics(job.id, scalars, step, f"phase {phase} summary")
        tags = {CHECKPOINT_TAG.format(phase=phase): checkpoint_url}
        self._sender.submit(
            f"the checkpoint URL of job {job.id} phase {phase}",
            partial(self._set_tags, job.id, tags),
            droppable=False,
        )
        if phase == progress.final_phase:
            self._submit_checkpoint(job.id, local_checkpoint)

    def on_job_end(self, job: Job, result: JobResult) -> None:
        """Queue ending the run with the job's status, then wait for delivery.

        A job that failed before training started (invalid hyperparameters,
        unreadable corpus) gets a run here, so every job taken shows up.
        """
        if self._progress.pop(job.id, None) is None:
            job_tags = self._job_tags(job, result.architecture or "")
            self._sender.submit(
                f"the start of job {job.id}",
                partial(self._start_run, job.id, job_tags, {}),
                droppable=False,
            )

        status = RUN_STATUS_BY_JOB_STATUS.get(result.status, "FAILED")
        tags = {JOB_STATUS_TAG: result.status}
        if result.error_message:
            tags[ERROR_MESSAGE_TAG] = result.error_message[:MAX_TAG_LENGTH]
        if result.final_model_id:
            tags[FINAL_MODEL_TAG] = result.final_model_id
        self._sender.submit(
            f"the end of job {job.id}",
            partial(self._end_run, job.id, tags, status),
            droppable=False,
        )

        if not self._sender.wait_until_idle(self._drain_timeout):
            logger.warning(
                "MLflow has not received every update of job %s yet; they "
                "stay queued while the worker goes on",
                job.id,
            )

    def _job_tags(self, job: Job, architecture: str) -> dict[str, str]:
        return {
            JOB_ID_TAG: job.id,
            DATASET_ID_TAG: job.training_dataset_id or "",
            MODEL_ID_TAG: job.model_id or "",
            WORKER_ID_TAG: self._worker_id,
            ARCHITECTURE_TAG: architecture,
        }

    def _submit_metrics(
        self, job_id: str, scalars: dict[str, float], step: int, label: str
    ) -> None:
        if not scalars:
            return

        # The timestamp is taken now, so metrics sent late after an outage
        # still show when they were measured.
        timestamp = int(time.time() * 1000)
        batch = [Metric(key, value, timestamp, step) for key, value in scalars.items()]
        self._sender.submit(
            f"the metrics of job {job_id} {label}",
            partial(self._log_metrics, job_id, batch),
            droppable=True,
        )

    def _submit_checkpoint(self, job_id: str, local_checkpoint: Path) -> None:
        staged = self._staging_dir / safe_path_name(job_id) / local_checkpoint.name
        staged.parent.mkdir(parents=True, exist_ok=True)
        try:
            # A hard link costs no copy where both lie on one file system.
            os.link(local_checkpoint, staged)
        except OSError:
            shutil.copy2(local_checkpoint, staged)

        self._sender.submit(
            f"the final checkpoint of job {job_id}",
            partial(self._log_checkpoint, job_id, staged),
            droppable=False,
        )

    # The methods below run on the sender thread.

    def _start_run(
        self,
        job_id: str,
        tags: dict[str, str],
        params: dict[str, str],
    ) -> None:
        # An empty value is unknown, not a value: it would overwrite a real
        # one from an earlier attempt, such as the architecture it trained.
        tags = {key: value for key, value in tags.items() if value}
        experiment_id = self._ensure_experiment()
        run = self._find_run(experiment_id, job_id)
        if run is None:
            run = self._client.create_run(
                experiment_id, tags=tags, run_name=safe_path_name(job_id)
            )
            logged_params: dict[str, str] = {}
            logger.info("Created MLflow run %s for job %s", run.info.run_id, job_id)
        else:
            self._client.update_run(run.info.run_id, status="RUNNING")
            self._client.log_batch(
                run.info.run_id, tags=[RunTag(k, v) for k, v in tags.items()]
            )
            logged_params = dict(run.data.params)
            logger.info("Continuing MLflow run %s of job %s", run.info.run_id, job_id)

        run_id = run.info.run_id
        with self._run_ids_lock:
            self._run_ids[job_id] = run_id

        # MLflow rejects a parameter logged again with another value, so a
        # resumed run only gets the parameters it lacks.
        missing = [Param(k, v) for k, v in params.items() if k not in logged_params]
        for start in range(0, len(missing), PARAMS_PER_REQUEST):
            chunk = missing[start : start + PARAMS_PER_REQUEST]
            self._client.log_batch(run_id, params=chunk)

    def _ensure_experiment(self) -> str:
        if self._experiment_id is not None:
            return self._experiment_id

        experiment = self._client.get_experiment_by_name(self._experiment_name)
        if experiment is not None:
            self._experiment_id = str(experiment.experiment_id)
            return self._experiment_id

        try:
            self._experiment_id = self._client.create_experiment(self._experiment_name)
        except MlflowException as error:
            # Another worker may have created it since the lookup.
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            experiment = self._client.get_experiment_by_name(self._experiment_name)
            if experiment is None:
                raise
            self._experiment_id = str(experiment.experiment_id)
        return self._experiment_id

    def _find_run(self, experiment_id: str, job_id: str) -> Any:
        quoted = job_id.replace("\\", "\\\\").replace("'", "\\'")
        runs = self._client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{JOB_ID_TAG}` = '{quoted}'",
            max_results=1,
            order_by=["attributes.start_time DESC"],
        )
        return runs[0] if runs else None

    def _log_metrics(self, job_id: str, batch: list[Metric]) -> None:
        run_id = self._run_id_or_skip(job_id, "metrics")
        if run_id is not None:
            self._client.log_batch(run_id, metrics=batch)

    def _set_tags(self, job_id: str, tags: dict[str, str]) -> None:
        run_id = self._run_id_or_skip(job_id, "tags")
        if run_id is not None:
            self._client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])

    def _log_checkpoint(self, job_id: str, staged: Path) -> None:
        run_id = self._run_id_or_skip(job_id, "the final checkpoint")
        if run_id is not None:
            self._client.log_artifact(run_id, str(staged), CHECKPOINT_ARTIFACT_PATH)

    def _end_run(self, job_id: str, tags: dict[str, str], status: str) -> None:
        try:
            run_id = self._run_id_or_skip(job_id, "the final status")
            if run_id is not None:
                self._set_tags(job_id, tags)
                self._client.set_terminated(run_id, status=status)
        finally:
            shutil.rmtree(self._staging_dir / safe_path_name(job_id), True)

        with self._run_ids_lock:
            self._run_ids.pop(job_id, None)

    def _run_id_or_skip(self, job_id: str, update: str) -> str | None:
        run_id = self.run_id_of(job_id)
        if run_id is None:
            # The start of the run was dropped and already logged a warning.
            logger.debug("Skipped %s of job %s: it has no MLflow run", update, job_id)
        return run_id


def _params_from_config(config: TrainingConfig) -> dict[str, str]:
    values = {
        field.name: getattr(config, field.name)
        for field in dataclasses.fields(config)
        if field.name != "extra"
    }
    values.update(config.extra)
    params = {}
    for key, value in values.items():
        if value is None:
            continue
        params[safe_path_name(key)] = str(value)[:MAX_PARAM_LENGTH]
    return params
