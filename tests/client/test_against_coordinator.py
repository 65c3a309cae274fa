"""The client against the stand-in coordinator over real loopback HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cerebros_client import (
    BadRequest,
    CerebrosClient,
    Conflict,
    JobStatus,
    NotFound,
    RetryPolicy,
    ServerError,
    Timeout,
    TransportError,
    Unauthorized,
)

MISSING_REASON = (
    "the stand-in coordinator fixtures ('coordinator', 'compat_coordinator' from "
    "cerebros_client.testing.pytest_plugin) are not available; install the "
    "project with `pip install -e .[dev]` so its pytest11 entry point loads"
)
UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"


def _server(request: pytest.FixtureRequest, name: str) -> Any:
    try:
        return request.getfixturevalue(name)
    except pytest.FixtureLookupError:
        pytest.skip(MISSING_REASON)


@pytest.fixture
def strict(request: pytest.FixtureRequest) -> Any:
    return _server(request, "coordinator")


@pytest.fixture
def compat(request: pytest.FixtureRequest) -> Any:
    return _server(request, "compat_coordinator")


@pytest.fixture(params=["coordinator", "compat_coordinator"])
def any_server(request: pytest.FixtureRequest) -> Any:
    return _server(request, request.param)


@pytest.fixture
def corpus_file(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.jsonl"
    lines = [json.dumps({"text": f"document {n}"}) for n in range(3)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _client(server: Any, **kwargs: Any) -> CerebrosClient:
    kwargs.setdefault("retry", RetryPolicy(max_attempts=3, sleep=lambda _: None))
    kwargs.setdefault("timeout", Timeout(connect=2.0, read=5.0))
    return CerebrosClient(server.url, **kwargs)


@pytest.fixture
def client_for() -> Iterator[Any]:
    made: list[CerebrosClient] = []

    def build(server: Any, **kwargs: Any) -> CerebrosClient:
        client = _client(server, **kwargs)
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


def test_guide_walkthrough(any_server: Any, corpus_file: Path, client_for: Any) -> None:
    seeded = any_server.seed(corpus_file)
    client = client_for(any_server)

    job = client.poll_job()
    assert job is not None
    assert job.id == seeded["job_id"]
    corpus = client.get_corpus(job.training_dataset_id or "")
    assert corpus.corpus_path == str(corpus_file.resolve())

    client.start_job(job.id)
    client.report_metrics(job.id, {"loss": 2.0, "accuracy": float("nan")}, phase=1)
    client.add_checkpoint(job.id, "file:///ckpt/phase-1.keras", phase=1)
    client.report_metrics(job.id, {"loss": 1.0, "accuracy": 0.5}, phase=2)
    client.add_checkpoint(job.id, "file:///ckpt/phase-2.keras", phase=2)
    client.complete_job(job.id, "model-final")

    final = client.get_job(job.id)
    assert final.status is JobStatus.COMPLETED
    assert final.checkpoint_urls == [
        "file:///ckpt/phase-1.keras",
        "file:///ckpt/phase-2.keras",
    ]
    assert final.metrics["loss"] == 1.0
    assert client.poll_job() is None


def test_poll_empty_queue(any_server: Any, client_for: Any) -> None:
    assert client_for(any_server).poll_job() is None


def test_claim_and_renew_lease(strict: Any, corpus_file: Path, client_for: Any) -> None:
    seeded = strict.seed(corpus_file)
    client = client_for(strict)

    job = client.claim_job("worker-a", lease_seconds=30)

    assert job is not None
    assert job.id == seeded["job_id"]
    assert job.status is JobStatus.RUNNING
    assert job.worker_id == "worker-a"
    assert job.lease_expires_at is not None
    assert client.claim_job("worker-b") is None
    assert client.renew_lease(job.id, "worker-a", lease_seconds=30) is True
    with pytest.raises(Conflict):
        client.renew_lease(job.id, "worker-b")


def test_claim_falls_back_on_compat(
    compat: Any, corpus_file: Path, client_for: Any
) -> None:
    seeded = compat.seed(corpus_file)
    client = client_for(compat)

    job = client.claim_job("worker-a")

    assert job is not None
    assert job.id == seeded["job_id"]
    assert client.get_job(job.id).status is JobStatus.RUNNING
    assert client.renew_lease(job.id, "worker-a") is False


def test_checkpoint_retry_not_duplicated(
    strict: Any, corpus_file: Path, client_for: Any
) -> None:
    job_id = strict.seed(corpus_file)["job_id"]
    client = client_for(strict)
    client.start_job(job_id)
    client.add_checkpoint(job_id, "file:///ckpt/phase-1.keras", phase=1)

    # The server stores the second checkpoint but the response is lost.
    path = f"/api/jobs/{job_id}/checkpoints"
    strict.faults.add("POST", path, drop=True, after_handler=True)
    client.add_checkpoint(job_id, "file:///ckpt/phase-2.keras", phase=2)

    assert client.get_job(job_id).checkpoint_urls == [
        "file:///ckpt/phase-1.keras",
        "file:///ckpt/phase-2.keras",
    ]


def test_checkpoint_lost_response_raised_on_compat(
    compat: Any, corpus_file: Path, client_for: Any
) -> None:
    job_id = compat.seed(corpus_file)["job_id"]
    client = client_for(compat)
    path = f"/api/jobs/{job_id}/checkpoints"
    compat.faults.add("POST", path, drop=True, after_handler=True)

    with pytest.raises(TransportError) as caught:
        client.add_checkpoint(job_id, "file:///ckpt/phase-1.keras", phase=1)

    assert caught.value.request_sent is True
    assert client.get_job(job_id).checkpoint_urls == ["file:///ckpt/phase-1.keras"]


@pytest.mark.parametrize(
    "fault",
    [{"html": True}, {"status": 503}, {"truncate": True}, {"drop": True}],
)
def test_poll_fault_retried(
    strict: Any, corpus_file: Path, client_for: Any, fault: dict[str, Any]
) -> None:
    seeded = strict.seed(corpus_file)
    strict.faults.add("GET", "/api/jobs/poll", **fault)

    job = client_for(strict).poll_job()

    assert job is not None
    assert job.id == seeded["job_id"]


def test_unknown_job_strict_is_not_found(strict: Any, client_for: Any) -> None:
    with pytest.raises(NotFound):
        client_for(strict).start_job(UNKNOWN_UUID)


def test_unknown_job_compat_is_server_error(compat: Any, client_for: Any) -> None:
    client = client_for(compat, retry=RetryPolicy(max_attempts=1))

    with pytest.raises(ServerError) as caught:
        client.start_job(UNKNOWN_UUID)

    assert caught.value.status == 500


def test_non_uuid_compat_is_bad_request(compat: Any, client_for: Any) -> None:
    with pytest.raises(BadRequest):
        client_for(compat).start_job("not-a-uuid")


def test_registry_register_and_heartbeat(any_server: Any, client_for: Any) -> None:
    client = client_for(any_server)

    registration = client.register_service(
        service_id="worker-a", name="cerebros worker", host="127.0.0.1", port=9000
    )
    client.heartbeat(registration.id, status="busy", current_job_id=None)

    assert registration.id
    with pytest.raises(NotFound):
        client.heartbeat(UNKNOWN_UUID)


def test_token_required(request: pytest.FixtureRequest, client_for: Any) -> None:
    testing = pytest.importorskip("cerebros_client.testing", reason=MISSING_REASON)
    token = "loopback-test-token"

    with testing.CoordinatorServer(tokens=[token]) as server:
        with pytest.raises(Unauthorized) as caught:
            client_for(server).poll_job()
        assert client_for(server, token=token).poll_job() is None

    assert token not in str(caught.value)
