"""A real worker survives coordinator and S3 faults with an exact final record.

Each test injects one kind of fault over real sockets: the stand-in's fault
injection, a botocore event hook, or a TCP relay that can be switched off.
It then runs a job to its end and checks the coordinator's record and the
bucket.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse  # type: ignore[import-untyped]

from cerebros_client import RetryPolicy
from cerebros_client.testing import CoordinatorServer
from cerebros_client.testing.security import RateLimit
from cerebros_trainer.runner import JobResult
from cerebros_trainer.storage import UploadRetry
from cerebros_trainer.worker import Worker
from tests.e2e.support import (
    SwitchableProxy,
    assert_completed,
    checkpoint_urls,
    drain_outbox,
    fast_client,
    reserve_port,
)
from tests.fixtures_worker import BUCKET, PREFIX, WorkerStack

CHECKPOINTS = "/api/jobs/*/checkpoints"
METRICS = "/api/jobs/*/metrics"
STATUS = "/api/jobs/*/status"
CORPUS = "/api/datasets/*/corpus"

SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)
QUICK_UPLOAD_RETRY = UploadRetry(deadline=20.0, backoff_initial=0.1, backoff_max=0.5)


def _worker(stack: WorkerStack, **settings: Any) -> Worker:
    worker_settings = stack.settings(**settings)
    client = fast_client(worker_settings.api_url)
    return Worker(worker_settings, client=client, verbose=0, observers=[])


def _run_one(worker: Worker) -> JobResult:
    with worker:
        result = worker.run_once()
    assert result is not None
    return result


class _Body:
    """A raw HTTP body in the form botocore reads from urllib3."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


def _slow_down_first(attempts: int) -> tuple[Callable[..., Any], list[int]]:
    calls: list[int] = []

    def handler(request: Any, **_: Any) -> AWSResponse | None:
        calls.append(1)
        if len(calls) > attempts:
            return None
        headers = {"Content-Type": "application/xml"}
        return AWSResponse(request.url, 503, headers, _Body(SLOW_DOWN))

    return handler, calls


class _OnJobEnd:
    """Observer that runs a callback when a job ends."""

    def __init__(self, callback: Callable[[], None]) -> None:
        self._callback = callback

    def on_job_end(self, job: Any, result: Any) -> None:
        self._callback()


class _OnPhaseEnd:
    """Observer that runs a callback after a given phase's checkpoint."""

    def __init__(self, phase: int, callback: Callable[[], None]) -> None:
        self._phase = phase
        self._callback = callback

    def on_phase_end(self, job: Any, phase: int, *_: Any) -> None:
        if phase == self._phase:
            self._callback()


def test_coordinator_down_at_startup(worker_stack: WorkerStack) -> None:
    port = reserve_port()
    url = f"http://127.0.0.1:{port}"
    settings = worker_stack.settings(api_url=url)
    worker = Worker(settings, client=fast_client(url), verbose=0, observers=[])
    taken: list[int] = []
    thread = threading.Thread(
        target=lambda: taken.append(worker.run_forever(max_jobs=1)), daemon=True
    )
    thread.start()
    # Let the worker fail a few polls before the coordinator listens.
    thread.join(1.5)
    assert thread.is_alive()

    with CoordinatorServer(port=port) as coordinator:
        job_id = coordinator.seed(
            str(worker_stack.corpus),
            model_id="byte-gru",
            hyperparameters=_tiny(),
        )["job_id"]
        thread.join(60)
        worker.close()

        assert not thread.is_alive()
        assert taken == [1]
        assert_completed(worker_stack, job_id, coordinator=coordinator)


def test_connection_resets_mid_body(worker_stack: WorkerStack) -> None:
    job_id = worker_stack.seed()
    faults = worker_stack.coordinator.faults
    faults.add("GET", CORPUS, truncate=True, times=2)
    faults.add("PATCH", METRICS, truncate=True, times=2)
    faults.add("POST", CHECKPOINTS, drop=True)
    faults.add("PATCH", STATUS, drop=True)

    result = _run_one(_worker(worker_stack))

    assert result.status == "completed"
    assert result.delivered
    assert faults.pending() == []
    assert_completed(worker_stack, job_id)


def test_read_timeouts(worker_stack: WorkerStack) -> None:
    job_id = worker_stack.seed()
    faults = worker_stack.coordinator.faults
    faults.add("GET", CORPUS, delay=2.0)
    faults.add("PATCH", METRICS, delay=2.0)
    faults.add("POST", CHECKPOINTS, delay=2.0)
    settings = worker_stack.settings()
    client = fast_client(settings.api_url, read_timeout=0.5)

    with Worker(settings, client=client, verbose=0, observers=[]) as worker:
        result = worker.run_once()
        # The delayed checkpoint POST may be stored after the client gave
        # up on it; delivering the outbox again must not add a duplicate.
        drain_outbox(worker)

    assert result is not None
    assert result.status == "completed"
    assert faults.pending() == []
    assert_completed(worker_stack, job_id)


