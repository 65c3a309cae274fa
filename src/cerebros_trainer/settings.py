"""Worker settings, read from environment variables in this module only.

Every other part of the trainer receives a `WorkerSettings` object and never
reads `os.environ` itself, so the configuration reference printed by
`WorkerSettings.describe_fields()` is complete.
"""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from cerebros_trainer.storage.urls import parse_checkpoint_url

DEFAULT_API_URL = "http://localhost:5001"
DEFAULT_STATE_DIR = Path(".cerebros/state")
DEFAULT_CACHE_DIR = Path(".cerebros/cache")
DEFAULT_LOG_FILE = Path("logs/cerebros_service.log")
DEFAULT_ARCHITECTURE = "byte-gru"

# S3 refuses multipart parts smaller than 5 MiB (except the last one), so a
# lower threshold would produce uploads that fail on the final request.
MIN_MULTIPART_THRESHOLD = 5 * 1024 * 1024
# boto3's own default: more, smaller parts upload in parallel, which was
# faster for a 105 MB checkpoint than 64 MiB parts (benchmarks/checkpoint_upload.py).
DEFAULT_MULTIPART_THRESHOLD = 8 * 1024 * 1024

# Defaults computed at start-up, shown as text in the configuration reference.
_COMPUTED_DEFAULTS = {
    "worker_id": "<hostname>-<hash of state_dir>",
    "checkpoint_url": "file://<state_dir>/checkpoints",
}


class SettingDoc(NamedTuple):
    """One line of the configuration reference."""

    env_var: str
    description: str
    default: str


def default_worker_id(state_dir: Path) -> str:
    """Name a worker after its host and its state directory.

    The name must survive a restart, because a worker that crashed resumes
    its job under the lease it held. One state directory serves one worker
    at a time, so host and directory together are unique.
    """
    directory = str(state_dir.expanduser().resolve())
    digest = hashlib.sha256(directory.encode()).hexdigest()[:8]
    return f"{socket.gethostname()}-{digest}"


