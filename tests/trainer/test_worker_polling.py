"""How the polling loop reports a coordinator that does not respond."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest

from cerebros_client import CerebrosClient, RetryPolicy
from cerebros_trainer.settings import WorkerSettings
from cerebros_trainer.worker import Worker


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def unreachable_worker(tmp_path: Path) -> Worker:
    url = f"http://127.0.0.1:{closed_port()}"
    settings = WorkerSettings(
        api_url=url,
        state_dir=tmp_path / "state",
        checkpoint_url=(tmp_path / "checkpoints").as_uri(),
        log_file="",
    )
    client = CerebrosClient(url, retry=RetryPolicy(max_attempts=1))
    return Worker(settings, client=client, observers=[])


def test_outage_warnings_are_thinned(
    unreachable_worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="cerebros_trainer.worker")

    with unreachable_worker:
        for _ in range(12):
            assert unreachable_worker._run_once_safely() is None

    failures = [
        record
        for record in caplog.records
        if record.name == "cerebros_trainer.worker"
        and "Could not reach the coordinator" in record.getMessage()
    ]
    warnings = [r for r in failures if r.levelno == logging.WARNING]
    assert len(failures) == 12
    assert len(warnings) == 4
    assert "10 failed polls in a row" in warnings[-1].getMessage()
    assert unreachable_worker.last_poll_failed
