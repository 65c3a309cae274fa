"""Fault injection from Python and over the admin HTTP endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from cerebros_client.testing import CoordinatorServer, FaultSet

from .support import call, running_job


def test_status_fault_applies_n_times(coordinator: CoordinatorServer) -> None:
    coordinator.faults.add("GET", "/api/jobs/poll", status=503, times=2)

    statuses = [
        call(coordinator, "GET", "/api/jobs/poll").status_code for _ in range(3)
    ]

    assert statuses == [503, 503, 204]
    assert coordinator.faults.pending() == []


def test_status_fault_custom_body(coordinator: CoordinatorServer) -> None:
    coordinator.faults.add("GET", "/api/jobs/poll", status=500, body='{"oops": 1}')

    response = call(coordinator, "GET", "/api/jobs/poll")

    assert response.status_code == 500
    assert response.json() == {"oops": 1}


def test_html_fault_sends_proxy_page(coordinator: CoordinatorServer) -> None:
    coordinator.faults.add("*", "/api/*", html=True)

    response = call(coordinator, "GET", "/api/jobs/poll")

    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>502 Bad Gateway</h1>" in response.text


def test_fault_matches_method_and_glob(
    coordinator: CoordinatorServer, corpus_file: Path
) -> None:
    job_id = running_job(coordinator, corpus_file)
    coordinator.faults.add("POST", "/api/jobs/*/checkpoints", status=503)

    other_method = call(coordinator, "GET", f"/api/jobs/{job_id}")
    matched = call(
        coordinator,
        "POST",
        f"/api/jobs/{job_id}/checkpoints",
        json={"checkpoint_url": "s3://b/k"},
    )

    assert other_method.status_code == 200
    assert matched.status_code == 503
    assert coordinator.admin.get_job(job_id)["checkpoint_urls"] == []


def test_delay_fault_then_normal_answer(coordinator: CoordinatorServer) -> None:
    coordinator.faults.add("GET", "/api/jobs/poll", delay=0.05)

    response = call(coordinator, "GET", "/api/jobs/poll")

    assert response.status_code == 204
    assert coordinator.faults.pending() == []


def test_drop_closes_without_answer(coordinator: CoordinatorServer) -> None:
    coordinator.faults.add("GET", "/api/jobs/poll", drop=True)

    with pytest.raises(requests.ConnectionError):
        call(coordinator, "GET", "/api/jobs/poll")

    assert call(coordinator, "GET", "/api/jobs/poll").status_code == 204


def test_drop_after_handler_keeps_change(
    coordinator: CoordinatorServer, corpus_file: Path
) -> None:
    job_id = running_job(coordinator, corpus_file)
    path = f"/api/jobs/{job_id}/checkpoints"
    coordinator.faults.add("POST", path, drop=True, after_handler=True)
    body = {"checkpoint_url": "s3://b/phase-1.keras", "phase": 1}
    headers = {"Idempotency-Key": "k1"}

    with pytest.raises(requests.ConnectionError):
        call(coordinator, "POST", path, json=body, headers=headers)
    retry = call(coordinator, "POST", path, json=body, headers=headers)

    assert retry.status_code == 200
    assert retry.headers["Idempotency-Key-Honored"] == "true"
    job = coordinator.admin.get_job(job_id)
    assert job["checkpoint_urls"] == ["s3://b/phase-1.keras"]


def test_truncate_cuts_body(coordinator: CoordinatorServer, corpus_file: Path) -> None:
    coordinator.seed(corpus_file)
    coordinator.faults.add("GET", "/api/jobs/poll", truncate=True)

    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        call(coordinator, "GET", "/api/jobs/poll")

    assert call(coordinator, "GET", "/api/jobs/poll").status_code == 200


def test_admin_paths_are_never_faulted(coordinator: CoordinatorServer) -> None:
    coordinator.faults.add("*", "*", status=500)

    listing = call(coordinator, "GET", "/_admin/faults")

    assert listing.status_code == 200
    assert len(listing.json()["faults"]) == 1


def test_faults_over_http(coordinator: CoordinatorServer) -> None:
    created = call(
        coordinator,
        "POST",
        "/_admin/faults",
        json={"method": "GET", "path": "/api/jobs/poll", "status": 429, "times": 2},
    )
    listed = call(coordinator, "GET", "/_admin/faults").json()["faults"]
    faulted = call(coordinator, "GET", "/api/jobs/poll")
    cleared = call(coordinator, "DELETE", "/_admin/faults")
    after = call(coordinator, "GET", "/api/jobs/poll")

    assert created.status_code == 201
    assert created.json()["remaining"] == 2
    assert [fault["id"] for fault in listed] == [created.json()["id"]]
    assert faulted.status_code == 429
    assert cleared.status_code == 204
    assert cleared.content == b""
    assert after.status_code == 204


def test_faults_over_http_in_compat(compat_coordinator: CoordinatorServer) -> None:
    created = call(
        compat_coordinator,
        "POST",
        "/_admin/faults",
        json={"path": "/api/jobs/poll", "drop": True},
    )

    assert created.status_code == 201
    with pytest.raises(requests.ConnectionError):
        call(compat_coordinator, "GET", "/api/jobs/poll")


def test_contradictory_fault_over_http_is_422(coordinator: CoordinatorServer) -> None:
    response = call(
        coordinator,
        "POST",
        "/_admin/faults",
        json={"path": "/api/*", "drop": True, "truncate": True},
    )

    assert response.status_code == 422
    assert "a fault can be only one of" in response.json()["errors"]["detail"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"status": 503, "drop": True}, "a fault can be only one of"),
        ({"status": 700}, "fault status must be 100..599"),
        ({"status": 503, "times": 0}, "fault times must be at least 1"),
        ({"status": 503, "after_handler": True}, "after_handler applies only to drop"),
        ({}, "a fault needs status, html, drop, truncate or a delay"),
        ({"delay": -1.0}, "fault delay must be >= 0"),
    ],
)
def test_fault_set_rejects_bad_options(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        FaultSet().add("GET", "/api/jobs/poll", **options)  # type: ignore[arg-type]
