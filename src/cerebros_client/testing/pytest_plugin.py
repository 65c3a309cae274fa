"""Pytest fixtures that start the stand-in coordinator on loopback.

``coordinator`` serves the strict profile and ``compat_coordinator`` the
thunderline-compat profile. Both are function-scoped, use an in-memory
database, and stop when the test ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .server import CoordinatorServer


@pytest.fixture
def coordinator() -> Iterator[CoordinatorServer]:
    """Start a strict stand-in coordinator, yield it, and stop it after the test."""
    from .server import CoordinatorServer

    with CoordinatorServer(profile="strict") as server:
        yield server


@pytest.fixture
def compat_coordinator() -> Iterator[CoordinatorServer]:
    """Start a thunderline-compat stand-in, yield it, and stop it after the test."""
    from .server import CoordinatorServer

    with CoordinatorServer(profile="thunderline-compat") as server:
        yield server
