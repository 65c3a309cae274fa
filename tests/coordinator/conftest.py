"""Fixtures for the stand-in coordinator tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cerebros_client.testing import CoordinatorServer

from .support import FakeClock

PROFILE_NAMES = ("strict", "thunderline-compat")


@pytest.fixture
def corpus_file(tmp_path: Path) -> Path:
    """A three-document JSONL corpus."""
    path = tmp_path / "corpus.jsonl"
    lines = [json.dumps({"text": f"document {i}"}) for i in range(3)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def strict_with_clock(clock: FakeClock) -> Iterator[CoordinatorServer]:
    """A strict coordinator whose leases and rate windows follow ``clock``."""
    with CoordinatorServer(profile="strict", clock=clock) as server:
        yield server


@pytest.fixture(params=PROFILE_NAMES)
def any_coordinator(request: pytest.FixtureRequest) -> CoordinatorServer:
    """Each profile in turn, from the plugin's fixtures."""
    name = "coordinator" if request.param == "strict" else "compat_coordinator"
    server: CoordinatorServer = request.getfixturevalue(name)
    return server
