"""One worker runs 30 small jobs back to back without leaking memory or files.

The worker records its resident memory (RSS) and its count of open file
descriptors after each job, once the job's Keras session was cleared. The
first jobs warm up caches (TensorFlow kernels, connection pools), so the
figures are compared from job 10 on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import keras
import psutil
import pytest

from cerebros_client import Job
from cerebros_trainer.architectures import register_architecture
from cerebros_trainer.hyperparams import TrainingConfig
from cerebros_trainer.runner import JobResult
from cerebros_trainer.worker import Worker
from tests.fixtures_worker import WorkerStack

JOB_COUNT = 30
WARM_UP_JOBS = 10

# One short phase of a model that Keras traces quickly: the test is about
# what a job leaves behind, not about training. A recurrent model costs
# seconds of tracing per job, which 30 jobs would multiply.
PROBE_ARCHITECTURE = "long-run-probe"
SMALL_JOB: dict[str, Any] = {
    "phases": 1,
    "n_epochs": 1,
    "max_steps_per_epoch": 2,
    "validation_split": 0.0,
}

# Growth allowed from job 10 to job 30, generous on purpose. This test
# measured under 4 MiB on a 2-core CPU machine with TensorFlow 2 and Keras 3.
MAX_RSS_GROWTH_BYTES = 64 * 1024 * 1024
MAX_FD_DRIFT = 2


@dataclass
class ResourceSample:
    """Resident memory and open file descriptors after one job."""

    job_number: int
    rss_bytes: int
    open_fds: int


@dataclass
class ResourceRecorder:
    """Job observer that samples this process after each job ends."""

    samples: list[ResourceSample] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    architectures: list[str | None] = field(default_factory=list)

    def on_job_end(self, job: Job, result: JobResult) -> None:
        """Record the job's status and this process's RSS and open fds."""
        process = psutil.Process()
        self.statuses.append(result.status)
        self.architectures.append(result.architecture)
        self.samples.append(
            ResourceSample(
                job_number=len(self.samples) + 1,
                rss_bytes=process.memory_info().rss,
                open_fds=process.num_fds(),
            )
        )

    def sample(self, job_number: int) -> ResourceSample:
        """Return the sample taken after job `job_number` (counted from 1)."""
        return self.samples[job_number - 1]


def build_probe_model(config: TrainingConfig) -> keras.Model:
    """Build an embedding followed by a dense layer: byte ids to logits."""
    tokens = keras.Input(shape=(config.seq_len,), dtype="int32")
    features = keras.layers.Embedding(256, config.embedding_dim)(tokens)
    return keras.Model(tokens, keras.layers.Dense(256)(features))


@pytest.fixture
def probe_architecture() -> Iterator[str]:
    """Register the probe architecture for one test."""
    register_architecture(PROBE_ARCHITECTURE, build_probe_model)
    yield PROBE_ARCHITECTURE


@pytest.mark.slow
def test_thirty_jobs_keep_resources_flat(
    worker_stack: WorkerStack, probe_architecture: str
) -> None:
    job_ids = [
        worker_stack.seed(model_id=probe_architecture, **SMALL_JOB)
        for _ in range(JOB_COUNT)
    ]
    recorder = ResourceRecorder()

    settings = worker_stack.settings()
    with Worker(settings, verbose=0, observers=[recorder]) as worker:
        jobs_taken = worker.run_forever(max_jobs=JOB_COUNT)

    assert jobs_taken == JOB_COUNT
    assert recorder.statuses == ["completed"] * JOB_COUNT
    assert recorder.architectures == [probe_architecture] * JOB_COUNT
    assert worker_stack.job(job_ids[-1])["status"] == "completed"
    assert len(worker_stack.bucket_objects()) == JOB_COUNT

    warm = recorder.sample(WARM_UP_JOBS)
    last = recorder.sample(JOB_COUNT)
    growth = last.rss_bytes - warm.rss_bytes
    print(
        f"\nRSS after job {WARM_UP_JOBS}: {warm.rss_bytes / 2**20:.1f} MiB, "
        f"after job {JOB_COUNT}: {last.rss_bytes / 2**20:.1f} MiB "
        f"(growth {growth / 2**20:+.1f} MiB); open fds {warm.open_fds} -> "
        f"{last.open_fds}"
    )
    print(
        "per job (MiB, fds):",
        ", ".join(
            f"{s.job_number}:{s.rss_bytes / 2**20:.0f}/{s.open_fds}"
            for s in recorder.samples
        ),
    )
    assert abs(last.open_fds - warm.open_fds) <= MAX_FD_DRIFT
    assert growth <= MAX_RSS_GROWTH_BYTES
