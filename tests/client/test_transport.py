"""Single requests over real loopback sockets: timeouts, resets, cut-off bodies, logs."""

from __future__ import annotations

import logging

import pytest
import responses

from cerebros_client import CerebrosClient, ProtocolError, RetryPolicy, TransportError

from .support import BASE_URL, JOB_ID, RawServer, http_reply, no_wait_client


def test_body_cut_off_is_retried(raw_server: type[RawServer]) -> None:
    # The server promises 200 bytes, sends 9 and closes the connection.
    server = raw_server(
        [
            http_reply("200 OK", b'{"id": "a', length=200),
            http_reply("200 OK", f'{{"id": "{JOB_ID}"}}'.encode()),
        ]
    )

    with no_wait_client(server.url) as client:
        job = client.poll_job()

    assert job is not None
    assert job.id == JOB_ID
    assert server.connections == 2


def test_body_cut_off_every_time(raw_server: type[RawServer]) -> None:
    server = raw_server([http_reply("200 OK", b'{"id": "a', length=200)])

    with no_wait_client(server.url) as client, pytest.raises(TransportError) as caught:
        client.poll_job()

    assert caught.value.reason == "response body cut off mid-stream"
    assert caught.value.request_sent is True
    assert server.connections == 3


def test_body_cut_off_checkpoint_not_retried(raw_server: type[RawServer]) -> None:
    server = raw_server([http_reply("200 OK", b'{"ok": t', length=50)])

    with no_wait_client(server.url) as client, pytest.raises(TransportError):
        client.add_checkpoint(JOB_ID, "s3://bucket/a.keras", phase=1)

    assert server.connections == 1


def test_read_timeout(raw_server: type[RawServer]) -> None:
    server = raw_server([None])
    policy = RetryPolicy(max_attempts=1)

    client = no_wait_client(server.url, retry=policy)
    with client, pytest.raises(TransportError) as caught:
        client.poll_job()

    assert caught.value.reason == "read timed out"
    assert caught.value.request_sent is True


def test_connection_closed_without_reply(raw_server: type[RawServer]) -> None:
    server = raw_server([b"", http_reply("204 No Content", b"")])

    with no_wait_client(server.url) as client:
        assert client.poll_job() is None

    assert server.connections == 2


def test_connection_refused_checkpoint_retried(free_port: int) -> None:
    policy = RetryPolicy(max_attempts=3, sleep=lambda _: None)

    client = no_wait_client(f"http://127.0.0.1:{free_port}", retry=policy)
    with client, pytest.raises(TransportError) as caught:
        client.add_checkpoint(JOB_ID, "s3://bucket/a.keras", phase=1)

    assert caught.value.request_sent is False


def test_html_over_real_socket(raw_server: type[RawServer]) -> None:
    page = b"<html><body>Welcome to nginx</body></html>"
    reply = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
        + f"Content-Length: {len(page)}\r\nConnection: close\r\n\r\n".encode()
        + page
    )
    server = raw_server([reply])

    with no_wait_client(server.url) as client, pytest.raises(ProtocolError) as caught:
        client.poll_job()

    assert "Welcome to nginx" in caught.value.body_excerpt


@responses.activate
def test_one_debug_line_per_request(caplog: pytest.LogCaptureFixture) -> None:
    responses.get(f"{BASE_URL}/api/jobs/poll", status=503)
    responses.get(f"{BASE_URL}/api/jobs/poll", status=204)
    client = CerebrosClient(BASE_URL, retry=RetryPolicy(sleep=lambda _: None))

    with caplog.at_level(logging.DEBUG, logger="cerebros_client._transport"):
        client.poll_job()

    lines = [
        r
        for r in caplog.records
        if r.name == "cerebros_client._transport" and r.levelno == logging.DEBUG
    ]
    assert len(lines) == 2
    assert lines[0].msg == "%s %s -> %d in %.0f ms"
    assert lines[0].args is not None
    assert lines[0].args[:3] == ("GET", "/api/jobs/poll", 503)
    assert lines[1].getMessage().startswith("GET /api/jobs/poll -> 204 in ")


def test_timeouts_passed_to_requests() -> None:
    seen: list[object] = []

    class Recorder:
        def request(self, *args: object, **kwargs: object) -> object:
            seen.append(kwargs["timeout"])
            raise RuntimeError("stop here")

        def close(self) -> None:
            pass

    client = CerebrosClient(BASE_URL, session=Recorder())  # type: ignore[arg-type]

    # An exception that is not a send failure passes through untranslated.
    with pytest.raises(RuntimeError, match="stop here"):
        client.poll_job()

    assert seen == [(5.0, 30.0)]
