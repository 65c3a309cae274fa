"""Fixtures for the client tests: a client that never sleeps, raw loopback servers."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from cerebros_client import CerebrosClient, RetryPolicy

from .support import BASE_URL, TOKEN, RawServer, SleepRecorder


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove the variables the client reads, so the host's settings never leak in."""
    for name in ("THUNDERLINE_API_URL", "THUNDERLINE_URL", "CEREBROS_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def policy(sleeps: SleepRecorder) -> RetryPolicy:
    return RetryPolicy(max_attempts=4, sleep=sleeps)


@pytest.fixture
def client(policy: RetryPolicy) -> Iterator[CerebrosClient]:
    with CerebrosClient(BASE_URL, token=TOKEN, retry=policy) as made:
        yield made


@pytest.fixture
def raw_server() -> Iterator[type[RawServer]]:
    """Factory for `RawServer`s, all closed at the end of the test."""
    made: list[RawServer] = []

    class Factory(RawServer):
        def __init__(self, replies: list[bytes | None]) -> None:
            super().__init__(replies)
            made.append(self)

    yield Factory
    for server in made:
        server.close()


@pytest.fixture
def free_port() -> int:
    """A loopback port with nothing listening on it, so connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
