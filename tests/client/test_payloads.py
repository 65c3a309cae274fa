"""Request body checks: phases, metrics, statuses, ids and idempotency keys."""

from __future__ import annotations

import math

import pytest

from cerebros_client import JobStatus
from cerebros_client._payloads import (
    check_id,
    check_phase,
    check_status,
    checkpoint_idempotency_key,
    clean_metrics,
)


@pytest.mark.parametrize("phase", [0, 1, 4])
def test_phase_in_range(phase: int) -> None:
    assert check_phase(phase) == phase


@pytest.mark.parametrize("phase", [-1, 5, 100])
def test_phase_out_of_range(phase: int) -> None:
    with pytest.raises(ValueError, match=f"received {phase}, expected 0 to 4"):
        check_phase(phase)


@pytest.mark.parametrize("phase", [True, 1.0, "1", None])
def test_phase_not_integer(phase: object) -> None:
    with pytest.raises(TypeError, match="expected an integer from 0 to 4"):
        check_phase(phase)  # type: ignore[arg-type]


def test_clean_metrics_non_finite() -> None:
    cleaned = clean_metrics(
        {
            "loss": 1.25,
            "nan": math.nan,
            "inf": math.inf,
            "ninf": -math.inf,
            "steps": 10,
            "missing": None,
        }
    )

    assert cleaned == {
        "loss": 1.25,
        "nan": None,
        "inf": None,
        "ninf": None,
        "steps": 10,
        "missing": None,
    }
    assert isinstance(cleaned["steps"], int)


def test_clean_metrics_numpy_scalars() -> None:
    numpy = pytest.importorskip("numpy")

    cleaned = clean_metrics(
        {"loss": numpy.float32(0.5), "n": numpy.int64(3), "bad": numpy.float64("nan")}
    )

    assert cleaned == {"loss": 0.5, "n": 3, "bad": None}
    assert type(cleaned["loss"]) is float
    assert type(cleaned["n"]) is int


@pytest.mark.parametrize("value", ["1.0", True, [1]])
def test_clean_metrics_rejects_non_numbers(value: object) -> None:
    with pytest.raises(TypeError, match="metric 'loss' is invalid: received"):
        clean_metrics({"loss": value})  # type: ignore[dict-item]


def test_check_status() -> None:
    assert check_status("Completed") is JobStatus.COMPLETED
    assert check_status(JobStatus.FAILED) is JobStatus.FAILED
    with pytest.raises(ValueError, match="expected one of queued, running"):
        check_status("done")


def test_check_id() -> None:
    assert check_id("job_id", "a/b c") == "a%2Fb%20c"
    with pytest.raises(ValueError, match="dataset_id is invalid"):
        check_id("dataset_id", "  ")


def test_idempotency_key_deterministic() -> None:
    first = checkpoint_idempotency_key("job", "s3://b/k", 1)

    assert first == checkpoint_idempotency_key("job", "s3://b/k", 1)
    assert first != checkpoint_idempotency_key("job", "s3://b/k", 2)
    assert first != checkpoint_idempotency_key("job", "s3://b/k2", 1)
    assert first != checkpoint_idempotency_key("job2", "s3://b/k", 1)
    assert first.startswith("checkpoint-")
    assert len(first) == len("checkpoint-") + 32
