"""Tests of WorkerSettings: environment variables, defaults and validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import AliasChoices, SecretStr, ValidationError

from cerebros_trainer.settings import WorkerSettings, default_worker_id

TOKEN = "tok-9f8e7d6c5b4a"


def _all_env_names() -> list[str]:
    names: list[str] = []
    for field in WorkerSettings.model_fields.values():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.extend(str(choice) for choice in alias.choices)
        else:
            names.append(str(alias))

    return names


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Remove every variable the settings read and work in an empty directory."""
    for name in _all_env_names():
        monkeypatch.delenv(name, raising=False)

    monkeypatch.chdir(tmp_path)


def test_defaults(tmp_path: Path) -> None:
    settings = WorkerSettings()

    assert settings.api_url == "http://localhost:5001"
    assert settings.poll_interval == 5.0
    assert settings.max_poll_interval == 60.0
    assert settings.api_token is None
    assert settings.log_file == Path("logs/cerebros_service.log")
    assert settings.log_format == "text"
    assert settings.max_bad_line_share == 0.01
    assert settings.corpus_roots == []
    assert settings.grace_period == 30.0
    assert settings.heartbeat_interval == 30.0
    assert settings.strict_model_ids is False
    expected_dir = tmp_path.resolve() / ".cerebros" / "state" / "checkpoints"
    assert settings.checkpoint_url == expected_dir.as_uri()


def test_default_checkpoint_url_follows_state_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CEREBROS_STATE_DIR", str(tmp_path / "state"))

    settings = WorkerSettings()

    assert settings.checkpoint_url == (tmp_path / "state" / "checkpoints").as_uri()


def test_default_worker_id_survives_restart(tmp_path: Path) -> None:
    import socket

    first = WorkerSettings(state_dir=tmp_path / "a")
    again = WorkerSettings(state_dir=tmp_path / "a")
    other = WorkerSettings(state_dir=tmp_path / "b")

    assert first.worker_id.startswith(f"{socket.gethostname()}-")
    assert first.worker_id == again.worker_id
    assert first.worker_id != other.worker_id


def test_blank_worker_id_falls_back_to_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CEREBROS_WORKER_ID", "  ")

    settings = WorkerSettings()

    assert settings.worker_id == default_worker_id(settings.state_dir)


ENV_CASES: list[tuple[str, str, str, Any]] = [
    (
        "THUNDERLINE_API_URL",
        "http://coordinator:4000",
        "api_url",
        "http://coordinator:4000",
    ),
    ("POLL_INTERVAL", "2.5", "poll_interval", 2.5),
    ("CEREBROS_MAX_POLL_INTERVAL", "120", "max_poll_interval", 120.0),
    ("CEREBROS_WORKER_ID", "gpu-box-1", "worker_id", "gpu-box-1"),
    ("CEREBROS_STATE_DIR", "/var/lib/cerebros", "state_dir", Path("/var/lib/cerebros")),
    (
        "CEREBROS_CACHE_DIR",
        "/var/cache/cerebros",
        "cache_dir",
        Path("/var/cache/cerebros"),
    ),
    (
        "CEREBROS_CHECKPOINT_URL",
        "s3://bucket/models/run1",
        "checkpoint_url",
        "s3://bucket/models/run1",
    ),
    (
        "AWS_ENDPOINT_URL",
        "http://127.0.0.1:9000",
        "aws_endpoint_url",
        "http://127.0.0.1:9000",
    ),
    ("AWS_REGION", "eu-west-1", "aws_region", "eu-west-1"),
    ("CEREBROS_S3_ADDRESSING_STYLE", "virtual", "s3_addressing_style", "virtual"),
    ("CEREBROS_S3_MAX_ATTEMPTS", "3", "s3_max_attempts", 3),
    ("CEREBROS_S3_UPLOAD_DEADLINE", "45", "s3_upload_deadline", 45.0),
    ("CEREBROS_S3_CONNECT_TIMEOUT", "4", "s3_connect_timeout", 4.0),
    ("CEREBROS_S3_READ_TIMEOUT", "30", "s3_read_timeout", 30.0),
    ("CEREBROS_S3_MULTIPART_THRESHOLD", "8388608", "s3_multipart_threshold", 8388608),
    ("CEREBROS_LOG_FILE", "/tmp/worker.log", "log_file", Path("/tmp/worker.log")),
    ("CEREBROS_LOG_FORMAT", "json", "log_format", "json"),
    ("CEREBROS_DEFAULT_ARCHITECTURE", "byte-lstm", "default_architecture", "byte-lstm"),
    ("CEREBROS_STRICT_MODEL_IDS", "true", "strict_model_ids", True),
    ("CEREBROS_MAX_BAD_LINE_SHARE", "0.2", "max_bad_line_share", 0.2),
    (
        "CEREBROS_CORPUS_ROOTS",
        "/data/a:/data/b",
        "corpus_roots",
        [Path("/data/a"), Path("/data/b")],
    ),
    ("CEREBROS_GRACE_PERIOD", "0", "grace_period", 0.0),
    ("CEREBROS_HEARTBEAT_INTERVAL", "15", "heartbeat_interval", 15.0),
    ("CEREBROS_LEASE_SECONDS", "300", "lease_seconds", 300.0),
    (
        "MLFLOW_TRACKING_URI",
        "http://mlflow:5000",
        "mlflow_tracking_uri",
        "http://mlflow:5000",
    ),
    ("MLFLOW_EXPERIMENT_NAME", "gru-sweep", "mlflow_experiment", "gru-sweep"),
    ("CEREBROS_TENSORBOARD_DIR", "/tmp/tb", "tensorboard_dir", Path("/tmp/tb")),
]


