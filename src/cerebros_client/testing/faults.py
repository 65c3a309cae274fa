"""Fault injection: make the next N matching requests fail in a chosen way.

A fault matches a method and a path glob (``fnmatch``, so ``*`` also spans
``/``). Kinds, which may be combined with ``delay``:

- ``status``: respond with this status with a JSON error body (or ``body``);
- ``html``: respond with an HTML page, as a proxy in front of the server would
  (status 502 unless ``status`` is given);
- ``drop``: close the connection without a response;
- ``truncate``: send the headers and half of the real response, then close;
- ``delay`` alone: wait, then respond normally.

``after_handler`` (drop only) runs the request first, so the change is made
but its response is lost: the case that idempotency keys exist for.
Paths under ``/_admin`` are never faulted, so tests can always clear faults.
"""

from __future__ import annotations

import asyncio
import fnmatch
import itertools
import json
import logging
import threading
from dataclasses import asdict, dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

ADMIN_PREFIX = "/_admin"
DEFAULT_HTML_STATUS = 502
_HTML_PAGE = (
    "<html><head><title>{status} Bad Gateway</title></head>"
    "<body><h1>{status} Bad Gateway</h1><hr><center>nginx</center></body></html>"
)


@dataclass
class Fault:
    """One registered fault and the number of requests it still affects."""

    id: int
    method: str
    path: str
    status: int | None = None
    body: str | None = None
    html: bool = False
    delay: float = 0.0
    drop: bool = False
    truncate: bool = False
    after_handler: bool = False
    remaining: int = 1

    def matches(self, method: str, path: str) -> bool:
        """Return whether this fault applies to a request."""
        method_ok = self.method == "*" or self.method.upper() == method.upper()
        return method_ok and fnmatch.fnmatchcase(path, self.path)

    def to_dict(self) -> dict[str, Any]:
        """Return the fault as the admin endpoint lists it."""
        return asdict(self)


class FaultSet:
    """Thread-safe list of pending faults, shared by the app and the test."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(
        self,
        method: str,
        path: str,
        *,
        status: int | None = None,
        body: str | None = None,
        html: bool = False,
        delay: float = 0.0,
        drop: bool = False,
        truncate: bool = False,
        after_handler: bool = False,
        times: int = 1,
    ) -> Fault:
        """Register a fault for the next ``times`` requests matching method and path.

        Raises ValueError when the options contradict each other.
        """
        _check_options(status, html, delay, drop, truncate, after_handler, times)
        with self._lock:
            fault = Fault(
                id=next(self._ids),
                method=method,
                path=path,
                status=status,
                body=body,
                html=html,
                delay=delay,
                drop=drop,
                truncate=truncate,
                after_handler=after_handler,
                remaining=times,
            )
            self._faults.append(fault)
        logger.info("fault %d registered: %s %s x%d", fault.id, method, path, times)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """Consume one use of the first fault matching the request, if any."""
        if path.startswith(ADMIN_PREFIX):
            return None
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> list[Fault]:
        """Return the faults that still have uses left."""
        with self._lock:
            return list(self._faults)

    def clear(self) -> None:
        """Remove every pending fault."""
        with self._lock:
            self._faults.clear()


def _check_options(
    status: int | None,
    html: bool,
    delay: float,
    drop: bool,
    truncate: bool,
    after_handler: bool,
    times: int,
) -> None:
    if times < 1:
        raise ValueError(f"fault times must be at least 1, received {times}")
    if delay < 0:
        raise ValueError(f"fault delay must be >= 0 seconds, received {delay}")
    if status is not None and not 100 <= status <= 599:
        raise ValueError(f"fault status must be 100..599, received {status}")
    kinds = [name for name, on in (("drop", drop), ("truncate", truncate)) if on]
    if status is not None or html:
        kinds.append("status/html")
    if len(kinds) > 1:
        raise ValueError(
            f"a fault can be only one of {kinds}; register them separately"
        )
    if after_handler and not drop:
        raise ValueError("after_handler applies only to drop faults")
    if not kinds and delay == 0:
        raise ValueError("a fault needs status, html, drop, truncate or a delay")


class FaultMiddleware:
    """Outermost ASGI layer that applies pending faults before the app runs.

    It must wrap everything else, because closing the connection needs the
    server's own ``send`` (see ``_close_connection``).
    """

    def __init__(self, app: ASGIApp, faults: FaultSet):
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        fault = self.faults.take(scope["method"], scope["path"])
        if fault is None:
            await self.app(scope, receive, send)
            return

        logger.info(
            "injecting fault %d on %s %s", fault.id, scope["method"], scope["path"]
        )
        if fault.delay:
            await asyncio.sleep(fault.delay)
        await self._apply(fault, scope, receive, send)

    async def _apply(
        self, fault: Fault, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if fault.drop and fault.after_handler:
            await self.app(scope, receive, _discard)
            await _close_connection(send)
        elif fault.drop:
            await _close_connection(send)
        elif fault.truncate:
            await self._truncate(scope, receive, send)
        elif fault.html or fault.status is not None:
            await _send_error(fault, send)
        else:
            await self.app(scope, receive, send)

    async def _truncate(self, scope: Scope, receive: Receive, send: Send) -> None:
        messages: list[Message] = []

        async def record(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, record)
        start = messages[0]
        body = b"".join(m.get("body", b"") for m in messages[1:])
        headers = [
            (k, v) for k, v in start["headers"] if k.lower() != b"content-length"
        ]
        headers.append((b"content-length", str(len(body)).encode()))

        await send(
            {
                "type": "http.response.start",
                "status": start["status"],
                "headers": headers,
            }
        )
        await send(
            {
                "type": "http.response.body",
                "body": body[: len(body) // 2],
                "more_body": True,
            }
        )
        await _close_connection(send)


async def _send_error(fault: Fault, send: Send) -> None:
    if fault.html:
        status = fault.status or DEFAULT_HTML_STATUS
        content = fault.body or _HTML_PAGE.format(status=status)
        content_type = b"text/html; charset=utf-8"
    else:
        status = fault.status or 500
        detail = {"errors": {"detail": f"injected fault {fault.id}"}}
        content = fault.body if fault.body is not None else json.dumps(detail)
        content_type = b"application/json"

    payload = content.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def _discard(message: Message) -> None:
    return None


async def _close_connection(send: Send) -> None:
    """Close the client's socket without completing a response.

    ASGI has no message for this, so it reaches the uvicorn h11 protocol
    object behind ``send`` and closes its transport, then marks the request
    disconnected so uvicorn does not write a 500 into the closed socket.
    NOTE: relies on uvicorn internals (checked with uvicorn 0.55, h11);
    other servers fall back to raising, which uvicorn reports as a 500.
    """
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if cycle is None or transport is None:
        raise RuntimeError("cannot drop the connection: server transport not reachable")
    transport.close()
    cycle.disconnected = True
    await asyncio.sleep(0)
