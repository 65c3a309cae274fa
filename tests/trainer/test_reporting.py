"""Metric cleaning, checkpoint idempotency keys and delivery through the outbox."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from cerebros_client import CerebrosClient, RetryPolicy
from cerebros_client.testing import CoordinatorServer
from cerebros_trainer.outbox import Outbox
from cerebros_trainer.reporting import (
    DELIVERY_BACKOFF_INITIAL,
    JobReporter,
    checkpoint_idempotency_key,
    finite_metrics,
)

NO_WAIT = RetryPolicy(max_attempts=1)


def test_non_finite_metrics_become_none() -> None:
    cleaned = finite_metrics(
        {"loss": math.nan, "perplexity": math.inf, "accuracy": 0.5, "epoch": 2}
    )

    assert cleaned == {"loss": None, "perplexity": None, "accuracy": 0.5, "epoch": 2}


def test_non_numeric_metrics_are_left_out() -> None:
    cleaned = finite_metrics({"architecture": "byte-gru", "fallback": True, "x": "3"})

    assert cleaned == {"fallback": 1, "x": 3.0}


def test_idempotency_key_is_stable_and_specific() -> None:
    first = checkpoint_idempotency_key("job", "s3://b/phase-1.keras", 1)

    assert first == checkpoint_idempotency_key("job", "s3://b/phase-1.keras", 1)
    assert first != checkpoint_idempotency_key("job", "s3://b/phase-1.keras", 2)
    assert first != checkpoint_idempotency_key("other", "s3://b/phase-1.keras", 1)


@pytest.fixture
def running_job(coordinator: CoordinatorServer, tmp_path: Path) -> str:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"text": "hello"}\n')
    seeded = coordinator.seed(corpus)
    with CerebrosClient(coordinator.url) as client:
        client.start_job(seeded["job_id"])
    return str(seeded["job_id"])


def test_nan_metrics_reach_server_as_null(
    coordinator: CoordinatorServer, running_job: str, tmp_path: Path
) -> None:
    with CerebrosClient(coordinator.url, retry=NO_WAIT) as client:
        reporter = JobReporter(client, Outbox(tmp_path / "outbox"), running_job)
        reporter.report_metrics(
            {"loss": math.nan, "val_loss": -math.inf, "name": "gru"}, phase=1
        )

    assert reporter.pending_count() == 0
    metrics = coordinator.admin.get_job(running_job)["phase_metrics"]["1"]
    assert metrics == {"loss": None, "val_loss": None}


def test_failed_delivery_pauses_reports(
    coordinator: CoordinatorServer, running_job: str, tmp_path: Path
) -> None:
    now = [100.0]
    coordinator.faults.add("PATCH", "/api/jobs/*/metrics", status=503, times=1)
    with CerebrosClient(coordinator.url, retry=NO_WAIT) as client:
        reporter = JobReporter(
            client, Outbox(tmp_path / "outbox"), running_job, clock=lambda: now[0]
        )
        reporter.report_metrics({"loss": 3.0}, phase=1)
        assert reporter.pending_count() == 1

        # Inside the pause the report is queued without a request.
        now[0] += DELIVERY_BACKOFF_INITIAL - 1
        reporter.report_metrics({"loss": 2.0}, phase=1)
        assert reporter.pending_count() == 2

        now[0] += 1
        reporter.report_metrics({"loss": 1.0}, phase=2)
        assert reporter.pending_count() == 0

    job = coordinator.admin.get_job(running_job)
    assert job["phase_metrics"] == {"1": {"loss": 2.0}, "2": {"loss": 1.0}}


def test_final_status_ignores_pause(
    coordinator: CoordinatorServer, running_job: str, tmp_path: Path
) -> None:
    coordinator.faults.add("PATCH", "/api/jobs/*/metrics", status=503, times=1)
    with CerebrosClient(coordinator.url, retry=NO_WAIT) as client:
        reporter = JobReporter(client, Outbox(tmp_path / "outbox"), running_job)
        reporter.report_metrics({"loss": 3.0}, phase=1)
        assert reporter.pending_count() == 1

        delivered = reporter.send_final_status("failed", error_message="stopped")

    assert delivered is True
    job = coordinator.admin.get_job(running_job)
    assert job["status"] == "failed"
    assert job["error_message"] == "stopped"
    assert job["phase_metrics"] == {"1": {"loss": 3.0}}
