"""Request bodies of the coordination API, validated strictly.

Strict mode rejects a string where a number belongs and ``true`` where an
integer belongs, so a client bug shows up as a 422 naming the field instead
of being coerced silently. Unknown keys are ignored, as the deployed server
ignores them.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

JobStatusName = Literal["queued", "running", "completed", "failed", "cancelled"]
JOB_STATUSES: tuple[str, ...] = (
    "queued",
    "running",
    "completed",
    "failed",
    "cancelled",
)

MAX_PHASE = 4
MAX_LEASE_SECONDS = 86_400.0

MetricValue = Annotated[float, Field(allow_inf_nan=False)] | None
"""A metric is a finite number, or null where the client had NaN or infinity."""


def _reject_non_finite(value: Any, path: str = "") -> Any:
    # Python's json module reads NaN and Infinity, but the responses are
    # strict JSON, so such a value stored here could never be sent back.
    if isinstance(value, float) and not math.isfinite(value):
        where = f" at {path!r}" if path else ""
        raise ValueError(f"non-finite number {value!r}{where}; send null instead")
    if isinstance(value, dict):
        for key, item in value.items():
            _reject_non_finite(item, f"{path}.{key}" if path else str(key))
    if isinstance(value, list):
        for index, item in enumerate(value):
            _reject_non_finite(item, f"{path}[{index}]")
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_reject_non_finite)]
"""A JSON object whose numbers are all finite."""


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class StatusUpdate(_Body):
    """Body of ``PATCH /api/jobs/{id}/status``."""

    status: JobStatusName
    final_model_id: str | None = None
    fine_tuned_model: str | None = None
    error_message: str | None = None


class MetricsUpdate(_Body):
    """Body of ``PATCH /api/jobs/{id}/metrics``; phase defaults to the job's phase."""

    metrics: dict[str, MetricValue]
    phase: int | None = Field(default=None, ge=0, le=MAX_PHASE)


class CheckpointCreate(_Body):
    """Body of ``POST /api/jobs/{id}/checkpoints``; phase defaults to the job's."""

    checkpoint_url: str = Field(min_length=1)
    phase: int | None = Field(default=None, ge=0, le=MAX_PHASE)


class ClaimRequest(_Body):
    """Body of ``POST /api/jobs/claim``."""

    worker_id: str = Field(min_length=1)
    lease_seconds: float | None = Field(default=None, gt=0, le=MAX_LEASE_SECONDS)


class LeaseRenewal(_Body):
    """Body of ``POST /api/jobs/{id}/lease``."""

    worker_id: str = Field(min_length=1)
    lease_seconds: float | None = Field(default=None, gt=0, le=MAX_LEASE_SECONDS)


class DatasetCreate(_Body):
    """Body of ``POST /api/datasets``."""

    name: str = Field(min_length=1)
    description: str | None = None
    metadata: JsonObject = Field(default_factory=dict)


class DatasetUpdate(_Body):
    """Body of ``PATCH /api/datasets/{id}``; ``total_chunks`` is counted when absent."""

    corpus_path: str = Field(min_length=1)
    total_chunks: int | None = Field(default=None, ge=0)


class JobCreate(_Body):
    """Body of ``POST /api/jobs``."""

    training_dataset_id: str = Field(min_length=1)
    model_id: str = Field(min_length=1)
    hyperparameters: JsonObject = Field(default_factory=dict)
    metadata: JsonObject = Field(default_factory=dict)


class ServiceRegister(_Body):
    """Body of ``POST /api/registry/register``."""

    service_id: str = Field(min_length=1)
    service_type: str = "cerebros"
    name: str = Field(min_length=1)
    host: str = Field(min_length=1)
    port: int = Field(ge=0, le=65_535)
    capabilities: (
        JsonObject | Annotated[list[Any], AfterValidator(_reject_non_finite)]
    ) = Field(default_factory=dict)
    metadata: JsonObject = Field(default_factory=dict)


class ServiceHeartbeat(_Body):
    """Body of ``PATCH /api/registry/{id}/heartbeat``."""

    status: Literal["healthy", "busy"] = "healthy"
    metadata: JsonObject = Field(default_factory=dict)


class FaultCreate(_Body):
    """Body of ``POST /_admin/faults``; see ``FaultSet.add`` for the meaning."""

    method: str = "*"
    path: str = Field(min_length=1)
    status: int | None = Field(default=None, ge=100, le=599)
    body: str | None = None
    html: bool = False
    delay: float = Field(default=0.0, ge=0, le=600)
    drop: bool = False
    truncate: bool = False
    after_handler: bool = False
    times: int = Field(default=1, ge=1)