class WorkerSettings(BaseSettings):
    """Configuration of one trainer worker.

    Each field reads the environment variable named in its validation alias.
    Keyword arguments by field name override the environment, which is how
    the CLI applies its options and how tests build settings.
    """

    model_config = SettingsConfigDict(
        case_sensitive=False,
        validate_by_name=True,
        validate_by_alias=True,
        validate_assignment=True,
        extra="ignore",
    )

    api_url: str = Field(
        default=DEFAULT_API_URL,
        validation_alias=AliasChoices("THUNDERLINE_API_URL", "THUNDERLINE_URL"),
        description=(
            "Base URL of the coordination API. Falls back to THUNDERLINE_URL "
            "when THUNDERLINE_API_URL is unset."
        ),
    )
    api_token: SecretStr | None = Field(
        default=None,
        validation_alias="CEREBROS_API_TOKEN",
        description=(
            "Bearer token sent to the coordination API. Unset sends no "
            "Authorization header. Masked in log output."
        ),
    )
    poll_interval: float = Field(
        default=5.0,
        validation_alias="POLL_INTERVAL",
        description="Seconds between polls for a job, before any back-off.",
    )
    max_poll_interval: float = Field(
        default=60.0,
        validation_alias="CEREBROS_MAX_POLL_INTERVAL",
        description=(
            "Maximum seconds between polls while the worker backs off from "
            "POLL_INTERVAL (empty queue or failing API)."
        ),
    )
    worker_id: str = Field(
        default="",
        validation_alias="CEREBROS_WORKER_ID",
        description="Identifier this worker claims jobs and registers under.",
    )
    state_dir: Path = Field(
        default=DEFAULT_STATE_DIR,
        validation_alias="CEREBROS_STATE_DIR",
        description="Directory for local state such as checkpoints in progress.",
    )
    cache_dir: Path = Field(
        default=DEFAULT_CACHE_DIR,
        validation_alias="CEREBROS_CACHE_DIR",
        description="Directory where downloaded corpora are cached.",
    )
    checkpoint_url: str = Field(
        default="",
        validation_alias="CEREBROS_CHECKPOINT_URL",
        description=(
            "Where checkpoints are stored: s3://BUCKET/PREFIX or file:///ABSOLUTE/DIR."
        ),
    )
    aws_endpoint_url: str | None = Field(
        default=None,
        validation_alias="AWS_ENDPOINT_URL",
        description=(
            "S3 endpoint for MinIO or another S3-compatible store. Unset uses AWS."
        ),
    )
    aws_region: str | None = Field(
        default=None,
        validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"),
        description=(
            "AWS region of the checkpoint bucket. Falls back to "
            "AWS_DEFAULT_REGION, then to the boto3 profile."
        ),
    )
    s3_addressing_style: Literal["auto", "path", "virtual"] = Field(
        default="auto",
        validation_alias="CEREBROS_S3_ADDRESSING_STYLE",
        description=(
            "S3 addressing style: path, virtual, or auto (path when "
            "AWS_ENDPOINT_URL is set, otherwise chosen by boto3)."
        ),
    )
    s3_max_attempts: int = Field(
        default=8,
        validation_alias="CEREBROS_S3_MAX_ATTEMPTS",
        description=(
            "Maximum attempts per S3 request, including the first, for "
            "throttling, 5xx and connection errors."
        ),
    )
    s3_upload_deadline: float = Field(
        default=300.0,
        ge=0,
        validation_alias="CEREBROS_S3_UPLOAD_DEADLINE",
        description=(
            "Seconds the worker keeps retrying a checkpoint upload while the "
            "S3 store is unreachable, throttling or failing with 5xx, before "
            "it fails the job."
        ),
    )
    s3_connect_timeout: float = Field(
        default=10.0,
        validation_alias="CEREBROS_S3_CONNECT_TIMEOUT",
        description="Seconds to wait for a connection to the S3 endpoint.",
    )
    s3_read_timeout: float = Field(
        default=60.0,
        validation_alias="CEREBROS_S3_READ_TIMEOUT",
        description="Seconds to wait for each S3 response read.",
    )
    s3_multipart_threshold: int = Field(
        default=DEFAULT_MULTIPART_THRESHOLD,
        validation_alias="CEREBROS_S3_MULTIPART_THRESHOLD",
        description=(
            "Checkpoint size in bytes from which uploads use S3 multipart "
            "(at least 5 MiB); also the part size."
        ),
    )
    log_file: Path | None = Field(
        default=DEFAULT_LOG_FILE,
        validation_alias="CEREBROS_LOG_FILE",
        description=("Log file, rotated by size. An empty value logs to stderr only."),
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        validation_alias="CEREBROS_LOG_FORMAT",
        description="Log line format: text, or json with one object per line.",
    )
    default_architecture: str = Field(
        default=DEFAULT_ARCHITECTURE,
        validation_alias="CEREBROS_DEFAULT_ARCHITECTURE",
        description=(
            "Architecture trained when a job's model id names no registered "
            "architecture and strict model ids are off."
        ),
    )
    strict_model_ids: bool = Field(
        default=False,
        validation_alias="CEREBROS_STRICT_MODEL_IDS",
        description=(
            "Fail jobs whose model id names no registered architecture, "
            "instead of training the default architecture."
        ),
    )
    max_bad_line_share: float = Field(
        default=0.01,
        validation_alias="CEREBROS_MAX_BAD_LINE_SHARE",
        description=(
            "Maximum share (0 to 1) of corpus lines that may be unreadable "
            "before the job fails."
        ),
    )
    corpus_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        validation_alias="CEREBROS_CORPUS_ROOTS",
        description=(
            "Local directories a corpus path may lie under, separated by "
            f"{os.pathsep!r}. Empty allows any path."
        ),
    )
    grace_period: float = Field(
        default=30.0,
        validation_alias="CEREBROS_GRACE_PERIOD",
        description=(
            "Seconds the worker waits after a stop signal for the current job "
            "to stop cleanly before it exits."
        ),
    )
    heartbeat_interval: float = Field(
        default=30.0,
        validation_alias="CEREBROS_HEARTBEAT_INTERVAL",
        description="Seconds between service heartbeats and lease renewals.",
    )
    lease_seconds: float = Field(
        default=120.0,
        validation_alias="CEREBROS_LEASE_SECONDS",
        description=(
            "Seconds a claimed job stays leased to this worker without a "
            "renewal. Must exceed CEREBROS_HEARTBEAT_INTERVAL."
        ),
    )
    mlflow_tracking_uri: str | None = Field(
        default=None,
        validation_alias="MLFLOW_TRACKING_URI",
        description=(
            "MLflow tracking server URI. Setting it logs one MLflow run per job "
            "(needs the mlflow extra). Unset logs nothing to MLflow."
        ),
    )
    mlflow_experiment: str = Field(
        default="cerebros",
        validation_alias="MLFLOW_EXPERIMENT_NAME",
        description=(
            "MLflow experiment that contains the job runs, created when missing."
        ),
    )
    tensorboard_dir: Path | None = Field(
        default=None,
        validation_alias="CEREBROS_TENSORBOARD_DIR",
        description=(
            "Directory for TensorBoard event files, one subdirectory per job "
            "(needs the tensorboard extra). Unset writes none."
        ),
    )

    @field_validator("api_url")
    @classmethod
    def _check_api_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                f"THUNDERLINE_API_URL is invalid: received {value!r}, expected "
                "an http:// or https:// URL such as http://localhost:5001"
            )

        return value

    @field_validator("api_token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None

        return value

    @field_validator(
        "poll_interval",
        "max_poll_interval",
        "heartbeat_interval",
        "lease_seconds",
        "s3_connect_timeout",
        "s3_read_timeout",
    )
    @classmethod
    def _check_positive_seconds(cls, value: float, info: ValidationInfo) -> float:
        if not value > 0:
            env_var = _env_var_of(str(info.field_name))
            raise ValueError(
                f"{env_var} must be greater than 0 seconds: received {value}. "
                f"Set {env_var} to a positive number of seconds."
            )

        return value

    @field_validator("grace_period")
    @classmethod
    def _check_grace_period(cls, value: float) -> float:
        if not value >= 0:
            raise ValueError(
                f"CEREBROS_GRACE_PERIOD must be 0 or more seconds: received "
                f"{value}. Set it to 0 to stop at once, or to a number of seconds."
            )

        return value

    @field_validator("max_bad_line_share")
    @classmethod
    def _check_share(cls, value: float) -> float:
        if not 0 <= value <= 1:
            raise ValueError(
                f"CEREBROS_MAX_BAD_LINE_SHARE must lie from 0 to 1: received "
                f"{value}. Use 0.01 to allow one bad line in a hundred."
            )

        return value

    @field_validator("s3_max_attempts")
    @classmethod
    def _check_attempts(cls, value: int) -> int:
        if not 1 <= value <= 50:
            raise ValueError(
                f"CEREBROS_S3_MAX_ATTEMPTS must be an integer from 1 to 50: "
                f"received {value}."
            )

        return value

    @field_validator("s3_multipart_threshold")
    @classmethod
    def _check_threshold(cls, value: int) -> int:
        if value < MIN_MULTIPART_THRESHOLD:
            raise ValueError(
                f"CEREBROS_S3_MULTIPART_THRESHOLD must be at least "
                f"{MIN_MULTIPART_THRESHOLD} bytes (5 MiB, the smallest S3 part): "
                f"received {value}."
            )

        return value

    @field_validator("log_file", mode="before")
    @classmethod
    def _empty_log_file_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None

        return value

    @field_validator("mlflow_tracking_uri", "tensorboard_dir", mode="before")
    @classmethod
    def _empty_integration_setting_is_none(cls, value: Any) -> Any:
        # An empty variable switches the integration off, as unset does.
        if isinstance(value, str) and not value.strip():
            return None

        return value

    @field_validator("mlflow_experiment")
    @classmethod
    def _check_mlflow_experiment(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError(
                "MLFLOW_EXPERIMENT_NAME is empty: set it to an experiment name "
                "such as cerebros, or unset it to use cerebros"
            )

        return value

    @field_validator("worker_id")
    @classmethod
    def _check_worker_id(cls, value: str) -> str:
        # An empty value means "derive one from the host and state directory",
        # which happens once every field is known.
        return value.strip()

    @field_validator("corpus_roots", mode="before")
    @classmethod
    def _split_corpus_roots(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part for part in value.split(os.pathsep) if part.strip()]

        return value

    @field_validator("checkpoint_url")
    @classmethod
    def _check_checkpoint_url(cls, value: str) -> str:
        value = value.strip()
        if not value:
            # Filled in from state_dir by _fill_checkpoint_url.
            return value

        try:
            parse_checkpoint_url(value)
        except ValueError as error:
            raise ValueError(f"CEREBROS_CHECKPOINT_URL is invalid: {error}") from None

        return value

    @model_validator(mode="after")
    def _fill_worker_id(self) -> WorkerSettings:
        if not self.worker_id:
            self.__dict__["worker_id"] = default_worker_id(self.state_dir)
        return self

    @model_validator(mode="after")
    def _fill_checkpoint_url(self) -> WorkerSettings:
        if not self.checkpoint_url:
            directory = self.state_dir.expanduser().resolve() / "checkpoints"
            # Assign through __dict__ so validate_assignment does not rerun
            # this validator recursively.
            self.__dict__["checkpoint_url"] = directory.as_uri()

        return self

    @model_validator(mode="after")
    def _check_poll_bounds(self) -> WorkerSettings:
        if self.max_poll_interval < self.poll_interval:
            raise ValueError(
                f"CEREBROS_MAX_POLL_INTERVAL ({self.max_poll_interval}) is "
                f"smaller than POLL_INTERVAL ({self.poll_interval}): raise "
                "CEREBROS_MAX_POLL_INTERVAL or lower POLL_INTERVAL"
            )

        return self

    @model_validator(mode="after")
    def _check_lease_covers_heartbeat(self) -> WorkerSettings:
        if self.lease_seconds <= self.heartbeat_interval:
            raise ValueError(
                f"CEREBROS_LEASE_SECONDS ({self.lease_seconds}) must exceed "
                f"CEREBROS_HEARTBEAT_INTERVAL ({self.heartbeat_interval}), or "
                "the lease expires between renewals: raise CEREBROS_LEASE_SECONDS "
                "or lower CEREBROS_HEARTBEAT_INTERVAL"
            )

        return self

    @classmethod
    def describe_fields(cls) -> list[SettingDoc]:
        """Return the environment variable, description and default of each field."""
        docs = []
        for name, field in cls.model_fields.items():
            if name in _COMPUTED_DEFAULTS:
                default = _COMPUTED_DEFAULTS[name]
            elif field.default_factory is not None:
                default = ""
            else:
                default = _format_default(field.default)

            docs.append(SettingDoc(_env_var_of(name), field.description or "", default))

        return docs


def _env_var_of(field_name: str) -> str:
    """Return the primary environment variable of a field."""
    alias = WorkerSettings.model_fields[field_name].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])

    return str(alias)


def _format_default(value: object) -> str:
    if value is None:
        return ""

    if isinstance(value, bool):
        return "true" if value else "false"

    return str(value)
