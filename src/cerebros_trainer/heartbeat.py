"""Service registration, registry heartbeats and job lease renewal.

One background thread does both periodic calls, so a worker keeps at most one
extra connection. Failures are logged and retried at the next beat: a missed
heartbeat must never stop training.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Literal

from cerebros_client import CerebrosClient, JobStatus
from cerebros_client.errors import ApiError, CerebrosError, Conflict
from cerebros_trainer.control import StopFlag

logger = logging.getLogger(__name__)

ENDED_STATUSES = {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}

WORKER_CAPABILITIES = {
    "frameworks": ["keras", "tensorflow"],
    "tasks": ["byte-level-language-model"],
    "max_phases": 4,
}


def register_worker(client: CerebrosClient, worker_id: str) -> str | None:
    """Register this worker in the coordinator's service registry.

    Returns the registration id, or None where the server has no registry
    or rejects the registration (a deployed server cannot deregister, so a
    restarted worker may conflict with its own earlier entry).
    """
    try:
        registration = client.register_service(
            service_id=worker_id,
            name=f"cerebros-trainer {worker_id}",
            host=socket.gethostname(),
            port=0,
            capabilities=WORKER_CAPABILITIES,
            metadata={"worker_id": worker_id},
        )
    except ApiError as error:
        logger.info(
            "Skipped service registration: the coordinator returned %s", error.status
        )
        return None
    except CerebrosError as error:
        logger.warning("Skipped service registration: %s", error)
        return None

    logger.info("Registered worker %s as service %s", worker_id, registration.id)
    return registration.id


class BackgroundHeartbeat:
    """Sends registry heartbeats and renews the current job's lease."""

    def __init__(
        self,
        client: CerebrosClient,
        *,
        worker_id: str,
        interval: float,
        lease_seconds: float,
        job_stop_flag: StopFlag,
        registration_id: str | None = None,
    ) -> None:
        self._client = client
        self._worker_id = worker_id
        self._interval = interval
        self._lease_seconds = lease_seconds
        self._job_stop_flag = job_stop_flag
        self._registration_id = registration_id
        self._current_job_id: str | None = None
        self._leases_supported = True
        self._consecutive_failures = 0
        self._halt = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="cerebros-heartbeat", daemon=True
        )

    def start(self) -> None:
        """Start beating in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait briefly for it to end."""
        self._halt.set()
        self._thread.join(timeout=5)

    def set_current_job(self, job_id: str | None) -> None:
        """Name the job whose lease is renewed, or None between jobs."""
        self._current_job_id = job_id
        self._leases_supported = True
        self.beat()

    def beat(self) -> None:
        """Send one heartbeat and one lease renewal now."""
        job_id = self._current_job_id
        self._send_registry_heartbeat(job_id)
        if job_id is not None and self._leases_supported:
            self._renew_lease(job_id)

    def _run(self) -> None:
        while not self._halt.wait(self._interval):
            self.beat()

    def _send_registry_heartbeat(self, job_id: str | None) -> None:
        if self._registration_id is None:
            return
        status: Literal["healthy", "busy"] = "busy" if job_id else "healthy"
        try:
            self._client.heartbeat(
                self._registration_id, status=status, current_job_id=job_id
            )
        except CerebrosError as error:
            self._log_failure("registry heartbeat", error)
            return
        self._consecutive_failures = 0

    def _renew_lease(self, job_id: str) -> None:
        try:
            renewed = self._client.renew_lease(
                job_id, self._worker_id, lease_seconds=self._lease_seconds
            )
        except Conflict as error:
            if self._job_ended(job_id):
                # The renewal raced with the job's final status or its
                # hand-back: the lease ended with the job, nothing was lost.
                logger.debug("Lease of finished job %s not renewed: %s", job_id, error)
                return
            logger.error(
                "Lost the lease on job %s (%s): stopping it so the worker now "
                "holding it trains alone",
                job_id,
                error,
            )
            self._job_stop_flag.request_lease_lost(job_id)
            return
        except CerebrosError as error:
            self._log_failure(f"lease renewal of job {job_id}", error)
            return

        if not renewed:
            self._leases_supported = False

    def _job_ended(self, job_id: str) -> bool:
        if self._current_job_id != job_id:
            return True
        try:
            job = self._client.get_job(job_id)
        except CerebrosError:
            return False
        if job.status in ENDED_STATUSES:
            return True
        # A shutdown hands the job back as queued; otherwise queued means
        # the lease ran out and another worker may claim the job.
        return job.status is JobStatus.QUEUED and self._job_stop_flag.shutdown_requested

    def _log_failure(self, call: str, error: CerebrosError) -> None:
        # An outage produces one failure per beat; log the first few, then
        # one in every ten, so the log stays readable.
        self._consecutive_failures += 1
        count = self._consecutive_failures
        if count <= 3 or count % 10 == 0:
            logger.warning("%s failed (%d in a row): %s", call, count, error)
