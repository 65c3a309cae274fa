"""The service registry: register and heartbeat."""

from __future__ import annotations

from cerebros_client.testing import CoordinatorServer

from .support import call

SERVICE = {
    "service_id": "cerebros-1",
    "service_type": "cerebros",
    "name": "worker",
    "host": "127.0.0.1",
    "port": 8080,
    "capabilities": {"gpu": False},
    "metadata": {"version": "0.1.0"},
}


def test_register_and_heartbeat(any_coordinator: CoordinatorServer) -> None:
    registered = call(any_coordinator, "POST", "/api/registry/register", json=SERVICE)
    registration_id = registered.json()["id"]
    beat = call(
        any_coordinator,
        "PATCH",
        f"/api/registry/{registration_id}/heartbeat",
        json={"status": "busy", "metadata": {"current_job_id": "j1"}},
    )
    stored = call(any_coordinator, "GET", f"/api/registry/{registration_id}").json()

    assert registered.status_code == 201
    assert registered.json()["service_id"] == "cerebros-1"
    assert beat.status_code == 200
    assert beat.json() == {"ok": True}
    assert stored["status"] == "busy"
    assert stored["metadata"] == {"version": "0.1.0", "current_job_id": "j1"}


def test_heartbeat_unknown_is_404(any_coordinator: CoordinatorServer) -> None:
    response = call(
        any_coordinator,
        "PATCH",
        "/api/registry/6f1c0000-0000-0000-0000-000000000000/heartbeat",
        json={"status": "healthy"},
    )

    assert response.status_code == 404


def test_strict_register_again_keeps_id(coordinator: CoordinatorServer) -> None:
    first = call(coordinator, "POST", "/api/registry/register", json=SERVICE)
    second = call(
        coordinator, "POST", "/api/registry/register", json={**SERVICE, "port": 9090}
    )

    assert second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["port"] == 9090


def test_compat_register_again_is_400(compat_coordinator: CoordinatorServer) -> None:
    call(compat_coordinator, "POST", "/api/registry/register", json=SERVICE)

    again = call(compat_coordinator, "POST", "/api/registry/register", json=SERVICE)

    assert again.status_code == 400
    assert again.json() == {"errors": {"detail": "Bad Request"}}


def test_bad_heartbeat_status_is_422(coordinator: CoordinatorServer) -> None:
    registration_id = call(
        coordinator, "POST", "/api/registry/register", json=SERVICE
    ).json()["id"]

    response = call(
        coordinator,
        "PATCH",
        f"/api/registry/{registration_id}/heartbeat",
        json={"status": "sleeping"},
    )

    assert response.status_code == 422
    assert response.json()["errors"]["field"] == "status"
