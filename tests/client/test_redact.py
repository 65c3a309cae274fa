"""The bearer token never appears in logs, reprs or error messages."""

from __future__ import annotations

import logging

import pytest
import requests
import responses

from cerebros_client import CerebrosClient, RetryPolicy, TransportError, Unauthorized
from cerebros_client._redact import EXCERPT_CHARS, excerpt, redact

from .support import BASE_URL, TOKEN

POLL = f"{BASE_URL}/api/jobs/poll"


def test_redact_replaces_every_occurrence() -> None:
    assert redact(f"a {TOKEN} b {TOKEN}", TOKEN) == "a *** b ***"
    assert redact("no secret", None) == "no secret"


def test_excerpt_is_short_and_redacted() -> None:
    body = (TOKEN + " " + "x" * 1000).encode()

    text = excerpt(body, TOKEN)

    assert TOKEN not in text
    assert text.startswith("*** xxx")
    assert len(text) == EXCERPT_CHARS + 3


@responses.activate
def test_token_not_in_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    echo = {"errors": {"detail": f"invalid token {TOKEN}"}}
    responses.get(POLL, status=503, json=echo)
    responses.get(POLL, status=401, json=echo)
    client = CerebrosClient(
        BASE_URL, token=TOKEN, retry=RetryPolicy(sleep=lambda _: None)
    )

    with (
        caplog.at_level(logging.DEBUG, logger="cerebros_client"),
        pytest.raises(Unauthorized) as caught,
    ):
        client.poll_job()

    error = caught.value
    assert TOKEN not in str(error)
    assert TOKEN not in error.body_excerpt
    assert error.detail == "invalid token ***"
    assert TOKEN not in repr(error)
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(client)
    assert "plain http" in caplog.text


@responses.activate
def test_token_not_in_transport_error() -> None:
    responses.get(
        POLL, body=requests.exceptions.ConnectionError(f"reset while sending {TOKEN}")
    )
    client = CerebrosClient(BASE_URL, token=TOKEN, retry=RetryPolicy(max_attempts=1))

    with pytest.raises(TransportError) as caught:
        client.poll_job()

    assert TOKEN not in str(caught.value)
    assert "reset while sending ***" in str(caught.value)
