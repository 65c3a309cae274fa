"""The cerebros-coordinator command line: serve and seed."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from cerebros_client.testing import CoordinatorServer
from cerebros_client.testing.cli import main


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_seed_prints_ids(
    coordinator: CoordinatorServer,
    corpus_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(
        [
            "seed",
            "--url",
            coordinator.url,
            "--corpus",
            str(corpus_file),
            "--model-id",
            "byte-lstm",
            "--hyperparameters",
            '{"n_epochs": 2, "batch_size": 8}',
        ]
    )

    lines = capsys.readouterr().out.splitlines()
    ids = json.loads(lines[0])
    job = coordinator.admin.get_job(ids["job_id"])
    assert status == 0
    assert len(lines) == 1
    assert set(ids) == {"dataset_id", "job_id"}
    assert job["model_id"] == "byte-lstm"
    assert job["hyperparameters"] == {"n_epochs": 2, "batch_size": 8}


def test_seed_reports_http_error(
    corpus_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with CoordinatorServer(tokens=["t"]) as server:
        status = main(["seed", "--url", server.url, "--corpus", str(corpus_file)])

    assert status == 1
    assert "failed with 401" in capsys.readouterr().err


def test_seed_rejects_non_object_json(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "seed",
                "--url",
                "http://127.0.0.1:1",
                "--corpus",
                "x",
                "--hyperparameters",
                "[1]",
            ]
        )

    assert exit_info.value.code == 2
    assert "expected a JSON object, received list" in capsys.readouterr().err


def test_serve_keeps_jobs_across_restart(tmp_path: Path, corpus_file: Path) -> None:
    db = tmp_path / "served.sqlite3"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "cerebros_client.testing.cli",
        "serve",
        "--port",
        str(port),
        "--db",
        str(db),
        "--token",
        "tok",
        "--log-level",
        "warning",
    ]
    headers = {"Authorization": "Bearer tok"}

    process = subprocess.Popen(command)
    try:
        _wait_until_up(url)
        seeded = subprocess.run(
            [
                sys.executable,
                "-m",
                "cerebros_client.testing.cli",
                "seed",
                "--url",
                url,
                "--corpus",
                str(corpus_file),
                "--token",
                "tok",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
    finally:
        process.terminate()
        process.wait(timeout=30)
    job_id = json.loads(seeded.stdout)["job_id"]

    process = subprocess.Popen(command)
    try:
        _wait_until_up(url)
        polled = requests.get(url + "/api/jobs/poll", headers=headers, timeout=10)
    finally:
        process.terminate()
        process.wait(timeout=30)

    assert polled.status_code == 200
    assert polled.json()["id"] == job_id


def _wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(url + "/openapi.json", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError(f"coordinator at {url} did not start within 30 s")
