"""Client overhead: `CerebrosClient` calls against raw `requests.Session` calls.

Both send the same requests to the same stand-in coordinator, which runs in
its own process on loopback. The client adds argument checks, error
translation, retries and pydantic parsing. The raw calls decode JSON but
validate nothing. Target: the client's median at most 1.2 times the raw
median for each call. Also measured: the CPU an idle `cerebros-trainer`
daemon uses while it polls an empty queue, with its default poll interval
and heartbeat settings.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from benchmarks.common import (
    VENV_BIN,
    BenchmarkResult,
    RunOptions,
    coordinator_process,
    median,
    percentile,
)

TITLE = "client overhead per call, and an idle daemon's CPU"
TARGET_RATIO = 1.2
BLOCK = 50
METRICS = {"loss": 1.25, "accuracy": 0.61, "val_loss": 1.4, "tokens_per_second": 5e3}

Call = Callable[[], Any]


def run(options: RunOptions) -> BenchmarkResult:
    """Time each call both ways, then sample an idle daemon's CPU use."""
    calls_per_kind = 100 if options.smoke else 2000
    idle_seconds = 3.0 if options.smoke else 60.0
    with tempfile.TemporaryDirectory(prefix="cerebros-bench-client-") as workdir:
        with coordinator_process() as url:
            rows = _time_calls(url, Path(workdir), calls_per_kind)
        with coordinator_process() as url:
            idle = _idle_daemon_cpu(url, Path(workdir), idle_seconds)

    worst = max(row["median ratio"] for row in rows)
    rows.append(
        {
            "call": "idle cerebros-trainer daemon",
            "idle CPU s/min": idle["cpu_seconds"] * 60 / idle["wall_seconds"],
        }
    )
    return BenchmarkResult(
        name="client_overhead",
        title=TITLE,
        columns=[
            "call",
            "client median ms",
            "raw median ms",
            "median ratio",
            "client p99 ms",
            "raw p99 ms",
            "p99 ratio",
            "idle CPU s/min",
        ],
        rows=rows,
        target=f"client median <= {TARGET_RATIO}x raw requests.Session median",
        target_met=worst <= TARGET_RATIO,
        notes=[
            (
                f"{calls_per_kind} calls per kind and side, alternated in blocks of "
                f"{BLOCK} after a warm-up block"
            ),
            (
                f"idle daemon: {idle['cpu_seconds']:.3f} CPU s (user + system) over "
                f"{idle['wall_seconds']:.0f} s of polling an empty stand-in, "
                f"{100 * idle['cpu_seconds'] / idle['wall_seconds']:.2f}% of one "
                "core, default poll interval and heartbeat settings, measured after "
                "start-up"
            ),
        ],
    )


def _time_calls(url: str, workdir: Path, count: int) -> list[dict[str, Any]]:
    from cerebros_client import CerebrosClient
    from cerebros_client.testing import seed_job

    corpus = workdir / "corpus.jsonl"
    corpus.write_text('{"text": "one line"}\n')
    session = requests.Session()
    client = CerebrosClient(url)
    rows = []
    try:
        # Polling first, while the queue is still empty (204 responses).
        rows.append(
            _compare("poll_job (204)", *_poll_calls(client, session, url), count)
        )
        job_id = seed_job(url, str(corpus))["job_id"]
        rows.append(
            _compare(
                "get_job (200 JSON)", *_get_calls(client, session, url, job_id), count
            )
        )
        # The stand-in accepts metrics only for a running job.
        client.start_job(job_id)
        rows.append(
            _compare(
                "report_metrics (PATCH)",
                *_metrics_calls(client, session, url, job_id),
                count,
            )
        )
    finally:
        client.close()
        session.close()
    return rows


def _poll_calls(client: Any, session: requests.Session, url: str) -> tuple[Call, Call]:
    def raw() -> Any:
        response = session.get(f"{url}/api/jobs/poll", timeout=10)
        response.raise_for_status()
        return response.json() if response.status_code == 200 else None

    return client.poll_job, raw


def _get_calls(
    client: Any, session: requests.Session, url: str, job_id: str
) -> tuple[Call, Call]:
    def ours() -> Any:
        return client.get_job(job_id)

    def raw() -> Any:
        response = session.get(f"{url}/api/jobs/{job_id}", timeout=10)
        response.raise_for_status()
        return response.json()

    return ours, raw


def _metrics_calls(
    client: Any, session: requests.Session, url: str, job_id: str
) -> tuple[Call, Call]:
    def ours() -> None:
        client.report_metrics(job_id, METRICS, phase=1)

    def raw() -> None:
        response = session.patch(
            f"{url}/api/jobs/{job_id}/metrics",
            json={"metrics": METRICS, "phase": 1},
            timeout=10,
        )
        response.raise_for_status()

    return ours, raw


def _compare(name: str, ours: Call, raw: Call, count: int) -> dict[str, Any]:
    _timed(ours, BLOCK)
    _timed(raw, BLOCK)
    client_times: list[float] = []
    raw_times: list[float] = []
    for _ in range(max(count // BLOCK, 1)):
        client_times += _timed(ours, BLOCK)
        raw_times += _timed(raw, BLOCK)
    client_median = median(client_times) * 1000
    raw_median = median(raw_times) * 1000
    client_p99 = percentile(client_times, 0.99) * 1000
    raw_p99 = percentile(raw_times, 0.99) * 1000
    return {
        "call": name,
        "client median ms": client_median,
        "raw median ms": raw_median,
        "median ratio": client_median / raw_median,
        "client p99 ms": client_p99,
        "raw p99 ms": raw_p99,
        "p99 ratio": client_p99 / raw_p99,
    }


def _timed(call: Call, times: int) -> list[float]:
    durations = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        durations.append(time.perf_counter() - started)
    return durations


def _idle_daemon_cpu(url: str, workdir: Path, seconds: float) -> dict[str, float]:
    """Start `cerebros-trainer` on an empty queue and sample its CPU time."""
    import psutil

    log_file = workdir / "idle-daemon.log"
    environment = {
        **os.environ,
        "THUNDERLINE_API_URL": url,
        "CEREBROS_CHECKPOINT_URL": (workdir / "checkpoints").as_uri(),
        "CEREBROS_STATE_DIR": str(workdir / "state"),
        "CEREBROS_CACHE_DIR": str(workdir / "cache"),
        "CEREBROS_LOG_FILE": str(log_file),
        "CEREBROS_WORKER_ID": "idle-benchmark-worker",
    }
    process = subprocess.Popen(
        [str(VENV_BIN / "cerebros-trainer")],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_log(log_file, "started", process)
        # Let the first idle poll pass, so start-up work is not counted.
        time.sleep(1.0)
        watched = psutil.Process(process.pid)
        before = watched.cpu_times()
        started = time.monotonic()
        time.sleep(seconds)
        after = watched.cpu_times()
        wall = time.monotonic() - started
    finally:
        process.terminate()
        process.wait(timeout=30)
    cpu = (after.user - before.user) + (after.system - before.system)
    return {"cpu_seconds": cpu, "wall_seconds": wall}


def _wait_for_log(path: Path, text: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"cerebros-trainer exited with status {process.returncode} before "
                f"logging {text!r}; see {path}"
            )
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise RuntimeError(f"cerebros-trainer did not log {text!r} within 120 s")
