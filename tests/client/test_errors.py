"""The error tree: each status maps to its class, with call, status and fix named."""

from __future__ import annotations

import pytest
import responses

from cerebros_client import (
    NO_RETRY,
    ApiError,
    BadRequest,
    CerebrosClient,
    CerebrosError,
    Conflict,
    NotFound,
    ProtocolError,
    RateLimited,
    ServerError,
    TransportError,
    Unauthorized,
)
from cerebros_client import errors as errors_module

from .support import BASE_URL, JOB_ID, TOKEN, job_body

POLL = f"{BASE_URL}/api/jobs/poll"


@pytest.fixture
def once() -> CerebrosClient:
    return CerebrosClient(BASE_URL, token=TOKEN, retry=NO_RETRY)


@pytest.mark.parametrize(
    ("status", "cls", "hint"),
    [
        (400, BadRequest, "check the values sent"),
        (422, BadRequest, "check the values sent"),
        (401, Unauthorized, "check CEREBROS_API_TOKEN"),
        (403, Unauthorized, "check CEREBROS_API_TOKEN"),
        (404, NotFound, "check the id"),
        (409, Conflict, "changed this resource first"),
        (429, RateLimited, "lower the polling rate"),
        (500, ServerError, "coordinator's log"),
        (502, ServerError, "coordinator's log"),
        (503, ServerError, "coordinator's log"),
        (418, ApiError, "check the request"),
    ],
)
@responses.activate
def test_status_maps_to_class(
    once: CerebrosClient, status: int, cls: type[ApiError], hint: str
) -> None:
    responses.patch(
        f"{BASE_URL}/api/jobs/{JOB_ID}/status",
        status=status,
        json={"errors": {"detail": "Bad Request"}},
    )

    with pytest.raises(cls) as caught:
        once.start_job(JOB_ID)

    error = caught.value
    assert type(error) is cls
    assert error.call == "update_status"
    assert error.method == "PATCH"
    assert error.path == f"/api/jobs/{JOB_ID}/status"
    assert error.status == status
    assert error.detail == "Bad Request"
    assert '{"errors": {"detail": "Bad Request"}}' == error.body_excerpt
    message = str(error)
    assert message.startswith(
        f"update_status: PATCH /api/jobs/{JOB_ID}/status returned {status}"
    )
    assert "server detail: 'Bad Request'" in message
    assert hint in message


@responses.activate
def test_fastapi_detail_list(once: CerebrosClient) -> None:
    detail = [{"loc": ["body", "phase"], "msg": "too large"}]
    responses.patch(
        f"{BASE_URL}/api/jobs/{JOB_ID}/metrics", status=422, json={"detail": detail}
    )

    with pytest.raises(BadRequest) as caught:
        once.report_metrics(JOB_ID, {"loss": 1.0}, phase=1)

    assert caught.value.detail is not None
    assert "too large" in caught.value.detail


@responses.activate
def test_rate_limited_retry_after(once: CerebrosClient) -> None:
    responses.get(POLL, status=429, headers={"Retry-After": "7"})

    with pytest.raises(RateLimited) as caught:
        once.poll_job()

    assert caught.value.retry_after == 7.0
    assert "Retry-After 7 s" in str(caught.value)


@responses.activate
def test_html_502_is_server_error(once: CerebrosClient) -> None:
    html = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    responses.get(POLL, status=502, body=html, content_type="text/html")

    with pytest.raises(ServerError) as caught:
        once.poll_job()

    error = caught.value
    assert error.status == 502
    assert error.detail is None
    assert "502 Bad Gateway" in error.body_excerpt
    assert "the body is HTML, so a proxy or web server answered" in str(error)


@responses.activate
def test_html_200_is_protocol_error(once: CerebrosClient) -> None:
    responses.get(POLL, body="<!DOCTYPE html><p>login</p>", content_type="text/html")

    with pytest.raises(ProtocolError) as caught:
        once.poll_job()

    assert caught.value.status == 200
    assert "<!DOCTYPE html>" in caught.value.body_excerpt
    assert "returned 200 but the body is HTML" in str(caught.value)
    assert "THUNDERLINE_API_URL" in str(caught.value)


@responses.activate
def test_empty_200_poll_is_protocol_error(once: CerebrosClient) -> None:
    responses.get(POLL, status=200, body=b"")

    with pytest.raises(
        ProtocolError, match="poll_job: GET /api/jobs/poll returned 200"
    ):
        once.poll_job()


@responses.activate
def test_invalid_json_is_protocol_error(once: CerebrosClient) -> None:
    responses.get(POLL, body='{"id": "abc"', content_type="application/json")

    with pytest.raises(ProtocolError, match="the body is not valid JSON"):
        once.poll_job()


@responses.activate
def test_missing_id_is_protocol_error(once: CerebrosClient) -> None:
    body = job_body()
    del body["id"]
    responses.get(POLL, json=body)

    with pytest.raises(ProtocolError) as caught:
        once.poll_job()

    assert "the body is not a valid Job (id: Field required)" in str(caught.value)


@responses.activate
def test_missing_corpus_path_is_protocol_error(once: CerebrosClient) -> None:
    responses.get(f"{BASE_URL}/api/datasets/d1/corpus", json={"dataset_id": "d1"})

    with pytest.raises(ProtocolError, match="not a valid Corpus \\(corpus_path"):
        once.get_corpus("d1")


def test_connection_refused_is_transport_error(free_port: int) -> None:
    client = CerebrosClient(f"http://127.0.0.1:{free_port}", retry=NO_RETRY)

    with pytest.raises(TransportError) as caught:
        client.poll_job()

    error = caught.value
    assert error.request_sent is False
    assert error.retryable is True
    assert error.reason == "connection failed"
    assert str(error).startswith("poll_job: GET /api/jobs/poll failed: connection")
    assert "check that the coordinator is running" in str(error)


def test_every_error_is_cerebros_error() -> None:
    for name in errors_module.__all__:
        cls = getattr(errors_module, name)
        assert issubclass(cls, CerebrosError)
        assert cls.__doc__
    for cls in (BadRequest, Unauthorized, NotFound, Conflict, RateLimited, ServerError):
        assert issubclass(cls, ApiError)
