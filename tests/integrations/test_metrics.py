"""Tests of the metric helpers shared by the tracking observers."""

from __future__ import annotations

import pytest

from cerebros_trainer.integrations.metrics import (
    global_step,
    new_scalars,
    safe_path_name,
    scalar_metrics,
)


@pytest.mark.parametrize(
    ("phase", "epoch", "epochs_per_phase", "expected"),
    [(1, 1, 1, 1), (2, 1, 1, 2), (1, 3, 3, 3), (2, 1, 3, 4), (4, 2, 5, 17)],
)
def test_global_step_counts_across_phases(
    phase: int, epoch: int, epochs_per_phase: int, expected: int
) -> None:
    assert global_step(phase, epoch, epochs_per_phase) == expected


def test_scalar_metrics_keeps_finite_numbers() -> None:
    metrics = {
        "loss": 1.5,
        "epoch": 2,
        "fallback": True,
        "val_loss": None,
        "val_perplexity": float("inf"),
        "accuracy": float("nan"),
        "name": "byte-gru",
    }

    scalars = scalar_metrics(metrics)

    assert scalars == {"loss": 1.5, "epoch": 2.0, "fallback": 1.0}
    assert all(isinstance(value, float) for value in scalars.values())


def test_new_scalars_skips_repeated_values() -> None:
    last_epoch = {"loss": 1.5, "phase": 1.0}
    summary = {"loss": 1.5, "phase": 1.0, "parameters": 4096.0, "val_loss": 2.0}

    assert new_scalars(summary, last_epoch) == {"parameters": 4096.0, "val_loss": 2.0}


def test_new_scalars_keeps_changed_values() -> None:
    assert new_scalars({"loss": 1.2}, {"loss": 1.5}) == {"loss": 1.2}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("7c9e6679-7425-40de-944b", "7c9e6679-7425-40de-944b"),
        ("job 12", "job_12"),
        ("../../etc", ".._.._etc"),
        ("a/b", "a_b"),
        ("..", "__"),
        (".", "_"),
        ("", "_"),
    ],
)
def test_safe_path_name(name: str, expected: str) -> None:
    assert safe_path_name(name) == expected
