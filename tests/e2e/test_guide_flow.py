"""The guide's flow, run by a real worker over real HTTP and S3."""

from __future__ import annotations

import json

from cerebros_trainer.worker import Worker
from tests.fixtures_worker import BUCKET, PREFIX, WorkerStack


def test_job_completes_with_two_checkpoints(worker_stack: WorkerStack) -> None:
    job_id = worker_stack.seed()

    with Worker(worker_stack.settings(), verbose=0) as worker:
        result = worker.run_once()

    assert result is not None
    assert result.status == "completed"
    job = worker_stack.job(job_id)
    expected_urls = [
        f"s3://{BUCKET}/{PREFIX}/{job_id}/phase-1.keras",
        f"s3://{BUCKET}/{PREFIX}/{job_id}/phase-2.keras",
    ]
    assert job["status"] == "completed"
    assert job["checkpoint_urls"] == expected_urls
    assert result.checkpoint_urls == expected_urls
    assert result.final_model_id == expected_urls[-1]
    assert set(job["phase_metrics"]) == {"1", "2"}
    for phase in ("1", "2"):
        metrics = job["phase_metrics"][phase]
        assert metrics["loss"] > 0
        assert metrics["val_perplexity"] > 1
        assert metrics["phase"] == int(phase)


def test_checkpoints_in_bucket_match_hash(worker_stack: WorkerStack) -> None:
    job_id = worker_stack.seed()

    with Worker(worker_stack.settings(), verbose=0) as worker:
        worker.run_once()

    objects = worker_stack.bucket_objects()
    keys = sorted(objects)
    assert keys == [
        f"{PREFIX}/{job_id}/phase-1.keras",
        f"{PREFIX}/{job_id}/phase-2.keras",
    ]
    for key in keys:
        assert objects[key]["metadata"]["sha256"] == worker_stack.object_sha256(key)


def test_empty_queue_returns_none(worker_stack: WorkerStack) -> None:
    with Worker(worker_stack.settings(), verbose=0) as worker:
        assert worker.run_once() is None


def test_daemon_takes_next_job_after_failure(worker_stack: WorkerStack) -> None:
    bad_corpus = worker_stack.root / "bad.jsonl"
    bad_corpus.write_text("not json\n" * 50)
    bad_job = worker_stack.seed(corpus=bad_corpus)
    bad_params_job = worker_stack.seed(batch_size=-3)
    good_job = worker_stack.seed()

    with Worker(worker_stack.settings(), verbose=0) as worker:
        taken = worker.run_forever(max_jobs=3)

    assert taken == 3
    bad = worker_stack.job(bad_job)
    assert bad["status"] == "failed"
    assert "bad.jsonl" in bad["error_message"]
    params = worker_stack.job(bad_params_job)
    assert params["status"] == "failed"
    assert "batch_size" in params["error_message"]
    assert worker_stack.job(good_job)["status"] == "completed"


def test_unknown_model_id_trains_default(worker_stack: WorkerStack) -> None:
    job_id = worker_stack.seed(model_id="gpt-4o-mini")

    with Worker(worker_stack.settings(), verbose=0) as worker:
        result = worker.run_once()

    assert result is not None
    assert result.architecture == "byte-gru"
    job = worker_stack.job(job_id)
    assert job["status"] == "completed"
    assert job["phase_metrics"]["1"]["model_id_fallback"] == 1


def test_strict_model_ids_fail_unknown(worker_stack: WorkerStack) -> None:
    job_id = worker_stack.seed(model_id="gpt-4o-mini")

    settings = worker_stack.settings(strict_model_ids=True)
    with Worker(settings, verbose=0) as worker:
        worker.run_once()

    job = worker_stack.job(job_id)
    assert job["status"] == "failed"
    assert "gpt-4o-mini" in job["error_message"]
    assert "byte-gru" in json.dumps(job["error_message"])


def test_wrong_typed_hyperparameters_fail_job(worker_stack: WorkerStack) -> None:
    text_job = worker_stack.seed(batch_size="lots")
    bool_job = worker_stack.seed(n_epochs=True)
    good_job = worker_stack.seed()

    with Worker(worker_stack.settings(), verbose=0) as worker:
        taken = worker.run_forever(max_jobs=3)

    assert taken == 3
    text = worker_stack.job(text_job)
    assert text["status"] == "failed"
    assert "batch_size" in text["error_message"]
    assert "lots" in text["error_message"]
    boolean = worker_stack.job(bool_job)
    assert boolean["status"] == "failed"
    assert "n_epochs" in boolean["error_message"]
    assert worker_stack.job(good_job)["status"] == "completed"
