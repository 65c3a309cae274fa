"""The thunderline-compat profile imitates each quirk of the deployed server."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from cerebros_client.testing import CoordinatorServer, get_profile

from .support import call, running_job

DEPLOYED_JOB_FIELDS = {
    "id",
    "training_dataset_id",
    "model_id",
    "status",
    "hyperparameters",
    "metadata",
    "phase",
    "metrics",
    "error_message",
    "started_at",
    "completed_at",
    "checkpoint_urls",
    "current_checkpoint_url",
    "fine_tuned_model",
    "model_loaded",
    "model_format",
    "inserted_at",
    "updated_at",
}
NOT_FOUND = {"errors": {"detail": "Not Found"}}
BAD_REQUEST = {"errors": {"detail": "Bad Request"}}
SERVER_ERROR = {"errors": {"detail": "Internal Server Error"}}


def test_unknown_profile_lists_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown coordinator profile 'lenient'"):
        get_profile("lenient")


def test_compat_has_no_claim_route(compat_coordinator: CoordinatorServer) -> None:
    response = call(
        compat_coordinator, "POST", "/api/jobs/claim", json={"worker_id": "w1"}
    )

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_compat_has_no_lease_route(
    compat_coordinator: CoordinatorServer, corpus_file: Path
) -> None:
    job_id = running_job(compat_coordinator, corpus_file)

    response = call(
        compat_coordinator,
        "POST",
        f"/api/jobs/{job_id}/lease",
        json={"worker_id": "w1"},
    )

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_compat_poll_sends_deployed_fields(
    compat_coordinator: CoordinatorServer, corpus_file: Path
) -> None:
    compat_coordinator.seed(corpus_file)

    job = call(compat_coordinator, "GET", "/api/jobs/poll").json()

    assert set(job) == DEPLOYED_JOB_FIELDS


def test_compat_allows_any_transition(
    compat_coordinator: CoordinatorServer, corpus_file: Path
) -> None:
    job_id = running_job(compat_coordinator, corpus_file)
    path = f"/api/jobs/{job_id}/status"

    completed = call(compat_coordinator, "PATCH", path, json={"status": "completed"})
    running = call(compat_coordinator, "PATCH", path, json={"status": "running"})

    assert completed.status_code == 200
    assert running.status_code == 200
    assert compat_coordinator.admin.get_job(job_id)["status"] == "running"


@pytest.mark.parametrize(
    ("method", "template", "body"),
    [
        ("PATCH", "/api/jobs/{}/status", {"status": "running"}),
        ("PATCH", "/api/jobs/{}/metrics", {"metrics": {"loss": 1.0}, "phase": 1}),
        ("POST", "/api/jobs/{}/checkpoints", {"checkpoint_url": "s3://b/k"}),
        ("GET", "/api/datasets/{}/corpus", None),
        ("GET", "/api/jobs/{}", None),
    ],
)
def test_compat_unknown_ids(
    compat_coordinator: CoordinatorServer, method: str, template: str, body: object
) -> None:
    well_formed = call(
        compat_coordinator, method, template.format(uuid.uuid4()), json=body
    )
    not_uuid = call(compat_coordinator, method, template.format("job-42"), json=body)

    assert well_formed.status_code == 500
    assert well_formed.json() == SERVER_ERROR
    assert not_uuid.status_code == 400
    assert not_uuid.json() == BAD_REQUEST


def test_compat_appends_duplicate_checkpoints(
    compat_coordinator: CoordinatorServer, corpus_file: Path
) -> None:
    job_id = running_job(compat_coordinator, corpus_file)
    path = f"/api/jobs/{job_id}/checkpoints"
    body = {"checkpoint_url": "s3://b/phase-1.keras", "phase": 1}
    headers = {"Idempotency-Key": "same-key"}

    first = call(compat_coordinator, "POST", path, json=body, headers=headers)
    second = call(compat_coordinator, "POST", path, json=body, headers=headers)

    assert first.status_code == 200
    assert second.status_code == 200
    assert "Idempotency-Key-Honored" not in second.headers
    job = compat_coordinator.admin.get_job(job_id)
    assert job["checkpoint_urls"] == ["s3://b/phase-1.keras"] * 2


def test_compat_checkpoint_phase_defaults_to_job(
    compat_coordinator: CoordinatorServer, corpus_file: Path
) -> None:
    job_id = running_job(compat_coordinator, corpus_file)
    call(
        compat_coordinator,
        "PATCH",
        f"/api/jobs/{job_id}/metrics",
        json={"metrics": {"loss": 1.0}, "phase": 3},
    )

    call(
        compat_coordinator,
        "POST",
        f"/api/jobs/{job_id}/checkpoints",
        json={"checkpoint_url": "s3://b/k"},
    )

    job = compat_coordinator.admin.get_job(job_id)
    assert job["phase"] == 3
    assert job["checkpoints"][0]["phase"] == 3
    assert job["current_checkpoint_url"] == "s3://b/k"


def test_compat_phase_over_4_is_400(
    compat_coordinator: CoordinatorServer, corpus_file: Path
) -> None:
    job_id = running_job(compat_coordinator, corpus_file)

    response = call(
        compat_coordinator,
        "PATCH",
        f"/api/jobs/{job_id}/metrics",
        json={"metrics": {"loss": 1.0}, "phase": 5},
    )

    assert response.status_code == 400
    assert response.json() == BAD_REQUEST


def test_compat_merges_metrics_shallowly(
    compat_coordinator: CoordinatorServer, corpus_file: Path
) -> None:
    job_id = running_job(compat_coordinator, corpus_file)
    path = f"/api/jobs/{job_id}/metrics"

    call(
        compat_coordinator,
        "PATCH",
        path,
        json={"metrics": {"loss": 2.0, "accuracy": 0.5}, "phase": 1},
    )
    call(compat_coordinator, "PATCH", path, json={"metrics": {"loss": 1.0}, "phase": 2})

    job = compat_coordinator.admin.get_job(job_id)
    assert job["metrics"] == {"loss": 1.0, "accuracy": 0.5}
    assert job["phase_metrics"] == {
        "1": {"loss": 2.0, "accuracy": 0.5},
        "2": {"loss": 1.0},
    }


def test_compat_ignores_final_model_id(
    compat_coordinator: CoordinatorServer, corpus_file: Path
) -> None:
    job_id = running_job(compat_coordinator, corpus_file)
    path = f"/api/jobs/{job_id}/status"

    call(
        compat_coordinator,
        "PATCH",
        path,
        json={"status": "completed", "final_model_id": "m-1"},
    )
    ignored = compat_coordinator.admin.get_job(job_id)
    call(
        compat_coordinator,
        "PATCH",
        path,
        json={"status": "completed", "fine_tuned_model": "m-2"},
    )
    stored = compat_coordinator.admin.get_job(job_id)

    assert ignored["fine_tuned_model"] is None
    assert "final_model_id" not in ignored
    assert stored["fine_tuned_model"] == "m-2"


def test_compat_corpus_without_path_is_500(
    compat_coordinator: CoordinatorServer,
) -> None:
    dataset = compat_coordinator.admin.create_dataset("empty")

    response = call(compat_coordinator, "GET", f"/api/datasets/{dataset['id']}/corpus")

    assert response.status_code == 500
    assert response.json() == SERVER_ERROR


def test_compat_unfrozen_dataset_takes_jobs(
    compat_coordinator: CoordinatorServer,
) -> None:
    dataset = compat_coordinator.admin.create_dataset("open")

    job = compat_coordinator.admin.create_job(dataset["id"], model_id="m")

    assert job["status"] == "queued"


def test_compat_wrong_method_is_404(compat_coordinator: CoordinatorServer) -> None:
    response = call(compat_coordinator, "DELETE", "/api/jobs/poll")

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_strict_wrong_method_is_405(coordinator: CoordinatorServer) -> None:
    response = call(coordinator, "DELETE", "/api/jobs/poll")

    assert response.status_code == 405
    assert response.json() == {"errors": {"detail": "Method Not Allowed"}}
