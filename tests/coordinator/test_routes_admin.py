"""Admin endpoints: datasets, job creation, listing and cancelling."""

from __future__ import annotations

from pathlib import Path

from cerebros_client.testing import CoordinatorServer

from .support import call, running_job


def test_job_on_unfrozen_dataset_is_409(coordinator: CoordinatorServer) -> None:
    dataset = coordinator.admin.create_dataset("open")

    response = call(
        coordinator,
        "POST",
        "/api/jobs",
        json={"training_dataset_id": dataset["id"], "model_id": "m"},
    )

    assert response.status_code == 409
    assert "is not frozen" in response.json()["errors"]["detail"]


def test_job_on_unknown_dataset_is_422(coordinator: CoordinatorServer) -> None:
    response = call(
        coordinator,
        "POST",
        "/api/jobs",
        json={"training_dataset_id": "nope", "model_id": "m"},
    )

    assert response.status_code == 422
    assert response.json()["errors"]["field"] == "training_dataset_id"
    assert "dataset 'nope' not found" in response.json()["errors"]["detail"]


def test_job_body_errors_name_field(coordinator: CoordinatorServer) -> None:
    cases = [
        ({"model_id": "m"}, "training_dataset_id"),
        ({"training_dataset_id": "d", "model_id": 3}, "model_id"),
        (
            {"training_dataset_id": "d", "model_id": "m", "hyperparameters": []},
            "hyperparameters",
        ),
    ]
    for body, field in cases:
        response = call(coordinator, "POST", "/api/jobs", json=body)
        assert response.status_code == 422
        assert response.json()["errors"]["field"] == field


def test_non_finite_hyperparameter_is_422(coordinator: CoordinatorServer) -> None:
    body = (
        b'{"training_dataset_id": "d", "model_id": "m", "hyperparameters": '
        b'{"learning_rate": Infinity}}'
    )

    response = call(
        coordinator,
        "POST",
        "/api/jobs",
        data=body,
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 422
    assert response.json()["errors"]["field"] == "hyperparameters"
    assert (
        "non-finite number inf at 'learning_rate'"
        in (response.json()["errors"]["detail"])
    )


def test_list_with_unknown_status_is_422(coordinator: CoordinatorServer) -> None:
    response = call(coordinator, "GET", "/api/jobs", params={"status": "training"})

    assert response.status_code == 422
    assert response.json()["errors"]["field"] == "status"


def test_cancel_completed_is_409(
    coordinator: CoordinatorServer, corpus_file: Path
) -> None:
    job_id = running_job(coordinator, corpus_file)
    call(
        coordinator, "PATCH", f"/api/jobs/{job_id}/status", json={"status": "completed"}
    )

    response = call(coordinator, "POST", f"/api/jobs/{job_id}/cancel")

    assert response.status_code == 409
    assert coordinator.admin.get_job(job_id)["status"] == "completed"


def test_cancelled_job_rejects_running(
    coordinator: CoordinatorServer, corpus_file: Path
) -> None:
    job_id = running_job(coordinator, corpus_file)
    assert call(coordinator, "POST", f"/api/jobs/{job_id}/cancel").json() == {
        "ok": True
    }

    response = call(
        coordinator,
        "PATCH",
        f"/api/jobs/{job_id}/metrics",
        json={"metrics": {"loss": 1.0}, "phase": 1},
    )

    assert response.status_code == 409
    assert "is 'cancelled'" in response.json()["errors"]["detail"]


def test_csv_directory_chunks_counted(
    coordinator: CoordinatorServer, tmp_path: Path
) -> None:
    corpus = tmp_path / "chunks"
    corpus.mkdir()
    (corpus / "part-1.csv").write_text("text\na\nb\n")
    (corpus / "part-2.csv").write_text("text\nc\n")
    dataset = coordinator.admin.create_dataset("csv")
    coordinator.admin.set_corpus_path(dataset["id"], corpus)

    response = call(coordinator, "GET", f"/api/datasets/{dataset['id']}/corpus")

    assert response.status_code == 200
    assert response.json()["total_chunks"] == 3


def test_url_corpus_path_kept(coordinator: CoordinatorServer) -> None:
    dataset = coordinator.admin.create_dataset("remote")
    coordinator.admin.set_corpus_path(dataset["id"], "s3://corpora/test.jsonl")

    response = call(coordinator, "GET", f"/api/datasets/{dataset['id']}/corpus")

    assert response.status_code == 200
    assert response.json()["corpus_path"] == "s3://corpora/test.jsonl"
