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
    """A started strict stand-in coordinator."""
    from .server import CoordinatorServer

    with CoordinatorServer(profile="strict") as server:
        yield server


@pytest.fixture
def compat_coordinator() -> Iterator[CoordinatorServer]:
    """A started stand-in coordinator imitating the deployed Thunderline server."""
    from .server import CoordinatorServer

    with CoordinatorServer(profile="thunderline-compat") as server:
        yield server
