"""Many workers: several `cerebros-trainer` processes draining one queue.

One worker process drains a first batch of small jobs, then several
workers drain a larger batch, each worker having the same number of jobs
on average. Every job must be trained exactly once: completed, with exactly
one checkpoint per phase registered and stored, and taken by one worker
only (counted from the "Took job" lines of the workers' logs). A breach
raises, at smoke sizes too. The figure is jobs per minute, from starting
the processes to the last job's completion, against the single worker.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.common import (
    S3_REGION,
    SHAKESPEARE_CORPUS,
    VENV_BIN,
    BenchmarkResult,
    RunOptions,
    coordinator_process,
    make_s3_client,
    moto_server,
)

TITLE = "jobs per minute, several workers against one"
BUCKET = "cerebros-bench"
PREFIX = "checkpoints"
PHASES = 2
JOB_HYPERPARAMETERS: dict[str, Any] = {
    "n_epochs": 1,
    "phases": PHASES,
    "batch_size": 8,
    "learning_rate": 0.01,
    "seq_len": 16,
    "hidden_units": 16,
    "embedding_dim": 8,
    "max_steps_per_epoch": 4,
    "validation_split": 0.2,
}
FINAL_STATUSES = {"completed", "failed", "cancelled"}
TOOK_JOB = re.compile(r"Took job (\S+)")
DRAIN_TIMEOUT_SECONDS = 900.0


def run(options: RunOptions) -> BenchmarkResult:
    """Drain a queue with one worker, then with several, and check every job."""
    from cerebros_client.testing.seed import AdminClient

    workers, jobs = (2, 4) if options.smoke else (4, 40)
    # Smoke runs give the single worker one job, to stay short.
    single_jobs = 1 if options.smoke else jobs // workers
    with (
        tempfile.TemporaryDirectory(prefix="cerebros-bench-workers-") as workdir,
        moto_server() as endpoint,
        coordinator_process() as url,
    ):
        root = Path(workdir)
        corpus = _small_corpus(root / "corpus.jsonl")
        make_s3_client(endpoint).create_bucket(Bucket=BUCKET)
        admin = AdminClient(url)
        single = _drain(admin, url, endpoint, corpus, root / "one", 1, single_jobs)
        several = _drain(admin, url, endpoint, corpus, root / "many", workers, jobs)

    rows = [single, several]
    for row in rows:
        row["vs one worker"] = row["jobs/min"] / single["jobs/min"]
    return BenchmarkResult(
        name="many_workers",
        title=TITLE,
        columns=[
            "workers",
            "jobs",
            "seconds",
            "jobs/min",
            "vs one worker",
            "jobs per worker",
            "trained once",
        ],
        rows=rows,
        notes=[
            (
                "seconds run from starting the worker processes (each imports "
                "TensorFlow) to the last job's completion"
            ),
            f"small jobs of {PHASES} phases: {JOB_HYPERPARAMETERS}",
        ],
    )


def _small_corpus(path: Path) -> Path:
    """Write the first 2,000 records of the Shakespeare corpus, or sentences."""
    if SHAKESPEARE_CORPUS.is_file():
        lines = SHAKESPEARE_CORPUS.read_text(encoding="utf-8").splitlines()[:2000]
    else:
        lines = [
            json.dumps({"text": f"Line {index}: a worker trains one job."})
            for index in range(2000)
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _drain(
    admin: Any,
    url: str,
    endpoint: str,
    corpus: Path,
    root: Path,
    workers: int,
    jobs: int,
) -> dict[str, Any]:
    job_ids = [
        admin.seed(corpus, model_id="byte-gru", hyperparameters=JOB_HYPERPARAMETERS)[
            "job_id"
        ]
        for _ in range(jobs)
    ]
    started = time.monotonic()
    processes = [
        _start_worker(url, endpoint, root / f"worker-{index}", index)
        for index in range(workers)
    ]
    try:
        _wait_until_final(admin, job_ids, processes)
        seconds = time.monotonic() - started
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)

    taken = _jobs_taken(root, workers)
    _check_trained_once(admin, endpoint, job_ids, taken)
    per_worker = sorted(Counter(worker for worker, _ in taken).values())
    return {
        "workers": workers,
        "jobs": jobs,
        "seconds": seconds,
        "jobs/min": jobs * 60 / seconds,
        "jobs per worker": "/".join(str(count) for count in per_worker),
        "trained once": True,
    }


def _start_worker(
    url: str, endpoint: str, root: Path, index: int
) -> subprocess.Popen[bytes]:
    root.mkdir(parents=True)
    environment = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "THUNDERLINE_API_URL": url,
        "CEREBROS_CHECKPOINT_URL": f"s3://{BUCKET}/{PREFIX}",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": S3_REGION,
        "CEREBROS_STATE_DIR": str(root / "state"),
        "CEREBROS_CACHE_DIR": str(root / "cache"),
        "CEREBROS_LOG_FILE": str(root / "worker.log"),
        "CEREBROS_WORKER_ID": f"benchmark-worker-{index}",
        "POLL_INTERVAL": "0.5",
    }
    return subprocess.Popen(
        [str(VENV_BIN / "cerebros-trainer")],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_until_final(
    admin: Any, job_ids: list[str], processes: list[subprocess.Popen[bytes]]
) -> None:
    wanted = set(job_ids)
    deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        final = {
            job["id"]
            for job in admin.list_jobs()
            if job["id"] in wanted and job["status"] in FINAL_STATUSES
        }
        if final == wanted:
            return
        exited = [
            process.returncode for process in processes if process.poll() is not None
        ]
        if len(exited) == len(processes):
            raise RuntimeError(
                f"every worker exited (statuses {exited}) with "
                f"{len(wanted - final)} jobs unfinished"
            )
        time.sleep(0.25)
    raise RuntimeError(
        f"workers did not finish {len(job_ids)} jobs within {DRAIN_TIMEOUT_SECONDS:g} s"
    )


def _jobs_taken(root: Path, workers: int) -> list[tuple[int, str]]:
    """Return (worker index, job id) for every "Took job" line of every log."""
    taken = []
    for index in range(workers):
        log = root / f"worker-{index}" / "worker.log"
        for match in TOOK_JOB.finditer(log.read_text(errors="replace")):
            taken.append((index, match.group(1)))
    return taken


def _check_trained_once(
    admin: Any, endpoint: str, job_ids: list[str], taken: list[tuple[int, str]]
) -> None:
    """Raise unless each job completed once, with one checkpoint per phase."""
    problems = []
    claims = Counter(job_id for _, job_id in taken)
    client = make_s3_client(endpoint)
    for job_id in job_ids:
        job = admin.get_job(job_id)
        expected = [
            f"s3://{BUCKET}/{PREFIX}/{job_id}/phase-{phase}.keras"
            for phase in range(1, PHASES + 1)
        ]
        listing = client.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/{job_id}/")
        stored = sorted(
            f"s3://{BUCKET}/{item['Key']}" for item in listing.get("Contents", [])
        )
        if job["status"] != "completed":
            problems.append(
                f"job {job_id} is {job['status']}: {job.get('error_message')}"
            )
        if job.get("checkpoint_urls") != expected:
            problems.append(
                f"job {job_id} registered checkpoints {job.get('checkpoint_urls')}, "
                f"expected {expected}"
            )
        if stored != expected:
            problems.append(f"job {job_id} stored {stored}, expected {expected}")
        if claims[job_id] != 1:
            problems.append(
                f"job {job_id} was taken {claims[job_id]} times, expected 1"
            )
    if problems:
        raise RuntimeError(
            "jobs were not each trained exactly once: " + "; ".join(problems)
        )
