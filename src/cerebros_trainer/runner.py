"""Running one training job from start to final status.

`Trainer.run_job` is the whole job: validate the hyperparameters, read the
corpus, build or restore the model, train it phase by phase, upload and
register a checkpoint after each phase, and send the final status. Every
failure ends in a final status with a message; nothing escapes to the
polling loop except a bug in this module.
"""

from __future__ import annotations

import gc
import logging
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras

from cerebros_client import CerebrosClient, Job
from cerebros_client.errors import CerebrosError
from cerebros_trainer.architectures import ResolvedArchitecture, resolve_architecture
from cerebros_trainer.control import StopFlag, StopReason
from cerebros_trainer.corpus import CorpusData, read_corpus
from cerebros_trainer.errors import CorpusError, JobError, TrainingInterrupted
from cerebros_trainer.hyperparams import TrainingConfig, check_fits_data
from cerebros_trainer.journal import Journal, JournalEntry
from cerebros_trainer.logging_setup import log_context
from cerebros_trainer.observers import JobObserver, ObserverGroup
from cerebros_trainer.outbox import Outbox
from cerebros_trainer.reporting import JobReporter
from cerebros_trainer.resume import (
    ResumePoint,
    find_resume_point,
    parse_checkpoint_url,
)
from cerebros_trainer.settings import WorkerSettings
from cerebros_trainer.storage import (
    CheckpointStore,
    UploadRetry,
    make_s3_client,
    upload_with_retry,
    validate_job_id,
)
from cerebros_trainer.training import PhaseTrainer, load_checkpoint, save_checkpoint

logger = logging.getLogger(__name__)

INTERRUPTED_MESSAGE = (
    "interrupted: the worker was shut down during phase {phase} and the "
    "coordinator did not accept the job back into the queue; requeue it to "
    "resume from checkpoint {checkpoint}"
)


@dataclass
class JobResult:
    """Outcome of one `Trainer.run_job` call."""

    job_id: str
    status: str
    architecture: str | None = None
    phase_metrics: dict[int, dict[str, Any]] = field(default_factory=dict)
    checkpoint_urls: list[str] = field(default_factory=list)
    final_model_id: str | None = None
    error_message: str | None = None
    delivered: bool = True


@dataclass
class _JobState:
    """Everything a running job accumulates, kept together for error handling."""

    job: Job
    entry: JournalEntry
    reporter: JobReporter
    architecture: ResolvedArchitecture | None = None
    current_phase: int = 0
    phase_trainer: PhaseTrainer | None = None


