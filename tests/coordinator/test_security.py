"""Bearer tokens and the per-token rate limit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cerebros_client.testing import CoordinatorServer, RateLimit

from .support import FakeClock, call

TOKEN = "secret-token-1"


@pytest.fixture
def guarded() -> Iterator[CoordinatorServer]:
    with CoordinatorServer(tokens=[TOKEN, "secret-token-2"]) as server:
        yield server


@pytest.fixture
def limited(clock: FakeClock) -> Iterator[CoordinatorServer]:
    limit = RateLimit(max_requests=3, window_seconds=60)
    with CoordinatorServer(
        tokens=[TOKEN, "other"], rate_limit=limit, clock=clock
    ) as server:
        yield server


def test_missing_token_is_401(guarded: CoordinatorServer) -> None:
    response = call(guarded, "GET", "/api/jobs/poll")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "missing bearer token" in response.json()["errors"]["detail"]


def test_wrong_token_is_401(guarded: CoordinatorServer) -> None:
    response = call(
        guarded, "GET", "/api/jobs/poll", headers={"Authorization": "Bearer wrong"}
    )

    assert response.status_code == 401
    assert "invalid bearer token" in response.json()["errors"]["detail"]
    assert "wrong" not in response.text


def test_accepted_tokens_pass(guarded: CoordinatorServer) -> None:
    for token in (TOKEN, "secret-token-2"):
        response = call(
            guarded,
            "GET",
            "/api/jobs/poll",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 204


def test_admin_helper_sends_token(guarded: CoordinatorServer) -> None:
    dataset = guarded.admin.create_dataset("guarded")

    assert dataset["name"] == "guarded"


def test_fault_endpoint_needs_token(guarded: CoordinatorServer) -> None:
    response = call(guarded, "GET", "/_admin/faults")

    assert response.status_code == 401


def test_compat_401_is_bare() -> None:
    with CoordinatorServer(profile="thunderline-compat", tokens=[TOKEN]) as server:
        response = call(server, "GET", "/api/jobs/poll")

    assert response.status_code == 401
    assert response.json() == {"errors": {"detail": "Unauthorized"}}


def test_rate_limit_is_429_with_retry_after(
    limited: CoordinatorServer, clock: FakeClock
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    allowed = [
        call(limited, "GET", "/api/jobs/poll", headers=headers) for _ in range(3)
    ]
    clock.advance(15)

    refused = call(limited, "GET", "/api/jobs/poll", headers=headers)

    assert [r.status_code for r in allowed] == [204, 204, 204]
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "45"
    assert "at most 3 requests per 60 s" in refused.json()["errors"]["detail"]


def test_rate_limit_counts_each_token(limited: CoordinatorServer) -> None:
    for _ in range(3):
        call(
            limited,
            "GET",
            "/api/jobs/poll",
            headers={"Authorization": f"Bearer {TOKEN}"},
        )

    other = call(
        limited, "GET", "/api/jobs/poll", headers={"Authorization": "Bearer other"}
    )

    assert other.status_code == 204


def test_rate_limit_window_resets(limited: CoordinatorServer, clock: FakeClock) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for _ in range(4):
        call(limited, "GET", "/api/jobs/poll", headers=headers)
    clock.advance(60)

    response = call(limited, "GET", "/api/jobs/poll", headers=headers)

    assert response.status_code == 204


def test_rate_limit_parse() -> None:
    assert RateLimit.parse("10/2") == RateLimit(10, 2.0)
    assert RateLimit.parse("5") == RateLimit(5, 1.0)
    with pytest.raises(ValueError, match="invalid rate limit 'ten/1'"):
        RateLimit.parse("ten/1")
    with pytest.raises(ValueError, match="max_requests must be >= 1, received 0"):
        RateLimit(0, 1.0)
