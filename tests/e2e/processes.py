"""Running `cerebros-trainer` as a child process and watching what it does.

The child is started with `sys.executable -m cerebros_trainer.cli`, so it is
the real daemon with its real signal handlers. Its settings come from the
environment, aimed at a stand-in coordinator and moto's S3 server on
loopback, and its stdout and stderr go to a file the test reads. Every wait
is bounded and polls a condition: no test sleeps a fixed time and hopes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from cerebros_client.testing import CoordinatorServer
from tests.fixtures_s3 import S3Server, s3_server  # noqa: F401
from tests.fixtures_worker import BUCKET, PREFIX, WorkerStack, write_tiny_corpus

T = TypeVar("T")

# Seconds to wait for a condition that a healthy worker reaches quickly; a
# child process spends the first few of them importing TensorFlow.
DEFAULT_TIMEOUT = 60.0
POLL_STEP = 0.05


def wait_until(
    condition: Callable[[], T | None],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    description: str,
    process: WorkerProcess | None = None,
) -> T:
    """Poll `condition` until it returns a truthy value, and return that value.

    Raises AssertionError naming `description` after `timeout` seconds, or
    at once when `process` exited, with the end of its output attached.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if process is not None and process.returncode is not None:
            raise AssertionError(
                f"worker exited with code {process.returncode} before "
                f"{description}:\n{process.output_tail()}"
            )
        if time.monotonic() > deadline:
            tail = process.output_tail() if process is not None else ""
            raise AssertionError(
                f"timed out after {timeout:g} s waiting for {description}\n{tail}"
            )
        time.sleep(POLL_STEP)


