"""Metric cleaning and checkpoint idempotency keys."""

from __future__ import annotations

import math

from cerebros_trainer.reporting import checkpoint_idempotency_key, finite_metrics


def test_non_finite_metrics_become_none() -> None:
    cleaned = finite_metrics(
        {"loss": math.nan, "perplexity": math.inf, "accuracy": 0.5, "epoch": 2}
    )

    assert cleaned == {"loss": None, "perplexity": None, "accuracy": 0.5, "epoch": 2}


def test_non_numeric_metrics_are_left_out() -> None:
    cleaned = finite_metrics({"architecture": "byte-gru", "fallback": True, "x": "3"})

    assert cleaned == {"fallback": 1, "x": 3.0}


def test_idempotency_key_is_stable_and_specific() -> None:
    first = checkpoint_idempotency_key("job", "s3://b/phase-1.keras", 1)

    assert first == checkpoint_idempotency_key("job", "s3://b/phase-1.keras", 1)
    assert first != checkpoint_idempotency_key("job", "s3://b/phase-1.keras", 2)
    assert first != checkpoint_idempotency_key("other", "s3://b/phase-1.keras", 1)
