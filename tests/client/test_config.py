"""Timeouts and base URL handling."""

from __future__ import annotations

import pytest

from cerebros_client import DEFAULT_TIMEOUT, Timeout
from cerebros_client._config import (
    is_plain_http_to_remote,
    normalize_base_url,
    resolve_timeout,
)


def test_default_timeout_values() -> None:
    assert DEFAULT_TIMEOUT == Timeout(connect=5.0, read=30.0)
    assert DEFAULT_TIMEOUT.as_requests() == (5.0, 30.0)


def test_resolve_timeout() -> None:
    assert resolve_timeout(None) is DEFAULT_TIMEOUT
    assert resolve_timeout(3) == Timeout(connect=3.0, read=3.0)
    custom = Timeout(connect=1.0, read=2.0)
    assert resolve_timeout(custom) is custom


@pytest.mark.parametrize("value", [0, -1.0])
def test_timeout_must_be_positive(value: float) -> None:
    with pytest.raises(ValueError, match=f"Timeout.read is invalid: received {value}"):
        Timeout(read=value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("http://localhost:5001", "http://localhost:5001"),
        ("http://localhost:5001/", "http://localhost:5001"),
        ("http://localhost:5001/api", "http://localhost:5001"),
        ("http://localhost:5001/api/", "http://localhost:5001"),
        (" https://coord.example.com/base ", "https://coord.example.com/base"),
    ],
)
def test_normalize_base_url(raw: str, expected: str) -> None:
    assert normalize_base_url(raw) == expected


@pytest.mark.parametrize("raw", ["", "localhost", "ftp://host", "http://"])
def test_invalid_base_url(raw: str) -> None:
    with pytest.raises(ValueError, match="expected an http or https URL"):
        normalize_base_url(raw)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://10.0.0.5:5001", True),
        ("http://coordinator", True),
        ("https://10.0.0.5", False),
        ("http://localhost", False),
        ("http://127.0.0.2:5001", False),
        ("http://[::1]:5001", False),
    ],
)
def test_plain_http_to_remote(url: str, expected: bool) -> None:
    assert is_plain_http_to_remote(url) is expected