@dataclass
class WorkerProcess:
    """A running `cerebros-trainer` child and the file its output goes to."""

    popen: subprocess.Popen[bytes]
    output_path: Path
    state_dir: Path

    @property
    def pid(self) -> int:
        """Process id of the worker."""
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        """Exit status, or None while the worker runs."""
        return self.popen.poll()

    def output(self) -> str:
        """Return everything the worker wrote to stdout and stderr so far."""
        return self.output_path.read_text("utf-8", errors="replace")

    def output_tail(self, characters: int = 4000) -> str:
        """Return the end of the worker's output, for assertion messages."""
        return self.output()[-characters:]

    def wait_for_output(self, text: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Wait until `text` appears in the worker's output."""
        wait_until(
            lambda: text in self.output(),
            timeout=timeout,
            description=f"{text!r} in the worker output",
            process=self,
        )

    def send_signal(self, signum: int) -> None:
        """Send `signum` to the worker."""
        self.popen.send_signal(signum)

    def kill(self) -> int:
        """Kill the worker with SIGKILL and return its exit status."""
        self.popen.send_signal(signal.SIGKILL)
        return self.wait(timeout=10)

    def wait(self, *, timeout: float = DEFAULT_TIMEOUT) -> int:
        """Wait for the worker to exit and return its exit status."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired as error:
            raise AssertionError(
                f"worker {self.pid} still running after {timeout:g} s:\n"
                f"{self.output_tail()}"
            ) from error

    def stop(self) -> None:
        """Kill the worker if it still runs; used in test clean-up."""
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)


def worker_environment(
    stack: WorkerStack, state_dir: Path, *, api_url: str | None = None, **extra: Any
) -> dict[str, str]:
    """Return the child's environment: this process's, aimed at `stack`.

    The parent's environment already contains the fake AWS credentials that the
    `s3_server` fixture set. `extra` adds or overrides variables by name.
    """
    environment = dict(os.environ)
    environment.update(
        {
            "THUNDERLINE_API_URL": api_url or stack.coordinator.url,
            "CEREBROS_CHECKPOINT_URL": f"s3://{BUCKET}/{PREFIX}",
            "AWS_ENDPOINT_URL": stack.s3.endpoint_url,
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing-access-key",
            "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
            "AWS_EC2_METADATA_DISABLED": "true",
            "CEREBROS_STATE_DIR": str(state_dir),
            "CEREBROS_CACHE_DIR": str(stack.root / "cache"),
            "CEREBROS_LOG_FILE": "",
            "POLL_INTERVAL": "0.1",
            "CEREBROS_MAX_POLL_INTERVAL": "0.5",
            "CEREBROS_HEARTBEAT_INTERVAL": "1",
            "CEREBROS_LEASE_SECONDS": "30",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONUNBUFFERED": "1",
        }
    )
    for name in ("CEREBROS_WORKER_ID", "CEREBROS_API_TOKEN", "THUNDERLINE_URL"):
        environment.pop(name, None)
    environment.update({name: str(value) for name, value in extra.items()})
    return environment


def start_worker(
    stack: WorkerStack,
    *,
    name: str,
    state_dir: Path | None = None,
    args: Sequence[str] = ("--once",),
    api_url: str | None = None,
    **environment: Any,
) -> WorkerProcess:
    """Start `python -m cerebros_trainer.cli` against `stack` and return it.

    `name` labels the output file. Keyword arguments set environment
    variables of the child, such as `CEREBROS_GRACE_PERIOD="5"`.
    """
    state_dir = state_dir or stack.root / f"state-{name}"
    output_path = stack.root / f"{name}.out"
    env = worker_environment(stack, state_dir, api_url=api_url, **environment)
    command = [sys.executable, "-m", "cerebros_trainer.cli", "--log-level", "INFO"]
    with output_path.open("wb") as output:
        popen = subprocess.Popen(
            [*command, *args],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return WorkerProcess(popen, output_path, state_dir)


# Enough training that each phase lasts a few seconds on two CPU cores, so a
# test reliably catches the worker in the middle of phase 2.
LONG_PHASES: dict[str, Any] = {"n_epochs": 1, "max_steps_per_epoch": 200}
LONG_CORPUS_DOCUMENTS = 1500


@contextmanager
def running_stack(
    s3: S3Server, root: Path, *, profile: str = "strict"
) -> Iterator[WorkerStack]:
    """Start a coordinator on a SQLite file under `root`, with an empty bucket."""
    s3.create_bucket(BUCKET)
    corpus = write_tiny_corpus(
        root / "corpus" / "long.jsonl", documents=LONG_CORPUS_DOCUMENTS
    )
    server = CoordinatorServer(profile=profile, db=root / "coordinator.sqlite3")
    with server as coordinator:
        yield WorkerStack(coordinator, s3, corpus, root)


@pytest.fixture
def strict_stack(
    s3_server: S3Server,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> Iterator[WorkerStack]:
    """A strict coordinator with claims and leases, a bucket and a corpus."""
    with running_stack(s3_server, tmp_path) as stack:
        yield stack


@pytest.fixture
def compat_stack(
    s3_server: S3Server,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> Iterator[WorkerStack]:
    """A coordinator imitating the deployed server, a bucket and a corpus."""
    with running_stack(s3_server, tmp_path, profile="thunderline-compat") as stack:
        yield stack


class WorkerLauncher:
    """Starts worker processes for one test and kills any left at its end."""

    def __init__(self) -> None:
        self.processes: list[WorkerProcess] = []

    def start(self, stack: WorkerStack, name: str, **options: Any) -> WorkerProcess:
        """Start a worker; see `start_worker` for the options."""
        process = start_worker(stack, name=name, **options)
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        """Kill every worker that still runs."""
        for process in self.processes:
            process.stop()


@pytest.fixture
def launcher() -> Iterator[WorkerLauncher]:
    """Start worker processes; kill any still running when the test ends."""
    workers = WorkerLauncher()
    try:
        yield workers
    finally:
        workers.stop_all()


def checkpoint_url(job_id: str, name: str) -> str:
    """Return the URL the worker gives checkpoint `name` of a job."""
    return f"s3://{BUCKET}/{PREFIX}/{job_id}/{name}"


def checkpoint_key(job_id: str, name: str) -> str:
    """Return the bucket key of checkpoint `name` of a job."""
    return f"{PREFIX}/{job_id}/{name}"


def phase_one_registered(stack: WorkerStack, job_id: str) -> dict[str, Any] | None:
    """Return the job record once phase 1's checkpoint is registered, else None.

    The worker registers it right before it starts phase 2, so a record
    with that checkpoint and no later one means phase 2 is under way.
    """
    record = stack.job(job_id)
    if checkpoint_url(job_id, "phase-1.keras") in record["checkpoint_urls"]:
        return record
    return None
