"""A worker killed with SIGKILL resumes its job from the last checkpoint.

The process tests run the real `cerebros-trainer` daemon and kill it while
phase 2 trains. The in-process tests cover how a restarted worker decides
whether a journaled job is still its own.
"""

from __future__ import annotations

import json
import signal
from typing import Any

import pytest

from cerebros_client import CerebrosClient, RetryPolicy
from cerebros_trainer.journal import Journal, JournalEntry
from cerebros_trainer.worker import Worker
from tests.e2e.processes import (  # noqa: F401 - fixtures
    LONG_PHASES,
    WorkerLauncher,
    checkpoint_key,
    checkpoint_url,
    compat_stack,
    launcher,
    phase_one_registered,
    strict_stack,
    wait_until,
)
from tests.fixtures_worker import WorkerStack


def kill_in_phase_two(
    stack: WorkerStack, workers: WorkerLauncher, job_id: str, **environment: Any
) -> dict[str, Any]:
    """Run a worker until phase 2 is under way, kill it and return the record."""
    worker = workers.start(stack, "first", **environment)
    journal = Journal(worker.state_dir)
    # The journal records phase 1 just after its checkpoint is registered.
    wait_until(
        lambda: phase_one_registered(stack, job_id) and _journaled_phases(journal),
        description="the phase-1 checkpoint in the record and the journal",
        process=worker,
    )
    returncode = worker.kill()
    assert returncode == -signal.SIGKILL

    record = stack.job(job_id)
    assert record["status"] == "running"
    assert record["checkpoint_urls"] == [checkpoint_url(job_id, "phase-1.keras")], (
        "the worker finished phase 2 before it was killed; lengthen LONG_PHASES"
    )
    return record


def assert_completed_from_phase_one(
    stack: WorkerStack, job_id: str, before: dict[str, Any]
) -> dict[str, Any]:
    """Check the final record of a job that resumed at phase 2 and return it."""
    record = stack.job(job_id)
    phase_one = checkpoint_url(job_id, "phase-1.keras")
    phase_two = checkpoint_url(job_id, "phase-2.keras")
    assert record["status"] == "completed"
    assert record["checkpoint_urls"] == [phase_one, phase_two]
    # Only the strict profile stores final_model_id; compat ignores it.
    assert record.get("final_model_id", phase_two) == phase_two
    assert set(record["phase_metrics"]) == {"1", "2"}
    assert record["phase_metrics"]["1"] == before["phase_metrics"]["1"]
    assert record["phase_metrics"]["2"]["phase"] == 2
    assert record["phase_metrics"]["2"]["loss"] > 0

    keys = sorted(stack.bucket_objects())
    expected = [
        checkpoint_key(job_id, "phase-1.keras"),
        checkpoint_key(job_id, "phase-2.keras"),
    ]
    assert keys == expected
    return record


def test_restart_resumes_at_phase_two(
    strict_stack: WorkerStack,  # noqa: F811 - fixture
    launcher: WorkerLauncher,  # noqa: F811 - fixture
) -> None:
    job_id = strict_stack.seed(**LONG_PHASES)
    before = kill_in_phase_two(strict_stack, launcher, job_id)
    phase_one_sha = strict_stack.object_sha256(checkpoint_key(job_id, "phase-1.keras"))
    state_dir = launcher.processes[0].state_dir
    journal = Journal(state_dir).load()
    assert journal is not None
    assert journal.job_id == job_id
    assert set(journal.completed_phases) == {1}

    restarted = launcher.start(strict_stack, "restarted", state_dir=state_dir)
    assert restarted.wait() == 0

    output = restarted.output()
    assert f"Resuming job {job_id} after a restart: phases [1] already done" in output
    assert f"Resuming job {job_id} at phase 2 from" in output
    assert "training phase 1" not in output
    assert "Lost the lease" not in output
    record = assert_completed_from_phase_one(strict_stack, job_id, before)
    # Same state directory, same worker id: the restarted worker renewed
    # the lease the killed one held instead of losing it.
    assert record["worker_id"] == before["worker_id"]
    phase_one_after = strict_stack.object_sha256(
        checkpoint_key(job_id, "phase-1.keras")
    )
    assert phase_one_after == phase_one_sha
    assert Journal(state_dir).load() is None


def test_expired_lease_requeues_for_others(
    strict_stack: WorkerStack,  # noqa: F811 - fixture
    launcher: WorkerLauncher,  # noqa: F811 - fixture
) -> None:
    job_id = strict_stack.seed(**LONG_PHASES)
    before = kill_in_phase_two(
        strict_stack,
        launcher,
        job_id,
        CEREBROS_LEASE_SECONDS="2",
        CEREBROS_HEARTBEAT_INTERVAL="0.5",
    )
    killed_state_dir = launcher.processes[0].state_dir

    # --max-jobs keeps polling through the 204s sent while the lease runs.
    other = launcher.start(strict_stack, "other", args=("--max-jobs", "1"))
    assert other.wait() == 0

    output = other.output()
    resumed_from = checkpoint_url(job_id, "phase-1.keras")
    assert f"Resuming job {job_id} at phase 2 from {resumed_from}" in output
    assert "training phase 1" not in output
    record = assert_completed_from_phase_one(strict_stack, job_id, before)
    assert record["worker_id"] != before["worker_id"]

    # The killed worker's journal still names the job; once restarted it
    # finds the job completed by the other worker and trains nothing.
    assert Journal(killed_state_dir).load() is not None
    settings = strict_stack.settings(state_dir=killed_state_dir)
    with Worker(settings, verbose=0) as restarted:
        assert restarted.run_once() is None
    assert strict_stack.job(job_id) == record
    assert Journal(killed_state_dir).load() is None


