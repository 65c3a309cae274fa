"""Tests of configure_logging, log_context and token redaction."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from cerebros_trainer.logging_setup import (
    PACKAGE_LOGGERS,
    configure_logging,
    log_context,
)

TOKEN = "tok-5d41402abc4b2a76"
TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (?P<level>[A-Z]+) (?P<logger>\S+) "
    r"(?P<rest>.*)$"
)

logger = logging.getLogger("cerebros_trainer.test_logging")


def _installed_handlers() -> list[logging.Handler]:
    return [
        handler
        for handler in logging.getLogger().handlers
        if getattr(handler, "_cerebros_handler", False)
    ]


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Undo handlers and levels that a test installs on the real loggers."""
    root = logging.getLogger()
    saved_root_level = root.level
    saved_levels = {name: logging.getLogger(name).level for name in PACKAGE_LOGGERS}
    yield
    for handler in _installed_handlers():
        root.removeHandler(handler)
        handler.close()

    root.setLevel(saved_root_level)
    for name, level in saved_levels.items():
        logging.getLogger(name).setLevel(level)

    logging.captureWarnings(False)


def _flush() -> None:
    for handler in _installed_handlers():
        handler.flush()


def _lines(path: Path) -> list[str]:
    _flush()
    return path.read_text(encoding="utf-8").splitlines()


def test_creates_log_directory_and_file(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "nested" / "cerebros_service.log"

    configure_logging(log_file=log_file, stream=io.StringIO())
    logger.info("worker started")

    lines = _lines(log_file)
    assert len(lines) == 1
    match = TEXT_LINE.match(lines[0])
    assert match is not None, lines[0]
    assert match["level"] == "INFO"
    assert match["logger"] == "cerebros_trainer.test_logging"
    assert match["rest"] == "worker started"


def test_writes_to_stream_without_file() -> None:
    stream = io.StringIO()

    configure_logging(log_file=None, stream=stream)
    logger.warning("disk %s is full", "/data")

    assert len(_installed_handlers()) == 1
    assert (
        stream.getvalue()
        .rstrip("\n")
        .endswith("WARNING cerebros_trainer.test_logging disk /data is full")
    )


def test_rotates_by_size(tmp_path: Path) -> None:
    log_file = tmp_path / "worker.log"

    configure_logging(
        log_file=log_file, max_bytes=400, backup_count=2, stream=io.StringIO()
    )
    for index in range(60):
        logger.info("line %03d with some padding to fill the file", index)

    _flush()
    assert log_file.exists()
    assert (tmp_path / "worker.log.1").exists()
    assert (tmp_path / "worker.log.2").exists()
    assert not (tmp_path / "worker.log.3").exists()
    assert log_file.stat().st_size <= 400
    assert "line 059" in log_file.read_text(encoding="utf-8")


def test_json_lines_parse(tmp_path: Path) -> None:
    log_file = tmp_path / "worker.log"

    configure_logging(log_file=log_file, fmt="json", stream=io.StringIO())
    logger.info("plain")
    with log_context(job_id="job-1", phase=2):
        logger.warning("loss is %.2f", 1.5)

    entries = [json.loads(line) for line in _lines(log_file)]
    assert len(entries) == 2
    assert entries[0]["message"] == "plain"
    assert entries[0]["level"] == "INFO"
    assert entries[0]["logger"] == "cerebros_trainer.test_logging"
    assert "job_id" not in entries[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entries[0]["time"])
    assert entries[1]["message"] == "loss is 1.50"
    assert entries[1]["job_id"] == "job-1"
    assert entries[1]["phase"] == 2


def test_json_includes_exception(tmp_path: Path) -> None:
    log_file = tmp_path / "worker.log"

    configure_logging(log_file=log_file, fmt="json", stream=io.StringIO())
    try:
        raise RuntimeError("upload failed")
    except RuntimeError:
        logger.exception("phase failed")

    lines = _lines(log_file)
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["message"] == "phase failed"
    assert "RuntimeError: upload failed" in entry["exception"]


def test_text_names_job_and_phase() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)

    with log_context(job_id="abc"):
        logger.info("claimed")
        with log_context(phase=2):
            logger.info("training")

        logger.info("between phases")

    logger.info("idle")

    lines = stream.getvalue().splitlines()
    assert lines[0].endswith("cerebros_trainer.test_logging [job=abc] claimed")
    assert lines[1].endswith("[job=abc phase=2] training")
    assert lines[2].endswith("[job=abc] between phases")
    assert lines[3].endswith("cerebros_trainer.test_logging idle")


