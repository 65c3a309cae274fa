"""A real worker keeps its token out of logs and its files inside their roots."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from cerebros_client import Job
from cerebros_client.testing import CoordinatorServer
from cerebros_trainer.logging_setup import PACKAGE_LOGGERS, configure_logging
from cerebros_trainer.runner import Trainer
from cerebros_trainer.storage import open_checkpoint_store
from cerebros_trainer.worker import Worker
from tests.e2e.support import assert_completed, drain_outbox, fast_client
from tests.fixtures_worker import TINY_HYPERPARAMETERS, WorkerStack, write_tiny_corpus

TOKEN = "secret-token-5f2b9c1e"


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    """Send every log record to a file, as the CLI does, then undo it."""
    path = tmp_path / "logs" / "cerebros_service.log"
    # No secrets are passed, so the redaction filter cannot hide a leak:
    # the code itself must keep the token out of every message.
    configure_logging(level="DEBUG", log_file=path, secrets=())
    yield path
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_cerebros_handler", False):
            root.removeHandler(handler)
            handler.close()
    for name in PACKAGE_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    logging.captureWarnings(False)


def test_token_absent_from_logs(worker_stack: WorkerStack, log_file: Path) -> None:
    with CoordinatorServer(tokens=(TOKEN,)) as coordinator:
        job_id = coordinator.seed(
            str(worker_stack.corpus),
            model_id="byte-gru",
            hyperparameters=TINY_HYPERPARAMETERS,
        )["job_id"]
        faults = coordinator.faults
        # A proxy or server that echoes the request's credentials back.
        echoed = f'{{"errors": {{"detail": "rejected Bearer {TOKEN}"}}}}'
        faults.add("GET", "/api/datasets/*/corpus", status=500, body=echoed)
        faults.add("PATCH", "/api/jobs/*/metrics", html=True, body=f"<p>{TOKEN}</p>")
        faults.add("POST", "/api/jobs/*/checkpoints", status=500, body=echoed)
        faults.add("POST", "/api/jobs/*/checkpoints", drop=True)
        faults.add("PATCH", "/api/jobs/*/status", truncate=True)
        settings = worker_stack.settings(api_url=coordinator.url, api_token=TOKEN)
        client = fast_client(coordinator.url, token=TOKEN)

        with Worker(settings, client=client, verbose=0, observers=[]) as worker:
            result = worker.run_once()
            drain_outbox(worker)
            assert TOKEN not in repr(worker.client)
            assert TOKEN not in repr(settings)

        assert result is not None
        assert result.status == "completed"
        record = assert_completed(worker_stack, job_id, coordinator=coordinator)

    text = log_file.read_text("utf-8")
    assert "get_corpus: attempt 1 of 4 failed (HTTP 500)" in text
    assert "report_metrics: attempt 1 of 4 failed (HTTP 502)" in text
    assert "Kept checkpoint update" in text
    # The echoed token reached an error message, masked by the client.
    assert "server detail: 'rejected Bearer ***'" in text
    assert TOKEN not in text
    assert TOKEN not in str(record)


def test_wrong_token_absent_from_logs(
    worker_stack: WorkerStack, log_file: Path
) -> None:
    wrong = "wrong-token-7a1d0c33"
    with CoordinatorServer(tokens=(TOKEN,)) as coordinator:
        settings = worker_stack.settings(api_url=coordinator.url, api_token=wrong)
        client = fast_client(coordinator.url, token=wrong)
        with Worker(settings, client=client, verbose=0, observers=[]) as worker:
            worker.run_forever(stop_when_idle=True)

    text = log_file.read_text("utf-8")
    assert "returned 401" in text
    assert wrong not in text


def test_unsafe_job_id_fails_cleanly(worker_stack: WorkerStack) -> None:
    settings = worker_stack.settings()
    client = fast_client(settings.api_url)
    store = open_checkpoint_store(settings)
    trainer = Trainer(client, settings, store, verbose=0)
    job = Job.model_validate(
        {
            "id": "../../x",
            "training_dataset_id": "0b7e0000-0000-4000-8000-000000000000",
            "model_id": "byte-gru",
            "status": "running",
            "hyperparameters": TINY_HYPERPARAMETERS,
        }
    )

    result = trainer.run_job(job)

    assert result.status == "failed"
    assert result.error_message is not None
    assert "invalid job id '../../x'" in result.error_message
    assert "without '..'" in result.error_message
    assert result.checkpoint_urls == []
    # Nothing was written where the id points, and the outbox kept no file
    # outside its directory.
    assert not (worker_stack.root / "x").exists()
    assert not (worker_stack.root / "state" / "x").exists()
    assert not list(worker_stack.root.glob("**/x.jsonl"))
    assert trainer.outbox.jobs_with_pending_updates() == []
    assert worker_stack.bucket_objects() == {}
    client.close()


def test_corpus_roots_limit_paths(worker_stack: WorkerStack) -> None:
    allowed = worker_stack.root / "allowed"
    inside = write_tiny_corpus(allowed / "inside.jsonl")
    escape = allowed / "escape.jsonl"
    escape.symlink_to(worker_stack.corpus)
    outside_job = worker_stack.seed(corpus=worker_stack.corpus)
    # A file:// URL reaches the worker unresolved, so the symlink is its
    # to resolve.
    escape_job = worker_stack.seed(corpus=f"file://{escape}")
    inside_job = worker_stack.seed(corpus=inside)
    settings = worker_stack.settings(corpus_roots=[allowed])

    with Worker(
        settings, client=fast_client(settings.api_url), verbose=0, observers=[]
    ) as worker:
        assert worker.run_forever(max_jobs=3) == 3

    for job_id, path in ((outside_job, worker_stack.corpus), (escape_job, escape)):
        record = worker_stack.job(job_id)
        assert record["status"] == "failed"
        message = record["error_message"]
        assert f"corpus path {path} is outside the allowed corpus roots" in message
        assert str(allowed.resolve()) in message
        assert record["checkpoint_urls"] == []
    assert_completed(worker_stack, inside_job)


@pytest.mark.parametrize("scheme", ["ftp", "gopher"])
def test_unsupported_corpus_scheme(worker_stack: WorkerStack, scheme: str) -> None:
    location = f"{scheme}://127.0.0.1:1/corpus.jsonl"
    job_id = worker_stack.seed(corpus=location)
    settings = worker_stack.settings()

    with Worker(
        settings, client=fast_client(settings.api_url), verbose=0, observers=[]
    ) as worker:
        result = worker.run_once()

    assert result is not None
    assert result.status == "failed"
    record = worker_stack.job(job_id)
    assert record["status"] == "failed"
    assert record["error_message"] == (
        f"corpus location {location!r} uses the unsupported scheme {scheme!r}: "
        "expected an absolute path or a file://, s3://, http:// or https:// URL"
    )
    assert record["checkpoint_urls"] == []
    assert worker_stack.bucket_objects() == {}
