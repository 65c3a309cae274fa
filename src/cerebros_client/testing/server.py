"""``CoordinatorServer``: the stand-in coordinator on a loopback port, in a thread."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import uvicorn

from .app import create_app
from .faults import FaultSet
from .profiles import STRICT
from .security import RateLimit
from .seed import AdminClient
from .store import MEMORY, Clock, Store

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


class CoordinatorServer:
    """The stand-in coordinator served by uvicorn in a background thread.

    ``db`` is a SQLite file (jobs survive ``stop()`` and a later ``start()``)
    or ``":memory:"`` (the default; a restart starts empty). ``port=0``
    picks a free port on the first start and keeps it for restarts.
    """

    def __init__(
        self,
        *,
        profile: str = STRICT,
        db: str | Path = MEMORY,
        tokens: Iterable[str] = (),
        rate_limit: RateLimit | None = None,
        clock: Clock = time.time,
        port: int = 0,
    ):
        self.profile = profile
        self.db = str(db)
        self.tokens = tuple(tokens)
        self.rate_limit = rate_limit
        self.clock = clock
        self.port = port
        self.faults = FaultSet()
        self.store: Store | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._admin: AdminClient | None = None

    @property
    def url(self) -> str:
        """Base URL, such as ``http://127.0.0.1:54321``; valid once started."""
        if self.port == 0:
            raise RuntimeError("the coordinator has no port yet: call start() first")
        return f"http://{HOST}:{self.port}"

    @property
    def admin(self) -> AdminClient:
        """Client for the admin endpoints, sending the first token if any."""
        if self._admin is None:
            token = self.tokens[0] if self.tokens else None
            self._admin = AdminClient(self.url, token=token)
        return self._admin

    def seed(self, corpus_path: str | Path, **kwargs: Any) -> dict[str, str]:
        """Run the guide's setup; see ``AdminClient.seed`` for the arguments."""
        return self.admin.seed(corpus_path, **kwargs)

    def start(self) -> Self:
        """Open the database and serve until ``stop()``; return self."""
        if self._thread is not None:
            raise RuntimeError(f"the coordinator is already running at {self.url}")

        self.store = Store(self.db, clock=self.clock)
        app = create_app(
            self.store,
            profile=self.profile,
            tokens=self.tokens,
            rate_limit=self.rate_limit,
            faults=self.faults,
        )
        sock = _bind(self.port)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            http="h11",
            lifespan="off",
            log_config=None,
            log_level="warning",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"coordinator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._wait_started()
        logger.info("stand-in coordinator (%s) serving at %s", self.profile, self.url)
        return self

    def stop(self) -> None:
        """Stop serving and close the database; ``start()`` may follow."""
        if self._thread is None or self._server is None:
            return
        self._server.should_exit = True
        self._thread.join(STOP_TIMEOUT)
        if self._thread.is_alive():
            logger.warning("coordinator thread did not stop in %s s", STOP_TIMEOUT)
        self._thread = None
        self._server = None
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if self.store is not None:
            self.store.close()
            self.store = None
        logger.info("stand-in coordinator at port %d stopped", self.port)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_started(self) -> None:
        assert self._server is not None and self._thread is not None
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"the coordinator failed to start on port {self.port} within"
                    f" {START_TIMEOUT} s; see the uvicorn log for the cause"
                )
            time.sleep(0.01)


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    sock.set_inheritable(True)
    return sock
