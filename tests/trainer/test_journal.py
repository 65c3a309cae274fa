"""The crash-recovery journal."""

from __future__ import annotations

from pathlib import Path

from cerebros_trainer.journal import Journal, JournalEntry


def test_round_trip_keeps_phases(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    entry = JournalEntry(job={"id": "job-1"}, worker_id="w1")
    entry.completed_phases[1] = "s3://b/p/job-1/phase-1.keras"
    entry.phase_metrics[1] = {"loss": 1.25}

    journal.save(entry)
    loaded = Journal(tmp_path).load()

    assert loaded == entry
    assert loaded is not None
    assert loaded.job_id == "job-1"


def test_load_without_file_is_none(tmp_path: Path) -> None:
    assert Journal(tmp_path).load() is None


def test_clear_forgets_the_job(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.save(JournalEntry(job={"id": "job-1"}, worker_id="w1"))

    journal.clear()

    assert journal.load() is None


def test_unreadable_journal_is_ignored(tmp_path: Path, caplog) -> None:
    journal = Journal(tmp_path)
    journal.path.write_text("{not json")

    assert journal.load() is None
    assert "unreadable journal" in caplog.text
