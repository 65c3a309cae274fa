"""Tests of BackgroundSender: order, retries, drops and bounded waits."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from cerebros_trainer.integrations.background import BackgroundSender


def _transient_if_oserror(error: Exception) -> bool:
    return isinstance(error, OSError)


@pytest.fixture
def make_sender() -> Iterator[Callable[..., BackgroundSender]]:
    senders: list[BackgroundSender] = []

    def make(**options: object) -> BackgroundSender:
        values: dict[str, object] = {
            "is_transient": _transient_if_oserror,
            "first_backoff": 0.01,
            "max_backoff": 0.02,
        }
        values.update(options)
        sender = BackgroundSender("test server", **values)  # type: ignore[arg-type]
        senders.append(sender)
        return sender

    yield make
    for sender in senders:
        sender.close(timeout=1.0)


def _wait_for(condition: Callable[[], bool]) -> bool:
    # wait_until_idle returns early while calls fail, so tests that retry
    # poll for the outcome instead.
    for _ in range(1000):
        if condition():
            return True
        time.sleep(0.01)
    return False


def _fail_times(count: int, error: Exception, calls: list[str]) -> Callable[[], None]:
    def call() -> None:
        calls.append("attempt")
        if len(calls) <= count:
            raise error

    return call


def test_calls_run_in_submission_order(
    make_sender: Callable[..., BackgroundSender],
) -> None:
    sender = make_sender()
    seen: list[int] = []

    for index in range(20):
        sender.submit(f"call {index}", lambda i=index: seen.append(i), droppable=True)

    assert sender.wait_until_idle(5.0) is True
    assert seen == list(range(20))
    assert sender.dropped == 0


def test_transient_error_is_retried(
    make_sender: Callable[..., BackgroundSender],
) -> None:
    sender = make_sender()
    attempts: list[str] = []

    sender.submit(
        "flaky call",
        _fail_times(2, ConnectionRefusedError("refused"), attempts),
        droppable=False,
    )

    assert _wait_for(lambda: len(attempts) == 3)
    assert sender.wait_until_idle(5.0) is True
    assert len(attempts) == 3
    assert sender.dropped == 0
    assert sender.reachable is True


def test_rejected_call_is_dropped_and_next_runs(
    make_sender: Callable[..., BackgroundSender],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sender = make_sender()
    attempts: list[str] = []
    after: list[str] = []

    with caplog.at_level(logging.WARNING):
        sender.submit(
            "bad call",
            _fail_times(5, ValueError("invalid key 'a b'"), attempts),
            droppable=False,
        )
        sender.submit("next call", lambda: after.append("ran"), droppable=False)
        assert sender.wait_until_idle(5.0) is True

    assert attempts == ["attempt"]
    assert after == ["ran"]
    assert sender.dropped == 1
    assert "test server rejected bad call" in caplog.text
    assert "invalid key 'a b'" in caplog.text


def test_full_queue_drops_droppable_first(
    make_sender: Callable[..., BackgroundSender],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sender = make_sender(max_pending=2)
    release = threading.Event()
    started = threading.Event()
    ran: list[str] = []

    def blocking() -> None:
        started.set()
        release.wait(5.0)

    sender.submit("blocking call", blocking, droppable=False)
    assert started.wait(5.0)
    with caplog.at_level(logging.WARNING):
        sender.submit("metrics 1", lambda: ran.append("metrics 1"), droppable=True)
        sender.submit("end of run", lambda: ran.append("end of run"), droppable=False)
        sender.submit("metrics 2", lambda: ran.append("metrics 2"), droppable=True)
    release.set()

    assert sender.wait_until_idle(5.0) is True
    assert ran == ["end of run", "metrics 2"]
    assert sender.dropped == 1
    assert "Dropped metrics 1 because 2 test server updates" in caplog.text


def test_full_queue_of_lifecycle_calls_drops_oldest(
    make_sender: Callable[..., BackgroundSender],
) -> None:
    sender = make_sender(max_pending=1)
    release = threading.Event()
    started = threading.Event()
    ran: list[str] = []

    def blocking() -> None:
        started.set()
        release.wait(5.0)

    sender.submit("blocking call", blocking, droppable=False)
    assert started.wait(5.0)
    sender.submit("start", lambda: ran.append("start"), droppable=False)
    sender.submit("end", lambda: ran.append("end"), droppable=False)
    release.set()

    assert sender.wait_until_idle(5.0) is True
    assert ran == ["end"]


def test_wait_returns_early_while_unreachable(
    make_sender: Callable[..., BackgroundSender],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sender = make_sender(give_up_after=600.0)
    attempts: list[str] = []

    with caplog.at_level(logging.WARNING):
        sender.submit(
            "start of run",
            _fail_times(10**6, ConnectionRefusedError("refused"), attempts),
            droppable=False,
        )
        # Without the early return this would wait the full 60 seconds and
        # pytest-timeout would stop the test.
        delivered = sender.wait_until_idle(60.0)

    assert delivered is False
    assert sender.reachable is False
    assert "Could not send start of run to test server (refused)" in caplog.text
    assert "retrying in the background" in caplog.text


def test_transient_call_dropped_after_deadline(
    make_sender: Callable[..., BackgroundSender],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sender = make_sender(give_up_after=0.0)
    after: list[str] = []

    with caplog.at_level(logging.WARNING):
        sender.submit(
            "doomed call",
            _fail_times(10**6, TimeoutError("timed out"), []),
            droppable=False,
        )
        sender.submit("next call", lambda: after.append("ran"), droppable=False)
        assert _wait_for(lambda: bool(after))

    assert after == ["ran"]
    assert sender.dropped == 1
    assert "Dropped doomed call after 0 seconds of failed attempts" in caplog.text


def test_submit_after_close_is_discarded(
    make_sender: Callable[..., BackgroundSender],
) -> None:
    sender = make_sender()
    ran: list[str] = []
    sender.close(timeout=1.0)

    sender.submit("late call", lambda: ran.append("late"), droppable=False)

    assert sender.wait_until_idle(0.5) is True
    assert ran == []


def test_close_reports_unsent_updates(
    make_sender: Callable[..., BackgroundSender],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sender = make_sender(give_up_after=600.0)
    sender.submit(
        "start of run",
        _fail_times(10**6, ConnectionRefusedError("refused"), []),
        droppable=False,
    )
    sender.submit("end of run", lambda: None, droppable=False)
    sender.wait_until_idle(1.0)

    with caplog.at_level(logging.WARNING):
        sender.close(timeout=0.2)

    assert "Closed the test server sender. Queued updates not sent: 1" in caplog.text


def test_rejects_empty_queue_size() -> None:
    with pytest.raises(ValueError, match="max_pending must be at least 1, received 0"):
        BackgroundSender(
            "test server", is_transient=_transient_if_oserror, max_pending=0
        )
