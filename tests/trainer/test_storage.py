"""Tests of the checkpoint stores against moto's S3 server and a temporary directory."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse  # type: ignore[import-untyped]

from cerebros_trainer.settings import WorkerSettings
from cerebros_trainer.storage import (
    CheckpointStore,
    LocalCheckpointStore,
    S3CheckpointStore,
    StorageError,
    make_s3_client,
    open_checkpoint_store,
)
from tests.fixtures_s3 import S3Server, s3_server  # noqa: F401 - fixture

BUCKET = "cerebros-checkpoints"
PREFIX = "runs/test"
JOB_ID = "6f1c2a9e-0d4b-4e58-9a51-2b7f0c3d8e11"
MIB = 1024 * 1024

UNSAFE_JOB_IDS = [
    "../../x",
    "a/b",
    "..",
    ".",
    "",
    "job..1",
    "job\n1",
    "job\x001",
    "job 1",
    "jöb",
    "x" * 201,
]


def _settings(endpoint_url: str | None, **overrides: Any) -> WorkerSettings:
    values: dict[str, Any] = {
        "aws_endpoint_url": endpoint_url,
        "aws_region": "us-east-1",
        "checkpoint_url": f"s3://{BUCKET}/{PREFIX}",
        **overrides,
    }
    return WorkerSettings(**values)


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Body:
    """A raw HTTP body in the form botocore reads from urllib3."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


def _fail_first(
    attempts: int, status: int, body: bytes
) -> tuple[Callable[..., AWSResponse | None], list[int]]:
    """Return a before-send handler that fails the first `attempts` requests."""
    calls: list[int] = []

    def handler(request: Any, **_: Any) -> AWSResponse | None:
        calls.append(1)
        if len(calls) > attempts:
            return None

        headers = {"Content-Type": "application/xml"}
        return AWSResponse(request.url, status, headers, _Body(body))

    return handler, calls


SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)


@pytest.fixture
def bucket_store(s3_server: S3Server) -> S3CheckpointStore:  # noqa: F811
    s3_server.create_bucket(BUCKET)
    store = open_checkpoint_store(_settings(s3_server.endpoint_url))
    assert isinstance(store, S3CheckpointStore)
    return store


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    return _write(tmp_path / "model.keras", b"keras checkpoint bytes " * 200)


def test_s3_upload_stores_sha256(
    bucket_store: S3CheckpointStore, checkpoint: Path
) -> None:
    data = checkpoint.read_bytes()

    url = bucket_store.upload(checkpoint, job_id=JOB_ID, phase=1)

    key = f"{PREFIX}/{JOB_ID}/phase-1.keras"
    assert url == f"s3://{BUCKET}/{key}"
    head = bucket_store.client.head_object(Bucket=BUCKET, Key=key)
    assert head["ContentLength"] == len(data)
    assert head["Metadata"]["sha256"] == _sha256(data)
    body = bucket_store.client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert body == data


def test_s3_upload_twice_overwrites(
    bucket_store: S3CheckpointStore, tmp_path: Path
) -> None:
    first = _write(tmp_path / "first.keras", b"first version")
    second = _write(tmp_path / "second.keras", b"second, longer version")

    first_url = bucket_store.upload(first, job_id=JOB_ID, phase=2)
    second_url = bucket_store.upload(second, job_id=JOB_ID, phase=2)

    listing = bucket_store.client.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX)
    keys = [item["Key"] for item in listing["Contents"]]
    assert first_url == second_url
    assert keys == [f"{PREFIX}/{JOB_ID}/phase-2.keras"]
    body = bucket_store.client.get_object(Bucket=BUCKET, Key=keys[0])["Body"]
    assert body.read() == b"second, longer version"


def test_s3_partial_keeps_finished_phase(
    bucket_store: S3CheckpointStore, tmp_path: Path
) -> None:
    finished = _write(tmp_path / "finished.keras", b"finished phase 1")
    partial = _write(tmp_path / "partial.keras", b"phase 2 stopped early")

    finished_url = bucket_store.upload(finished, job_id=JOB_ID, phase=1)
    partial_url = bucket_store.upload(partial, job_id=JOB_ID, phase=2, partial=True)

    assert partial_url == f"s3://{BUCKET}/{PREFIX}/{JOB_ID}/phase-2-partial.keras"
    listing = bucket_store.client.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX)
    keys = sorted(item["Key"] for item in listing["Contents"])
    assert keys == [
        f"{PREFIX}/{JOB_ID}/phase-1.keras",
        f"{PREFIX}/{JOB_ID}/phase-2-partial.keras",
    ]
    assert bucket_store.exists(finished_url)


