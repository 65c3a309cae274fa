"""SIGTERM and SIGINT stop the real worker process after the current batch.

A first signal saves a partial checkpoint, registers it and hands the job
back as `queued`, falling back to `failed` with an "interrupted" message
where the coordinator rejects `queued`. A second signal, or a stop that
outlasts the grace period, ends the process at once.
"""

from __future__ import annotations

import logging
import signal

import pytest

from cerebros_trainer.journal import Journal
from cerebros_trainer.worker import Worker
from tests.e2e.processes import (  # noqa: F401 - fixtures
    LONG_PHASES,
    WorkerLauncher,
    WorkerProcess,
    checkpoint_key,
    checkpoint_url,
    compat_stack,
    launcher,
    phase_one_registered,
    strict_stack,
    wait_until,
)
from tests.fixtures_worker import WorkerStack

# Longer than any stop in these tests, so only a second signal or a short
# grace period can cut a stop short.
HELD_REQUEST_SECONDS = 20.0


def signal_in_phase_two(
    stack: WorkerStack, process: WorkerProcess, job_id: str, signum: int
) -> None:
    """Send `signum` once the worker is training phase 2."""
    wait_until(
        lambda: phase_one_registered(stack, job_id),
        description="the phase-1 checkpoint of the job",
        process=process,
    )
    process.wait_for_output("training phase 2")
    process.send_signal(signum)


