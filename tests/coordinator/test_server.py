"""CoordinatorServer lifecycle, the admin helper and the OpenAPI document."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from cerebros_client.testing import CoordinatorServer

from .support import call


def test_url_before_start_raises() -> None:
    with pytest.raises(RuntimeError, match="call start\\(\\) first"):
        _ = CoordinatorServer().url


def test_start_twice_raises() -> None:
    server = CoordinatorServer().start()
    try:
        with pytest.raises(RuntimeError, match="already running"):
            server.start()
    finally:
        server.stop()


def test_stop_frees_port() -> None:
    server = CoordinatorServer().start()
    url = server.url
    server.stop()

    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/api/jobs/poll", timeout=5)


def test_restart_keeps_port() -> None:
    server = CoordinatorServer().start()
    port = server.port
    server.stop()
    server.start()
    try:
        assert server.port == port
        assert call(server, "GET", "/api/jobs/poll").status_code == 204
    finally:
        server.stop()


def test_admin_helper_round_trip(
    coordinator: CoordinatorServer, corpus_file: Path
) -> None:
    admin = coordinator.admin
    dataset = admin.create_dataset("Mine", metadata={"source": "test"})
    admin.freeze_dataset(dataset["id"])
    admin.set_corpus_path(dataset["id"], corpus_file)
    job = admin.create_job(
        dataset["id"],
        model_id="byte-lstm",
        hyperparameters={"n_epochs": 2},
        metadata={"k": "v"},
    )
    other = admin.create_job(dataset["id"])
    admin.cancel_job(other["id"])

    stored = admin.get_dataset(dataset["id"])
    assert stored["status"] == "frozen"
    assert stored["corpus_path"] == str(corpus_file.resolve())
    assert stored["total_chunks"] == 3
    assert stored["metadata"] == {"source": "test"}
    assert admin.get_job(job["id"])["hyperparameters"] == {"n_epochs": 2}
    assert admin.get_job(job["id"])["metadata"] == {"k": "v"}
    assert [j["id"] for j in admin.list_jobs("queued")] == [job["id"]]
    assert [j["id"] for j in admin.list_jobs("cancelled")] == [other["id"]]
    assert len(admin.list_jobs()) == 2


def test_admin_helper_raises_with_detail(coordinator: CoordinatorServer) -> None:
    with pytest.raises(requests.HTTPError, match="failed with 404.*job 'x' not found"):
        coordinator.admin.get_job("x")


def test_seed_defaults(coordinator: CoordinatorServer, corpus_file: Path) -> None:
    ids = coordinator.seed(corpus_file)

    job = coordinator.admin.get_job(ids["job_id"])
    assert job["training_dataset_id"] == ids["dataset_id"]
    assert job["model_id"] == "byte-gru"
    assert job["hyperparameters"] == {
        "n_epochs": 1,
        "batch_size": 32,
        "learning_rate": 0.001,
    }


def test_openapi_lists_endpoints(any_coordinator: CoordinatorServer) -> None:
    response = call(any_coordinator, "GET", "/openapi.json")

    paths = response.json()["paths"]
    assert response.status_code == 200
    for path in (
        "/api/jobs/poll",
        "/api/datasets/{dataset_id}/corpus",
        "/api/jobs/{job_id}/status",
        "/api/jobs/{job_id}/metrics",
        "/api/jobs/{job_id}/checkpoints",
        "/api/registry/register",
    ):
        assert path in paths
    assert ("/api/jobs/claim" in paths) == (any_coordinator.profile == "strict")


def test_plugin_fixture_profiles(
    coordinator: CoordinatorServer, compat_coordinator: CoordinatorServer
) -> None:
    assert coordinator.profile == "strict"
    assert compat_coordinator.profile == "thunderline-compat"
    assert coordinator.url != compat_coordinator.url