def test_s3_upload_without_prefix(s3_server: S3Server, checkpoint: Path) -> None:  # noqa: F811
    s3_server.create_bucket(BUCKET)
    settings = _settings(s3_server.endpoint_url, checkpoint_url=f"s3://{BUCKET}")

    url = open_checkpoint_store(settings).upload(checkpoint, job_id="job-7", phase=3)

    assert url == f"s3://{BUCKET}/job-7/phase-3.keras"


def test_s3_multipart_upload(s3_server: S3Server, tmp_path: Path) -> None:  # noqa: F811
    s3_server.create_bucket(BUCKET)
    settings = _settings(s3_server.endpoint_url)
    client = make_s3_client(settings)
    parts: list[int] = []
    client.meta.events.register(
        "before-call.s3.UploadPart", lambda **_: parts.append(1)
    )
    store = S3CheckpointStore(
        BUCKET, PREFIX, client=client, multipart_threshold=5 * MIB
    )
    data = bytes(range(256)) * (6 * MIB // 256) + b"tail"
    checkpoint = _write(tmp_path / "big.keras", data)

    url = store.upload(checkpoint, job_id=JOB_ID, phase=1)

    key = url.removeprefix(f"s3://{BUCKET}/")
    head = client.head_object(Bucket=BUCKET, Key=key)
    assert len(parts) == 2
    assert head["ETag"].strip('"').endswith("-2")
    assert head["ContentLength"] == len(data)
    assert head["Metadata"]["sha256"] == _sha256(data)


@pytest.mark.parametrize("job_id", UNSAFE_JOB_IDS)
def test_s3_rejects_unsafe_job_id(
    bucket_store: S3CheckpointStore, checkpoint: Path, job_id: str
) -> None:
    with pytest.raises(StorageError) as caught:
        bucket_store.upload(checkpoint, job_id=job_id, phase=1)

    assert f"invalid job id {job_id!r}" in str(caught.value)
    listing = bucket_store.client.list_objects_v2(Bucket=BUCKET)
    assert listing["KeyCount"] == 0


@pytest.mark.parametrize("phase", [-1, True, "1", 1.0])
def test_s3_rejects_invalid_phase(
    bucket_store: S3CheckpointStore, checkpoint: Path, phase: Any
) -> None:
    with pytest.raises(StorageError) as caught:
        bucket_store.upload(checkpoint, job_id=JOB_ID, phase=phase)

    assert f"invalid phase {phase!r}" in str(caught.value)
    assert "expected an integer of 0 or more" in str(caught.value)


def test_s3_upload_missing_file(
    bucket_store: S3CheckpointStore, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.keras"

    with pytest.raises(StorageError) as caught:
        bucket_store.upload(missing, job_id=JOB_ID, phase=1)

    assert f"failed to read checkpoint file {missing}" in str(caught.value)


def test_s3_verify_detects_wrong_sha256(
    bucket_store: S3CheckpointStore,
    checkpoint: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_head = bucket_store.client.head_object

    def corrupted_head(**kwargs: Any) -> dict[str, Any]:
        head: dict[str, Any] = real_head(**kwargs)
        head["Metadata"] = {"sha256": "0" * 64}
        return head

    monkeypatch.setattr(bucket_store.client, "head_object", corrupted_head)

    with pytest.raises(StorageError) as caught:
        bucket_store.upload(checkpoint, job_id=JOB_ID, phase=1)

    message = str(caught.value)
    assert "failed verification" in message
    assert f"metadata sha256 is {'0' * 64!r}" in message
    assert f"expected {_sha256(checkpoint.read_bytes())!r}" in message


def test_s3_verify_detects_wrong_size(
    bucket_store: S3CheckpointStore,
    checkpoint: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_head = bucket_store.client.head_object

    def truncated_head(**kwargs: Any) -> dict[str, Any]:
        head: dict[str, Any] = real_head(**kwargs)
        head["ContentLength"] = 10
        return head

    monkeypatch.setattr(bucket_store.client, "head_object", truncated_head)

    with pytest.raises(StorageError) as caught:
        bucket_store.upload(checkpoint, job_id=JOB_ID, phase=1)

    size = checkpoint.stat().st_size
    assert f"the object has 10 bytes, expected {size}" in str(caught.value)


def test_s3_upload_survives_slow_down(
    bucket_store: S3CheckpointStore, checkpoint: Path
) -> None:
    handler, calls = _fail_first(2, 503, SLOW_DOWN)
    bucket_store.client.meta.events.register("before-send.s3.PutObject", handler)

    url = bucket_store.upload(checkpoint, job_id=JOB_ID, phase=1)

    assert len(calls) == 3
    assert bucket_store.exists(url)


def test_s3_upload_gives_up_after_max_attempts(
    s3_server: S3Server,  # noqa: F811
    checkpoint: Path,
) -> None:
    s3_server.create_bucket(BUCKET)
    store = open_checkpoint_store(_settings(s3_server.endpoint_url, s3_max_attempts=2))
    assert isinstance(store, S3CheckpointStore)
    handler, calls = _fail_first(100, 503, SLOW_DOWN)
    store.client.meta.events.register("before-send.s3.PutObject", handler)

    with pytest.raises(StorageError) as caught:
        store.upload(checkpoint, job_id=JOB_ID, phase=1)

    message = str(caught.value)
    assert len(calls) == 2
    assert f"failed to upload checkpoint to s3://{BUCKET}/{PREFIX}/{JOB_ID}" in message
    assert "SlowDown" in message
    assert "raise CEREBROS_S3_MAX_ATTEMPTS" in message


def test_s3_upload_to_missing_bucket(s3_server: S3Server, checkpoint: Path) -> None:  # noqa: F811
    store = open_checkpoint_store(_settings(s3_server.endpoint_url))

    with pytest.raises(StorageError) as caught:
        store.upload(checkpoint, job_id=JOB_ID, phase=1)

    assert f"bucket {BUCKET} does not exist at endpoint" in str(caught.value)


def test_s3_preflight_passes(bucket_store: S3CheckpointStore) -> None:
    bucket_store.preflight()

    assert bucket_store.endpoint_url.startswith("http://127.0.0.1:")


def test_s3_preflight_missing_credentials(
    s3_server: S3Server,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s3_server.create_bucket(BUCKET)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    store = open_checkpoint_store(_settings(s3_server.endpoint_url))

    with pytest.raises(StorageError) as caught:
        store.preflight()

    assert "no AWS credentials found: set AWS_ACCESS_KEY_ID and " in str(caught.value)


def test_s3_preflight_missing_bucket(s3_server: S3Server) -> None:  # noqa: F811
    settings = _settings(s3_server.endpoint_url, checkpoint_url="s3://missing-bucket/x")

    with pytest.raises(StorageError) as caught:
        open_checkpoint_store(settings).preflight()

    assert str(caught.value) == (
        "checkpoint store preflight failed: bucket missing-bucket does not exist "
        f"at endpoint {s3_server.endpoint_url}: create it or fix "
        "CEREBROS_CHECKPOINT_URL"
    )


def test_s3_preflight_access_denied(bucket_store: S3CheckpointStore) -> None:
    handler, _ = _fail_first(100, 403, b"")
    bucket_store.client.meta.events.register("before-send.s3.HeadBucket", handler)

    with pytest.raises(StorageError) as caught:
        bucket_store.preflight()

    message = str(caught.value)
    assert f"access to bucket {BUCKET} at endpoint" in message
    assert "was denied (403)" in message
    assert "s3:PutObject" in message


def test_s3_preflight_unreachable_endpoint(s3_server: S3Server) -> None:  # noqa: F811
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]

    endpoint = f"http://127.0.0.1:{closed_port}"
    store = open_checkpoint_store(_settings(endpoint, s3_max_attempts=1))

    with pytest.raises(StorageError) as caught:
        store.preflight()

    message = str(caught.value)
    assert f"S3 endpoint {endpoint} is unreachable" in message
    assert "check AWS_ENDPOINT_URL" in message


def test_s3_download_round_trip(
    bucket_store: S3CheckpointStore, checkpoint: Path, tmp_path: Path
) -> None:
    url = bucket_store.upload(checkpoint, job_id=JOB_ID, phase=1)
    dest = tmp_path / "restored" / "phase-1.keras"

    result = bucket_store.download(url, dest)

    assert result == dest
    assert dest.read_bytes() == checkpoint.read_bytes()
    assert sorted(path.name for path in dest.parent.iterdir()) == ["phase-1.keras"]


def test_s3_download_detects_corruption(
    bucket_store: S3CheckpointStore, checkpoint: Path, tmp_path: Path
) -> None:
    url = bucket_store.upload(checkpoint, job_id=JOB_ID, phase=1)
    key = url.removeprefix(f"s3://{BUCKET}/")
    bucket_store.client.put_object(
        Bucket=BUCKET,
        Key=key,
        Body=b"tampered",
        Metadata={"sha256": _sha256(checkpoint.read_bytes())},
    )
    dest = tmp_path / "restored" / "phase-1.keras"

    with pytest.raises(StorageError) as caught:
        bucket_store.download(url, dest)

    assert f"downloaded checkpoint {url} is corrupt" in str(caught.value)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []


def test_s3_download_missing_object(
    bucket_store: S3CheckpointStore, tmp_path: Path
) -> None:
    url = f"s3://{BUCKET}/{PREFIX}/nope/phase-1.keras"

    with pytest.raises(StorageError) as caught:
        bucket_store.download(url, tmp_path / "x.keras")

    assert f"failed to read checkpoint {url}: no such object" in str(caught.value)


def test_s3_exists(bucket_store: S3CheckpointStore, checkpoint: Path) -> None:
    url = bucket_store.upload(checkpoint, job_id=JOB_ID, phase=1)

    assert bucket_store.exists(url) is True
    assert bucket_store.exists(url.replace("phase-1", "phase-2")) is False


def test_s3_rejects_file_url(bucket_store: S3CheckpointStore) -> None:
    with pytest.raises(StorageError) as caught:
        bucket_store.exists("file:///tmp/x.keras")

    assert "expected s3://BUCKET/KEY" in str(caught.value)


def test_make_s3_client_config(s3_server: S3Server) -> None:  # noqa: F811
    client = make_s3_client(_settings(s3_server.endpoint_url))
    config = client.meta.config

    assert client.meta.endpoint_url == s3_server.endpoint_url
    assert config.s3["addressing_style"] == "path"
    assert config.retries == {"mode": "standard", "total_max_attempts": 8}
    assert config.request_checksum_calculation == "when_required"
    assert config.response_checksum_validation == "when_required"
    assert config.connect_timeout == 10.0
    assert config.read_timeout == 60.0


def test_make_s3_client_addressing_style(
    s3_server: S3Server,  # noqa: F811
) -> None:
    aws_settings = _settings(None, aws_region="eu-west-1")
    virtual_settings = _settings(s3_server.endpoint_url, s3_addressing_style="virtual")

    aws_client = make_s3_client(aws_settings)
    virtual_client = make_s3_client(virtual_settings)

    assert aws_client.meta.config.s3["addressing_style"] == "auto"
    assert aws_client.meta.region_name == "eu-west-1"
    assert virtual_client.meta.config.s3["addressing_style"] == "virtual"


def test_open_store_for_file_url(tmp_path: Path) -> None:
    settings = WorkerSettings(checkpoint_url=(tmp_path / "ckpt").as_uri())

    store = open_checkpoint_store(settings)

    assert isinstance(store, LocalCheckpointStore)
    assert store.root == (tmp_path / "ckpt").resolve()


def test_open_store_for_s3_url(s3_server: S3Server) -> None:  # noqa: F811
    settings = _settings(
        s3_server.endpoint_url,
        checkpoint_url="s3://other-bucket//deep/prefix/",
        s3_multipart_threshold=8 * MIB,
    )

    store = open_checkpoint_store(settings)

    assert isinstance(store, S3CheckpointStore)
    assert store.bucket == "other-bucket"
    assert store.prefix == "deep/prefix"
    assert store.transfer_config.multipart_threshold == 8 * MIB
    assert store.key_for("job-1", 4) == "deep/prefix/job-1/phase-4.keras"


def test_stores_match_protocol(tmp_path: Path, s3_server: S3Server) -> None:  # noqa: F811
    local = LocalCheckpointStore(tmp_path)
    remote = open_checkpoint_store(_settings(s3_server.endpoint_url))

    assert isinstance(local, CheckpointStore)
    assert isinstance(remote, CheckpointStore)


def test_local_round_trip(tmp_path: Path, checkpoint: Path) -> None:
    store = LocalCheckpointStore(tmp_path / "store")
    store.preflight()
    data = checkpoint.read_bytes()

    url = store.upload(checkpoint, job_id=JOB_ID, phase=1)

    stored = tmp_path / "store" / JOB_ID / "phase-1.keras"
    sidecar = stored.with_name("phase-1.keras.sha256")
    assert url == stored.resolve().as_uri()
    assert stored.read_bytes() == data
    assert sidecar.read_text() == f"{_sha256(data)}  phase-1.keras\n"
    assert store.exists(url) is True
    dest = store.download(url, tmp_path / "restored" / "model.keras")
    assert dest.read_bytes() == data


def test_local_upload_twice_overwrites(tmp_path: Path) -> None:
    store = LocalCheckpointStore(tmp_path / "store")
    first = _write(tmp_path / "first.keras", b"first")
    second = _write(tmp_path / "second.keras", b"second version")

    store.upload(first, job_id=JOB_ID, phase=1)
    url = store.upload(second, job_id=JOB_ID, phase=1)

    job_dir = tmp_path / "store" / JOB_ID
    names = sorted(path.name for path in job_dir.iterdir())
    assert names == ["phase-1.keras", "phase-1.keras.sha256"]
    assert store.download(url, tmp_path / "out.keras").read_bytes() == (
        b"second version"
    )


def test_local_partial_checkpoint_name(tmp_path: Path, checkpoint: Path) -> None:
    store = LocalCheckpointStore(tmp_path / "store")

    url = store.upload(checkpoint, job_id=JOB_ID, phase=3, partial=True)

    stored = tmp_path / "store" / JOB_ID / "phase-3-partial.keras"
    assert url == stored.resolve().as_uri()
    assert stored.with_name("phase-3-partial.keras.sha256").exists()
    assert not (tmp_path / "store" / JOB_ID / "phase-3.keras").exists()


@pytest.mark.parametrize("job_id", UNSAFE_JOB_IDS)
def test_local_rejects_unsafe_job_id(
    tmp_path: Path, checkpoint: Path, job_id: str
) -> None:
    store = LocalCheckpointStore(tmp_path / "store")

    with pytest.raises(StorageError) as caught:
        store.upload(checkpoint, job_id=job_id, phase=1)

    assert f"invalid job id {job_id!r}" in str(caught.value)
    assert not (tmp_path / "x").exists()
    assert not (tmp_path / "store").exists()


def test_local_download_detects_corruption(tmp_path: Path, checkpoint: Path) -> None:
    store = LocalCheckpointStore(tmp_path / "store")
    url = store.upload(checkpoint, job_id=JOB_ID, phase=1)
    (tmp_path / "store" / JOB_ID / "phase-1.keras").write_bytes(b"tampered")
    dest = tmp_path / "restored" / "model.keras"

    with pytest.raises(StorageError) as caught:
        store.download(url, dest)

    assert "is corrupt" in str(caught.value)
    assert "expected" in str(caught.value)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []


def test_local_download_missing(tmp_path: Path) -> None:
    store = LocalCheckpointStore(tmp_path / "store")
    url = (tmp_path / "store" / "job-1" / "phase-1.keras").as_uri()

    with pytest.raises(StorageError) as caught:
        store.download(url, tmp_path / "out.keras")

    assert f"failed to copy checkpoint {url}" in str(caught.value)
    assert store.exists(url) is False


def test_local_rejects_s3_url(tmp_path: Path) -> None:
    store = LocalCheckpointStore(tmp_path)

    with pytest.raises(StorageError) as caught:
        store.download("s3://bucket/key.keras", tmp_path / "out.keras")

    assert "is not a file:// URL" in str(caught.value)


def test_local_preflight_not_writable(tmp_path: Path) -> None:
    blocker = _write(tmp_path / "not-a-dir", b"")
    store = LocalCheckpointStore(blocker / "checkpoints")

    with pytest.raises(StorageError) as caught:
        store.preflight()

    message = str(caught.value)
    assert f"checkpoint directory {blocker / 'checkpoints'} is not writable" in message
    assert "CEREBROS_CHECKPOINT_URL" in message


def test_local_preflight_leaves_no_files(tmp_path: Path) -> None:
    store = LocalCheckpointStore(tmp_path / "store")

    store.preflight()

    assert list((tmp_path / "store").iterdir()) == []