def complete_in_process(
    stack: WorkerStack, job_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Run another worker on the queued job and check it resumed in phase 2."""
    caplog.set_level(logging.INFO, logger="cerebros_trainer")
    settings = stack.settings(state_dir=stack.root / "state-next")
    with Worker(settings, verbose=0) as worker:
        result = worker.run_once()

    partial = checkpoint_url(job_id, "phase-2-partial.keras")
    assert result is not None
    assert result.job_id == job_id
    assert result.status == "completed"
    assert f"Resuming job {job_id} at phase 2 from {partial}" in caplog.text
    assert "training phase 1" not in caplog.text


def test_sigterm_requeues_with_partial_checkpoint(
    strict_stack: WorkerStack,  # noqa: F811 - fixture
    launcher: WorkerLauncher,  # noqa: F811 - fixture
    caplog: pytest.LogCaptureFixture,
) -> None:
    job_id = strict_stack.seed(**LONG_PHASES)
    worker = launcher.start(strict_stack, "stopped", CEREBROS_GRACE_PERIOD="30")
    signal_in_phase_two(strict_stack, worker, job_id, signal.SIGTERM)

    assert worker.wait() == 0
    output = worker.output()
    assert "Stop requested: stopping within" in output
    assert f"Handed job {job_id} back to the queue" in output
    assert Journal(worker.state_dir).load() is None

    phase_one = checkpoint_url(job_id, "phase-1.keras")
    partial = checkpoint_url(job_id, "phase-2-partial.keras")
    record = strict_stack.job(job_id)
    assert record["status"] == "queued"
    assert record["worker_id"] is None
    assert record["error_message"] is None
    assert record["checkpoint_urls"] == [phase_one, partial]
    assert sorted(strict_stack.bucket_objects()) == [
        checkpoint_key(job_id, "phase-1.keras"),
        checkpoint_key(job_id, "phase-2-partial.keras"),
    ]
    phase_one_metrics = record["phase_metrics"]["1"]

    complete_in_process(strict_stack, job_id, caplog)
    final = strict_stack.job(job_id)
    phase_two = checkpoint_url(job_id, "phase-2.keras")
    assert final["status"] == "completed"
    assert final["final_model_id"] == phase_two
    assert final["checkpoint_urls"] == [phase_one, partial, phase_two]
    assert final["phase_metrics"]["1"] == phase_one_metrics
    assert final["phase_metrics"]["2"]["phase"] == 2


def test_sigint_on_compat_server_requeues(
    compat_stack: WorkerStack,  # noqa: F811 - fixture
    launcher: WorkerLauncher,  # noqa: F811 - fixture
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The deployed server accepts any status, so "queued" hands the job back
    # even though it has no claims: the next poll returns it.
    job_id = compat_stack.seed(**LONG_PHASES)
    worker = launcher.start(compat_stack, "stopped")
    signal_in_phase_two(compat_stack, worker, job_id, signal.SIGINT)

    assert worker.wait() == 0
    phase_one = checkpoint_url(job_id, "phase-1.keras")
    partial = checkpoint_url(job_id, "phase-2-partial.keras")
    record = compat_stack.job(job_id)
    assert record["status"] == "queued"
    assert record["error_message"] is None
    assert record["checkpoint_urls"] == [phase_one, partial]
    assert record["current_checkpoint_url"] == partial

    complete_in_process(compat_stack, job_id, caplog)
    final = compat_stack.job(job_id)
    assert final["status"] == "completed"
    assert final["checkpoint_urls"] == [
        phase_one,
        partial,
        checkpoint_url(job_id, "phase-2.keras"),
    ]
    assert set(final["phase_metrics"]) == {"1", "2"}


def test_rejected_requeue_fails_as_interrupted(
    strict_stack: WorkerStack,  # noqa: F811 - fixture
    launcher: WorkerLauncher,  # noqa: F811 - fixture
) -> None:
    job_id = strict_stack.seed(**LONG_PHASES)
    # A claim sets "running" without a status request, so the first status
    # request is the hand-back; reject it as a stricter coordinator would.
    strict_stack.coordinator.faults.add(
        "PATCH", f"/api/jobs/{job_id}/status", status=409
    )
    worker = launcher.start(strict_stack, "stopped")
    worker.wait_for_output("training phase 1")
    worker.send_signal(signal.SIGTERM)

    assert worker.wait() == 0
    assert f"Coordinator rejected status queued for job {job_id}" in worker.output()
    partial = checkpoint_url(job_id, "phase-1-partial.keras")
    record = strict_stack.job(job_id)
    assert record["status"] == "failed"
    assert record["checkpoint_urls"] == [partial]
    message = record["error_message"]
    assert message.startswith("interrupted: the worker was shut down during phase 1")
    assert f"resume from checkpoint {partial}" in message


def test_second_signal_exits_at_once(
    strict_stack: WorkerStack,  # noqa: F811 - fixture
    launcher: WorkerLauncher,  # noqa: F811 - fixture
) -> None:
    job_id = strict_stack.seed(**LONG_PHASES)
    # Hold the hand-back request so the first stop cannot finish by itself.
    strict_stack.coordinator.faults.add(
        "PATCH", f"/api/jobs/{job_id}/status", delay=HELD_REQUEST_SECONDS
    )
    worker = launcher.start(strict_stack, "stopped", CEREBROS_GRACE_PERIOD="60")
    worker.wait_for_output("training phase 1")
    worker.send_signal(signal.SIGTERM)
    partial = checkpoint_url(job_id, "phase-1-partial.keras")
    wait_until(
        lambda: partial in strict_stack.job(job_id)["checkpoint_urls"],
        description="the partial checkpoint of the interrupted phase",
        process=worker,
    )
    worker.send_signal(signal.SIGTERM)

    assert worker.wait(timeout=HELD_REQUEST_SECONDS / 2) == 128 + signal.SIGTERM
    # The hand-back never arrived: the job stays running until its lease
    # expires, and the worker's journal and outbox still hold it.
    record = strict_stack.job(job_id)
    assert record["status"] == "running"
    assert record["checkpoint_urls"] == [partial]
    assert Journal(worker.state_dir).load() is not None


def test_grace_period_overrun_exits(
    strict_stack: WorkerStack,  # noqa: F811 - fixture
    launcher: WorkerLauncher,  # noqa: F811 - fixture
) -> None:
    job_id = strict_stack.seed(**LONG_PHASES)
    strict_stack.coordinator.faults.add(
        "PATCH", f"/api/jobs/{job_id}/status", delay=HELD_REQUEST_SECONDS
    )
    worker = launcher.start(strict_stack, "stopped", CEREBROS_GRACE_PERIOD="1")
    worker.wait_for_output("training phase 1")
    worker.send_signal(signal.SIGTERM)

    assert worker.wait(timeout=HELD_REQUEST_SECONDS / 2) == 1
    output = worker.output()
    assert "Grace period of 1 s ran out before the worker stopped" in output
    assert strict_stack.job(job_id)["status"] == "running"
