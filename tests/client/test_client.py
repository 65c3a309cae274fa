"""Every endpoint of `CerebrosClient` against mocked responses."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
import requests
import responses
from responses import matchers

from cerebros_client import (
    CerebrosClient,
    Conflict,
    Corpus,
    Job,
    JobStatus,
    ServerError,
    Timeout,
)

from .support import BASE_URL, DATASET_ID, JOB_ID, TOKEN, job_body

OK = {"ok": True}


def sent_json(index: int = -1) -> object:
    body = responses.calls[index].request.body
    assert body is not None
    return json.loads(body)


@responses.activate
def test_poll_job_returns_job(client: CerebrosClient) -> None:
    responses.get(f"{BASE_URL}/api/jobs/poll", json=job_body())

    job = client.poll_job()

    assert isinstance(job, Job)
    assert job.id == JOB_ID
    assert job.training_dataset_id == DATASET_ID
    assert job.status is JobStatus.QUEUED
    assert job.hyperparameters.n_epochs == 3
    assert job.inserted_at == datetime(2025, 12, 1, tzinfo=UTC)


@responses.activate
def test_poll_job_204_is_none(client: CerebrosClient) -> None:
    responses.get(f"{BASE_URL}/api/jobs/poll", status=204, body=b"")

    assert client.poll_job() is None
    assert len(responses.calls) == 1


@responses.activate
def test_get_corpus(client: CerebrosClient) -> None:
    responses.get(
        f"{BASE_URL}/api/datasets/{DATASET_ID}/corpus",
        json={
            "corpus_path": "/data/corpus/test.jsonl",
            "dataset_id": DATASET_ID,
            "dataset_name": "Test Dataset",
            "total_chunks": 1500,
            "metadata": {},
        },
    )

    corpus = client.get_corpus(DATASET_ID)

    assert isinstance(corpus, Corpus)
    assert corpus.corpus_path == "/data/corpus/test.jsonl"
    assert corpus.total_chunks == 1500
    assert corpus.dataset_name == "Test Dataset"


@responses.activate
def test_get_job(client: CerebrosClient) -> None:
    responses.get(
        f"{BASE_URL}/api/jobs/{JOB_ID}",
        json=job_body(phase_metrics={"1": {"loss": 1.5}}, status="completed"),
    )

    job = client.get_job(JOB_ID)

    assert job.status is JobStatus.COMPLETED
    assert job.phase_metrics == {"1": {"loss": 1.5}}


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda c: c.start_job(JOB_ID), {"status": "running"}),
        (
            lambda c: c.complete_job(JOB_ID, "model-7"),
            {"status": "completed", "final_model_id": "model-7"},
        ),
        (
            lambda c: c.fail_job(JOB_ID, "corpus missing"),
            {"status": "failed", "error_message": "corpus missing"},
        ),
        (lambda c: c.requeue_job(JOB_ID), {"status": "queued"}),
        (lambda c: c.update_status(JOB_ID, "Cancelled"), {"status": "cancelled"}),
    ],
)
@responses.activate
def test_status_calls_send_body(
    client: CerebrosClient, call: object, expected: dict[str, str]
) -> None:
    responses.patch(
        f"{BASE_URL}/api/jobs/{JOB_ID}/status",
        json=OK,
        match=[matchers.json_params_matcher(expected)],
    )

    call(client)  # type: ignore[operator]

    assert len(responses.calls) == 1
    assert sent_json() == expected


def test_update_status_rejects_unknown_status(client: CerebrosClient) -> None:
    with pytest.raises(ValueError, match="received 'training', expected one of"):
        client.update_status(JOB_ID, "training")


@responses.activate
def test_report_metrics_sends_nan_as_null(client: CerebrosClient) -> None:
    responses.patch(f"{BASE_URL}/api/jobs/{JOB_ID}/metrics", json=OK)

    client.report_metrics(
        JOB_ID,
        {"loss": 1.5, "accuracy": float("nan"), "perplexity": float("inf"), "n": 3},
        phase=1,
    )

    body = sent_json()
    assert body == {
        "metrics": {"loss": 1.5, "accuracy": None, "perplexity": None, "n": 3},
        "phase": 1,
    }
    raw = responses.calls[0].request.body
    assert isinstance(raw, bytes)
    assert b"NaN" not in raw
    assert b"Infinity" not in raw


@responses.activate
def test_report_metrics_phase_out_of_range(client: CerebrosClient) -> None:
    with pytest.raises(ValueError, match="received 5, expected 0 to 4"):
        client.report_metrics(JOB_ID, {"loss": 1.0}, phase=5)
    with pytest.raises(ValueError, match="received -1, expected 0 to 4"):
        client.add_checkpoint(JOB_ID, "s3://b/k.keras", phase=-1)

    assert len(responses.calls) == 0


@responses.activate
def test_add_checkpoint_sends_key(client: CerebrosClient) -> None:
    responses.post(f"{BASE_URL}/api/jobs/{JOB_ID}/checkpoints", json=OK)

    client.add_checkpoint(JOB_ID, "s3://bucket/job/phase-1.keras", phase=1)
    client.add_checkpoint(
        JOB_ID, "s3://bucket/job/phase-2.keras", phase=2, idempotency_key="mine"
    )

    first, second = (call.request for call in responses.calls)
    assert json.loads(first.body or b"") == {
        "checkpoint_url": "s3://bucket/job/phase-1.keras",
        "phase": 1,
    }
    assert first.headers["Idempotency-Key"].startswith("checkpoint-")
    assert second.headers["Idempotency-Key"] == "mine"


@responses.activate
def test_register_service(client: CerebrosClient) -> None:
    responses.post(
        f"{BASE_URL}/api/registry/register",
        status=201,
        json={"id": "reg-1", "service_id": "w1", "name": "worker", "port": "8080"},
    )

    registration = client.register_service(
        service_id="w1",
        name="worker",
        host="10.0.0.5",
        port=8080,
        capabilities={"models": ["byte-gru"]},
    )

    assert registration.id == "reg-1"
    assert registration.port == 8080
    assert sent_json() == {
        "service_id": "w1",
        "service_type": "cerebros",
        "name": "worker",
        "host": "10.0.0.5",
        "port": 8080,
        "capabilities": {"models": ["byte-gru"]},
        "metadata": {},
    }


@responses.activate
def test_register_service_unwraps_data(client: CerebrosClient) -> None:
    responses.post(
        f"{BASE_URL}/api/registry/register", status=201, json={"data": {"id": "r2"}}
    )

    registration = client.register_service(
        service_id="w1", name="worker", host="h", port=1
    )

    assert registration.id == "r2"


@responses.activate
def test_heartbeat(client: CerebrosClient) -> None:
    responses.patch(f"{BASE_URL}/api/registry/reg-1/heartbeat", json=OK)

    client.heartbeat("reg-1", status="busy", current_job_id=JOB_ID)

    assert sent_json() == {"status": "busy", "metadata": {"current_job_id": JOB_ID}}


def test_heartbeat_rejects_status(client: CerebrosClient) -> None:
    with pytest.raises(ValueError, match="received 'sleeping', expected 'healthy'"):
        client.heartbeat("reg-1", status="sleeping")  # type: ignore[arg-type]


@responses.activate
def test_claim_job_uses_claim_endpoint(client: CerebrosClient) -> None:
    responses.post(
        f"{BASE_URL}/api/jobs/claim",
        json={
            "job": job_body(status="running"),
            "lease": {"worker_id": "w1", "expires_at": "2025-12-01T00:05:00"},
        },
        match=[matchers.json_params_matcher({"worker_id": "w1", "lease_seconds": 30})],
    )

    job = client.claim_job("w1", lease_seconds=30)

    assert job is not None
    assert job.status is JobStatus.RUNNING
    assert job.worker_id == "w1"
    assert job.lease_expires_at == datetime(2025, 12, 1, 0, 5, tzinfo=UTC)


@responses.activate
def test_claim_job_204_is_none(client: CerebrosClient) -> None:
    responses.post(f"{BASE_URL}/api/jobs/claim", status=204)

    assert client.claim_job("w1") is None


@pytest.mark.parametrize("status", [404, 405, 501])
@responses.activate
def test_claim_job_falls_back_to_poll(client: CerebrosClient, status: int) -> None:
    responses.post(f"{BASE_URL}/api/jobs/claim", status=status)
    responses.get(f"{BASE_URL}/api/jobs/poll", json=job_body())
    responses.patch(f"{BASE_URL}/api/jobs/{JOB_ID}/status", json=OK)

    first = client.claim_job("w1")
    second = client.claim_job("w1")

    assert first is not None
    assert first.status is JobStatus.RUNNING
    assert first.worker_id == "w1"
    assert second is not None
    methods = [call.request.method for call in responses.calls]
    # The claim endpoint is tried once, then the client remembers its absence.
    assert methods == ["POST", "GET", "PATCH", "GET", "PATCH"]
    assert sent_json(2) == {"status": "running"}


@responses.activate
def test_claim_job_fallback_empty_queue(client: CerebrosClient) -> None:
    responses.post(f"{BASE_URL}/api/jobs/claim", status=404)
    responses.get(f"{BASE_URL}/api/jobs/poll", status=204)

    assert client.claim_job("w1") is None
    assert len(responses.calls) == 2


@responses.activate
def test_claim_job_conflict_is_raised(client: CerebrosClient) -> None:
    responses.post(f"{BASE_URL}/api/jobs/claim", status=409, json={"detail": "no"})

    with pytest.raises(Conflict):
        client.claim_job("w1")


@responses.activate
def test_renew_lease(client: CerebrosClient) -> None:
    responses.post(
        f"{BASE_URL}/api/jobs/{JOB_ID}/lease",
        json={"worker_id": "w1", "expires_at": "2025-12-01T00:10:00Z"},
        match=[matchers.json_params_matcher({"worker_id": "w1", "lease_seconds": 60})],
    )

    assert client.renew_lease(JOB_ID, "w1", lease_seconds=60) is True


@responses.activate
def test_renew_lease_lost_raises_conflict(client: CerebrosClient) -> None:
    responses.post(
        f"{BASE_URL}/api/jobs/{JOB_ID}/lease",
        status=409,
        json={"detail": "lease held by w2"},
    )

    with pytest.raises(Conflict, match="lease held by w2"):
        client.renew_lease(JOB_ID, "w1")


@responses.activate
def test_renew_lease_without_leases(client: CerebrosClient) -> None:
    responses.post(f"{BASE_URL}/api/jobs/{JOB_ID}/lease", status=404)

    assert client.renew_lease(JOB_ID, "w1") is False


@responses.activate
def test_renew_lease_in_poll_mode_sends_nothing(client: CerebrosClient) -> None:
    responses.post(f"{BASE_URL}/api/jobs/claim", status=404)
    responses.get(f"{BASE_URL}/api/jobs/poll", status=204)
    client.claim_job("w1")

    assert client.renew_lease(JOB_ID, "w1") is False
    assert len(responses.calls) == 2


@responses.activate
def test_ids_are_quoted_in_path(client: CerebrosClient) -> None:
    responses.get(f"{BASE_URL}/api/jobs/a%2Fb", json=job_body(id="a/b"))

    assert client.get_job("a/b").id == "a/b"


def test_empty_id_is_rejected(client: CerebrosClient) -> None:
    with pytest.raises(ValueError, match="job_id is invalid: received ''"):
        client.start_job("")


@responses.activate
def test_unknown_id_500_is_server_error(client: CerebrosClient) -> None:
    responses.get(
        f"{BASE_URL}/api/datasets/{DATASET_ID}/corpus",
        status=500,
        json={"errors": {"detail": "Internal Server Error"}},
    )

    with pytest.raises(ServerError, match="unknown id"):
        client.get_corpus(DATASET_ID)


@responses.activate
def test_bearer_header_sent() -> None:
    responses.get(f"{BASE_URL}/api/jobs/poll", status=204)

    with CerebrosClient(BASE_URL, token=TOKEN) as client:
        client.poll_job()

    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


@responses.activate
def test_no_token_no_header() -> None:
    responses.get(f"{BASE_URL}/api/jobs/poll", status=204)

    with CerebrosClient(BASE_URL) as client:
        client.poll_job()

    assert "Authorization" not in responses.calls[0].request.headers


@responses.activate
def test_cross_host_redirect_drops_token(client: CerebrosClient) -> None:
    responses.get(
        f"{BASE_URL}/api/jobs/poll",
        status=302,
        headers={"Location": "http://elsewhere.test/api/jobs/poll"},
    )
    responses.get("http://elsewhere.test/api/jobs/poll", status=204)

    assert client.poll_job() is None

    first, second = (call.request for call in responses.calls)
    assert first.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "Authorization" not in second.headers


@responses.activate
def test_same_host_redirect_keeps_token(client: CerebrosClient) -> None:
    responses.get(
        f"{BASE_URL}/api/jobs/poll",
        status=307,
        headers={"Location": f"{BASE_URL}/api/v2/jobs/poll"},
    )
    responses.get(f"{BASE_URL}/api/v2/jobs/poll", status=204)

    client.poll_job()

    assert responses.calls[1].request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_from_env_reads_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THUNDERLINE_URL", "http://fallback.test")
    monkeypatch.setenv("THUNDERLINE_API_URL", "http://primary.test:5001/")
    monkeypatch.setenv("CEREBROS_API_TOKEN", TOKEN)

    with CerebrosClient.from_env() as client:
        assert client.base_url == "http://primary.test:5001"
        assert client._transport.token == TOKEN


def test_from_env_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THUNDERLINE_API_URL", "")
    monkeypatch.setenv("THUNDERLINE_URL", "http://fallback.test/api")

    with CerebrosClient.from_env() as client:
        assert client.base_url == "http://fallback.test"
        assert client._transport.token is None


def test_from_env_default_and_overrides() -> None:
    with CerebrosClient.from_env() as client:
        assert client.base_url == "http://localhost:5001"

    with CerebrosClient.from_env(
        base_url="http://other.test", token="t", timeout=2.5
    ) as client:
        assert client.base_url == "http://other.test"
        assert client.timeout == Timeout(connect=2.5, read=2.5)


def test_invalid_base_url() -> None:
    with pytest.raises(ValueError, match="received 'localhost:5001', expected an"):
        CerebrosClient("localhost:5001")


def test_repr_masks_token() -> None:
    client = CerebrosClient(BASE_URL, token=TOKEN)

    assert TOKEN not in repr(client)
    assert "***" in repr(client)


def test_close_keeps_caller_session() -> None:
    session = requests.Session()
    closed: list[bool] = []
    session.close = lambda: closed.append(True)  # type: ignore[method-assign]

    with CerebrosClient(BASE_URL, session=session):
        pass

    assert closed == []


def test_close_closes_own_session() -> None:
    client = CerebrosClient(BASE_URL)
    closed: list[bool] = []
    client._transport.session.close = lambda: closed.append(True)  # type: ignore[method-assign]

    with client:
        pass

    assert closed == [True]


def test_tls_verification_stays_on() -> None:
    with CerebrosClient("https://coordinator.test", token=TOKEN) as client:
        assert client._transport.session.verify is True


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        ("http://coordinator.example.com", True),
        ("https://coordinator.example.com", False),
        ("http://localhost:5001", False),
        ("http://127.0.0.1:5001", False),
        ("http://[::1]:5001", False),
    ],
)
def test_plain_http_token_warning(
    caplog: pytest.LogCaptureFixture, url: str, warned: bool
) -> None:
    with caplog.at_level(logging.WARNING, logger="cerebros_client"):
        CerebrosClient(url, token=TOKEN)

    warnings = [r for r in caplog.records if "plain http" in r.getMessage()]
    assert len(warnings) == (1 if warned else 0)
    assert TOKEN not in caplog.text


def test_plain_http_without_token_is_quiet(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="cerebros_client"):
        CerebrosClient("http://coordinator.example.com")

    assert caplog.records == []
