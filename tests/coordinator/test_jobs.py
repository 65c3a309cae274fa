"""Job rules applied to documents: transitions, metrics and checkpoints."""

from __future__ import annotations

import pytest

from cerebros_client.testing import get_profile
from cerebros_client.testing.errors import Conflict
from cerebros_client.testing.jobs import (
    ALLOWED_TRANSITIONS,
    apply_checkpoint,
    apply_status,
    grant_lease,
    isoformat,
    new_job,
)

STRICT = get_profile("strict")
COMPAT = get_profile("thunderline-compat")
NOW = 1_764_547_200.0


def _job(status: str = "queued") -> dict[str, object]:
    job = new_job("d1", "m", {}, {}, NOW)
    job["status"] = status
    return job


def _move(job: dict[str, object], status: str, profile: object = STRICT) -> None:
    apply_status(
        job,
        status,
        final_model_id=None,
        fine_tuned_model=None,
        error_message=None,
        profile=profile,
        now=NOW,
    )  # type: ignore[arg-type]


def test_isoformat_matches_server() -> None:
    assert isoformat(NOW) == "2025-12-01T00:00:00.000000Z"


@pytest.mark.parametrize("current", sorted(ALLOWED_TRANSITIONS))
@pytest.mark.parametrize("target", sorted(ALLOWED_TRANSITIONS))
def test_strict_transition_table(current: str, target: str) -> None:
    job = _job(current)
    if target in ALLOWED_TRANSITIONS[current]:
        _move(job, target)
        assert job["status"] == target
    else:
        with pytest.raises(
            Conflict, match=f"cannot move from '{current}' to '{target}'"
        ):
            _move(job, target)
        assert job["status"] == current


def test_terminal_statuses_accept_only_repeat() -> None:
    for status in ("completed", "failed", "cancelled"):
        assert ALLOWED_TRANSITIONS[status] == frozenset({status})


def test_requeue_clears_lease() -> None:
    job = _job()
    grant_lease(job, "w1", 30, NOW)

    _move(job, "queued")

    assert job["worker_id"] is None
    assert job["lease_expires_ts"] is None
    assert job["started_at"] is None


def test_failed_keeps_error_message() -> None:
    job = _job("running")

    apply_status(
        job,
        "failed",
        final_model_id=None,
        fine_tuned_model=None,
        error_message="corpus missing",
        profile=STRICT,
        now=NOW,
    )

    assert job["error_message"] == "corpus missing"
    assert job["completed_at"] == isoformat(NOW)


def test_compat_checkpoint_appends_repeat() -> None:
    strict_job, compat_job = _job("running"), _job("running")

    for _ in range(2):
        apply_checkpoint(strict_job, "s3://b/k", 1, STRICT, NOW)
        apply_checkpoint(compat_job, "s3://b/k", 1, COMPAT, NOW)

    assert strict_job["checkpoint_urls"] == ["s3://b/k"]
    assert compat_job["checkpoint_urls"] == ["s3://b/k", "s3://b/k"]
