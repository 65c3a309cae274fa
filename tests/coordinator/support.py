"""Helpers for the stand-in coordinator tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from cerebros_client.testing import CoordinatorServer


class FakeClock:
    """Clock that moves only when a test advances it."""

    def __init__(self, start: float = 1_764_547_200.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def call(
    server: CoordinatorServer, method: str, path: str, **kwargs: Any
) -> requests.Response:
    """Send one request to ``server`` with plain requests."""
    kwargs.setdefault("timeout", 10)
    return requests.request(method, server.url + path, **kwargs)


def running_job(server: CoordinatorServer, corpus: Path) -> str:
    """Seed a job and set it running; return its id."""
    job_id = server.seed(corpus)["job_id"]
    response = call(
        server, "PATCH", f"/api/jobs/{job_id}/status", json={"status": "running"}
    )
    assert response.status_code == 200, response.text
    return job_id