def test_rate_limit_retry_after(
    worker_stack: WorkerStack, caplog: pytest.LogCaptureFixture
) -> None:
    # Jobs are seeded and read back without the limit, on the same database.
    db = worker_stack.root / "coordinator.db"
    with CoordinatorServer(db=db) as unlimited:
        job_id = unlimited.seed(
            str(worker_stack.corpus), model_id="byte-gru", hyperparameters=_tiny()
        )["job_id"]

    token = "worker-token-0002"
    limited = CoordinatorServer(db=db, tokens=(token,), rate_limit=RateLimit(4, 1.0))
    caplog.set_level(logging.WARNING, logger="cerebros_client")
    with limited:
        settings = worker_stack.settings(api_url=limited.url, heartbeat_interval=10.0)
        patient = RetryPolicy(
            max_attempts=20, deadline=30.0, backoff_initial=0.05, backoff_max=0.2
        )
        client = fast_client(limited.url, token=token, retry=patient)
        result = _run_one(Worker(settings, client=client, verbose=0, observers=[]))

    assert result.status == "completed"
    with CoordinatorServer(db=db) as unlimited:
        assert_completed(worker_stack, job_id, coordinator=unlimited)
    retries = [r.getMessage() for r in caplog.records if "HTTP 429" in r.getMessage()]
    assert retries, "the rate limit never answered 429"
    # The wait comes from Retry-After (1 s), not from the jittered backoff.
    assert all("retrying in 1.00 s" in message for message in retries)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_error_bursts(worker_stack: WorkerStack, status: int) -> None:
    job_id = worker_stack.seed()
    faults = worker_stack.coordinator.faults
    faults.add("GET", CORPUS, status=status, times=3)
    faults.add("PATCH", METRICS, status=status, times=3)
    faults.add("POST", CHECKPOINTS, status=status, times=3)
    faults.add("PATCH", STATUS, status=status, times=3)

    with _worker(worker_stack) as worker:
        result = worker.run_once()
        # A 500 on the checkpoint POST is not retried at once, because the
        # server may have stored it. The outbox sends it again at each poll
        # and keeps the final status queued behind it.
        drain_outbox(worker)

    assert result is not None
    assert result.status == "completed"
    assert faults.pending() == []
    assert_completed(worker_stack, job_id)


def test_html_error_pages(worker_stack: WorkerStack) -> None:
    job_id = worker_stack.seed()
    faults = worker_stack.coordinator.faults
    faults.add("POST", "/api/jobs/claim", html=True)
    faults.add("GET", CORPUS, html=True, times=2)
    faults.add("PATCH", METRICS, html=True, times=2)
    faults.add("POST", CHECKPOINTS, html=True, status=503)
    faults.add("PATCH", STATUS, html=True)

    with _worker(worker_stack) as worker:
        # The first claim gets a proxy's 502 page and is not repeated at
        # once, because a repeated claim could take a second job.
        taken = worker.run_forever(max_jobs=1)

    assert taken == 1
    assert faults.pending() == []
    assert_completed(worker_stack, job_id)


def test_s3_slow_down(worker_stack: WorkerStack) -> None:
    job_id = worker_stack.seed()
    # Two attempts per upload call, so five SlowDown responses need botocore's
    # retries and the runner's own upload retry.
    worker = _worker(worker_stack, s3_max_attempts=2)
    worker.trainer.upload_retry = QUICK_UPLOAD_RETRY
    handler, calls = _slow_down_first(5)
    worker.store.client.meta.events.register("before-send.s3.PutObject", handler)  # type: ignore[attr-defined]

    result = _run_one(worker)

    assert result.status == "completed"
    assert len(calls) == 7
    assert_completed(worker_stack, job_id)


def _proxied_worker(
    stack: WorkerStack, proxy: SwitchableProxy, **kwargs: Any
) -> Worker:
    settings = stack.settings(aws_endpoint_url=proxy.url, s3_max_attempts=2)
    client = fast_client(settings.api_url)
    return Worker(settings, client=client, verbose=0, **kwargs)


