"""The polling loop: take a job, train it, report it, repeat.

A `Worker` never dies on one bad job or one coordinator outage. Between jobs
it delivers any updates an outage left in the outbox, then claims the next
job, backing off while the queue is empty or the coordinator unreachable.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self

from cerebros_client import CerebrosClient, Job, JobStatus
from cerebros_client.errors import (
    ApiError,
    BadRequest,
    CerebrosError,
    Conflict,
    NotFound,
    ServerError,
)
from cerebros_trainer.control import StopFlag
from cerebros_trainer.heartbeat import BackgroundHeartbeat, register_worker
from cerebros_trainer.integrations import build_observers
from cerebros_trainer.journal import JournalEntry
from cerebros_trainer.observers import JobObserver
from cerebros_trainer.runner import JobResult, Trainer
from cerebros_trainer.settings import WorkerSettings
from cerebros_trainer.storage import CheckpointStore, open_checkpoint_store

logger = logging.getLogger(__name__)

FINAL_STATUSES = {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}


@dataclass
class IdleBackoff:
    """Poll interval that doubles while idle, up to a cap, with jitter."""

    base: float
    cap: float
    current: float = 0.0

    def reset(self) -> None:
        """Go back to the base interval after finding work."""
        self.current = self.base

    def next_wait(self) -> float:
        """Return the next wait in seconds and grow the interval."""
        if self.current <= 0:
            self.current = self.base
        wait = self.current * random.uniform(0.8, 1.2)
        self.current = min(self.current * 2, self.cap)
        return wait


class Worker:
    """A long-lived worker that trains the coordinator's jobs one by one.

    Notebook use: `Worker(settings).run_once()` takes at most one job and
    returns its `JobResult` (None when the queue was empty). Importing or
    constructing a worker installs no signal handler; the CLI does that.
    """

    def __init__(
        self,
        settings: WorkerSettings,
        *,
        client: CerebrosClient | None = None,
        store: CheckpointStore | None = None,
        stop_flag: StopFlag | None = None,
        verbose: int | str = "auto",
        observers: Sequence[JobObserver] | None = None,
    ) -> None:
        self.settings = settings
        self.client = client or CerebrosClient(
            settings.api_url, token=_secret_value(settings)
        )
        self.store = store or open_checkpoint_store(settings)
        self.stop_flag = stop_flag or StopFlag()
        if observers is None:
            observers = build_observers(settings)
        self.trainer = Trainer(
            self.client,
            settings,
            self.store,
            stop_flag=self.stop_flag,
            verbose=verbose,
            observers=observers,
        )
        self._backoff = IdleBackoff(settings.poll_interval, settings.max_poll_interval)
        self._heartbeat: BackgroundHeartbeat | None = None
        self._started = False
        self._last_poll_failed = False
        self._consecutive_poll_failures = 0

    def start(self) -> None:
        """Check storage, register, start heartbeats and recover a crashed job.

        Raises `StorageError` at once when checkpoints cannot be written, so
        a misconfigured bucket fails at start-up rather than after a phase.
        """
        if self._started:
            return
        self.store.preflight()
        registration_id = register_worker(self.client, self.settings.worker_id)
        self._heartbeat = BackgroundHeartbeat(
            self.client,
            worker_id=self.settings.worker_id,
            interval=self.settings.heartbeat_interval,
            lease_seconds=self.settings.lease_seconds,
            job_stop_flag=self.stop_flag,
            registration_id=registration_id,
        )
        self._heartbeat.start()
        self._started = True
        logger.info(
            "Worker %s started: coordinator %s, checkpoints %s",
            self.settings.worker_id,
            self.settings.api_url,
            self.settings.checkpoint_url,
        )

    def close(self) -> None:
        """Stop the heartbeat thread, close the observers and the HTTP session."""
        if self._heartbeat is not None:
            self._heartbeat.stop()
        self.trainer.observers.close()
        self.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def run_once(self) -> JobResult | None:
        """Take and train at most one job; return its result, or None if idle."""
        self.start()
        recovered = self._recover_journaled_job()
        if recovered is not None:
            return recovered

        self._flush_outboxes()
        job = self._claim()
        if job is None:
            return None
        return self._run(job)

    def run_forever(
        self, *, max_jobs: int | None = None, stop_when_idle: bool = False
    ) -> int:
        """Train jobs until a shutdown is requested or `max_jobs` are done.

        With `stop_when_idle`, return as soon as one poll finds no job.
        Returns the number of jobs taken.
        """
        jobs_taken = 0
        idle_logged = False
        self._backoff.reset()
        while not self.stop_flag.shutdown_requested:
            if max_jobs is not None and jobs_taken >= max_jobs:
                break
            result = self._run_once_safely()
            if result is not None:
                jobs_taken += 1
                idle_logged = False
                self._backoff.reset()
                continue
            if stop_when_idle:
                break
            if not idle_logged and not self._last_poll_failed:
                # Once per idle spell, so an empty queue does not flood the log.
                logger.info(
                    "Queue is empty: polling every %.0f s, backing off to %.0f s",
                    self.settings.poll_interval,
                    self.settings.max_poll_interval,
                )
                idle_logged = True
            self.stop_flag.wait_for_shutdown(self._backoff.next_wait())

        logger.info(
            "Worker %s stopped after %d jobs", self.settings.worker_id, jobs_taken
        )
        return jobs_taken

    def _run_once_safely(self) -> JobResult | None:
        self._last_poll_failed = False
        try:
            result = self.run_once()
        except ApiError as error:
            # The coordinator sent an error status, so the cause is the token,
            # the URL or the server, not the network.
            self._log_poll_failure("Coordinator rejected the request: %s", error)
            return None
        except CerebrosError as error:
            self._log_poll_failure("Could not reach the coordinator: %s", error)
            return None

        if self._consecutive_poll_failures:
            logger.info(
                "Coordinator is responding again after %d failed polls",
                self._consecutive_poll_failures,
            )
        self._consecutive_poll_failures = 0
        return result

    def _log_poll_failure(self, message: str, error: CerebrosError) -> None:
        # An outage fails every poll; the first few and then every tenth
        # failure are enough for an operator, the rest go to DEBUG.
        self._last_poll_failed = True
        self._consecutive_poll_failures += 1
        count = self._consecutive_poll_failures
        level = logging.WARNING if count <= 3 or count % 10 == 0 else logging.DEBUG
        logger.log(level, message + " (%d failed polls in a row)", error, count)

    @property
    def last_poll_failed(self) -> bool:
        """Whether the latest attempt to take a job failed on a coordinator error."""
        return self._last_poll_failed

    def _claim(self) -> Job | None:
        job = self.client.claim_job(
            self.settings.worker_id, lease_seconds=self.settings.lease_seconds
        )
        if job is not None:
            logger.info("Took job %s (model id %r)", job.id, job.model_id)
        return job

    def _run(self, job: Job, entry: JournalEntry | None = None) -> JobResult:
        if self._heartbeat is not None:
            self._heartbeat.set_current_job(job.id)
        try:
            return self.trainer.run_job(job, journal_entry=entry)
        finally:
            if self._heartbeat is not None:
                self._heartbeat.set_current_job(None)
            self.stop_flag.clear_lease_lost()

    def _flush_outboxes(self) -> None:
        outbox = self.trainer.outbox
        for job_id in outbox.jobs_with_pending_updates():
            if outbox.flush(self.client, job_id):
                logger.info("Delivered the pending updates of job %s", job_id)

    def _recover_journaled_job(self) -> JobResult | None:
        entry = self.trainer.journal.load()
        if entry is None:
            return None

        self.trainer.outbox.flush(self.client, entry.job_id)
        record = self._current_job_record(entry)
        if record is None:
            self.trainer.journal.clear()
            return None
        job, looked_up = record

        logger.warning(
            "Resuming job %s after a restart: phases %s already done",
            job.id,
            sorted(entry.completed_phases) or "none",
        )
        if not self._mark_running(job, looked_up=looked_up):
            self.trainer.journal.clear()
            return None
        return self._run(job, entry)

    def _mark_running(self, job: Job, *, looked_up: bool) -> bool:
        """Set a recovered job running again; return False if it is gone."""
        if looked_up and job.status is JobStatus.RUNNING:
            return True
        try:
            self.client.start_job(job.id)
        except (NotFound, BadRequest) as error:
            logger.warning(
                "Journaled job %s no longer exists (%s): forgot it", job.id, error
            )
            return False
        except Conflict as error:
            logger.warning("Coordinator rejected restarting job %s: %s", job.id, error)
            return False
        except ServerError as error:
            # The deployed coordinator returns 500 for an unknown job id and
            # for an outage alike. Resuming risks one wasted job; forgetting
            # would leave a live job running with no worker.
            logger.warning(
                "Could not set job %s running again (%s): resuming it anyway",
                job.id,
                error,
            )
        return True

    def _current_job_record(self, entry: JournalEntry) -> tuple[Job, bool] | None:
        """Return the journaled job if it is still this worker's to finish.

        The flag is True when the coordinator confirmed the record, and False
        when the job comes from the journal because the lookup failed.
        """
        journaled = Job.model_validate(entry.job)
        try:
            current = self.client.get_job(entry.job_id)
        except CerebrosError as error:
            # The deployed coordinator has no "get job" call, and its missing
            # route returns 404 just as a deleted job would. Trust the journal,
            # which is at worst one phase behind, and let the status update in
            # _mark_running tell a deleted job apart.
            logger.info("Could not look up journaled job %s (%s)", entry.job_id, error)
            return journaled, False

        if current.status in FINAL_STATUSES:
            logger.info(
                "Journaled job %s is already %s: nothing to resume",
                entry.job_id,
                current.status.value,
            )
            return None
        if current.status is JobStatus.QUEUED:
            logger.info(
                "Journaled job %s went back to the queue: it resumes from its "
                "checkpoints when claimed",
                entry.job_id,
            )
            return None
        if current.worker_id and current.worker_id != self.settings.worker_id:
            logger.warning(
                "Journaled job %s is now leased to worker %s: leaving it to that "
                "worker",
                entry.job_id,
                current.worker_id,
            )
            return None
        return current, True


def _secret_value(settings: WorkerSettings) -> str | None:
    token = settings.api_token
    return token.get_secret_value() if token is not None else None