class Trainer:
    """Trains coordinator jobs one at a time and reports their outcome.

    Usable on its own from a notebook: `Trainer(client, settings, store)
    .run_job(job)` returns a `JobResult`. The job must already be marked
    running (`claim_job` does that); this class sends everything after.
    """

    def __init__(
        self,
        client: CerebrosClient,
        settings: WorkerSettings,
        store: CheckpointStore,
        *,
        stop_flag: StopFlag | None = None,
        verbose: int | str = "auto",
        observers: Sequence[JobObserver] = (),
    ) -> None:
        self._client = client
        self.observers = ObserverGroup(observers)
        self._settings = settings
        self._store = store
        self._stop_flag = stop_flag or StopFlag()
        self._verbose = _progress_verbosity(verbose)
        state_dir = Path(settings.state_dir)
        self.journal = Journal(state_dir)
        self.outbox = Outbox(state_dir / "outbox")
        self._scratch_dir = state_dir / "checkpoints"
        self._cache_dir = Path(settings.cache_dir)
        self.upload_retry = UploadRetry(deadline=settings.s3_upload_deadline)

    def run_job(
        self, job: Job, *, journal_entry: JournalEntry | None = None
    ) -> JobResult:
        """Train one job to its final status and return what happened.

        `journal_entry` carries what a previous process of this worker
        finished before it crashed, so those phases are not trained again.
        """
        rejection = _unsafe_job_id_message(job.id)
        if rejection is not None:
            return self._reject(job, rejection)

        entry = journal_entry or JournalEntry(
            job=job.model_dump(mode="json", warnings=False),
            worker_id=self._settings.worker_id,
        )
        self.journal.save(entry)
        state = _JobState(job, entry, JobReporter(self._client, self.outbox, job.id))

        with log_context(job_id=job.id):
            logger.info(
                "Started job %s (model id %r, dataset %s)",
                job.id,
                job.model_id,
                job.training_dataset_id,
            )
            try:
                result = self._run_to_outcome(state)
            finally:
                self._release_memory()
            self.observers.notify("on_job_end", job, result)
            return result

    def _reject(self, job: Job, message: str) -> JobResult:
        # The id would name files and object keys, so nothing is written for
        # this job except its outbox entry, whose file name is encoded.
        logger.error("Rejected job %r: %s", job.id, message)
        reporter = JobReporter(self._client, self.outbox, job.id)
        delivered = reporter.send_final_status("failed", error_message=message)
        result = JobResult(
            job_id=job.id,
            status="failed",
            error_message=message,
            delivered=delivered,
        )
        self.observers.notify("on_job_end", job, result)
        return result

    def _run_to_outcome(self, state: _JobState) -> JobResult:
        try:
            return self._train(state)
        except TrainingInterrupted as error:
            return self._stop_early(state, error)
        except JobError as error:
            return self._fail(state, str(error))
        except CerebrosError as error:
            return self._fail(state, f"coordinator call failed: {error}")
        except Exception as error:
            logger.exception("Job %s failed with an unexpected error", state.job.id)
            return self._fail(state, f"internal error: {type(error).__name__}: {error}")

    def _train(self, state: _JobState) -> JobResult:
        job = state.job
        config = self._validate_hyperparameters(job)
        state.architecture = resolve_architecture(
            job.model_id,
            default=self._settings.default_architecture,
            strict=self._settings.strict_model_ids,
        )
        if state.architecture.fallback:
            logger.warning(
                "Model id %r is not a registered architecture: training the "
                "default %r instead",
                job.model_id,
                state.architecture.name,
            )

        corpus = self._read_corpus(job)
        check_fits_data(config, len(corpus.tokens))
        phase_trainer, first_phase = self._build_or_resume(state, config, corpus)
        state.phase_trainer = phase_trainer
        job_metrics = self._job_metrics(state, corpus, phase_trainer)
        self.observers.notify(
            "on_job_start", job, config, state.architecture.name, first_phase
        )

        for phase in range(first_phase, config.phases + 1):
            state.current_phase = phase
            with log_context(job_id=job.id, phase=phase):
                self._train_phase(state, phase, job_metrics)

        return self._complete(state)

    def _validate_hyperparameters(self, job: Job) -> TrainingConfig:
        raw = job.hyperparameters.model_dump(exclude_none=True, warnings=False)
        config = TrainingConfig.from_hyperparameters(raw)
        if config.extra:
            logger.warning(
                "Kept unknown hyperparameters %s: no built-in architecture reads them",
                ", ".join(sorted(config.extra)),
            )
        return config

    def _read_corpus(self, job: Job) -> CorpusData:
        if not job.training_dataset_id:
            raise CorpusError(
                f"job {job.id} names no training_dataset_id, so it has no corpus: "
                "recreate the job with a dataset"
            )
        corpus_info = self._client.get_corpus(job.training_dataset_id)
        roots = [Path(root) for root in self._settings.corpus_roots]
        location = corpus_info.corpus_path
        # An s3:// corpus is read with the same endpoint, region and retry
        # settings as the checkpoints, which may come from CLI options.
        s3_client = (
            make_s3_client(self._settings) if location.startswith("s3://") else None
        )
        return read_corpus(
            location,
            cache_dir=self._cache_dir,
            max_bad_line_share=self._settings.max_bad_line_share,
            allowed_roots=roots,
            s3_client=s3_client,
        )

    def _build_or_resume(
        self, state: _JobState, config: TrainingConfig, corpus: CorpusData
    ) -> tuple[PhaseTrainer, int]:
        assert state.architecture is not None
        resume_point = find_resume_point(
            state.entry.completed_phases, state.job.checkpoint_urls or []
        )
        if resume_point is not None:
            model = self._load_resume_checkpoint(state.job, resume_point)
            if model is not None:
                _record_finished_phase(state.entry, resume_point)
                trainer = PhaseTrainer(
                    model, config, corpus.tokens, verbose=self._verbose
                )
                return trainer, resume_point.next_phase

        # Seed the weights too, so a job's hyperparameters fully determine
        # where training starts.
        keras.utils.set_random_seed(config.seed)
        model = state.architecture.builder(config)
        return PhaseTrainer(model, config, corpus.tokens, verbose=self._verbose), 1

    def _load_resume_checkpoint(self, job: Job, point: ResumePoint) -> Any:
        destination = self._scratch_dir / job.id / "resume.keras"
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._store.download(point.checkpoint_url, destination)
            model = load_checkpoint(destination)
        except (JobError, OSError, ValueError) as error:
            # Training from scratch costs time but loses nothing, while
            # failing here would strand the job on a missing object.
            logger.warning(
                "Could not load checkpoint %s to resume job %s (%s): "
                "training it from phase 1",
                point.checkpoint_url,
                job.id,
                error,
            )
            return None
        logger.info(
            "Resuming job %s at phase %d from %s",
            job.id,
            point.next_phase,
            point.checkpoint_url,
        )
        return model

    def _job_metrics(
        self, state: _JobState, corpus: CorpusData, trainer: PhaseTrainer
    ) -> dict[str, float | int]:
        assert state.architecture is not None
        return {
            "corpus_documents": corpus.report.documents,
            "corpus_bytes": corpus.report.bytes,
            "corpus_bad_lines": corpus.report.bad_lines,
            "model_id_fallback": int(state.architecture.fallback),
            "parameters": int(trainer.model.count_params()),
        }

    def _train_phase(
        self, state: _JobState, phase: int, job_metrics: dict[str, float | int]
    ) -> None:
        assert state.phase_trainer is not None
        reporter = state.reporter

        def report_epoch(epoch: int, metrics: dict[str, Any]) -> None:
            reporter.report_metrics(metrics, phase=phase)
            self.observers.notify("on_epoch_end", state.job, phase, epoch, metrics)

        metrics = state.phase_trainer.train_phase(
            phase,
            on_epoch_end=report_epoch,
            should_stop=lambda: self._stop_flag.is_set_for(state.job.id),
        )
        phase_metrics = {**metrics, **job_metrics}
        reporter.report_metrics(phase_metrics, phase=phase)

        url, local_path = self._save_and_upload(state, phase, partial=False)
        reporter.register_checkpoint(url, phase=phase)
        state.entry.completed_phases[phase] = url
        state.entry.phase_metrics[phase] = phase_metrics
        self.journal.save(state.entry)
        self.observers.notify(
            "on_phase_end", state.job, phase, phase_metrics, url, local_path
        )
        logger.info(
            "Finished phase %d: loss %.4f, val_perplexity %.3f, checkpoint %s",
            phase,
            metrics.get("loss") or float("nan"),
            metrics.get("val_perplexity") or float("nan"),
            url,
        )

    def _save_and_upload(
        self, state: _JobState, phase: int, *, partial: bool
    ) -> tuple[str, Path]:
        assert state.phase_trainer is not None
        job_dir = self._scratch_dir / state.job.id
        job_dir.mkdir(parents=True, exist_ok=True)
        suffix = "-partial" if partial else ""
        local_path = job_dir / f"phase-{phase}{suffix}.keras"
        save_checkpoint(state.phase_trainer.model, local_path)
        # NOTE: a shutdown request does not cut these retries short, so a
        # stop during an S3 outage can wait up to the upload deadline.
        url = upload_with_retry(
            self._store,
            local_path,
            job_id=state.job.id,
            phase=phase,
            partial=partial,
            retry=self.upload_retry,
        )

        # Keep only the newest local copy: it is the one a resume would need
        # if the object store became unreachable.
        for old in job_dir.glob("phase-*.keras"):
            if old != local_path:
                old.unlink(missing_ok=True)
        return url, local_path

    def _complete(self, state: _JobState) -> JobResult:
        completed = state.entry.completed_phases
        final_url = completed[max(completed)]
        delivered = state.reporter.send_final_status(
            "completed", final_model_id=final_url
        )
        self._finish_journal(state)
        logger.info("Completed job %s: final model %s", state.job.id, final_url)
        return self._result(
            state, "completed", final_model_id=final_url, delivered=delivered
        )

    def _stop_early(self, state: _JobState, error: TrainingInterrupted) -> JobResult:
        if self._stop_flag.reason_for(state.job.id) is StopReason.LEASE_LOST:
            # The coordinator gave the job to another worker: report nothing
            # more, because its updates now belong to that worker.
            logger.error("Stopped job %s: its lease was lost", state.job.id)
            self.outbox.discard(state.job.id)
            self._finish_journal(state)
            return self._result(state, "lease_lost", error_message=str(error))

        phase = state.current_phase
        checkpoint = self._save_partial_checkpoint(state, phase)
        message = INTERRUPTED_MESSAGE.format(phase=phase, checkpoint=checkpoint)
        delivered = state.reporter.send_final_status(
            "queued", fallback_error_message=message
        )
        self._finish_journal(state)
        logger.warning(
            "Handed job %s back to the queue after a shutdown request in phase %d",
            state.job.id,
            phase,
        )
        return self._result(
            state, "queued", error_message=str(error), delivered=delivered
        )

    def _save_partial_checkpoint(self, state: _JobState, phase: int) -> str | None:
        if state.phase_trainer is None or phase == 0:
            return None
        try:
            url, _ = self._save_and_upload(state, phase, partial=True)
        except (JobError, OSError) as error:
            logger.error(
                "Could not save a checkpoint of interrupted phase %d: %s", phase, error
            )
            return None
        state.reporter.register_checkpoint(url, phase=phase)
        return url

    def _fail(self, state: _JobState, message: str) -> JobResult:
        logger.error("Job %s failed: %s", state.job.id, message)
        delivered = state.reporter.send_final_status("failed", error_message=message)
        self._finish_journal(state)
        return self._result(state, "failed", error_message=message, delivered=delivered)

    def _finish_journal(self, state: _JobState) -> None:
        self.journal.clear()
        shutil.rmtree(self._scratch_dir / state.job.id, ignore_errors=True)

    def _result(self, state: _JobState, status: str, **fields: Any) -> JobResult:
        entry = state.entry
        return JobResult(
            job_id=state.job.id,
            status=status,
            architecture=state.architecture.name if state.architecture else None,
            phase_metrics=dict(entry.phase_metrics),
            checkpoint_urls=[
                entry.completed_phases[p] for p in sorted(entry.completed_phases)
            ],
            **fields,
        )

    def _release_memory(self) -> None:
        # Keras keeps every model built in a process in a global graph
        # registry; clearing it keeps a daemon that runs for weeks flat.
        keras.backend.clear_session()
        gc.collect()


def _unsafe_job_id_message(job_id: str) -> str | None:
    """Return why a job id cannot name files and object keys, or None if it can."""
    try:
        validate_job_id(job_id)
    except JobError as error:
        return f"{error}. The job was not run, because its id would be used as a path"
    return None


def _record_finished_phase(entry: JournalEntry, point: ResumePoint) -> None:
    # A job resumed from the coordinator's list, after its last phase was
    # registered but before its final status was sent, trains nothing more
    # and still needs that checkpoint as its final model.
    parsed = parse_checkpoint_url(point.checkpoint_url)
    if parsed is None or parsed[1]:
        return
    entry.completed_phases.setdefault(parsed[0], point.checkpoint_url)


def _progress_verbosity(verbose: int | str) -> int:
    # Keras redraws its progress bar on every batch, which floods a log
    # file or a pipe; one line per epoch suits anything but a terminal.
    if verbose == "auto":
        # Jupyter redraws the bar in place although its stdout is no terminal.
        interactive = sys.stdout.isatty() or "ipykernel" in sys.modules
        return 1 if interactive else 2
    return int(verbose)
