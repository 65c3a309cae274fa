"""TensorBoard event files for each training job.

Each job writes to its own subdirectory of the configured directory, named
after the job id, so `tensorboard --logdir DIR` shows one run per job. A
resumed job appends a new event file to the same subdirectory, and
TensorBoard merges them. Scalars use the same global step as the MLflow
integration: epochs counted across phases.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tensorflow as tf

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


class _JobLog:
    """An open event file writer and the step bookkeeping of one job."""

    def __init__(self, writer: Any, epochs_per_phase: int) -> None:
        self.writer = writer
        self.epochs_per_phase = epochs_per_phase
        self.last_epoch_metrics: dict[str, float] = {}


class TensorBoardObserver:
    """Job observer that writes each job's metrics as TensorBoard scalars."""

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = Path(log_dir)
        self._jobs: dict[str, _JobLog] = {}

    def job_log_dir(self, job_id: str) -> Path:
        """Return the directory that contains a job's event files."""
        return self._log_dir / safe_path_name(job_id)

    def on_job_start(
        self, job: Job, config: TrainingConfig, architecture: str, first_phase: int
    ) -> None:
        """Open the job's event file writer."""
        directory = self.job_log_dir(job.id)
        directory.mkdir(parents=True, exist_ok=True)
        writer = tf.summary.create_file_writer(str(directory))
        self._jobs[job.id] = _JobLog(writer, config.n_epochs)
        logger.info("Writing TensorBoard events of job %s to %s", job.id, directory)

    def on_epoch_end(
        self, job: Job, phase: int, epoch: int, metrics: Mapping[str, Any]
    ) -> None:
        """Write the epoch's metrics at its global step."""
        log = self._jobs.get(job.id)
        if log is None:
            return

        scalars = scalar_metrics(metrics)
        scalars["phase"] = float(phase)
        log.last_epoch_metrics = scalars
        step = global_step(phase, epoch, log.epochs_per_phase)
        self._write(log, scalars, step)

    def on_phase_end(
        self,
        job: Job,
        phase: int,
        metrics: Mapping[str, Any],
        checkpoint_url: str,
        local_checkpoint: Path,
    ) -> None:
        """Write the phase's metrics that its last epoch did not already write."""
        log = self._jobs.get(job.id)
        if log is None:
            return

        step = global_step(phase, log.epochs_per_phase, log.epochs_per_phase)
        scalars = new_scalars(scalar_metrics(metrics), log.last_epoch_metrics)
        self._write(log, scalars, step)

    def on_job_end(self, job: Job, result: JobResult) -> None:
        """Close the job's writer, which flushes its event file."""
        log = self._jobs.pop(job.id, None)
        if log is not None:
            log.writer.close()

    def _write(self, log: _JobLog, scalars: Mapping[str, float], step: int) -> None:
        with log.writer.as_default():
            for key, value in scalars.items():
                tf.summary.scalar(key, value, step=step)

        # Flushing per epoch lets a running TensorBoard show progress live.
        log.writer.flush()
