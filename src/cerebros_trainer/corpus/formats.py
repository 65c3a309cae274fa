"""Readers for the corpus file formats: JSONL, plain text and CSV.

Each reader takes a binary stream and feeds a `DocumentSink`: documents as
UTF-8 bytes, and each bad line with its 1-based line number and reason.
Blank lines and a byte-order mark are skipped; CRLF line ends are accepted.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import IO, Protocol

from cerebros_trainer.errors import CorpusError

# Each block is parsed with one json.loads call, whose Python objects take
# several times the block's size: 1 MiB keeps that small and parses as fast.
CHUNK_BYTES = 1024 * 1024
CSV_FLUSH_ROWS = 1024
UTF8_BOM = b"\xef\xbb\xbf"


_JSON_TYPE_NAMES = {
    type(None): "null",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    list: "an array",
    dict: "an object",
}


class DocumentSink(Protocol):
    """Receives what a reader finds in one file."""

    def add_documents(self, data: bytes, count: int) -> None:
        """Take `count` non-empty documents, UTF-8 encoded, joined by b"\\n"."""

    def extend_document(self, data: bytes) -> None:
        """Append bytes to the file's single document (plain text files)."""

    def add_records(self, count: int, *, empty: int = 0) -> None:
        """Count non-blank lines or rows read, `empty` of them with no text."""

    def add_bad_line(self, file: str, line: int, reason: str) -> None:
        """Record one unusable line and skip it."""


class _BadLine(Exception):
    """One unusable line; the message is the reason shown to the operator."""


def read_jsonl(stream: IO[bytes], name: str, sink: DocumentSink) -> None:
    """Read JSON Lines, one `{"text": "..."}` object per line."""
    line_no = 0
    for block, last_line in _iter_line_blocks(stream):
        if block:
            line_no = _read_jsonl_block(block, name, line_no, sink)
        if last_line is not None:
            _read_last_jsonl_line(last_line, name, line_no + 1, sink)


def read_text(stream: IO[bytes], name: str, sink: DocumentSink) -> None:
    """Read a plain UTF-8 text file as one document, dropping invalid lines.

    CRLF line ends become LF; blank lines are kept because they separate
    paragraphs.
    """
    line_no = 0
    for block, last_line in _iter_line_blocks(stream):
        data = block + (last_line or b"")
        if data:
            line_no = _read_text_block(data, name, line_no, sink)


def read_csv(stream: IO[bytes], name: str, sink: DocumentSink) -> None:
    """Read a CSV file with a header row and a `text` column."""
    # Text chunks can be long, beyond the csv module's 128 KiB default.
    csv.field_size_limit(max(csv.field_size_limit(), 64 * 1024 * 1024))
    text_stream = io.TextIOWrapper(
        stream, encoding="utf-8-sig", errors="surrogateescape", newline=""
    )
    reader = csv.reader(text_stream)
    column = _text_column(reader, name)
    pending: list[bytes] = []
    empty = 0
    rows = 0
    line_no = reader.line_num
    while True:
        start_line = line_no + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            line_no = reader.line_num
            sink.add_bad_line(name, start_line, f"invalid CSV: {exc}")
            continue

        line_no = reader.line_num
        if not row:
            continue
        try:
            data = _csv_text(row, column)
        except _BadLine as bad:
            sink.add_bad_line(name, start_line, str(bad))
            continue

        rows += 1
        if data:
            pending.append(data)
        else:
            empty += 1
        if len(pending) >= CSV_FLUSH_ROWS:
            _flush_rows(sink, pending, rows, empty)
            pending, rows, empty = [], 0, 0
    _flush_rows(sink, pending, rows, empty)


READERS = {"jsonl": read_jsonl, "txt": read_text, "csv": read_csv}


def _iter_line_blocks(stream: IO[bytes]) -> Iterator[tuple[bytes, bytes | None]]:
    """Yield (complete lines, None) blocks, then (b"", unterminated last line)."""
    pending = b""
    first = True
    while chunk := stream.read(CHUNK_BYTES):
        if first:
            first = False
            chunk = chunk.removeprefix(UTF8_BOM)
        data = pending + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            pending = data
            continue
        pending = data[cut + 1 :]
        yield data[: cut + 1], None

    yield b"", (pending if pending.strip() else None)


def _read_jsonl_block(block: bytes, name: str, line_no: int, sink: DocumentSink) -> int:
    count = block.count(b"\n")
    if not _read_jsonl_fast(block, count, sink):
        lines = block.split(b"\n")
        for offset in range(count):
            _read_jsonl_line(lines[offset], name, line_no + offset + 1, sink)
    return line_no + count


