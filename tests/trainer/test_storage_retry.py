"""Retrying checkpoint uploads while the store is unavailable."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from cerebros_trainer.settings import WorkerSettings
from cerebros_trainer.storage import (
    StorageError,
    StorageUnavailable,
    UploadRetry,
    open_checkpoint_store,
    upload_with_retry,
)


class FlakyStore:
    """A store whose first `failures` uploads raise `error`."""

    def __init__(self, failures: int, error: StorageError) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    def upload(
        self, local_path: Path, *, job_id: str, phase: int, partial: bool = False
    ) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return f"s3://bucket/{job_id}/phase-{phase}.keras"


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def _retry(deadline: float, fake: FakeTime) -> UploadRetry:
    return UploadRetry(
        deadline=deadline,
        backoff_initial=1.0,
        backoff_max=4.0,
        sleep=fake.sleep,
        clock=fake.clock,
    )


def test_unavailable_store_is_retried(tmp_path: Path) -> None:
    fake = FakeTime()
    store = FlakyStore(3, StorageUnavailable("S3 endpoint is unreachable"))

    url = upload_with_retry(
        store,  # type: ignore[arg-type]
        tmp_path / "model.keras",
        job_id="job-1",
        phase=2,
        retry=_retry(60.0, fake),
    )

    assert url == "s3://bucket/job-1/phase-2.keras"
    assert store.calls == 4
    assert len(fake.waits) == 3
    assert all(0 <= wait <= 4.0 for wait in fake.waits)


def test_deadline_stops_retries(tmp_path: Path) -> None:
    fake = FakeTime()
    store = FlakyStore(1000, StorageUnavailable("S3 endpoint is unreachable"))

    with pytest.raises(StorageUnavailable) as caught:
        upload_with_retry(
            store,  # type: ignore[arg-type]
            tmp_path / "model.keras",
            job_id="job-1",
            phase=1,
            retry=_retry(10.0, fake),
        )

    message = str(caught.value)
    assert message.startswith("S3 endpoint is unreachable. Gave up after ")
    assert "CEREBROS_S3_UPLOAD_DEADLINE is 10 s" in message
    assert fake.now <= 10.0
    assert store.calls == len(fake.waits) + 1


def test_permanent_error_is_not_retried(tmp_path: Path) -> None:
    fake = FakeTime()
    store = FlakyStore(1, StorageError("bucket b does not exist"))

    with pytest.raises(StorageError, match="bucket b does not exist"):
        upload_with_retry(
            store,  # type: ignore[arg-type]
            tmp_path / "model.keras",
            job_id="job-1",
            phase=1,
            retry=_retry(60.0, fake),
        )

    assert store.calls == 1
    assert fake.waits == []


def test_negative_deadline_is_rejected() -> None:
    with pytest.raises(ValueError, match="received -1"):
        UploadRetry(deadline=-1)


def test_refused_endpoint_is_unavailable(fake_aws: None, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port now, so every connection is refused.
    settings = WorkerSettings(
        aws_endpoint_url=f"http://127.0.0.1:{port}",
        aws_region="us-east-1",
        checkpoint_url="s3://bucket/prefix",
        s3_max_attempts=1,
    )
    store = open_checkpoint_store(settings)
    checkpoint = tmp_path / "model.keras"
    checkpoint.write_bytes(b"weights")

    with pytest.raises(StorageUnavailable) as caught:
        store.upload(checkpoint, job_id="job-1", phase=1)

    message = str(caught.value)
    assert (
        "failed to upload checkpoint to s3://bucket/prefix/job-1/phase-1.keras"
        in message
    )
    assert f"S3 endpoint http://127.0.0.1:{port} is unreachable" in message
