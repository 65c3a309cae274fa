"""`CerebrosClient`: the typed calls a training worker makes to the coordinator."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

import pydantic
import requests

from ._config import (
    DEFAULT_TIMEOUT,
    Timeout,
    is_plain_http_to_remote,
    normalize_base_url,
    read_env_base_url,
    read_env_token,
    resolve_timeout,
)
from ._models import ClaimResponse, Corpus, Job, JobStatus, ServiceRegistration
from ._payloads import (
    check_id,
    check_phase,
    check_status,
    checkpoint_idempotency_key,
    clean_metrics,
)
from ._redact import MASK
from ._retry import RetryPolicy, call_with_retry
from ._translate import parse_json, parse_model
from ._transport import IDEMPOTENCY_KEY_HEADER, Transport
from .errors import ApiError, CerebrosError

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=pydantic.BaseModel)

NO_ENDPOINT_STATUSES = frozenset({404, 405, 501})
"""Statuses that mean the server lacks an optional endpoint (claim, lease)."""

ClaimMode = Literal["unknown", "claim", "poll"]


class CerebrosClient:
    """Client for the coordinator's job, dataset and service-registry API.

    Use it as a context manager, or call `close()`, to release the pooled
    connections. Every request has connect and read timeouts. Failed
    requests are retried according to `retry` (see `RetryPolicy`); calls
    that create something are retried only where a repeat cannot create a
    duplicate. The caller receives a `cerebros_client.errors.CerebrosError`
    subclass, never a requests or tenacity exception.

    A `session` passed in is used but not closed by `close()`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: Timeout | float | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self.retry = retry or RetryPolicy()
        self._owns_session = session is None
        self._transport = Transport(
            self.base_url,
            token=token or None,
            timeout=resolve_timeout(timeout),
            session=session or requests.Session(),
        )
        self._claim_mode: ClaimMode = "unknown"

        if token and is_plain_http_to_remote(self.base_url):
            logger.warning(
                "The API token is sent over plain http to %s; anyone on the "
                "network path can read it. Use an https URL.",
                self.base_url,
            )

    @classmethod
    def from_env(cls, **overrides: Any) -> CerebrosClient:
        """Build a client from the environment.

        The base URL comes from ``THUNDERLINE_API_URL``, else
        ``THUNDERLINE_URL``, else ``http://localhost:5001``; the token from
        ``CEREBROS_API_TOKEN``. Keyword arguments (`base_url`, `token`,
        `timeout`, `retry`, `session`) take precedence over the environment.
        """
        base_url = overrides.pop("base_url", None) or read_env_base_url()
        if "token" not in overrides:
            overrides["token"] = read_env_token()
        return cls(base_url, **overrides)

    @property
    def timeout(self) -> Timeout:
        """Connect and read timeouts applied to every request."""
        return self._transport.timeout

    def __repr__(self) -> str:
        token = MASK if self._transport.token else None
        return f"CerebrosClient(base_url={self.base_url!r}, token={token!r})"

    def close(self) -> None:
        """Close the pooled connections, unless the session was passed in."""
        if self._owns_session:
            self._transport.session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # Jobs

    def poll_job(self) -> Job | None:
        """Fetch the next queued job, or None when the server returns 204.

        On the deployed server polling does not claim the job: another
        worker may receive the same one until it is marked running.
        """
        path = "/api/jobs/poll"
        response = self._send("poll_job", "GET", path)
        if response.status_code == 204:
            return None
        return self._parse(Job, response, "poll_job", "GET", path)

    def claim_job(
        self, worker_id: str, *, lease_seconds: float | None = None
    ) -> Job | None:
        """Claim the next queued job for `worker_id`, or return None.

        Uses ``POST /api/jobs/claim`` where the server offers it, which
        leases the job to this worker alone. Where that endpoint returns
        404, 405 or 501, the client remembers it and from then on polls and
        marks the job running, as the deployed server expects.

        The claim is retried only where the server provably did not process
        it, because a repeated claim could take a second job.
        """
        if self._claim_mode != "poll":
            job = self._claim_with_endpoint(worker_id, lease_seconds)
            if job is not False:
                return job

        # NOTE: without a claim endpoint two workers polling at once receive
        # the same job; the server offers nothing to prevent that.
        polled = self.poll_job()
        if polled is None:
            return None
        self.start_job(polled.id)
        return polled.model_copy(
            update={"status": JobStatus.RUNNING, "worker_id": worker_id}
        )

    def _claim_with_endpoint(
        self, worker_id: str, lease_seconds: float | None
    ) -> Job | None | Literal[False]:
        # Returns False when the server has no claim endpoint.
        path = "/api/jobs/claim"
        body: dict[str, Any] = {"worker_id": worker_id}
        if lease_seconds is not None:
            body["lease_seconds"] = lease_seconds

        try:
            response = self._send(
                "claim_job", "POST", path, json=body, retry_if=self._create_retry_rule
            )
        except ApiError as error:
            if error.status not in NO_ENDPOINT_STATUSES:
                raise
            logger.info(
                "The coordinator has no claim endpoint (HTTP %d); polling and "
                "marking jobs running instead",
                error.status,
            )
            self._claim_mode = "poll"
            return False

        self._claim_mode = "claim"
        if response.status_code == 204:
            return None
        claim = self._parse(ClaimResponse, response, "claim_job", "POST", path)
        lease = claim.lease
        if lease is None:
            return claim.job
        return claim.job.model_copy(
            update={
                "worker_id": lease.worker_id or claim.job.worker_id,
                "lease_expires_at": lease.expires_at or claim.job.lease_expires_at,
            }
        )

    def renew_lease(
        self, job_id: str, worker_id: str, *, lease_seconds: float | None = None
    ) -> bool:
        """Extend this worker's lease on a job; False where the server has no leases.

        Raises `Conflict` when another worker holds the lease or it was lost,
        in which case the worker should stop the job.
        """
        if self._claim_mode == "poll":
            return False

        path = f"/api/jobs/{check_id('job_id', job_id)}/lease"
        body: dict[str, Any] = {"worker_id": worker_id}
        if lease_seconds is not None:
            body["lease_seconds"] = lease_seconds

        try:
            self._send("renew_lease", "POST", path, json=body)
        except ApiError as error:
            if error.status in NO_ENDPOINT_STATUSES:
                return False
            raise
        return True

    def get_job(self, job_id: str) -> Job:
        """Fetch one job by id (stand-in coordinator only).

        Raises `NotFound` for an unknown id. The deployed server has no such
        endpoint.
        """
        path = f"/api/jobs/{check_id('job_id', job_id)}"
        response = self._send("get_job", "GET", path)
        return self._parse(Job, response, "get_job", "GET", path)

    def get_corpus(self, dataset_id: str) -> Corpus:
        """Fetch where the training text of a dataset lives.

        The deployed server returns 500 (`ServerError`) for an unknown
        dataset or one without a corpus path.
        """
        path = f"/api/datasets/{check_id('dataset_id', dataset_id)}/corpus"
        response = self._send("get_corpus", "GET", path)
        return self._parse(Corpus, response, "get_corpus", "GET", path)

    def update_status(
        self,
        job_id: str,
        status: JobStatus | str,
        *,
        final_model_id: str | None = None,
        error_message: str | None = None,
    ) -> None:
        """Set a job's status; safe to repeat, since the value is absolute.

        Raises ValueError before sending for a status outside `JobStatus`.
        """
        body: dict[str, Any] = {"status": check_status(status).value}
        if final_model_id is not None:
            body["final_model_id"] = final_model_id
        if error_message is not None:
            body["error_message"] = error_message

        path = f"/api/jobs/{check_id('job_id', job_id)}/status"
        self._send("update_status", "PATCH", path, json=body)

    def start_job(self, job_id: str) -> None:
        """Mark a job running."""
        self.update_status(job_id, JobStatus.RUNNING)

    def complete_job(self, job_id: str, final_model_id: str) -> None:
        """Mark a job completed with the id of the model it produced."""
        self.update_status(job_id, JobStatus.COMPLETED, final_model_id=final_model_id)

    def fail_job(self, job_id: str, error_message: str) -> None:
        """Mark a job failed with a message for the operator."""
        self.update_status(job_id, JobStatus.FAILED, error_message=error_message)

    def requeue_job(self, job_id: str) -> None:
        """Put a job back in the queue, for example when a worker shuts down."""
        self.update_status(job_id, JobStatus.QUEUED)

    def report_metrics(
        self, job_id: str, metrics: Mapping[str, float | int | None], *, phase: int
    ) -> None:
        """Send a phase's metrics; NaN and infinite values are sent as null.

        Safe to repeat. Raises ValueError before sending when `phase` is
        outside 0..4, and TypeError for a value that is not a number.
        """
        body = {"metrics": clean_metrics(metrics), "phase": check_phase(phase)}
        path = f"/api/jobs/{check_id('job_id', job_id)}/metrics"
        self._send("report_metrics", "PATCH", path, json=body)

    def add_checkpoint(
        self,
        job_id: str,
        checkpoint_url: str,
        *,
        phase: int,
        idempotency_key: str | None = None,
    ) -> None:
        """Register a checkpoint URL for a job's phase.

        The request carries an ``Idempotency-Key`` header, the same on every
        retry. By default the key is derived from the job id, URL and phase,
        so a restarted worker sends the same key for the same checkpoint.

        The deployed server appends a duplicate for each repeat. So a
        failure is retried only where the server provably did not process
        the request (no connection, 429, 503). Once any response from this
        server carried ``Idempotency-Key-Honored: true``, failures are
        retried as for an idempotent call.
        """
        key = idempotency_key or checkpoint_idempotency_key(
            job_id, checkpoint_url, phase
        )
        body = {"checkpoint_url": checkpoint_url, "phase": check_phase(phase)}
        path = f"/api/jobs/{check_id('job_id', job_id)}/checkpoints"
        self._send(
            "add_checkpoint",
            "POST",
            path,
            json=body,
            headers={IDEMPOTENCY_KEY_HEADER: key},
            retry_if=self._create_retry_rule,
        )

    # Service registry

    def register_service(
        self,
        *,
        service_id: str,
        name: str,
        host: str,
        port: int,
        capabilities: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> ServiceRegistration:
        """Register this worker in the coordinator's service registry.

        The deployed server cannot deregister, so registering the same
        `service_id` again may raise `Conflict`. Retried only where the
        server provably did not process the request.
        """
        body = {
            "service_id": service_id,
            "service_type": "cerebros",
            "name": name,
            "host": host,
            "port": port,
            "capabilities": dict(capabilities or {}),
            "metadata": dict(metadata or {}),
        }
        path = "/api/registry/register"
        response = self._send(
            "register_service",
            "POST",
            path,
            json=body,
            retry_if=self._create_retry_rule,
        )
        return self._parse(
            ServiceRegistration,
            response,
            "register_service",
            "POST",
            path,
            unwrap=True,
        )

    def heartbeat(
        self,
        registration_id: str,
        *,
        status: Literal["healthy", "busy"] = "healthy",
        current_job_id: str | None = None,
    ) -> None:
        """Tell the registry this worker is alive, and which job it runs.

        Raises `NotFound` when the registration is unknown; register again.
        """
        if status not in ("healthy", "busy"):
            raise ValueError(
                f"status is invalid: received {status!r}, expected 'healthy' or 'busy'"
            )
        body = {"status": status, "metadata": {"current_job_id": current_job_id}}
        path = f"/api/registry/{check_id('registration_id', registration_id)}/heartbeat"
        self._send("heartbeat", "PATCH", path, json=body)

    # Plumbing

    def _create_retry_rule(self, error: CerebrosError) -> bool:
        if self._transport.idempotency_honoured:
            return self.retry.is_retryable(error)
        return self.retry.is_unprocessed(error)

    def _send(
        self,
        call: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        retry_if: Callable[[CerebrosError], bool] | None = None,
    ) -> requests.Response:
        def attempt() -> requests.Response:
            return self._transport.send(call, method, path, json=json, headers=headers)

        return call_with_retry(
            attempt,
            call=call,
            policy=self.retry,
            retry_if=retry_if or self.retry.is_retryable,
        )

    def _parse(
        self,
        model: type[ModelT],
        response: requests.Response,
        call: str,
        method: str,
        path: str,
        *,
        unwrap: bool = False,
    ) -> ModelT:
        token = self._transport.token
        data = parse_json(response, call=call, method=method, path=path, token=token)
        if unwrap:
            data = _unwrap(data)
        return parse_model(
            model, data, response, call=call, method=method, path=path, token=token
        )


def _unwrap(data: Any) -> Any:
    # Phoenix JSON views often wrap a resource as {"data": {...}}.
    if isinstance(data, dict) and "id" not in data:
        for key in ("data", "service"):
            if isinstance(data.get(key), dict):
                return data[key]
    return data