@pytest.mark.parametrize(("env_var", "raw", "field", "expected"), ENV_CASES)
def test_reads_environment_variable(
    monkeypatch: pytest.MonkeyPatch, env_var: str, raw: str, field: str, expected: Any
) -> None:
    monkeypatch.setenv(env_var, raw)

    settings = WorkerSettings()

    assert getattr(settings, field) == expected


def test_env_cases_cover_every_field() -> None:
    covered = {field for _, _, field, _ in ENV_CASES} | {"api_token"}

    assert covered == set(WorkerSettings.model_fields)


def test_api_url_falls_back_to_thunderline_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("THUNDERLINE_URL", "http://fallback:5001")

    assert WorkerSettings().api_url == "http://fallback:5001"


def test_api_url_prefers_thunderline_api_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THUNDERLINE_URL", "http://fallback:5001")
    monkeypatch.setenv("THUNDERLINE_API_URL", "http://primary:5001")

    assert WorkerSettings().api_url == "http://primary:5001"


def test_region_falls_back_to_default_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")

    assert WorkerSettings().aws_region == "ap-south-1"


def test_keyword_argument_overrides_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POLL_INTERVAL", "9")

    assert WorkerSettings(poll_interval=1).poll_interval == 1.0


def test_empty_log_file_disables_file_logging(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CEREBROS_LOG_FILE", "")

    assert WorkerSettings().log_file is None


def test_token_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CEREBROS_API_TOKEN", TOKEN)

    settings = WorkerSettings()

    assert isinstance(settings.api_token, SecretStr)
    assert settings.api_token.get_secret_value() == TOKEN
    assert TOKEN not in repr(settings)
    assert TOKEN not in str(settings)
    assert TOKEN not in settings.model_dump_json()


def test_empty_token_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CEREBROS_API_TOKEN", "  ")

    assert WorkerSettings().api_token is None


INVALID_CASES = [
    (
        "POLL_INTERVAL",
        "0",
        ["POLL_INTERVAL must be greater than 0 seconds", "received 0"],
    ),
    (
        "POLL_INTERVAL",
        "-3",
        ["POLL_INTERVAL must be greater than 0 seconds", "received -3"],
    ),
    (
        "CEREBROS_HEARTBEAT_INTERVAL",
        "0",
        ["CEREBROS_HEARTBEAT_INTERVAL must be greater than 0"],
    ),
    (
        "CEREBROS_GRACE_PERIOD",
        "-1",
        ["CEREBROS_GRACE_PERIOD must be 0 or more seconds", "received -1"],
    ),
    (
        "CEREBROS_MAX_BAD_LINE_SHARE",
        "1.5",
        ["CEREBROS_MAX_BAD_LINE_SHARE must lie from 0 to 1", "received 1.5"],
    ),
    (
        "CEREBROS_MAX_BAD_LINE_SHARE",
        "-0.1",
        ["CEREBROS_MAX_BAD_LINE_SHARE must lie from 0 to 1"],
    ),
    (
        "CEREBROS_CHECKPOINT_URL",
        "ftp://host/dir",
        [
            "CEREBROS_CHECKPOINT_URL is invalid",
            "'ftp://host/dir'",
            "expected s3://BUCKET/PREFIX or file:///ABSOLUTE/DIR",
        ],
    ),
    (
        "CEREBROS_CHECKPOINT_URL",
        "s3:///prefix-only",
        ["names no bucket", "expected s3://BUCKET/PREFIX"],
    ),
    (
        "CEREBROS_CHECKPOINT_URL",
        "file://checkpoints",
        ["has host 'checkpoints'", "file:///var/lib/cerebros/checkpoints"],
    ),
    (
        "THUNDERLINE_API_URL",
        "localhost:5001",
        ["THUNDERLINE_API_URL is invalid", "'localhost:5001'"],
    ),
    (
        "CEREBROS_S3_MULTIPART_THRESHOLD",
        "1024",
        ["at least 5242880 bytes", "received 1024"],
    ),
    ("CEREBROS_S3_MAX_ATTEMPTS", "0", ["CEREBROS_S3_MAX_ATTEMPTS", "received 0"]),
]


@pytest.mark.parametrize(("env_var", "raw", "fragments"), INVALID_CASES)
def test_rejects_invalid_value(
    monkeypatch: pytest.MonkeyPatch, env_var: str, raw: str, fragments: list[str]
) -> None:
    monkeypatch.setenv(env_var, raw)

    with pytest.raises(ValidationError) as caught:
        WorkerSettings()

    for fragment in fragments:
        assert fragment in str(caught.value)


def test_rejects_max_poll_below_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLL_INTERVAL", "30")
    monkeypatch.setenv("CEREBROS_MAX_POLL_INTERVAL", "10")

    with pytest.raises(ValidationError) as caught:
        WorkerSettings()

    assert "CEREBROS_MAX_POLL_INTERVAL (10.0) is smaller than POLL_INTERVAL" in str(
        caught.value
    )


def test_rejects_lease_shorter_than_heartbeat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CEREBROS_HEARTBEAT_INTERVAL", "60")
    monkeypatch.setenv("CEREBROS_LEASE_SECONDS", "60")

    with pytest.raises(ValidationError) as caught:
        WorkerSettings()

    message = str(caught.value)
    assert "CEREBROS_LEASE_SECONDS (60.0) must exceed" in message
    assert "CEREBROS_HEARTBEAT_INTERVAL (60.0)" in message


def test_rejects_unknown_log_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CEREBROS_LOG_FORMAT", "xml")

    with pytest.raises(ValidationError) as caught:
        WorkerSettings()

    assert "'text' or 'json'" in str(caught.value)


def test_describe_fields_lists_every_field() -> None:
    docs = WorkerSettings.describe_fields()
    by_env = {doc.env_var: doc for doc in docs}

    assert len(docs) == len(WorkerSettings.model_fields)
    assert all(doc.description for doc in docs)
    assert by_env["THUNDERLINE_API_URL"].default == "http://localhost:5001"
    assert "THUNDERLINE_URL" in by_env["THUNDERLINE_API_URL"].description
    assert by_env["POLL_INTERVAL"].default == "5.0"
    assert by_env["CEREBROS_WORKER_ID"].default == "<hostname>-<hash of state_dir>"
    assert by_env["CEREBROS_CHECKPOINT_URL"].default == (
        "file://<state_dir>/checkpoints"
    )
    assert by_env["CEREBROS_API_TOKEN"].default == ""


def test_describe_fields_unpacks_as_triples() -> None:
    env_var, description, default = WorkerSettings.describe_fields()[0]

    assert env_var == "THUNDERLINE_API_URL"
    assert description.startswith("Base URL")
    assert default == "http://localhost:5001"
