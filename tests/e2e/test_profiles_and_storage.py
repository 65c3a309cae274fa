"""The worker against the deployed server's quirks, and storage set-up errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from cerebros_client.testing import CoordinatorServer
from cerebros_trainer.errors import StorageError
from cerebros_trainer.worker import Worker
from tests.fixtures_worker import BUCKET, PREFIX, TINY_HYPERPARAMETERS, WorkerStack


def test_compat_profile_job_completes(
    worker_stack: WorkerStack, tmp_path: Path
) -> None:
    with CoordinatorServer(profile="thunderline-compat") as compat:
        seeded = compat.seed(
            str(worker_stack.corpus),
            model_id="gpt-4o-mini",
            hyperparameters=TINY_HYPERPARAMETERS,
        )
        settings = worker_stack.settings(api_url=compat.url)
        with Worker(settings, verbose=0) as worker:
            result = worker.run_once()
            assert worker.run_once() is None

        job = compat.admin.get_job(seeded["job_id"])

    assert result is not None
    assert result.status == "completed"
    assert job["status"] == "completed"
    assert job["checkpoint_urls"] == [
        f"s3://{BUCKET}/{PREFIX}/{seeded['job_id']}/phase-1.keras",
        f"s3://{BUCKET}/{PREFIX}/{seeded['job_id']}/phase-2.keras",
    ]
    # The deployed server merges every phase's metrics into one map, which
    # is why the worker keeps its own per-phase history in the result.
    assert job["metrics"]["phase"] == 2
    assert set(result.phase_metrics) == {1, 2}
    assert result.phase_metrics[1]["phase"] == 1


def test_missing_bucket_fails_at_start(worker_stack: WorkerStack) -> None:
    settings = worker_stack.settings(checkpoint_url="s3://no-such-bucket/checkpoints")

    worker = Worker(settings, verbose=0)
    with pytest.raises(StorageError, match="no-such-bucket") as caught:
        worker.start()
    worker.close()

    assert "does not exist" in str(caught.value)


def test_bucket_removed_mid_run_fails_job(worker_stack: WorkerStack) -> None:
    first = worker_stack.seed()
    second = worker_stack.seed()

    with Worker(worker_stack.settings(), verbose=0) as worker:
        worker.start()
        client = worker_stack.s3.make_client()
        client.delete_bucket(Bucket=BUCKET)
        failed = worker.run_once()
        client.create_bucket(Bucket=BUCKET)
        completed = worker.run_once()

    assert failed is not None
    assert failed.job_id == first
    assert failed.status == "failed"
    failed_job = worker_stack.job(first)
    assert failed_job["status"] == "failed"
    assert BUCKET in failed_job["error_message"]
    assert completed is not None
    assert completed.job_id == second
    assert worker_stack.job(second)["status"] == "completed"


def test_local_checkpoint_store(worker_stack: WorkerStack, tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    job_id = worker_stack.seed()

    settings = worker_stack.settings(checkpoint_url=store_dir.as_uri())
    with Worker(settings, verbose=0) as worker:
        result = worker.run_once()

    assert result is not None
    assert result.status == "completed"
    assert (store_dir / job_id / "phase-1.keras").is_file()
    assert (store_dir / job_id / "phase-2.keras").is_file()
    assert worker_stack.job(job_id)["checkpoint_urls"][-1] == (
        (store_dir / job_id / "phase-2.keras").as_uri()
    )


def test_s3_corpus_uses_worker_endpoint(worker_stack: WorkerStack) -> None:
    client = worker_stack.s3.make_client()
    client.create_bucket(Bucket="corpora")
    client.upload_file(str(worker_stack.corpus), "corpora", "tiny/corpus.jsonl")
    job_id = worker_stack.seed(corpus="s3://corpora/tiny/corpus.jsonl")

    # The endpoint reaches the worker only through its settings, as with
    # the --aws-endpoint-url option, not through AWS_ENDPOINT_URL.
    with Worker(worker_stack.settings(), verbose=0) as worker:
        result = worker.run_once()

    assert result is not None
    assert result.status == "completed", result.error_message
    assert worker_stack.job(job_id)["phase_metrics"]["1"]["corpus_documents"] == 120
