"""A background thread that sends tracking calls without blocking training.

Calls to a tracking server wait on the network. `BackgroundSender` runs them
one at a time, in submission order, on its own daemon thread. A call that
fails with a transient error is retried with exponential back-off until
`give_up_after` seconds have passed. Calls submitted meanwhile wait in a
queue of at most `max_pending` entries. When that queue is full, the oldest
droppable call (a metrics update) is discarded first, so an outage costs
bounded memory and never stalls the training thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

DEFAULT_MAX_PENDING = 10_000
DEFAULT_MAX_BACKOFF = 30.0
DEFAULT_GIVE_UP_AFTER = 300.0
DEFAULT_FIRST_BACKOFF = 1.0

# During a long outage a full queue drops one call per epoch. Logging each
# drop would flood the log, so only the first and every 1000th are logged.
DROP_LOG_EVERY = 1000


@dataclass
class _Call:
    description: str
    function: Callable[[], None]
    droppable: bool


class BackgroundSender:
    """Runs submitted calls in order on a daemon thread, retrying outages.

    `is_transient(error)` decides whether a failed call is retried (server
    unreachable, 5xx) or dropped with a warning (a rejected request that a
    retry cannot fix). `target` names the server in log messages. Waits
    between attempts start at `first_backoff` seconds and double up to
    `max_backoff`.
    """

    def __init__(
        self,
        target: str,
        *,
        is_transient: Callable[[Exception], bool],
        max_pending: int = DEFAULT_MAX_PENDING,
        first_backoff: float = DEFAULT_FIRST_BACKOFF,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        give_up_after: float = DEFAULT_GIVE_UP_AFTER,
        thread_name: str = "cerebros-tracking",
    ) -> None:
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, received {max_pending}")

        self._target = target
        self._is_transient = is_transient
        self._max_pending = max_pending
        self._first_backoff = first_backoff
        self._max_backoff = max_backoff
        self._give_up_after = give_up_after
        self._pending: deque[_Call] = deque()
        self._condition = threading.Condition()
        self._in_flight = False
        self._reachable = True
        self._closing = threading.Event()
        self._dropped = 0
        self._overflow_drops = 0
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)
        self._thread.start()

    @property
    def reachable(self) -> bool:
        """False from a transient failure until the next call succeeds."""
        return self._reachable

    @property
    def dropped(self) -> int:
        """Number of calls discarded so far, for a full queue or an error."""
        return self._dropped

    def submit(
        self, description: str, function: Callable[[], None], *, droppable: bool
    ) -> None:
        """Queue `function` to run after every call submitted before it.

        Returns at once, without waiting for the server. After `close`, the
        call is discarded.
        """
        with self._condition:
            if self._closing.is_set():
                logger.debug("Discarded %s: the sender is closed", description)
                return

            if len(self._pending) >= self._max_pending:
                self._discard_one_pending()
            self._pending.append(_Call(description, function, droppable))
            self._condition.notify_all()

    def wait_until_idle(self, timeout: float) -> bool:
        """Wait until every submitted call has run; return whether they have.

        Returns early, with False, while the server is unreachable, because
        waiting then would only hold up training for nothing.
        """
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._pending or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._reachable:
                    return False
                self._condition.wait(remaining)

        return True

    def close(self, timeout: float = 5.0) -> None:
        """Send what the server accepts within `timeout`, then stop the thread."""
        self.wait_until_idle(timeout)
        with self._condition:
            left_behind = len(self._pending)
            self._closing.set()
            self._condition.notify_all()
        self._thread.join(timeout=max(timeout, 0.1))
        if left_behind:
            logger.warning(
                "Closed the %s sender. Queued updates not sent: %d",
                self._target,
                left_behind,
            )

    def _discard_one_pending(self) -> None:
        # Metrics updates go first, since losing one epoch's metrics does
        # less harm than losing a run's creation or its final status.
        for index, call in enumerate(self._pending):
            if call.droppable:
                del self._pending[index]
                break
        else:
            call = self._pending.popleft()

        self._dropped += 1
        self._overflow_drops += 1
        if self._overflow_drops == 1 or self._overflow_drops % DROP_LOG_EVERY == 0:
            logger.warning(
                "Dropped %s because %d %s updates are already waiting "
                "(%d dropped for a full queue so far)",
                call.description,
                self._max_pending,
                self._target,
                self._overflow_drops,
            )

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._pending and not self._closing.is_set():
                    self._condition.wait()
                if self._closing.is_set():
                    return
                call = self._pending.popleft()
                self._in_flight = True

            try:
                self._send(call)
            finally:
                with self._condition:
                    self._in_flight = False
                    self._condition.notify_all()

    def _send(self, call: _Call) -> None:
        first_failure: float | None = None
        backoff = self._first_backoff
        while True:
            try:
                call.function()
            # Any error in a tracking call must stay on this thread: the
            # classifier decides between a retry and a logged drop.
            except Exception as error:  # noqa: BLE001
                if not self._is_transient(error):
                    self._count_drop()
                    logger.warning(
                        "%s rejected %s, so it was dropped: %s",
                        self._target,
                        call.description,
                        error,
                    )
                    return

                now = time.monotonic()
                first_failure = now if first_failure is None else first_failure
                self._mark_unreachable(call, error)
                if now - first_failure >= self._give_up_after:
                    self._count_drop()
                    logger.warning(
                        "Dropped %s after %.0f seconds of failed attempts: %s",
                        call.description,
                        now - first_failure,
                        error,
                    )
                    return

                if self._closing.wait(backoff):
                    return
                backoff = min(backoff * 2, self._max_backoff)
            else:
                self._mark_reachable()
                return

    def _count_drop(self) -> None:
        with self._condition:
            self._dropped += 1

    def _mark_unreachable(self, call: _Call, error: Exception) -> None:
        with self._condition:
            was_reachable = self._reachable

        # Log before waking waiters, so that a caller woken by the outage
        # already finds its cause in the log.
        if was_reachable:
            logger.warning(
                "Could not send %s to %s (%s): retrying in the background "
                "while training goes on",
                call.description,
                self._target,
                error,
            )
        else:
            logger.debug("Retry of %s failed: %s", call.description, error)

        with self._condition:
            self._reachable = False
            self._condition.notify_all()

    def _mark_reachable(self) -> None:
        with self._condition:
            was_reachable = self._reachable
            self._reachable = True

        if not was_reachable:
            logger.info("%s is reachable again", self._target)
