"""Retry policy: which failures repeat, how long the client waits, when it stops."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
import requests
import responses
import tenacity

from cerebros_client import (
    ApiError,
    CerebrosClient,
    RateLimited,
    RetryPolicy,
    ServerError,
    TransportError,
)
from cerebros_client._retry import call_with_retry

from .support import BASE_URL, JOB_ID, TOKEN, SleepRecorder, job_body

POLL = f"{BASE_URL}/api/jobs/poll"
CHECKPOINTS = f"{BASE_URL}/api/jobs/{JOB_ID}/checkpoints"


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
@responses.activate
def test_retryable_status_then_success(
    client: CerebrosClient, sleeps: SleepRecorder, status: int
) -> None:
    responses.get(POLL, status=status)
    responses.get(POLL, status=status)
    responses.get(POLL, json=job_body())

    job = client.poll_job()

    assert job is not None
    assert len(responses.calls) == 3
    assert len(sleeps.waits) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
@responses.activate
def test_other_status_raised_at_once(
    client: CerebrosClient, sleeps: SleepRecorder, status: int
) -> None:
    responses.get(POLL, status=status)
    responses.get(POLL, json=job_body())

    with pytest.raises(ApiError) as caught:
        client.poll_job()

    assert caught.value.status == status
    assert len(responses.calls) == 1
    assert sleeps.waits == []


@responses.activate
def test_attempt_cap_raises_typed_error(
    client: CerebrosClient, sleeps: SleepRecorder
) -> None:
    responses.get(POLL, status=503)

    with pytest.raises(ServerError) as caught:
        client.poll_job()

    assert not isinstance(caught.value, tenacity.RetryError)
    assert caught.value.status == 503
    assert len(responses.calls) == 4
    assert len(sleeps.waits) == 3


@responses.activate
def test_connection_error_retried(client: CerebrosClient) -> None:
    responses.get(POLL, body=requests.exceptions.ConnectionError("reset by peer"))
    responses.get(POLL, status=204)

    assert client.poll_job() is None
    assert len(responses.calls) == 2


@responses.activate
def test_truncated_body_retried(client: CerebrosClient) -> None:
    responses.get(POLL, body=requests.exceptions.ChunkedEncodingError("cut off"))
    responses.get(POLL, status=204)

    assert client.poll_job() is None
    assert len(responses.calls) == 2


@responses.activate
def test_ssl_error_not_retried(client: CerebrosClient) -> None:
    responses.get(POLL, body=requests.exceptions.SSLError("certificate verify failed"))

    with pytest.raises(TransportError) as caught:
        client.poll_job()

    assert caught.value.retryable is False
    assert "TLS handshake or certificate verification failed" in str(caught.value)
    assert len(responses.calls) == 1


@responses.activate
def test_full_jitter_bounds(sleeps: SleepRecorder) -> None:
    policy = RetryPolicy(
        max_attempts=6, backoff_initial=1.0, backoff_max=4.0, sleep=sleeps
    )
    responses.get(POLL, status=500)

    with pytest.raises(ServerError):
        CerebrosClient(BASE_URL, retry=policy).poll_job()

    bounds = [1.0, 2.0, 4.0, 4.0, 4.0]
    assert len(sleeps.waits) == len(bounds)
    for wait, bound in zip(sleeps.waits, bounds, strict=True):
        assert 0.0 <= wait <= bound


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        ("0.5", 0.5),
        ("0", 0.0),
        ("3600", 60.0),
    ],
)
@responses.activate
def test_retry_after_seconds(
    sleeps: SleepRecorder, header: str, expected: float
) -> None:
    policy = RetryPolicy(deadline=300.0, sleep=sleeps)
    responses.get(POLL, status=429, headers={"Retry-After": header})
    responses.get(POLL, status=204)

    CerebrosClient(BASE_URL, retry=policy).poll_job()

    assert sleeps.waits == [expected]


@responses.activate
def test_retry_after_http_date_other_zone(
    client: CerebrosClient, sleeps: SleepRecorder
) -> None:
    # 30 s from now written in UTC+02:00: the offset must be applied.
    zone = timezone(timedelta(hours=2))
    when = (datetime.now(UTC) + timedelta(seconds=30)).astimezone(zone)
    responses.get(POLL, status=503, headers={"Retry-After": format_datetime(when)})
    responses.get(POLL, status=204)

    client.poll_job()

    assert len(sleeps.waits) == 1
    assert 20.0 <= sleeps.waits[0] <= 30.0


@responses.activate
def test_retry_after_http_date_gmt_capped(sleeps: SleepRecorder) -> None:
    policy = RetryPolicy(deadline=300.0, sleep=sleeps)
    when = datetime.now(UTC) + timedelta(hours=2)
    header = format_datetime(when, usegmt=True)
    responses.get(POLL, status=429, headers={"Retry-After": header})
    responses.get(POLL, status=204)

    CerebrosClient(BASE_URL, retry=policy).poll_job()

    assert sleeps.waits == [60.0]


@responses.activate
def test_retry_after_past_date_is_zero(
    client: CerebrosClient, sleeps: SleepRecorder
) -> None:
    header = "Wed, 21 Oct 2015 07:28:00 GMT"
    responses.get(POLL, status=503, headers={"Retry-After": header})
    responses.get(POLL, status=204)

    client.poll_job()

    assert sleeps.waits == [0.0]


@pytest.mark.parametrize("header", ["soon", "-5", "nan", "inf", ""])
@responses.activate
def test_retry_after_unparseable_ignored(sleeps: SleepRecorder, header: str) -> None:
    policy = RetryPolicy(backoff_initial=0.25, backoff_max=0.25, sleep=sleeps)
    responses.get(POLL, status=429, headers={"Retry-After": header})
    responses.get(POLL, status=204)

    CerebrosClient(BASE_URL, retry=policy).poll_job()

    assert len(sleeps.waits) == 1
    assert 0.0 <= sleeps.waits[0] <= 0.25


@responses.activate
def test_deadline_stops_retries(sleeps: SleepRecorder) -> None:
    # A Retry-After longer than the time left ends the call at once.
    policy = RetryPolicy(max_attempts=10, deadline=5.0, sleep=sleeps)
    responses.get(POLL, status=429, headers={"Retry-After": "30"})

    with pytest.raises(RateLimited) as caught:
        CerebrosClient(BASE_URL, retry=policy).poll_job()

    assert caught.value.retry_after == 30.0
    assert len(responses.calls) == 1
    assert sleeps.waits == []


def test_deadline_uses_policy_clock(sleeps: SleepRecorder) -> None:
    now = [0.0]

    def fail() -> None:
        now[0] += 4.0
        raise ServerError(
            "boom",
            call="t",
            method="GET",
            path="/p",
            status=500,
            detail=None,
            body_excerpt="",
        )

    policy = RetryPolicy(
        max_attempts=100,
        deadline=10.0,
        backoff_initial=0.0,
        backoff_max=0.0,
        sleep=sleeps,
        clock=lambda: now[0],
    )

    with pytest.raises(ServerError):
        call_with_retry(fail, call="t", policy=policy, retry_if=policy.is_retryable)

    # Attempts start at 0, 4 and 8 s; after the third, 12 s > 10 s deadline.
    assert len(sleeps.waits) == 2


@responses.activate
def test_retry_logged_at_warning(
    client: CerebrosClient, caplog: pytest.LogCaptureFixture
) -> None:
    responses.get(POLL, status=503, headers={"Retry-After": "2"})
    responses.get(POLL, status=204)

    with caplog.at_level(logging.WARNING, logger="cerebros_client"):
        client.poll_job()

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].getMessage() == (
        "poll_job: attempt 1 of 4 failed (HTTP 503); retrying in 2.00 s"
    )
    assert warnings[0].name == "cerebros_client._retry"


@responses.activate
def test_metrics_and_status_retried(client: CerebrosClient) -> None:
    responses.patch(f"{BASE_URL}/api/jobs/{JOB_ID}/metrics", status=502)
    responses.patch(f"{BASE_URL}/api/jobs/{JOB_ID}/metrics", json={"ok": True})
    responses.patch(f"{BASE_URL}/api/jobs/{JOB_ID}/status", status=500)
    responses.patch(f"{BASE_URL}/api/jobs/{JOB_ID}/status", json={"ok": True})

    client.report_metrics(JOB_ID, {"loss": 1.0}, phase=1)
    client.start_job(JOB_ID)

    assert len(responses.calls) == 4


# Checkpoints: never registered twice by a retry.


@pytest.mark.parametrize("status", [429, 503])
@responses.activate
def test_checkpoint_retried_when_unprocessed(
    client: CerebrosClient, status: int
) -> None:
    responses.post(CHECKPOINTS, status=status)
    responses.post(CHECKPOINTS, status=status)
    responses.post(CHECKPOINTS, json={"ok": True})

    client.add_checkpoint(JOB_ID, "s3://bucket/a.keras", phase=1)

    keys = {call.request.headers["Idempotency-Key"] for call in responses.calls}
    assert len(responses.calls) == 3
    assert len(keys) == 1


@responses.activate
def test_checkpoint_retried_after_refused_connect(client: CerebrosClient) -> None:
    refused = requests.exceptions.ConnectionError(
        requests.packages.urllib3.exceptions.MaxRetryError(  # type: ignore[attr-defined]
            None,
            "/api",
            requests.packages.urllib3.exceptions.NewConnectionError(  # type: ignore[attr-defined]
                None, "Connection refused"
            ),
        )
    )
    responses.post(CHECKPOINTS, body=refused)
    responses.post(CHECKPOINTS, json={"ok": True})

    client.add_checkpoint(JOB_ID, "s3://bucket/a.keras", phase=1)

    assert len(responses.calls) == 2


@pytest.mark.parametrize("status", [408, 500, 502, 504])
@responses.activate
def test_checkpoint_not_retried_when_maybe_processed(
    client: CerebrosClient, status: int
) -> None:
    responses.post(CHECKPOINTS, status=status)
    responses.post(CHECKPOINTS, json={"ok": True})

    with pytest.raises(ApiError) as caught:
        client.add_checkpoint(JOB_ID, "s3://bucket/a.keras", phase=1)

    assert caught.value.status == status
    assert len(responses.calls) == 1


@pytest.mark.parametrize(
    "failure",
    [
        requests.exceptions.ConnectionError("Connection reset by peer"),
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ChunkedEncodingError("IncompleteRead"),
    ],
)
@responses.activate
def test_checkpoint_not_retried_after_send(
    client: CerebrosClient, failure: Exception
) -> None:
    responses.post(CHECKPOINTS, body=failure)
    responses.post(CHECKPOINTS, json={"ok": True})

    with pytest.raises(TransportError) as caught:
        client.add_checkpoint(JOB_ID, "s3://bucket/a.keras", phase=1)

    assert caught.value.request_sent is True
    assert len(responses.calls) == 1


@responses.activate
def test_checkpoint_retried_when_key_honoured(client: CerebrosClient) -> None:
    honoured = {"Idempotency-Key-Honored": "true"}
    responses.post(CHECKPOINTS, status=500, headers=honoured)
    responses.post(CHECKPOINTS, status=502)
    responses.post(CHECKPOINTS, json={"ok": True}, headers=honoured)

    client.add_checkpoint(JOB_ID, "s3://bucket/a.keras", phase=2)

    keys = [call.request.headers["Idempotency-Key"] for call in responses.calls]
    assert len(keys) == 3
    assert len(set(keys)) == 1


@responses.activate
def test_key_honoured_learned_from_earlier_call(client: CerebrosClient) -> None:
    responses.post(
        CHECKPOINTS, json={"ok": True}, headers={"Idempotency-Key-Honored": "true"}
    )
    client.add_checkpoint(JOB_ID, "s3://bucket/a.keras", phase=1)
    responses.replace(responses.POST, CHECKPOINTS, status=504)

    with pytest.raises(ServerError):
        client.add_checkpoint(JOB_ID, "s3://bucket/b.keras", phase=2)

    # One call for the first checkpoint, four attempts for the second.
    assert len(responses.calls) == 5


@responses.activate
def test_checkpoint_key_stable_across_clients() -> None:
    responses.post(CHECKPOINTS, json={"ok": True})

    for _ in range(2):
        with CerebrosClient(BASE_URL, token=TOKEN) as fresh:
            fresh.add_checkpoint(JOB_ID, "s3://bucket/a.keras", phase=1)
    with CerebrosClient(BASE_URL, token=TOKEN) as fresh:
        fresh.add_checkpoint(JOB_ID, "s3://bucket/a.keras", phase=2)

    keys = [call.request.headers["Idempotency-Key"] for call in responses.calls]
    assert keys[0] == keys[1]
    assert keys[0] != keys[2]


@responses.activate
def test_claim_not_retried_after_500(client: CerebrosClient) -> None:
    responses.post(f"{BASE_URL}/api/jobs/claim", status=500)

    with pytest.raises(ServerError):
        client.claim_job("w1")

    assert len(responses.calls) == 1


@responses.activate
def test_register_retried_on_503(client: CerebrosClient) -> None:
    url = f"{BASE_URL}/api/registry/register"
    responses.post(url, status=503)
    responses.post(url, status=201, json={"id": "r1"})

    registration = client.register_service(
        service_id="w1", name="worker", host="h", port=1
    )

    assert registration.id == "r1"
    assert len(responses.calls) == 2


def test_policy_rejects_zero_attempts() -> None:
    with pytest.raises(ValueError, match="received 0, expected 1 or more"):
        RetryPolicy(max_attempts=0)
