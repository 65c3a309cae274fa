"""Hooks that let integrations follow a job without touching the training loop.

An observer receives the job's start, every epoch's metrics, every finished
phase with its checkpoint, and the job's end. Experiment trackers (MLflow,
TensorBoard) are observers. `ObserverGroup` logs and ignores an observer
that raises, so a tracking outage cannot fail a training job.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from cerebros_client import Job
    from cerebros_trainer.hyperparams import TrainingConfig
    from cerebros_trainer.runner import JobResult

logger = logging.getLogger(__name__)


class JobObserver(Protocol):
    """Receives the events of each job a `Trainer` runs."""

    def on_job_start(
        self, job: Job, config: TrainingConfig, architecture: str, first_phase: int
    ) -> None:
        """Called once training is about to start (or resume at `first_phase`)."""

    def on_epoch_end(
        self, job: Job, phase: int, epoch: int, metrics: Mapping[str, Any]
    ) -> None:
        """Called after each epoch with that epoch's metrics."""

    def on_phase_end(
        self,
        job: Job,
        phase: int,
        metrics: Mapping[str, Any],
        checkpoint_url: str,
        local_checkpoint: Path,
    ) -> None:
        """Called after a phase's checkpoint was uploaded and verified."""

    def on_job_end(self, job: Job, result: JobResult) -> None:
        """Called once with the job's outcome, whatever it was."""


class ObserverGroup:
    """Forwards each event to every observer, isolating their failures."""

    def __init__(self, observers: Sequence[JobObserver] = ()) -> None:
        self._observers = list(observers)

    def add(self, observer: JobObserver) -> None:
        """Add an observer for the following jobs."""
        self._observers.append(observer)

    def notify(self, event: str, *args: Any) -> None:
        """Call `event` on every observer, logging and swallowing errors."""
        for observer in self._observers:
            handler = getattr(observer, event, None)
            if handler is None:
                continue
            try:
                handler(*args)
            except Exception:
                logger.exception(
                    "Observer %s failed in %s; training goes on",
                    type(observer).__name__,
                    event,
                )

    def close(self) -> None:
        """Close every observer that has a `close` method, isolating failures."""
        for observer in self._observers:
            close = getattr(observer, "close", None)
            if close is None:
                continue
            try:
                close()
            except Exception:  # closing must reach every observer
                logger.exception("Observer %s failed to close", type(observer).__name__)
