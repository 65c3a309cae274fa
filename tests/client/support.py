"""Helpers shared by the client tests: fake bodies and raw loopback servers."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field

from cerebros_client import CerebrosClient, RetryPolicy, Timeout

BASE_URL = "http://coordinator.test"
TOKEN = "s3cr3t-token-value"
JOB_ID = "6f1c2d3e-0000-4000-8000-000000000001"
DATASET_ID = "0b7e2d3e-0000-4000-8000-000000000002"


def job_body(**changes: object) -> dict[str, object]:
    """Return a job as the deployed server writes it, with `changes` applied."""
    body: dict[str, object] = {
        "id": JOB_ID,
        "training_dataset_id": DATASET_ID,
        "model_id": "byte-gru",
        "status": "queued",
        "hyperparameters": {"n_epochs": 3, "batch_size": 32, "learning_rate": 0.0001},
        "metadata": {},
        "phase": 0,
        "metrics": {},
        "error_message": None,
        "started_at": None,
        "completed_at": None,
        "checkpoint_urls": [],
        "current_checkpoint_url": None,
        "fine_tuned_model": None,
        "model_loaded": False,
        "model_format": None,
        "inserted_at": "2025-12-01T00:00:00.000000Z",
        "updated_at": "2025-12-01T00:00:00.000000Z",
    }
    body.update(changes)
    return body


@dataclass
class SleepRecorder:
    """Stand-in for `time.sleep` that records the requested waits."""

    waits: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class RawServer:
    """Loopback TCP server that sends one scripted raw reply per connection.

    A reply of None means: read the request and send nothing until closed.
    """

    def __init__(self, replies: list[bytes | None]) -> None:
        self.replies = list(replies)
        self.connections = 0
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._listener.getsockname()
        return f"http://{host}:{port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            if self._stop.is_set():
                conn.close()
                return
            with conn:
                self.connections += 1
                conn.recv(65536)
                index = min(self.connections, len(self.replies)) - 1
                reply = self.replies[index]
                if reply is None:
                    self._stop.wait(5)
                    continue
                conn.sendall(reply)

    def close(self) -> None:
        self._stop.set()
        # A blocked accept() does not notice close(); a connection wakes it.
        with socket.create_connection(self._listener.getsockname(), timeout=1):
            pass
        self._listener.close()
        self._thread.join(timeout=5)


def http_reply(status: str, body: bytes, *, length: int | None = None) -> bytes:
    """Build a raw HTTP/1.1 reply; `length` may claim more bytes than `body` has."""
    declared = len(body) if length is None else length
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {declared}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def no_wait_client(url: str, **kwargs: object) -> CerebrosClient:
    """Client for a raw loopback server, with short timeouts and no sleeping."""
    kwargs.setdefault("retry", RetryPolicy(max_attempts=3, sleep=lambda _: None))
    kwargs.setdefault("timeout", Timeout(connect=2.0, read=0.5))
    return CerebrosClient(url, **kwargs)  # type: ignore[arg-type]
