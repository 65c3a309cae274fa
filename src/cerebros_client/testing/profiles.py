"""Behaviour profiles of the stand-in coordinator.

``strict`` is a corrected coordinator: 404 for unknown ids, 409 for illegal
status transitions, 422 naming the invalid field, leases and idempotency
keys.

``thunderline-compat`` imitates the Thunderline server as deployed in late
2025, as described by its Phoenix controller and Ash resources. It has no
claim route and no transition checks. It returns 500 for an unknown
well-formed id, 400 for an id that is not a UUID, and error bodies with no
detail. It appends duplicate checkpoints, merges metrics shallowly and
ignores ``final_model_id``.
"""

from __future__ import annotations

from dataclasses import dataclass

STRICT = "strict"
THUNDERLINE_COMPAT = "thunderline-compat"


@dataclass(frozen=True)
class Profile:
    """Switches that separate the corrected coordinator from the deployed one."""

    name: str
    claims: bool
    """Serve ``POST /api/jobs/claim`` and lease renewal."""
    check_transitions: bool
    """Reject illegal status changes with 409."""
    detailed_errors: bool
    """Name the failing value in error bodies, and use 404 and 422."""
    idempotency_keys: bool
    """Honour the ``Idempotency-Key`` header on checkpoint POSTs."""
    merge_metrics: bool
    """Merge every phase's metrics into one map, so later phases overwrite."""
    dedupe_checkpoints: bool
    """Skip a checkpoint URL that the job already lists."""
    accepts_final_model_id: bool
    """Store ``final_model_id`` of a completed job as ``fine_tuned_model``."""
    require_frozen_dataset: bool
    """Reject a job for a dataset that is not frozen yet."""


PROFILES: dict[str, Profile] = {
    STRICT: Profile(
        name=STRICT,
        claims=True,
        check_transitions=True,
        detailed_errors=True,
        idempotency_keys=True,
        merge_metrics=False,
        dedupe_checkpoints=True,
        accepts_final_model_id=True,
        require_frozen_dataset=True,
    ),
    THUNDERLINE_COMPAT: Profile(
        name=THUNDERLINE_COMPAT,
        claims=False,
        check_transitions=False,
        detailed_errors=False,
        idempotency_keys=False,
        merge_metrics=True,
        dedupe_checkpoints=False,
        accepts_final_model_id=False,
        require_frozen_dataset=False,
    ),
}


def get_profile(name: str) -> Profile:
    """Return the profile called ``name``; raise ValueError listing known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise ValueError(
            f"unknown coordinator profile {name!r}: expected one of {known}"
        ) from None
