"""The result of reading a corpus: the token array and a report on its lines."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cerebros_trainer.corpus.tokens import TokenWriter

logger = logging.getLogger(__name__)

# Bad lines logged one by one before the rest are only counted.
LOGGED_BAD_LINES = 5
# Bad lines named in the report and in error messages.
REPORTED_BAD_LINES = 20


@dataclass
class CorpusReport:
    """Counts and samples from reading a corpus.

    `records` counts the non-blank lines (CSV rows) read, usable or not, and
    `bad_line_samples` names the first bad lines as "file:line: reason".
    """

    source: str
    files: list[str] = field(default_factory=list)
    documents: int = 0
    empty_documents: int = 0
    records: int = 0
    bad_lines: int = 0
    bad_line_samples: list[str] = field(default_factory=list)
    bytes: int = 0

    @property
    def bad_line_share(self) -> float:
        """Bad lines as a share of all records read (0.0 when none were read)."""
        total = self.records + self.bad_lines
        return self.bad_lines / total if total else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON-ready values."""
        return {
            "source": self.source,
            "files": list(self.files),
            "documents": self.documents,
            "empty_documents": self.empty_documents,
            "records": self.records,
            "bad_lines": self.bad_lines,
            "bad_line_samples": list(self.bad_line_samples),
            "bytes": self.bytes,
        }


@dataclass
class CorpusData:
    """A corpus read for training.

    `tokens` is a 1-D read-only `numpy.uint8` array of the documents' UTF-8
    bytes joined with b"\\n" (a `numpy.memmap` for large corpora).
    """

    tokens: np.ndarray
    report: CorpusReport


class CorpusCollector:
    """A `DocumentSink` that writes documents to a `TokenWriter` and counts lines.

    The report's `records` counts usable records only; bad lines are counted
    apart in `bad_lines`.
    """

    def __init__(self, report: CorpusReport, writer: TokenWriter) -> None:
        self.report = report
        self._writer = writer
        self._file_document_open = False

    def begin_file(self, name: str) -> None:
        """Start a file, so plain text goes to a new document."""
        self.report.files.append(name)
        self._file_document_open = False

    def add_documents(self, data: bytes, count: int) -> None:
        self._write_separator()
        self._writer.write(data)
        self.report.documents += count

    def extend_document(self, data: bytes) -> None:
        if not data:
            return
        if not self._file_document_open:
            self._write_separator()
            self._file_document_open = True
            self.report.documents += 1
        self._writer.write(data)

    def add_records(self, count: int, *, empty: int = 0) -> None:
        self.report.records += count
        self.report.empty_documents += empty

    def add_bad_line(self, file: str, line: int, reason: str) -> None:
        report = self.report
        report.bad_lines += 1
        sample = f"{file}:{line}: {reason}"
        if len(report.bad_line_samples) < REPORTED_BAD_LINES:
            report.bad_line_samples.append(sample)
        if report.bad_lines <= LOGGED_BAD_LINES:
            logger.warning("skipped bad corpus line %s", sample)

    def log_summary(self) -> None:
        """Log the bad lines that were counted but not logged one by one."""
        hidden = self.report.bad_lines - LOGGED_BAD_LINES
        if hidden > 0:
            logger.warning(
                "skipped %d more bad corpus lines in %s (%d in all)",
                hidden,
                self.report.source,
                self.report.bad_lines,
            )

    def _write_separator(self) -> None:
        if self._writer.size:
            self._writer.write(b"\n")
