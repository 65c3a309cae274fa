"""Pydantic models for the bodies the coordinator sends.

Parsing is tolerant, because the deployed server and the published guide
disagree in small ways. Unknown fields are ignored, numbers sent as strings
are coerced and status values match case-insensitively. Timestamps without
a timezone are read as UTC, and null is read as an empty map or list.
Missing identity fields (a job's ``id``, a corpus's ``corpus_path``) still
fail, because the worker cannot act without them.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    model_validator,
)


class JobStatus(str, enum.Enum):
    """Status of a training job as the coordinator stores it."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @classmethod
    def _missing_(cls, value: object) -> JobStatus | None:
        # Servers and people write "Running" or "RUNNING" as well.
        if isinstance(value, str):
            lowered = value.strip().lower()
            for member in cls:
                if member.value == lowered:
                    return member
        return None


def _as_utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _as_int(value: Any) -> Any:
    # Lax pydantic parses "3" but not "3.0" or 3.0 sent as a string.
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            return value
        if number.is_integer():
            return int(number)
    return value


def _as_str(value: Any) -> Any:
    # Ids are strings in the contract, but an integer id is still usable.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _as_status(value: Any) -> Any:
    if isinstance(value, str):
        return JobStatus(value)
    return value


def _null_as_dict(value: Any) -> Any:
    return {} if value is None else value


def _null_as_list(value: Any) -> Any:
    return [] if value is None else value


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
LenientInt = Annotated[int, BeforeValidator(_as_int)]
Identifier = Annotated[str, BeforeValidator(_as_str)]
Status = Annotated[JobStatus, BeforeValidator(_as_status)]
AnyDict = Annotated[dict[str, Any], BeforeValidator(_null_as_dict)]
StrList = Annotated[list[str], BeforeValidator(_null_as_list)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


def _reject_bool(value: Any) -> Any:
    # Lax pydantic reads true as 1, which would train a job whose sender
    # made a mistake; keeping the raw value lets the trainer reject it.
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")  # noqa: TRY004 - pydantic needs ValueError
    return value


HyperparameterInt = Annotated[
    int, BeforeValidator(_as_int), BeforeValidator(_reject_bool)
]
HyperparameterFloat = Annotated[float, BeforeValidator(_reject_bool)]


class Hyperparameters(BaseModel):
    """Training hyperparameters of a job; keys other than the three are kept.

    Read unknown keys with ``model_extra`` or ``model_dump()``. When a value
    has the wrong type ("lots" for ``batch_size``, say), every value is kept
    as sent and unvalidated. The job then still parses, and the worker can fail
    it with a message naming the key instead of never seeing it.
    """

    model_config = ConfigDict(extra="allow")

    n_epochs: HyperparameterInt | None = None
    batch_size: HyperparameterInt | None = None
    learning_rate: HyperparameterFloat | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _keep_values_of_wrong_type(
        cls, data: Any, handler: ModelWrapValidatorHandler[Hyperparameters]
    ) -> Hyperparameters:
        try:
            return handler(data)
        except ValidationError:
            if not isinstance(data, dict):
                raise
            return cls.model_construct(**data)


class Job(_Lenient):
    """A training job as returned by poll, claim or get-by-id.

    `lease_expires_at` and `worker_id` are set only by a server that leases
    jobs to one worker. `phase_metrics` (metrics per phase, keyed by the
    phase number as a string) is sent only by the stand-in coordinator.
    """

    id: Identifier
    training_dataset_id: Identifier | None = None
    model_id: str | None = None
    status: Status = JobStatus.QUEUED
    hyperparameters: Annotated[Hyperparameters, BeforeValidator(_null_as_dict)] = Field(
        default_factory=Hyperparameters
    )
    metadata: AnyDict = Field(default_factory=dict)
    phase: Annotated[int, BeforeValidator(lambda v: 0 if v is None else _as_int(v))] = 0
    metrics: AnyDict = Field(default_factory=dict)
    phase_metrics: Annotated[
        dict[str, dict[str, Any]], BeforeValidator(_null_as_dict)
    ] = Field(default_factory=dict)
    error_message: str | None = None
    started_at: UtcDatetime | None = None
    completed_at: UtcDatetime | None = None
    checkpoint_urls: StrList = Field(default_factory=list)
    current_checkpoint_url: str | None = None
    fine_tuned_model: str | None = None
    inserted_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    lease_expires_at: UtcDatetime | None = None
    worker_id: str | None = None


class Corpus(_Lenient):
    """Location of a dataset's training text.

    `corpus_path` is a path on the coordinator's disk (a JSONL file or a
    directory of CSV chunks) or a URL such as ``s3://bucket/key``.
    """

    corpus_path: str
    dataset_id: Identifier | None = None
    dataset_name: str | None = None
    total_chunks: LenientInt | None = None
    metadata: AnyDict = Field(default_factory=dict)


class ServiceRegistration(_Lenient):
    """A worker's entry in the coordinator's service registry."""

    id: Identifier
    service_id: str | None = None
    service_type: str | None = None
    name: str | None = None
    host: str | None = None
    port: LenientInt | None = None
    status: str | None = None
    capabilities: Any = None
    metadata: AnyDict = Field(default_factory=dict)
    last_heartbeat_at: UtcDatetime | None = None


class Lease(_Lenient):
    """The lease part of a claim response: who holds the job, and until when."""

    worker_id: str | None = None
    expires_at: UtcDatetime | None = None


class ClaimResponse(_Lenient):
    """Body of ``POST /api/jobs/claim``: the job and its lease."""

    job: Job
    lease: Lease | None = None
