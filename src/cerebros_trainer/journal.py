"""Small on-disk record of the job a worker is running, for crash recovery.

The journal is one JSON file in the worker's state directory. It is written
atomically when a job starts and after every completed phase, so a worker
restarted after a crash (or `kill -9`) finds which job it had, which phases
are already trained and where their checkpoints are.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

JOURNAL_FILE_NAME = "current_job.json"


@dataclass
class JournalEntry:
    """Record of the worker's current job."""

    job: dict[str, Any]
    worker_id: str
    completed_phases: dict[int, str] = field(default_factory=dict)
    phase_metrics: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def job_id(self) -> str:
        """The id of the journaled job."""
        return str(self.job["id"])


class Journal:
    """Reads and writes the journal file of one worker."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self._path = state_dir / JOURNAL_FILE_NAME

    @property
    def path(self) -> Path:
        """Location of the journal file."""
        return self._path

    def load(self) -> JournalEntry | None:
        """Return the journaled job, or None when the worker held no job."""
        if not self._path.exists():
            return None
        try:
            data = json.loads(self._path.read_text("utf-8"))
            return JournalEntry(
                job=dict(data["job"]),
                worker_id=str(data["worker_id"]),
                completed_phases={
                    int(k): str(v) for k, v in data["completed_phases"].items()
                },
                phase_metrics={
                    int(k): dict(v) for k, v in data["phase_metrics"].items()
                },
            )
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            # The file is only ever replaced atomically, so this means it was
            # edited by hand or the disk is failing. Recovery is impossible,
            # but the job's checkpoints on the coordinator still allow a resume.
            logger.error(
                "Ignored unreadable journal %s (%s): the job it named resumes "
                "from the coordinator's checkpoint list instead",
                self._path,
                error,
            )
            return None

    def save(self, entry: JournalEntry) -> None:
        """Write the entry atomically, replacing the previous one."""
        data = asdict(entry)
        temporary = self._path.with_suffix(".tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump(data, handle, default=str)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self._path)

    def clear(self) -> None:
        """Forget the current job, once it is completed, failed or handed back."""
        self._path.unlink(missing_ok=True)
