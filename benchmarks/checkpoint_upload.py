"""Checkpoint upload: the worker's verified upload against a bare boto3 upload.

`S3CheckpointStore.upload` hashes the file, uploads it with its SHA-256 in
the object metadata and checks the stored size and digest with a HEAD
request. The baselines upload the same file to the same moto server with
`upload_file` and nothing else. One uses a default boto3 client and the
other the store's own client, with the same retries, checksum and transfer
settings, so the second ratio isolates the hashing and the check.
Target: at least 0.9 times the bare upload's MB/s.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import (
    S3_REGION,
    BenchmarkResult,
    RunOptions,
    make_s3_client,
    median,
    moto_server,
)

TITLE = "checkpoint upload, MB/s"
BUCKET = "cerebros-bench"
PREFIX = "checkpoints"
FULL_SIZES_MB = (4, 100)
SMOKE_SIZES_MB = (1,)
TARGET_RATIO = 0.9

Uploader = Callable[[Path, str], None]


def run(options: RunOptions) -> BenchmarkResult:
    """Upload files of each size with each uploader, alternating, and compare."""
    from cerebros_trainer.settings import WorkerSettings
    from cerebros_trainer.storage import open_checkpoint_store

    sizes = SMOKE_SIZES_MB if options.smoke else FULL_SIZES_MB
    repeats = 1 if options.smoke else 5
    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="cerebros-bench-upload-") as workdir,
        moto_server() as endpoint,
    ):
        plain_client = make_s3_client(endpoint)
        plain_client.create_bucket(Bucket=BUCKET)
        settings = WorkerSettings(
            checkpoint_url=f"s3://{BUCKET}/{PREFIX}",
            aws_endpoint_url=endpoint,
            aws_region=S3_REGION,
            state_dir=Path(workdir) / "state",
            log_file="",
        )
        store = open_checkpoint_store(settings)
        uploaders = _uploaders(store, plain_client)
        for size_mb in sizes:
            path = _random_file(Path(workdir) / f"checkpoint-{size_mb}.keras", size_mb)
            seconds = _time_uploads(uploaders, path, repeats, plain_client)
            rows += _rows(size_mb, seconds)

    worst = min(
        row["vs store's client"]
        for row in rows
        if row["uploader"] == "S3CheckpointStore.upload"
    )
    return BenchmarkResult(
        name="checkpoint_upload",
        title=TITLE,
        columns=[
            "size MB",
            "uploader",
            "median s",
            "MB/s",
            "vs default boto3",
            "vs store's client",
        ],
        rows=rows,
        target=f"S3CheckpointStore.upload >= {TARGET_RATIO}x bare upload_file MB/s",
        target_met=worst >= TARGET_RATIO,
        notes=[
            (
                f"median of {repeats} uploads per uploader and size, alternated; "
                "moto's S3 server runs in its own process on loopback"
            ),
            (
                "judged against the bare upload through the store's own client, "
                "the stricter of the two baselines"
            ),
        ],
    )


def _uploaders(store: Any, plain_client: Any) -> dict[str, Uploader]:
    def verified(path: Path, key: str) -> None:
        store.upload(path, job_id=key, phase=1)

    def bare_default(path: Path, key: str) -> None:
        plain_client.upload_file(str(path), BUCKET, f"{PREFIX}/{key}/bare.keras")

    def bare_store_client(path: Path, key: str) -> None:
        store.client.upload_file(
            str(path),
            BUCKET,
            f"{PREFIX}/{key}/bare.keras",
            Config=store.transfer_config,
        )

    return {
        "S3CheckpointStore.upload": verified,
        "upload_file, default boto3": bare_default,
        "upload_file, store's client": bare_store_client,
    }


def _random_file(path: Path, size_mb: int) -> Path:
    # Random bytes, like compressed weights, so no layer can shortcut them.
    with path.open("wb") as handle:
        for _ in range(size_mb):
            handle.write(os.urandom(1024 * 1024))
    return path


def _time_uploads(
    uploaders: dict[str, Uploader], path: Path, repeats: int, client: Any
) -> dict[str, list[float]]:
    seconds: dict[str, list[float]] = {name: [] for name in uploaders}
    for attempt in range(repeats + 1):
        for index, (name, upload) in enumerate(uploaders.items()):
            key = f"job-{attempt}-{index}"
            started = time.perf_counter()
            upload(path, key)
            elapsed = time.perf_counter() - started
            # The first round warms connections and is not counted.
            if attempt > 0:
                seconds[name].append(elapsed)
            _delete_prefix(client, f"{PREFIX}/{key}/")
    return seconds


def _delete_prefix(client: Any, prefix: str) -> None:
    # moto keeps objects in memory, so each upload is deleted once timed.
    listing = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    for item in listing.get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])


def _rows(size_mb: int, seconds: dict[str, list[float]]) -> list[dict[str, Any]]:
    speeds = {
        name: size_mb * 1.048576 / median(times) for name, times in seconds.items()
    }
    default_speed = speeds["upload_file, default boto3"]
    store_client_speed = speeds["upload_file, store's client"]
    return [
        {
            "size MB": size_mb * 1.048576,
            "uploader": name,
            "median s": median(seconds[name]),
            "MB/s": speed,
            "vs default boto3": speed / default_speed,
            "vs store's client": speed / store_client_speed,
        }
        for name, speed in speeds.items()
    ]
