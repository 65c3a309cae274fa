"""Outbox delivery against the stand-in coordinator over real HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from cerebros_client import CerebrosClient, RetryPolicy
from cerebros_client.testing import CoordinatorServer
from cerebros_trainer.outbox import Outbox, PendingUpdate

NO_WAIT = RetryPolicy(max_attempts=1)


@pytest.fixture
def running_job(coordinator: CoordinatorServer, tmp_path: Path) -> str:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"text": "hello"}\n')
    seeded = coordinator.seed(corpus)
    with CerebrosClient(coordinator.url) as client:
        client.start_job(seeded["job_id"])
    return str(seeded["job_id"])


def metrics_update(job_id: str, phase: int, loss: float) -> PendingUpdate:
    return PendingUpdate("metrics", job_id, phase, {"loss": loss})


def test_flush_delivers_in_order(
    coordinator: CoordinatorServer, running_job: str, tmp_path: Path
) -> None:
    outbox = Outbox(tmp_path / "outbox")
    outbox.put(metrics_update(running_job, 1, 2.5))
    outbox.put(
        PendingUpdate(
            "checkpoint", running_job, 1, {"checkpoint_url": "s3://b/k/phase-1.keras"}
        )
    )
    outbox.put(metrics_update(running_job, 2, 1.5))

    with CerebrosClient(coordinator.url) as client:
        assert outbox.flush(client, running_job) is True

    job = coordinator.admin.get_job(running_job)
    assert job["phase_metrics"]["1"]["loss"] == 2.5
    assert job["phase_metrics"]["2"]["loss"] == 1.5
    assert job["checkpoint_urls"] == ["s3://b/k/phase-1.keras"]
    assert outbox.pending(running_job) == []


def test_outage_keeps_updates_for_later(
    coordinator: CoordinatorServer, running_job: str, tmp_path: Path
) -> None:
    outbox = Outbox(tmp_path / "outbox")
    outbox.put(metrics_update(running_job, 1, 2.5))
    outbox.put(metrics_update(running_job, 2, 1.5))
    coordinator.faults.add("PATCH", "/api/jobs/*/metrics", status=503, times=1)

    with CerebrosClient(coordinator.url, retry=NO_WAIT) as client:
        assert outbox.flush(client, running_job) is False
        assert len(outbox.pending(running_job)) == 2
        assert outbox.jobs_with_pending_updates() == [running_job]

        assert outbox.flush(client, running_job) is True

    job = coordinator.admin.get_job(running_job)
    assert set(job["phase_metrics"]) == {"1", "2"}


def test_outbox_survives_a_new_process(running_job: str, tmp_path: Path) -> None:
    Outbox(tmp_path / "outbox").put(metrics_update(running_job, 1, 2.5))

    reopened = Outbox(tmp_path / "outbox")

    assert reopened.pending(running_job) == [metrics_update(running_job, 1, 2.5)]


def test_rejected_update_is_dropped(
    coordinator: CoordinatorServer, running_job: str, tmp_path: Path
) -> None:
    outbox = Outbox(tmp_path / "outbox")
    outbox.put(metrics_update(running_job, 1, 2.5))
    outbox.put(metrics_update(running_job, 2, 1.5))
    coordinator.faults.add("PATCH", "/api/jobs/*/metrics", status=400, times=1)

    with CerebrosClient(coordinator.url, retry=NO_WAIT) as client:
        assert outbox.flush(client, running_job) is True

    job = coordinator.admin.get_job(running_job)
    assert set(job["phase_metrics"]) == {"2"}


def test_bound_drops_old_metrics_not_checkpoints(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox", max_entries=2)
    checkpoint = PendingUpdate("checkpoint", "j", 1, {"checkpoint_url": "file:///c"})
    outbox.put(metrics_update("j", 1, 3.0))
    outbox.put(checkpoint)
    outbox.put(metrics_update("j", 2, 2.0))

    assert outbox.pending("j") == [checkpoint, metrics_update("j", 2, 2.0)]


def test_cut_off_last_line_is_skipped(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox")
    outbox.put(metrics_update("j", 1, 3.0))
    with (tmp_path / "outbox" / "j.jsonl").open("a") as handle:
        handle.write('{"kind": "metr')

    assert outbox.pending("j") == [metrics_update("j", 1, 3.0)]


def test_requeue_rejected_falls_back_to_failed(
    coordinator: CoordinatorServer, running_job: str, tmp_path: Path
) -> None:
    outbox = Outbox(tmp_path / "outbox")
    outbox.put(
        PendingUpdate(
            "status",
            running_job,
            0,
            {"status": "queued", "fallback_error_message": "interrupted: retry it"},
        )
    )
    coordinator.faults.add("PATCH", "/api/jobs/*/status", status=409, times=1)

    with CerebrosClient(coordinator.url, retry=NO_WAIT) as client:
        assert outbox.flush(client, running_job) is True

    job = coordinator.admin.get_job(running_job)
    assert job["status"] == "failed"
    assert job["error_message"] == "interrupted: retry it"


@pytest.mark.parametrize("job_id", ["../../escape", "a/b", "..", "x" * 300])
def test_unsafe_job_id_stays_inside(tmp_path: Path, job_id: str) -> None:
    directory = tmp_path / "state" / "outbox"
    outbox = Outbox(directory)

    outbox.put(metrics_update(job_id, 1, 2.5))

    files = list(directory.iterdir())
    assert len(files) == 1
    assert files[0].parent == directory
    assert not (tmp_path / "escape.jsonl").exists()
    assert outbox.jobs_with_pending_updates() == [job_id]
    assert outbox.pending(job_id) == [metrics_update(job_id, 1, 2.5)]


def test_invalid_update_is_dropped(
    coordinator: CoordinatorServer, running_job: str, tmp_path: Path
) -> None:
    outbox = Outbox(tmp_path / "outbox")
    # Phase 9 is outside 0..4, so the client raises ValueError before sending.
    outbox.put(metrics_update(running_job, 9, 2.5))
    outbox.put(metrics_update(running_job, 1, 1.5))

    with CerebrosClient(coordinator.url, retry=NO_WAIT) as client:
        assert outbox.flush(client, running_job) is True

    job = coordinator.admin.get_job(running_job)
    assert job["phase_metrics"] == {"1": {"loss": 1.5}}
    assert outbox.pending(running_job) == []