def _cut_on_first_upload(
    worker: Worker, proxy: SwitchableProxy, outage: float | None
) -> list[int]:
    uploads: list[int] = []

    def cut(**_: Any) -> None:
        uploads.append(1)
        if len(uploads) == 1:
            proxy.switch_off()
            if outage is not None:
                threading.Timer(outage, proxy.switch_on).start()

    worker.store.client.meta.events.register("before-send.s3.PutObject", cut)  # type: ignore[attr-defined]
    return uploads


def test_s3_unreachable_during_upload(
    worker_stack: WorkerStack, caplog: pytest.LogCaptureFixture
) -> None:
    job_id = worker_stack.seed()
    host, port = worker_stack.s3.endpoint_url.removeprefix("http://").split(":")
    proxy = SwitchableProxy(host, int(port))
    worker = _proxied_worker(worker_stack, proxy, observers=[])
    worker.trainer.upload_retry = QUICK_UPLOAD_RETRY
    _cut_on_first_upload(worker, proxy, outage=2.0)
    caplog.set_level(logging.WARNING, logger="cerebros_trainer")

    try:
        result = _run_one(worker)
    finally:
        proxy.switch_off()

    assert result.status == "completed"
    assert_completed(worker_stack, job_id)
    retried = [r.getMessage() for r in caplog.records]
    assert any("Upload of checkpoint for job" in m for m in retried)
    assert any("is unreachable" in m for m in retried)


def test_s3_outage_past_deadline(worker_stack: WorkerStack) -> None:
    failing_job = worker_stack.seed()
    next_job = worker_stack.seed()
    host, port = worker_stack.s3.endpoint_url.removeprefix("http://").split(":")
    proxy = SwitchableProxy(host, int(port))
    # The store comes back once the first job has failed.
    worker = _proxied_worker(
        worker_stack, proxy, observers=[_OnJobEnd(proxy.switch_on)]
    )
    worker.trainer.upload_retry = UploadRetry(
        deadline=1.5, backoff_initial=0.1, backoff_max=0.3
    )
    _cut_on_first_upload(worker, proxy, outage=None)

    try:
        with worker:
            taken = worker.run_forever(max_jobs=2)
    finally:
        proxy.switch_off()

    assert taken == 2
    failed = worker_stack.job(failing_job)
    message = failed["error_message"]
    assert failed["status"] == "failed"
    key = f"{PREFIX}/{failing_job}/phase-1.keras"
    assert f"failed to upload checkpoint to s3://{BUCKET}/{key}" in message
    assert "is unreachable" in message
    assert "Gave up after" in message
    assert "CEREBROS_S3_UPLOAD_DEADLINE is 1.5 s" in message
    assert failed["checkpoint_urls"] == []
    assert set(failed["phase_metrics"]) == {"1"}
    assert not any(f"/{failing_job}/" in key for key in worker_stack.bucket_objects())
    assert_completed(worker_stack, next_job)


def test_final_status_waits_for_checkpoint(worker_stack: WorkerStack) -> None:
    job_id = worker_stack.seed()
    faults = worker_stack.coordinator.faults

    def block_checkpoints() -> None:
        faults.add("POST", CHECKPOINTS, status=503, times=1000)

    observers = [_OnPhaseEnd(1, block_checkpoints)]
    settings = worker_stack.settings()
    client = fast_client(settings.api_url)
    worker = Worker(settings, client=client, verbose=0, observers=observers)

    with worker:
        result = worker.run_once()
        assert result is not None
        assert result.status == "completed"
        assert not result.delivered
        # The phase 2 checkpoint could not be registered, so the final status
        # stays queued behind it: the job must still look unfinished.
        waiting = worker_stack.job(job_id)
        assert waiting["status"] == "running"
        assert waiting["checkpoint_urls"] == checkpoint_urls(job_id)[:1]
        assert worker.trainer.outbox.jobs_with_pending_updates() == [job_id]

        faults.clear()
        # The next poll delivers the outbox before it claims anything.
        assert worker.run_once() is None

    assert worker.trainer.outbox.jobs_with_pending_updates() == []
    record = assert_completed(worker_stack, job_id)
    assert record["fine_tuned_model"] == checkpoint_urls(job_id)[-1]


def test_checkpoint_response_lost(worker_stack: WorkerStack) -> None:
    job_id = worker_stack.seed()
    faults = worker_stack.coordinator.faults
    faults.add("POST", CHECKPOINTS, drop=True, after_handler=True, times=2)

    with _worker(worker_stack) as worker:
        result = worker.run_once()
        drain_outbox(worker)

    assert result is not None
    assert result.status == "completed"
    assert faults.pending() == []
    assert_completed(worker_stack, job_id)


def _tiny() -> dict[str, Any]:
    from tests.fixtures_worker import TINY_HYPERPARAMETERS

    return dict(TINY_HYPERPARAMETERS)
