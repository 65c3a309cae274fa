"""Helpers shared by the end-to-end fault and security tests.

`fast_client` gives a client whose retries and timeouts fit a test, and
`SwitchableProxy` is a TCP relay on loopback that a test can take down and
bring back to make an endpoint unreachable for a while.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from typing import Any

from cerebros_client import CerebrosClient, RetryPolicy
from cerebros_client._config import Timeout
from cerebros_client.testing import CoordinatorServer
from cerebros_trainer.worker import Worker
from tests.fixtures_worker import BUCKET, PREFIX, WorkerStack

FAST_RETRY = RetryPolicy(
    max_attempts=4, deadline=5.0, backoff_initial=0.05, backoff_max=0.2
)


def fast_client(
    url: str,
    *,
    token: str | None = None,
    read_timeout: float = 5.0,
    retry: RetryPolicy = FAST_RETRY,
) -> CerebrosClient:
    """Return a client with short timeouts and quick retries for a test."""
    return CerebrosClient(
        url,
        token=token,
        timeout=Timeout(connect=1.0, read=read_timeout),
        retry=retry,
    )


def drain_outbox(worker: Worker, polls: int = 5) -> None:
    """Poll until the outbox is empty, as the daemon does before each claim."""
    for _ in range(polls):
        if not worker.trainer.outbox.jobs_with_pending_updates():
            return
        assert worker.run_once() is None
    assert worker.trainer.outbox.jobs_with_pending_updates() == []


def checkpoint_urls(job_id: str, phases: int = 2) -> list[str]:
    """Return the checkpoint URLs a completed job must have registered."""
    return [
        f"s3://{BUCKET}/{PREFIX}/{job_id}/phase-{phase}.keras"
        for phase in range(1, phases + 1)
    ]


def assert_completed(
    stack: WorkerStack,
    job_id: str,
    *,
    coordinator: CoordinatorServer | None = None,
    phases: int = 2,
) -> dict[str, Any]:
    """Assert the final record and bucket objects of a job that completed."""
    server = coordinator or stack.coordinator
    record = server.admin.get_job(job_id)
    expected = checkpoint_urls(job_id, phases)

    assert record["status"] == "completed", record.get("error_message")
    assert record["checkpoint_urls"] == expected
    assert record["error_message"] is None
    assert set(record["phase_metrics"]) == {str(p) for p in range(1, phases + 1)}
    for phase, metrics in record["phase_metrics"].items():
        assert metrics["phase"] == int(phase)
        assert metrics["loss"] > 0
        assert metrics["val_perplexity"] > 1
        assert metrics["parameters"] > 0

    objects = stack.bucket_objects()
    keys = sorted(key for key in objects if f"/{job_id}/" in key)
    assert keys == [url.removeprefix(f"s3://{BUCKET}/") for url in expected]
    for key in keys:
        assert objects[key]["metadata"]["sha256"] == stack.object_sha256(key)
    return record


def reserve_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class _Pipe:
    client: socket.socket
    upstream: socket.socket

    def close(self) -> None:
        for sock in (self.client, self.upstream):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


class SwitchableProxy:
    """A TCP relay from a loopback port to `target`, which can be switched off.

    Off closes the listening socket and every relayed connection, so clients
    see connections refused or reset; on listens again on the same port.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._lock = threading.Lock()
        self._pipes: list[_Pipe] = []
        self._listener: socket.socket | None = None
        self.port = 0
        self.switch_on()

    @property
    def url(self) -> str:
        """The proxy's http URL."""
        return f"http://127.0.0.1:{self.port}"

    def switch_on(self) -> None:
        """Listen (again) on the proxy's port and relay new connections."""
        with self._lock:
            if self._listener is not None:
                return
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(16)
            self.port = listener.getsockname()[1]
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def switch_off(self) -> None:
        """Stop listening and cut every relayed connection."""
        with self._lock:
            listener, self._listener = self._listener, None
            pipes, self._pipes = self._pipes, []
        if listener is not None:
            # shutdown() wakes the thread blocked in accept(). On Linux,
            # close() alone would leave the port listening.
            try:
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()
        for pipe in pipes:
            pipe.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            pipe = _Pipe(client, upstream)
            with self._lock:
                self._pipes.append(pipe)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=_relay, args=(source, sink), daemon=True
                ).start()


def _relay(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass
