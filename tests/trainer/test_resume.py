"""Choosing where an interrupted job resumes."""

from __future__ import annotations

from cerebros_trainer.resume import find_resume_point, parse_checkpoint_url


def test_parse_names_phase_and_partial() -> None:
    assert parse_checkpoint_url("s3://b/p/job/phase-2.keras") == (2, False)
    assert parse_checkpoint_url("file:///c/job/phase-3-partial.keras") == (3, True)
    assert parse_checkpoint_url("s3://b/other.keras") is None


def test_no_checkpoint_means_no_resume() -> None:
    assert find_resume_point({}, []) is None
    assert find_resume_point({}, ["s3://b/model.keras"]) is None


def test_latest_finished_phase_wins() -> None:
    point = find_resume_point({}, ["s3://b/j/phase-1.keras", "s3://b/j/phase-2.keras"])

    assert point is not None
    assert point.checkpoint_url == "s3://b/j/phase-2.keras"
    assert point.next_phase == 3


def test_partial_checkpoint_resumes_inside_its_phase() -> None:
    point = find_resume_point(
        {}, ["s3://b/j/phase-1.keras", "s3://b/j/phase-2-partial.keras"]
    )

    assert point is not None
    assert point.checkpoint_url == "s3://b/j/phase-2-partial.keras"
    assert point.next_phase == 2
    assert point.finished_phases == 1


def test_journal_preferred_for_same_phase() -> None:
    point = find_resume_point(
        {1: "s3://b/j/phase-1.keras?from=journal"}, ["s3://b/j/phase-1.keras"]
    )

    assert point is not None
    assert point.checkpoint_url.endswith("from=journal")