def test_extra_overrides_context() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)

    with log_context(job_id="abc", phase=1):
        logger.info("other job", extra={"job_id": "xyz"})

    assert stream.getvalue().rstrip("\n").endswith("[job=xyz phase=1] other job")


def test_masks_token_everywhere(tmp_path: Path) -> None:
    stream = io.StringIO()
    log_file = tmp_path / "worker.log"
    configure_logging(log_file=log_file, secrets=[TOKEN], stream=stream)

    logger.info("token in message " + TOKEN)
    logger.info("token in argument %s", TOKEN)
    logger.info("token in url %s", f"http://host/?token={TOKEN}&x=1")
    try:
        raise ValueError(f"bad header Bearer {TOKEN}")
    except ValueError:
        logger.exception("request failed")

    for output in (stream.getvalue(), log_file.read_text(encoding="utf-8")):
        assert TOKEN not in output
        assert "token in message ***" in output
        assert "token in argument ***" in output
        assert "token=***&x=1" in output
        assert "ValueError: bad header Bearer ***" in output


def test_masks_token_in_json(tmp_path: Path) -> None:
    log_file = tmp_path / "worker.log"
    configure_logging(
        log_file=log_file, fmt="json", secrets=[TOKEN], stream=io.StringIO()
    )

    logger.error("sent %s", TOKEN)

    entry = json.loads(_lines(log_file)[0])
    assert entry["message"] == "sent ***"


def test_short_secret_not_masked() -> None:
    stream = io.StringIO()
    configure_logging(secrets=["ab", ""], stream=stream)

    logger.info("about a tab")

    assert stream.getvalue().rstrip("\n").endswith("about a tab")


def test_second_call_replaces_handlers(tmp_path: Path) -> None:
    log_file = tmp_path / "worker.log"
    stream = io.StringIO()

    configure_logging(log_file=log_file, stream=io.StringIO())
    configure_logging(log_file=log_file, stream=stream)
    logger.info("once")

    lines = _lines(log_file)
    assert len(_installed_handlers()) == 2
    assert len(lines) == 1
    assert lines[0].endswith(" once")
    assert stream.getvalue().count("once") == 1


def test_keeps_foreign_handlers() -> None:
    foreign = logging.NullHandler()
    logging.getLogger().addHandler(foreign)
    try:
        configure_logging(stream=io.StringIO())
        configure_logging(stream=io.StringIO())

        assert foreign in logging.getLogger().handlers
    finally:
        logging.getLogger().removeHandler(foreign)


def test_level_applies_to_package_loggers() -> None:
    stream = io.StringIO()
    configure_logging(level="DEBUG", stream=stream)

    logger.debug("package debug")
    logging.getLogger("cerebros_client.http").debug("client debug")
    logging.getLogger("botocore.endpoint").debug("third-party debug")
    logging.getLogger("botocore.endpoint").warning("third-party warning")

    output = stream.getvalue()
    assert "package debug" in output
    assert "client debug" in output
    assert "third-party debug" not in output
    assert "third-party warning" in output


def test_level_hides_lower_records() -> None:
    stream = io.StringIO()
    configure_logging(level=logging.WARNING, stream=stream)

    logger.info("hidden")
    logger.warning("shown")

    assert "hidden" not in stream.getvalue()
    assert "shown" in stream.getvalue()


def test_rejects_unknown_level() -> None:
    with pytest.raises(ValueError, match="invalid log level 'LOUD'"):
        configure_logging(level="LOUD", stream=io.StringIO())


def test_rejects_unknown_format() -> None:
    with pytest.raises(ValueError, match="invalid log format 'xml'"):
        configure_logging(fmt="xml", stream=io.StringIO())  # type: ignore[arg-type]
