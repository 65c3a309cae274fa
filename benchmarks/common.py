"""Shared pieces of the benchmarks: results, tables, JSON files and local servers."""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
VENV_BIN = Path(sys.executable).parent

# The shared data folder sits next to the repository, in CI as on a desk.
SHAKESPEARE_CORPUS = REPO_ROOT.parent / "shared" / "data" / "shakespeare.jsonl"

S3_REGION = "us-east-1"


@dataclass(frozen=True)
class RunOptions:
    """Size settings of one benchmark run."""

    smoke: bool = False
    budget_seconds: float | None = None


@dataclass
class BenchmarkResult:
    """One benchmark's figures: table rows, the target and whether it was met.

    `target_met` is None where the benchmark has no target or was skipped.
    """

    name: str
    title: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    target: str = ""
    target_met: bool | None = None
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    smoke: bool = False
    seconds: float = 0.0


class BenchmarkSkipped(Exception):
    """A benchmark cannot run here; the message names what is missing."""


def shakespeare_corpus() -> Path:
    """Return the Shakespeare JSONL corpus, or raise `BenchmarkSkipped`."""
    if not SHAKESPEARE_CORPUS.is_file():
        raise BenchmarkSkipped(
            f"corpus {SHAKESPEARE_CORPUS} not found: this benchmark trains on "
            "the shared Shakespeare corpus, expected at ../shared/data/ from "
            "the repository root"
        )
    return SHAKESPEARE_CORPUS


def machine_description() -> dict[str, Any]:
    """Return the CPU model, core count and memory of this machine."""
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        import psutil

        memory_gib = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    return {
        "cpu_model": model,
        "cpus": os.cpu_count(),
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def format_value(value: Any) -> str:
    """Format a table cell: 4 significant digits for floats."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.4g}"
    if value is None:
        return "-"
    return str(value)


def print_table(result: BenchmarkResult) -> None:
    """Print a benchmark's rows as an aligned table with its target line."""
    print()
    print(f"== {result.name}: {result.title}" + (" (smoke)" if result.smoke else ""))
    if result.skipped:
        print(f"   skipped: {result.skipped}")
        return

    cells = [result.columns] + [
        [format_value(row.get(column)) for column in result.columns]
        for row in result.rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(result.columns))]
    for index, line in enumerate(cells):
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(line, widths)))
        if index == 0:
            print("  " + "  ".join("-" * width for width in widths))
    if result.target:
        verdict = {True: "met", False: "MISSED", None: "not judged"}[result.target_met]
        if result.smoke:
            verdict = "not judged at smoke sizes"
        print(f"  target: {result.target} -> {verdict}")
    for note in result.notes:
        print(f"  note: {note}")
    print(f"  ({result.seconds:.0f} s)")


def write_json(result: BenchmarkResult) -> Path:
    """Write a result with the machine and date to benchmarks/results/NAME.json."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    suffix = "-smoke" if result.smoke else ""
    path = RESULTS_DIR / f"{result.name}{suffix}.json"
    document = {
        **asdict(result),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_description(),
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path


def percentile(values: Sequence[float], share: float) -> float:
    """Return the `share` (0 to 1) percentile of `values`, interpolated."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of an empty sequence")
    position = share * (len(ordered) - 1)
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    weight = position - lower
    return ordered[lower] * (1 - weight) + ordered[upper] * weight


def median(values: Sequence[float]) -> float:
    """Return the median of `values`."""
    return float(statistics.median(values))


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def use_fake_aws_environment() -> None:
    """Point boto3 at fake credentials and away from profiles and metadata hosts."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ["AWS_ACCESS_KEY_ID"] = "benchmark-access-key"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "benchmark-secret-key"
    os.environ["AWS_DEFAULT_REGION"] = S3_REGION
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    os.environ["AWS_CONFIG_FILE"] = os.devnull


@contextmanager
def moto_server() -> Iterator[str]:
    """Run moto's S3 server in a child process on loopback; yield its endpoint.

    A separate process keeps the server's work off this process's GIL, so
    the client side is timed alone.
    """
    use_fake_aws_environment()
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_http(f"{endpoint}/moto-api/", process, "moto S3 server")
        yield endpoint
    finally:
        _stop(process)


@contextmanager
def coordinator_process(db: Path | None = None) -> Iterator[str]:
    """Run the stand-in coordinator in a child process; yield its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        str(VENV_BIN / "cerebros-coordinator"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if db is not None:
        command += ["--db", str(db)]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_for_http(f"{url}/api/jobs", process, "stand-in coordinator")
        yield url
    finally:
        _stop(process)


def make_s3_client(endpoint: str) -> Any:
    """Return a plain path-style boto3 S3 client for a loopback endpoint."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=S3_REGION,
        config=Config(s3={"addressing_style": "path"}),
    )


def _wait_for_http(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{what} exited with status {process.returncode} before serving"
            )
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                response.read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not respond at {url} within 30 s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
