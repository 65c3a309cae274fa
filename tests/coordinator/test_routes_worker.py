"""The worker endpoints: the guide's walkthrough, claims, leases, idempotency."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import requests

from cerebros_client.testing import CoordinatorServer

from .support import FakeClock, call, running_job

PHASE_1 = {"loss": 2.5, "accuracy": 0.25, "perplexity": 12.2}
PHASE_2 = {"loss": 1.5, "val_loss": 1.75}
CHECKPOINT_1 = "s3://cerebros/jobs/x/phase-1.keras"
CHECKPOINT_2 = "s3://cerebros/jobs/x/phase-2.keras"
HYPERPARAMETERS = {"n_epochs": 3, "batch_size": 32, "learning_rate": 0.0001}


def test_walkthrough_steps_and_final_state(
    any_coordinator: CoordinatorServer, corpus_file: Path
) -> None:
    server = any_coordinator
    strict = server.profile == "strict"

    # Steps 1-4: the console setup, as HTTP calls.
    created = call(server, "POST", "/api/datasets", json={"name": "Test Dataset"})
    assert created.status_code == 201
    dataset_id = created.json()["id"]
    frozen = call(server, "POST", f"/api/datasets/{dataset_id}/freeze")
    assert frozen.status_code == 200
    assert frozen.json() == {"ok": True}
    patched = call(
        server,
        "PATCH",
        f"/api/datasets/{dataset_id}",
        json={"corpus_path": str(corpus_file)},
    )
    assert patched.status_code == 200
    job_body = {
        "training_dataset_id": dataset_id,
        "model_id": "gpt-4o-mini",
        "hyperparameters": HYPERPARAMETERS,
    }
    job = call(server, "POST", "/api/jobs", json=job_body)
    assert job.status_code == 201
    job_id = job.json()["id"]

    # Step 5: poll.
    polled = call(server, "GET", "/api/jobs/poll")
    assert polled.status_code == 200
    assert polled.json()["id"] == job_id
    assert polled.json()["status"] == "queued"
    assert polled.json()["hyperparameters"] == HYPERPARAMETERS

    # Step 6: corpus.
    corpus = call(server, "GET", f"/api/datasets/{dataset_id}/corpus")
    assert corpus.status_code == 200
    assert corpus.json() == {
        "corpus_path": str(corpus_file),
        "dataset_id": dataset_id,
        "dataset_name": "Test Dataset",
        "total_chunks": 3,
        "metadata": {},
    }

    # Steps 7-8: running, metrics and checkpoint per phase, completed.
    steps = [
        ("PATCH", "status", {"status": "running"}),
        ("PATCH", "metrics", {"metrics": PHASE_1, "phase": 1}),
        ("POST", "checkpoints", {"checkpoint_url": CHECKPOINT_1, "phase": 1}),
        ("PATCH", "metrics", {"metrics": PHASE_2, "phase": 2}),
        ("POST", "checkpoints", {"checkpoint_url": CHECKPOINT_2, "phase": 2}),
        ("PATCH", "status", {"status": "completed", "final_model_id": "final-1"}),
    ]
    for method, action, body in steps:
        response = call(server, method, f"/api/jobs/{job_id}/{action}", json=body)
        assert response.status_code == 200, (action, response.text)
        assert response.json() == {"ok": True}

    final = call(server, "GET", f"/api/jobs/{job_id}")
    assert final.status_code == 200
    state = final.json()
    assert state["status"] == "completed"
    assert state["checkpoint_urls"] == [CHECKPOINT_1, CHECKPOINT_2]
    assert state["current_checkpoint_url"] == CHECKPOINT_2
    assert state["phase"] == 2
    assert state["phase_metrics"] == {"1": PHASE_1, "2": PHASE_2}
    assert state["completed_at"] is not None
    if strict:
        assert state["metrics"] == PHASE_2
        assert state["final_model_id"] == "final-1"
        assert state["fine_tuned_model"] == "final-1"
    else:
        assert state["metrics"] == {**PHASE_1, **PHASE_2}
        assert state["fine_tuned_model"] is None
        assert "final_model_id" not in state

    empty = call(server, "GET", "/api/jobs/poll")
    assert empty.status_code == 204
    assert empty.content == b""


def test_poll_does_not_claim(
    any_coordinator: CoordinatorServer, corpus_file: Path
) -> None:
    job_id = any_coordinator.seed(corpus_file)["job_id"]

    first = call(any_coordinator, "GET", "/api/jobs/poll")
    second = call(any_coordinator, "GET", "/api/jobs/poll")

    assert first.json()["id"] == job_id
    assert second.json()["id"] == job_id


def test_corpus_without_path_is_409(coordinator: CoordinatorServer) -> None:
    dataset = coordinator.admin.create_dataset("empty")

    response = call(coordinator, "GET", f"/api/datasets/{dataset['id']}/corpus")

    assert response.status_code == 409
    assert "has no corpus_path" in response.json()["errors"]["detail"]


def test_corpus_missing_file_is_409(
    coordinator: CoordinatorServer, tmp_path: Path
) -> None:
    dataset = coordinator.admin.create_dataset("gone")
    coordinator.admin.set_corpus_path(dataset["id"], tmp_path / "missing.jsonl")

    response = call(coordinator, "GET", f"/api/datasets/{dataset['id']}/corpus")

    assert response.status_code == 409
    assert "does not exist" in response.json()["errors"]["detail"]


def test_unknown_job_is_404_naming_id(coordinator: CoordinatorServer) -> None:
    response = call(
        coordinator, "PATCH", "/api/jobs/nope/status", json={"status": "running"}
    )

    assert response.status_code == 404
    assert response.json()["errors"]["detail"] == "job 'nope' not found"


def test_completed_to_running_is_409(
    coordinator: CoordinatorServer, corpus_file: Path
) -> None:
    job_id = running_job(coordinator, corpus_file)
    path = f"/api/jobs/{job_id}/status"
    assert call(coordinator, "PATCH", path, json={"status": "completed"}).ok

    response = call(coordinator, "PATCH", path, json={"status": "running"})

    assert response.status_code == 409
    detail = response.json()["errors"]["detail"]
    assert "cannot move from 'completed' to 'running'" in detail


def test_running_to_queued_hands_back(
    coordinator: CoordinatorServer, corpus_file: Path
) -> None:
    job_id = running_job(coordinator, corpus_file)
    checkpoint = {"checkpoint_url": CHECKPOINT_1, "phase": 1}
    assert call(
        coordinator, "POST", f"/api/jobs/{job_id}/checkpoints", json=checkpoint
    ).ok

    response = call(
        coordinator, "PATCH", f"/api/jobs/{job_id}/status", json={"status": "queued"}
    )

    assert response.status_code == 200
    job = coordinator.admin.get_job(job_id)
    assert job["status"] == "queued"
    assert job["checkpoint_urls"] == [CHECKPOINT_1]
    assert call(coordinator, "GET", "/api/jobs/poll").json()["id"] == job_id


def test_metrics_before_running_is_409(
    coordinator: CoordinatorServer, corpus_file: Path
) -> None:
    job_id = coordinator.seed(corpus_file)["job_id"]

    response = call(
        coordinator,
        "PATCH",
        f"/api/jobs/{job_id}/metrics",
        json={"metrics": {"loss": 1.0}, "phase": 1},
    )

    assert response.status_code == 409
    assert "set status 'running' first" in response.json()["errors"]["detail"]


def test_concurrent_claims_never_share_job(
    coordinator: CoordinatorServer, corpus_file: Path
) -> None:
    job_ids = {coordinator.seed(corpus_file)["job_id"] for _ in range(10)}
    barrier = threading.Barrier(16)
    results: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def claim(worker: int) -> None:
        with requests.Session() as session:
            barrier.wait()
            response = session.post(
                coordinator.url + "/api/jobs/claim",
                json={"worker_id": f"w{worker}"},
                timeout=10,
            )
        claimed = response.json()["job"]["id"] if response.status_code == 200 else None
        with lock:
            results.append((response.status_code, claimed))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    claimed = [job_id for status, job_id in results if status == 200]
    assert len(results) == 16
    assert sorted(status for status, _ in results) == [200] * 10 + [204] * 6
    assert len(set(claimed)) == len(claimed)
    assert set(claimed) == job_ids
    assert coordinator.admin.list_jobs("queued") == []


def test_claim_returns_job_and_lease(
    strict_with_clock: CoordinatorServer, corpus_file: Path
) -> None:
    job_id = strict_with_clock.seed(corpus_file)["job_id"]

    response = call(
        strict_with_clock,
        "POST",
        "/api/jobs/claim",
        json={"worker_id": "w1", "lease_seconds": 30},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["job"]["id"] == job_id
    assert body["job"]["status"] == "running"
    assert body["job"]["worker_id"] == "w1"
    assert body["lease"] == {
        "worker_id": "w1",
        "expires_at": "2025-12-01T00:00:30.000000Z",
    }


def test_claim_empty_queue_is_204(coordinator: CoordinatorServer) -> None:
    response = call(coordinator, "POST", "/api/jobs/claim", json={"worker_id": "w1"})

    assert response.status_code == 204
    assert response.content == b""


def test_expired_lease_requeues_keeping_checkpoints(
    strict_with_clock: CoordinatorServer, clock: FakeClock, corpus_file: Path
) -> None:
    server = strict_with_clock
    job_id = server.seed(corpus_file)["job_id"]
    call(
        server, "POST", "/api/jobs/claim", json={"worker_id": "w1", "lease_seconds": 30}
    )
    assert call(
        server,
        "POST",
        f"/api/jobs/{job_id}/checkpoints",
        json={"checkpoint_url": CHECKPOINT_1, "phase": 1},
    ).ok

    clock.advance(31)
    job = server.admin.get_job(job_id)

    assert job["status"] == "queued"
    assert job["worker_id"] is None
    assert job["lease_expires_at"] is None
    assert job["checkpoint_urls"] == [CHECKPOINT_1]
    assert job["phase"] == 1
    renewal = call(
        server, "POST", f"/api/jobs/{job_id}/lease", json={"worker_id": "w1"}
    )
    assert renewal.status_code == 409
    assert "has no lease" in renewal.json()["errors"]["detail"]
    again = call(server, "POST", "/api/jobs/claim", json={"worker_id": "w2"})
    assert again.json()["job"]["id"] == job_id
    assert again.json()["job"]["checkpoint_urls"] == [CHECKPOINT_1]


def test_lease_renewal_extends(
    strict_with_clock: CoordinatorServer, clock: FakeClock, corpus_file: Path
) -> None:
    server = strict_with_clock
    job_id = server.seed(corpus_file)["job_id"]
    call(
        server, "POST", "/api/jobs/claim", json={"worker_id": "w1", "lease_seconds": 30}
    )

    clock.advance(20)
    renewal = call(
        server,
        "POST",
        f"/api/jobs/{job_id}/lease",
        json={"worker_id": "w1", "lease_seconds": 30},
    )
    clock.advance(20)

    assert renewal.status_code == 200
    assert renewal.json()["lease"]["expires_at"] == "2025-12-01T00:00:50.000000Z"
    assert server.admin.get_job(job_id)["status"] == "running"


def test_lease_renewal_by_other_worker_is_409(
    coordinator: CoordinatorServer, corpus_file: Path
) -> None:
    job_id = coordinator.seed(corpus_file)["job_id"]
    call(coordinator, "POST", "/api/jobs/claim", json={"worker_id": "w1"})

    response = call(
        coordinator, "POST", f"/api/jobs/{job_id}/lease", json={"worker_id": "w2"}
    )

    assert response.status_code == 409
    assert "leased to worker 'w1', not 'w2'" in response.json()["errors"]["detail"]


def test_idempotency_key_repeat_appends_nothing(
    coordinator: CoordinatorServer, corpus_file: Path
) -> None:
    job_id = running_job(coordinator, corpus_file)
    path = f"/api/jobs/{job_id}/checkpoints"
    headers = {"Idempotency-Key": "job-phase-1"}
    body = {"checkpoint_url": CHECKPOINT_1, "phase": 1}

    first = call(coordinator, "POST", path, json=body, headers=headers)
    second = call(coordinator, "POST", path, json=body, headers=headers)

    for response in (first, second):
        assert response.status_code == 200
        assert response.json() == {"ok": True}
        assert response.headers["Idempotency-Key-Honored"] == "true"
    assert coordinator.admin.get_job(job_id)["checkpoint_urls"] == [CHECKPOINT_1]


def test_idempotency_key_reused_other_body_409(
    coordinator: CoordinatorServer, corpus_file: Path
) -> None:
    job_id = running_job(coordinator, corpus_file)
    path = f"/api/jobs/{job_id}/checkpoints"
    headers = {"Idempotency-Key": "k1"}
    call(
        coordinator,
        "POST",
        path,
        json={"checkpoint_url": CHECKPOINT_1},
        headers=headers,
    )

    response = call(
        coordinator,
        "POST",
        path,
        json={"checkpoint_url": CHECKPOINT_2},
        headers=headers,
    )

    assert response.status_code == 409
    assert (
        "first used with a different request body"
        in (response.json()["errors"]["detail"])
    )


def test_request_without_key_has_no_honored_header(
    coordinator: CoordinatorServer, corpus_file: Path
) -> None:
    job_id = running_job(coordinator, corpus_file)

    response = call(
        coordinator,
        "POST",
        f"/api/jobs/{job_id}/checkpoints",
        json={"checkpoint_url": CHECKPOINT_1},
    )

    assert response.status_code == 200
    assert "Idempotency-Key-Honored" not in response.headers


def test_strict_skips_repeated_checkpoint_url(
    coordinator: CoordinatorServer, corpus_file: Path
) -> None:
    job_id = running_job(coordinator, corpus_file)
    path = f"/api/jobs/{job_id}/checkpoints"

    for _ in range(2):
        assert call(coordinator, "POST", path, json={"checkpoint_url": CHECKPOINT_1}).ok

    assert coordinator.admin.get_job(job_id)["checkpoint_urls"] == [CHECKPOINT_1]


# (method, route suffix after /api/jobs/{id}, raw body or JSON, field named)
MALFORMED = [
    ("PATCH", "status", {}, "status"),
    ("PATCH", "status", {"status": "training"}, "status"),
    ("PATCH", "status", {"status": 1}, "status"),
    ("PATCH", "status", [], "body"),
    ("PATCH", "status", b"status=running", "body"),
    ("PATCH", "status", {"status": "failed", "error_message": 5}, "error_message"),
    ("PATCH", "status", {"status": "completed", "final_model_id": 7}, "final_model_id"),
    ("PATCH", "metrics", {"phase": 1}, "metrics"),
    ("PATCH", "metrics", {"metrics": [], "phase": 1}, "metrics"),
    ("PATCH", "metrics", {"metrics": {"loss": "high"}, "phase": 1}, "metrics.loss"),
    ("PATCH", "metrics", b'{"metrics": {"loss": NaN}, "phase": 1}', "metrics.loss"),
    ("PATCH", "metrics", {"metrics": {}, "phase": 5}, "phase"),
    ("PATCH", "metrics", {"metrics": {}, "phase": -1}, "phase"),
    ("PATCH", "metrics", {"metrics": {}, "phase": "1"}, "phase"),
    ("PATCH", "metrics", {"metrics": {}, "phase": True}, "phase"),
    ("PATCH", "metrics", b"{not json", "body"),
    ("POST", "checkpoints", {}, "checkpoint_url"),
    ("POST", "checkpoints", {"checkpoint_url": ""}, "checkpoint_url"),
    ("POST", "checkpoints", {"checkpoint_url": 3}, "checkpoint_url"),
    ("POST", "checkpoints", {"checkpoint_url": "s3://b/k", "phase": 5}, "phase"),
    ("POST", "checkpoints", b"", "body"),
]


@pytest.mark.parametrize(("method", "action", "body", "field"), MALFORMED)
def test_malformed_body_is_422_naming_field(
    coordinator: CoordinatorServer,
    corpus_file: Path,
    method: str,
    action: str,
    body: object,
    field: str,
) -> None:
    job_id = running_job(coordinator, corpus_file)
    path = f"/api/jobs/{job_id}/{action}"
    if isinstance(body, bytes):
        response = call(
            coordinator,
            method,
            path,
            data=body,
            headers={"Content-Type": "application/json"},
        )
    else:
        response = call(coordinator, method, path, json=body)

    assert response.status_code == 422, response.text
    error = response.json()["errors"]
    assert error["field"] == field
    assert field in error["detail"] or field == "body"
    assert coordinator.admin.get_job(job_id)["status"] == "running"


@pytest.mark.parametrize(("method", "action", "body", "field"), MALFORMED)
def test_malformed_body_compat_is_bare_400(
    compat_coordinator: CoordinatorServer,
    corpus_file: Path,
    method: str,
    action: str,
    body: object,
    field: str,
) -> None:
    job_id = running_job(compat_coordinator, corpus_file)
    path = f"/api/jobs/{job_id}/{action}"
    if isinstance(body, bytes):
        response = call(
            compat_coordinator,
            method,
            path,
            data=body,
            headers={"Content-Type": "application/json"},
        )
    else:
        response = call(compat_coordinator, method, path, json=body)

    assert response.status_code == 400, response.text
    assert response.json() == {"errors": {"detail": "Bad Request"}}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "worker_id"),
        ({"worker_id": ""}, "worker_id"),
        ({"worker_id": "w", "lease_seconds": -1}, "lease_seconds"),
        ({"worker_id": "w", "lease_seconds": "ten"}, "lease_seconds"),
    ],
)
def test_malformed_claim_is_422(
    coordinator: CoordinatorServer, body: object, field: str
) -> None:
    response = call(coordinator, "POST", "/api/jobs/claim", json=body)

    assert response.status_code == 422
    assert response.json()["errors"]["field"] == field
