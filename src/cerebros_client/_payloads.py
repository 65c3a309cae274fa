"""Checks and conversions applied to request bodies before they are sent."""

from __future__ import annotations

import hashlib
import math
import numbers
from collections.abc import Mapping
from urllib.parse import quote

from ._models import JobStatus

MIN_PHASE = 0
MAX_PHASE = 4
"""Largest phase the coordinator stores; it returns 400 for a larger one."""


def check_phase(phase: int) -> int:
    """Return `phase`; raise ValueError outside 0..4, TypeError for a non-integer."""
    if isinstance(phase, bool) or not isinstance(phase, int):
        raise TypeError(
            f"phase is invalid: received {phase!r}, expected an integer from "
            f"{MIN_PHASE} to {MAX_PHASE}"
        )
    if not MIN_PHASE <= phase <= MAX_PHASE:
        raise ValueError(
            f"phase is out of range: received {phase}, expected {MIN_PHASE} to "
            f"{MAX_PHASE}, the largest phase the coordinator stores"
        )
    return phase


def check_id(name: str, value: str) -> str:
    """Return `value` quoted for use as one path segment; reject empty ids."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} is invalid: received {value!r}, expected an id")
    return quote(value.strip(), safe="")


def check_status(status: JobStatus | str) -> JobStatus:
    """Return `status` as a `JobStatus`, raising ValueError for other values."""
    try:
        return JobStatus(status)
    except ValueError:
        allowed = ", ".join(member.value for member in JobStatus)
        raise ValueError(
            f"status is invalid: received {status!r}, expected one of {allowed}"
        ) from None


def clean_metrics(
    metrics: Mapping[str, float | int | None],
) -> dict[str, float | int | None]:
    """Copy `metrics` with NaN and infinities as None, which JSON sends as null.

    Integers stay integers; other numbers (numpy scalars included) become
    floats, since the standard JSON encoder rejects numpy types.
    """
    cleaned: dict[str, float | int | None] = {}
    for key, value in metrics.items():
        if not isinstance(key, str):
            raise TypeError(
                f"metric name is invalid: received {key!r}, expected a string"
            )
        cleaned[key] = _clean_number(key, value)
    return cleaned


def _clean_number(key: str, value: object) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
        return number if math.isfinite(number) else None
    raise TypeError(
        f"metric {key!r} is invalid: received {value!r}, expected a number or None"
    )


def checkpoint_idempotency_key(job_id: str, checkpoint_url: str, phase: int) -> str:
    """Derive the ``Idempotency-Key`` of a checkpoint from what identifies it.

    The same job, URL and phase always give the same key, so a retry, or a
    restarted worker registering the same checkpoint, sends the same key.
    """
    material = f"{job_id}\n{phase}\n{checkpoint_url}".encode()
    return "checkpoint-" + hashlib.sha256(material).hexdigest()[:32]