@pytest.mark.slow
def test_compat_restart_resumes_at_phase_two(
    compat_stack: WorkerStack,  # noqa: F811 - fixture
    launcher: WorkerLauncher,  # noqa: F811 - fixture
) -> None:
    job_id = compat_stack.seed(**LONG_PHASES)
    before = kill_in_phase_two(compat_stack, launcher, job_id)
    state_dir = launcher.processes[0].state_dir

    restarted = launcher.start(compat_stack, "restarted", state_dir=state_dir)
    assert restarted.wait() == 0

    assert f"Resuming job {job_id} at phase 2 from" in restarted.output()
    # The deployed server appends a repeated checkpoint URL, so this also
    # shows the restarted worker registered phase 1 only once.
    assert_completed_from_phase_one(compat_stack, job_id, before)


def test_journal_of_job_leased_elsewhere_ignored(
    worker_stack: WorkerStack,
) -> None:
    job_id = worker_stack.seed()
    settings = worker_stack.settings()
    client = CerebrosClient(worker_stack.coordinator.url)
    claimed = client.claim_job("crashed-worker", lease_seconds=30)
    assert claimed is not None
    Journal(settings.state_dir).save(_entry(claimed.model_dump(mode="json")))
    # The crashed worker's lease ran out and another worker took the job.
    client.requeue_job(job_id)
    assert client.claim_job("other-worker", lease_seconds=30) is not None

    with Worker(settings, verbose=0) as worker:
        assert worker.run_once() is None

    record = worker_stack.job(job_id)
    assert record["status"] == "running"
    assert record["worker_id"] == "other-worker"
    assert record["phase_metrics"] == {}
    assert Journal(settings.state_dir).load() is None


def test_journal_of_deleted_job_forgotten(worker_stack: WorkerStack) -> None:
    settings = worker_stack.settings()
    job_id = worker_stack.seed()
    missing = dict(worker_stack.job(job_id), id="00000000-0000-4000-8000-000000000000")
    missing["status"] = "running"
    Journal(settings.state_dir).save(_entry(missing))

    with Worker(settings, verbose=0) as worker:
        result = worker.run_once()

    # The journaled job is forgotten and the queued one trained instead.
    assert result is not None
    assert result.job_id == job_id
    assert worker_stack.job(job_id)["status"] == "completed"
    assert Journal(settings.state_dir).load() is None


def test_journal_trusted_without_job_lookup(worker_stack: WorkerStack) -> None:
    # The deployed server has no GET /api/jobs/{id}: its router returns 404.
    settings = worker_stack.settings()
    job_id = worker_stack.seed()
    client = CerebrosClient(worker_stack.coordinator.url)
    claimed = client.claim_job(settings.worker_id, lease_seconds=30)
    assert claimed is not None
    Journal(settings.state_dir).save(_entry(claimed.model_dump(mode="json")))
    worker_stack.coordinator.faults.add("GET", f"/api/jobs/{job_id}", status=404)

    with Worker(settings, verbose=0) as worker:
        result = worker.run_once()

    assert result is not None
    assert result.job_id == job_id
    assert result.status == "completed"
    assert worker_stack.job(job_id)["status"] == "completed"


def test_requeued_finished_job_completes(worker_stack: WorkerStack) -> None:
    # A worker trains both phases, but its final status never arrives and
    # its lease runs out; the next worker finds nothing left to train.
    job_id = worker_stack.seed()
    worker_stack.coordinator.faults.add(
        "PATCH", f"/api/jobs/{job_id}/status", status=503, times=50
    )
    lost = worker_stack.settings(
        state_dir=worker_stack.root / "lost", lease_seconds=1.5, heartbeat_interval=1
    )
    single_try = CerebrosClient(
        worker_stack.coordinator.url, retry=RetryPolicy(max_attempts=1)
    )
    with Worker(lost, client=single_try, verbose=0) as worker:
        first = worker.run_once()
    assert first is not None
    assert first.delivered is False
    worker_stack.coordinator.faults.clear()

    client = CerebrosClient(worker_stack.coordinator.url)
    wait_until(
        lambda: worker_stack.job(job_id)["status"] == "queued",
        timeout=10,
        description="the lease of the lost worker to expire",
    )
    with Worker(worker_stack.settings(), client=client, verbose=0) as worker:
        second = worker.run_once()

    phase_two = checkpoint_url(job_id, "phase-2.keras")
    assert second is not None
    assert second.status == "completed"
    assert second.final_model_id == phase_two
    record = worker_stack.job(job_id)
    assert record["status"] == "completed"
    # Only the strict profile stores final_model_id; compat ignores it.
    assert record.get("final_model_id", phase_two) == phase_two
    assert record["checkpoint_urls"] == [
        checkpoint_url(job_id, "phase-1.keras"),
        phase_two,
    ]


def _entry(job: dict[str, Any]) -> JournalEntry:
    return JournalEntry(job=json.loads(json.dumps(job)), worker_id="crashed-worker")


def _journaled_phases(journal: Journal) -> list[int]:
    entry = journal.load()
    return sorted(entry.completed_phases) if entry is not None else []
