"""Log handlers, formats and per-job context for the trainer process.

Only the CLI calls `configure_logging`; library modules just use
`logging.getLogger(__name__)`. The handlers go on the root logger, so
warnings from boto3, urllib3, Keras and Python's `warnings` module reach the
same file. The "cerebros_client" and "cerebros_trainer" loggers log at the
configured level, and every other logger at WARNING or above.

`log_context(job_id=..., phase=...)` sets context variables that a handler
filter copies into each record, so a text line reads
`2026-01-01T12:00:00.000Z INFO cerebros_trainer.runner [job=abc phase=2] ...`.
Context variables do not follow work into a new `threading.Thread`; run the
thread's target inside `contextvars.copy_context().run` to keep them.
"""

from __future__ import annotations

import contextvars
import json
import logging
import logging.handlers
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal, TextIO

PACKAGE_LOGGERS = ("cerebros_client", "cerebros_trainer")
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_BACKUP_COUNT = 5
MASK = "***"

# Masking a secret of one to three characters would garble every line that
# happens to contain them, so such short secrets are not masked.
MIN_SECRET_LENGTH = 4

_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(log_context)s%(message)s"
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"

# Marks the handlers this module installs, so a second call replaces them.
_HANDLER_MARK = "_cerebros_handler"

_job_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "cerebros_job_id", default=None
)
_phase: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "cerebros_phase", default=None
)


@contextmanager
def log_context(
    *, job_id: str | None = None, phase: int | None = None
) -> Iterator[None]:
    """Name the job and phase in every log line written inside the block.

    An argument left as None keeps the value of an enclosing block, so
    `log_context(phase=2)` inside `log_context(job_id="abc")` logs both.
    """
    job_token = _job_id.set(job_id) if job_id is not None else None
    phase_token = _phase.set(phase) if phase is not None else None
    try:
        yield
    finally:
        if phase_token is not None:
            _phase.reset(phase_token)

        if job_token is not None:
            _job_id.reset(job_token)


class ContextFilter(logging.Filter):
    """Add `job_id`, `phase` and the text prefix `log_context` to each record.

    Values passed through `extra=` take precedence over the context variables.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        job_id = getattr(record, "job_id", None)
        if job_id is None:
            job_id = _job_id.get()

        phase = getattr(record, "phase", None)
        if phase is None:
            phase = _phase.get()

        # setattr because LogRecord declares no such attributes.
        setattr(record, "job_id", job_id)  # noqa: B010
        setattr(record, "phase", phase)  # noqa: B010
        setattr(record, "log_context", _format_context(job_id, phase))  # noqa: B010
        return True


def _format_context(job_id: object, phase: object) -> str:
    fields = []
    if job_id is not None:
        fields.append(f"job={job_id}")

    if phase is not None:
        fields.append(f"phase={phase}")

    return f"[{' '.join(fields)}] " if fields else ""


class RedactionFilter(logging.Filter):
    """Replace each secret with `***` in the message, its arguments and traceback.

    This is a second line of defence: code should never log a token, but a
    token can still slip into an exception message or a formatted URL.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted(
            {secret for secret in secrets if len(secret) >= MIN_SECRET_LENGTH},
            key=len,
            reverse=True,
        )

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True

        self._redact_message(record)
        self._redact_exception(record)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)

        return True

    def redact(self, text: str) -> str:
        """Return the text with every secret replaced by the mask."""
        for secret in self.secrets:
            text = text.replace(secret, MASK)

        return text

    def _redact_message(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001
            # A bad format string is reported by the handler later, and a
            # filter that raised would drop the record without a trace.
            return

        redacted = self.redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None

    def _redact_exception(self, record: logging.LogRecord) -> None:
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set, so filling it here
            # puts the redacted traceback in every handler's output.
            record.exc_text = logging.Formatter().formatException(record.exc_info)

        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)


class UtcFormatter(logging.Formatter):
    """Text formatter with ISO 8601 UTC timestamps and millisecond precision."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        stamp = time.strftime(datefmt or _DATE_FORMAT, time.gmtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z"


class JsonFormatter(UtcFormatter):
    """Formatter that writes each record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        job_id = getattr(record, "job_id", None)
        if job_id is not None:
            entry["job_id"] = job_id

        phase = getattr(record, "phase", None)
        if phase is not None:
            entry["phase"] = phase

        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)

        if record.exc_text:
            entry["exception"] = record.exc_text

        if record.stack_info:
            entry["stack"] = record.stack_info

        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(
    *,
    level: str | int = "INFO",
    log_file: Path | None = None,
    fmt: Literal["text", "json"] = "text",
    secrets: Iterable[str] = (),
    max_bytes: int = DEFAULT_MAX_BYTES,
    backup_count: int = DEFAULT_BACKUP_COUNT,
    stream: TextIO | None = None,
) -> None:
    """Install the stderr handler and, when `log_file` is set, a rotating file handler.

    Calling it again replaces the handlers installed by the previous call.
    `secrets` are masked wherever they appear in a log line. The log file's
    directory is created, and the file rotates at `max_bytes`, keeping
    `backup_count` old files.
    """
    numeric_level = _parse_level(level)
    formatter = _make_formatter(fmt)
    handlers: list[logging.Handler] = [logging.StreamHandler(stream or sys.stderr)]
    if log_file is not None:
        handlers.append(_make_file_handler(log_file, max_bytes, backup_count))

    filters = [ContextFilter(), RedactionFilter(secrets)]
    for handler in handlers:
        handler.setFormatter(formatter)
        for log_filter in filters:
            handler.addFilter(log_filter)

        setattr(handler, _HANDLER_MARK, True)

    root = logging.getLogger()
    _remove_installed_handlers(root)
    for handler in handlers:
        root.addHandler(handler)

    root.setLevel(max(numeric_level, logging.WARNING))
    for name in PACKAGE_LOGGERS:
        logging.getLogger(name).setLevel(numeric_level)

    logging.captureWarnings(True)


def _parse_level(level: str | int) -> int:
    if isinstance(level, int):
        return level

    numeric = logging.getLevelNamesMapping().get(level.strip().upper())
    if numeric is None:
        raise ValueError(
            f"invalid log level {level!r}: expected DEBUG, INFO, WARNING, "
            "ERROR or CRITICAL"
        )

    return numeric


def _make_formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter()

    if fmt == "text":
        return UtcFormatter(_TEXT_FORMAT)

    raise ValueError(f"invalid log format {fmt!r}: expected 'text' or 'json'")


def _make_file_handler(
    log_file: Path, max_bytes: int, backup_count: int
) -> logging.Handler:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    return logging.handlers.RotatingFileHandler(
        log_file,
        maxBytes=max_bytes,
        backupCount=backup_count,
        encoding="utf-8",
    )


def _remove_installed_handlers(logger: logging.Logger) -> None:
    for handler in list(logger.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            logger.removeHandler(handler)
            handler.close()