def _read_jsonl_fast(block: bytes, count: int, sink: DocumentSink) -> bool:
    """Parse a block of clean lines as one JSON array; False if any line is odd.

    One `json.loads` call over many lines is several times faster than a
    Python loop. Any doubt (blank line, a line that is not a single object,
    a bad value) returns False and the caller reads the block line by line,
    so bad lines are still reported one by one.
    """
    # NOTE: a deliberately split object (one line ending inside a nested
    # array, the next line closing it) could pass as one valid line here.
    # Every line must start with "{" and end with "}" (CRLF allowed), which
    # also rules out blank lines. Counting is far cheaper than a regex scan.
    starts = block.startswith(b"{") + block.count(b"\n{")
    ends = block.count(b"}\n") + block.count(b"}\r\n")
    if starts != count or ends != count:
        return False
    try:
        documents = json.loads(b"[" + block[:-1].replace(b"\n", b",") + b"]")
        if len(documents) != count:
            return False
        texts = [document["text"] for document in documents]
        if set(map(type, texts)) - {str}:
            return False
        non_empty = [text for text in texts if text]
        data = "\n".join(non_empty).encode("utf-8")
    except (ValueError, TypeError, KeyError, UnicodeError):
        return False

    sink.add_records(count, empty=count - len(non_empty))
    if non_empty:
        sink.add_documents(data, len(non_empty))
    return True


def _read_jsonl_line(raw: bytes, name: str, line_no: int, sink: DocumentSink) -> None:
    if not raw.strip():
        return
    try:
        data = _parse_jsonl_line(raw)
    except _BadLine as bad:
        sink.add_bad_line(name, line_no, str(bad))
        return

    sink.add_records(1, empty=0 if data else 1)
    if data:
        sink.add_documents(data, 1)


def _read_last_jsonl_line(
    raw: bytes, name: str, line_no: int, sink: DocumentSink
) -> None:
    try:
        _parse_jsonl_line(raw)
    except _BadLine as bad:
        if str(bad) == "invalid JSON":
            reason = "cut-off last line (invalid JSON and no newline at the end)"
            sink.add_bad_line(name, line_no, reason)
            return
    _read_jsonl_line(raw, name, line_no, sink)


def _parse_jsonl_line(raw: bytes) -> bytes:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _BadLine("invalid UTF-8") from None
    try:
        document = json.loads(line)
    except ValueError:
        raise _BadLine("invalid JSON") from None

    if not isinstance(document, dict):
        kind = _JSON_TYPE_NAMES.get(type(document), "a string")
        raise _BadLine(f"expected a JSON object, got {kind}")
    if "text" not in document:
        raise _BadLine("missing 'text' field")
    text = document["text"]
    if not isinstance(text, str):
        kind = _JSON_TYPE_NAMES.get(type(text), "not a string")
        raise _BadLine(f"'text' is {kind}, expected a string")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise _BadLine("'text' contains an unpaired surrogate escape") from None


def _read_text_block(data: bytes, name: str, line_no: int, sink: DocumentSink) -> int:
    data = data.replace(b"\r\n", b"\n")
    count = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        data = _drop_invalid_text_lines(data, name, line_no, sink)

    # Every line counts as a record here, blank ones included, because blank
    # lines are part of a plain text document.
    sink.add_records(count)
    sink.extend_document(data)
    return line_no + count


def _drop_invalid_text_lines(
    data: bytes, name: str, line_no: int, sink: DocumentSink
) -> bytes:
    kept: list[bytes] = []
    for offset, line in enumerate(data.split(b"\n")):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            sink.add_bad_line(name, line_no + offset + 1, "invalid UTF-8")
            continue
        kept.append(line)
    return b"\n".join(kept)


def _text_column(reader: Iterator[list[str]], name: str) -> int:
    try:
        header = next(reader)
    except StopIteration:
        raise CorpusError(
            f"CSV file {name} is empty: expected a header row with a 'text' column"
        ) from None
    except csv.Error as exc:
        raise CorpusError(f"CSV file {name} has an invalid header row: {exc}") from exc

    columns = [column.strip() for column in header]
    if "text" in columns:
        return columns.index("text")
    raise CorpusError(
        f"CSV file {name} has no 'text' column (columns: {', '.join(columns)}): "
        "expected a header row naming a 'text' column"
    )


def _csv_text(row: list[str], column: int) -> bytes:
    if column >= len(row):
        raise _BadLine(f"row has {len(row)} fields, expected a 'text' field")
    try:
        return row[column].encode("utf-8")
    except UnicodeEncodeError:
        raise _BadLine("invalid UTF-8") from None


def _flush_rows(
    sink: DocumentSink, pending: list[bytes], rows: int, empty: int
) -> None:
    if rows:
        sink.add_records(rows, empty=empty)
    if pending:
        sink.add_documents(b"\n".join(pending), len(pending))
