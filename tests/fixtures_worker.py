"""Everything an end-to-end worker test needs, on loopback.

The `worker_stack` fixture gives a strict stand-in coordinator, an empty S3
bucket on moto's server, a small corpus and a factory for `WorkerSettings`
pointing at both. Tests import it with
`from tests.fixtures_worker import worker_stack  # noqa: F401`, which also
brings in `s3_server`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cerebros_client.testing import CoordinatorServer
from cerebros_trainer.settings import WorkerSettings
from tests.fixtures_s3 import S3Server, s3_server  # noqa: F401

BUCKET = "cerebros-e2e"
PREFIX = "checkpoints"

# Small enough to train two phases in a few seconds on two CPU cores.
TINY_HYPERPARAMETERS: dict[str, Any] = {
    "n_epochs": 1,
    "phases": 2,
    "batch_size": 8,
    "learning_rate": 0.01,
    "seq_len": 16,
    "hidden_units": 16,
    "embedding_dim": 8,
    "max_steps_per_epoch": 4,
    "validation_split": 0.2,
}

SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "A worker polls the coordinator and trains one job at a time.",
    "Checkpoints are uploaded after every phase and registered by URL.",
    "Metrics are reported per phase so nothing is lost in a restart.",
)


def write_tiny_corpus(path: Path, documents: int = 120) -> Path:
    """Write a small JSONL corpus of English sentences and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for index in range(documents):
            text = f"{SENTENCES[index % len(SENTENCES)]} Line {index}."
            handle.write(json.dumps({"text": text}) + "\n")
    return path


@dataclass
class WorkerStack:
    """A coordinator, a bucket and a corpus, ready for a worker."""

    coordinator: CoordinatorServer
    s3: S3Server
    corpus: Path
    root: Path
    created_settings: list[WorkerSettings] = field(default_factory=list)

    def settings(self, **overrides: Any) -> WorkerSettings:
        """Return worker settings aimed at this stack, with overrides applied."""
        values: dict[str, Any] = {
            "api_url": self.coordinator.url,
            "checkpoint_url": f"s3://{BUCKET}/{PREFIX}",
            "aws_endpoint_url": self.s3.endpoint_url,
            "aws_region": "us-east-1",
            "state_dir": self.root / "state",
            "cache_dir": self.root / "cache",
            "log_file": "",
            "poll_interval": 0.1,
            "max_poll_interval": 0.5,
            "heartbeat_interval": 1.0,
            "lease_seconds": 30.0,
        }
        values.update(overrides)
        settings = WorkerSettings(**values)
        self.created_settings.append(settings)
        return settings

    def seed(
        self,
        *,
        corpus: Path | str | None = None,
        model_id: str = "byte-gru",
        **hyperparameters: Any,
    ) -> str:
        """Queue a job on a new dataset and return the job id."""
        seeded = self.coordinator.seed(
            str(corpus or self.corpus),
            model_id=model_id,
            hyperparameters={**TINY_HYPERPARAMETERS, **hyperparameters},
        )
        return str(seeded["job_id"])

    def job(self, job_id: str) -> dict[str, Any]:
        """Return the coordinator's full record of a job."""
        return self.coordinator.admin.get_job(job_id)

    def bucket_objects(self) -> dict[str, dict[str, Any]]:
        """Return every object in the bucket by key, with size and metadata."""
        client = self.s3.make_client()
        listing = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
        objects = {}
        for item in listing:
            head = client.head_object(Bucket=BUCKET, Key=item["Key"])
            objects[item["Key"]] = {
                "size": head["ContentLength"],
                "metadata": head.get("Metadata", {}),
            }
        return objects

    def object_sha256(self, key: str) -> str:
        """Download an object and return the sha256 of its bytes."""
        body = self.s3.make_client().get_object(Bucket=BUCKET, Key=key)["Body"]
        return hashlib.sha256(body.read()).hexdigest()


@pytest.fixture
def worker_stack(
    s3_server: S3Server,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[WorkerStack]:
    """Start a strict coordinator and an empty bucket for one test."""
    for name in ("THUNDERLINE_API_URL", "THUNDERLINE_URL", "CEREBROS_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    s3_server.create_bucket(BUCKET)
    corpus = write_tiny_corpus(tmp_path / "corpus" / "tiny.jsonl")
    with CoordinatorServer() as coordinator:
        yield WorkerStack(coordinator, s3_server, corpus, tmp_path)
