"""Read a corpus location into a byte-token array with a report."""

from __future__ import annotations

import gzip
import logging
import zlib
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import IO, Any, cast

import requests
import urllib3

from cerebros_trainer.corpus.formats import READERS
from cerebros_trainer.corpus.report import CorpusCollector, CorpusData, CorpusReport
from cerebros_trainer.corpus.sources import CorpusFile, list_corpus_files
from cerebros_trainer.corpus.tokens import TokenWriter
from cerebros_trainer.errors import CorpusError

logger = logging.getLogger(__name__)

DEFAULT_MAX_BAD_LINE_SHARE = 0.01

# Errors a stream can raise part way through a file (network, gzip, disk).
_STREAM_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    zlib.error,
    requests.RequestException,
    urllib3.exceptions.HTTPError,
)


def read_corpus(
    location: str,
    *,
    cache_dir: Path,
    max_bad_line_share: float = DEFAULT_MAX_BAD_LINE_SHARE,
    allowed_roots: Sequence[Path] = (),
    s3_client: Any = None,
) -> CorpusData:
    """Read the corpus at `location` into UTF-8 byte tokens.

    `location` is an absolute path on this worker's disk, or a file://,
    s3:// or http(s):// URL, naming a .jsonl, .ndjson, .txt or .csv file
    (optionally .gz) or a directory (s3 prefix ending in "/") of them. Bad
    lines are skipped and reported. Large corpora spill to `cache_dir`.

    Raises `CorpusError` when the location cannot be read, when no usable
    text remains, or when bad lines exceed `max_bad_line_share` of the lines.
    """
    if not 0.0 <= max_bad_line_share <= 1.0:
        raise ValueError(
            f"max_bad_line_share must be from 0 to 1, received {max_bad_line_share!r}"
        )

    files = list_corpus_files(
        location, allowed_roots=allowed_roots, s3_client=s3_client
    )
    report = CorpusReport(source=location)
    writer = TokenWriter(cache_dir)
    collector = CorpusCollector(report, writer)
    try:
        for corpus_file in files:
            collector.begin_file(corpus_file.name)
            _read_file(corpus_file, collector)
        collector.log_summary()
        _check_usable(report, max_bad_line_share)
    except BaseException:
        writer.discard()
        raise

    report.bytes = writer.size
    tokens = writer.finish()
    logger.info(
        "read corpus %s: %d files, %d documents, %d bytes, %d bad lines",
        location,
        len(report.files),
        report.documents,
        report.bytes,
        report.bad_lines,
    )
    return CorpusData(tokens=tokens, report=report)


def _read_file(corpus_file: CorpusFile, collector: CorpusCollector) -> None:
    reader = READERS[corpus_file.format]
    try:
        with closing(corpus_file.open()) as raw:
            stream: IO[bytes] = raw
            if corpus_file.compressed:
                stream = cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
            reader(stream, corpus_file.name, collector)
    except _STREAM_ERRORS as exc:
        raise CorpusError(
            f"reading corpus file {corpus_file.name} failed: {exc}. Check that "
            "the file is complete (a .gz file must not be cut off) and readable"
        ) from exc


def _check_usable(report: CorpusReport, max_bad_line_share: float) -> None:
    samples = "; ".join(report.bad_line_samples)
    if report.documents == 0:
        detail = f" Bad lines: {samples}." if samples else ""
        raise CorpusError(
            f"corpus {report.source} contains no usable text: {report.records} "
            f"records read, {report.bad_lines} bad lines.{detail} Expected "
            'JSON lines like {"text": "..."}, CSV files with a \'text\' column '
            "or UTF-8 text"
        )

    share = report.bad_line_share
    if share > max_bad_line_share:
        raise CorpusError(
            f"corpus {report.source} has {report.bad_lines} bad lines of "
            f"{report.records + report.bad_lines} ({share:.1%}), more than "
            f"max_bad_line_share {max_bad_line_share:.1%}: {samples}. Fix or "
            "remove those lines, or raise the worker's max_bad_line_share"
        )
