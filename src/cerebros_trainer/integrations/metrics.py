"""Metric conversions shared by the experiment tracking observers."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

_UNSAFE_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9_.-]")


def global_step(phase: int, epoch: int, epochs_per_phase: int) -> int:
    """Count epochs across phases: epoch `epoch` (1-based) of phase `phase`.

    Phase 2, epoch 1 of a job with 3 epochs per phase is step 4, so the
    curves of consecutive phases join up in one chart.
    """
    return (phase - 1) * epochs_per_phase + epoch


def scalar_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Keep the metrics that are finite numbers, as floats.

    None (a validation metric without validation data), NaN and infinity
    are left out, because trackers reject or mis-plot them.
    """
    scalars = {}
    for key, value in metrics.items():
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int | float):
            continue
        if math.isfinite(value):
            scalars[key] = float(value)
    return scalars


def new_scalars(
    metrics: Mapping[str, float], already_logged: Mapping[str, float]
) -> dict[str, float]:
    """Return the metrics whose value differs from, or is missing in, `already_logged`.

    A phase's summary repeats its last epoch's metrics. Logging them twice
    at the same step would put duplicate points in the charts.
    """
    return {
        key: value for key, value in metrics.items() if already_logged.get(key) != value
    }


def safe_path_name(name: str) -> str:
    """Replace characters other than letters, digits, `_`, `.` and `-` with `_`.

    Job ids name directories and run names, and an id from a misbehaving
    coordinator must not be able to escape the directory with `/` or `..`.
    """
    cleaned = _UNSAFE_NAME_CHARACTERS.sub("_", name)
    if cleaned in ("", ".", ".."):
        return cleaned.replace(".", "_") or "_"
    return cleaned
