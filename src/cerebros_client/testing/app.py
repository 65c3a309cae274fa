"""FastAPI application of the stand-in coordinator."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from . import routes_admin, routes_faults, routes_registry, routes_worker
from .context import Coordinator, check_access, expire_leases
from .errors import CoordinatorError, NotFound, RateLimited, Unauthorized
from .faults import FaultMiddleware, FaultSet
from .profiles import Profile, get_profile
from .security import RateLimit, RateLimiter
from .store import Clock, Store

logger = logging.getLogger(__name__)

_MAX_ECHOED_INPUT = 80


class CoordinatorApp(FastAPI):
    """FastAPI app whose outermost ASGI layer injects faults.

    Fault injection sits outside Starlette's own error middleware so that
    it can close the connection through the server's ``send``.
    """

    def build_middleware_stack(self) -> ASGIApp:
        """Wrap the standard middleware stack in the fault layer."""
        coordinator: Coordinator = self.state.coordinator
        return FaultMiddleware(super().build_middleware_stack(), coordinator.faults)


def create_app(
    store: Store,
    *,
    profile: str | Profile = "strict",
    tokens: Iterable[str] = (),
    rate_limit: RateLimit | None = None,
    faults: FaultSet | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    """Build the coordinator app on ``store``.

    ``tokens`` turns on bearer authentication (401 without a listed token),
    ``rate_limit`` caps requests per token (429 with ``Retry-After``), and
    ``faults`` shares a fault set with the caller. ``clock`` defaults to the
    store's clock; tests pass a fake one to expire leases without waiting.
    """
    chosen = get_profile(profile) if isinstance(profile, str) else profile
    clock = clock or store.clock
    coordinator = Coordinator(
        store=store,
        profile=chosen,
        clock=clock,
        faults=faults or FaultSet(),
        tokens=tuple(tokens),
        limiter=RateLimiter(rate_limit, clock) if rate_limit else None,
    )

    app = CoordinatorApp(
        title="Cerebros stand-in coordinator",
        version="1.0",
        description=f"Stand-in for the Thunderline coordination API ({chosen.name}).",
    )
    app.state.coordinator = coordinator

    api = [Depends(check_access), Depends(expire_leases)]
    app.include_router(routes_worker.router, dependencies=api)
    if chosen.claims:
        # Declared before the admin routes so that POST /api/jobs/claim is
        # not shadowed by a /api/jobs/{job_id} route.
        app.include_router(routes_worker.claim_router, dependencies=api)
    app.include_router(routes_admin.router, dependencies=api)
    app.include_router(routes_registry.router, dependencies=api)
    app.include_router(routes_faults.router, dependencies=[Depends(check_access)])

    _install_error_handlers(app, chosen)
    return app


def _install_error_handlers(app: FastAPI, profile: Profile) -> None:
    async def on_coordinator_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, CoordinatorError)
        logger.info(
            "%s %s rejected with %d: %s",
            request.method,
            request.url.path,
            exc.status_code,
            exc.detail,
        )
        return _coordinator_error(exc, profile)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        logger.info(
            "%s %s rejected: invalid request (%d errors)",
            request.method,
            request.url.path,
            len(exc.errors()),
        )
        return _validation_error(exc, profile)

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        if status == 405 and not profile.detailed_errors:
            status = 404  # Phoenix has no 405: a method with no route is 404.
        headers = dict(exc.headers) if exc.headers else None
        return _error_response(status, _phrase(status), headers=headers)

    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        detail = f"internal error: {type(exc).__name__}: {exc}"
        return _error_response(500, detail if profile.detailed_errors else _phrase(500))

    app.add_exception_handler(CoordinatorError, on_coordinator_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_crash)


def _coordinator_error(exc: CoordinatorError, profile: Profile) -> JSONResponse:
    headers: dict[str, str] = {}
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)

    if profile.detailed_errors:
        return _error_response(
            exc.status_code, exc.detail, field=exc.field, headers=headers
        )

    status = _compat_status(exc)
    return _error_response(status, _phrase(status), headers=headers)


def _compat_status(exc: CoordinatorError) -> int:
    """Map an error to the status the deployed server returns."""
    if isinstance(exc, NotFound) and exc.compat_crashes:
        return 500 if _is_uuid(exc.record_id) else 400
    if exc.status_code in (409, 422):
        return 400
    return exc.status_code


def _validation_error(exc: RequestValidationError, profile: Profile) -> JSONResponse:
    errors = exc.errors()
    if not profile.detailed_errors:
        return _error_response(400, _phrase(400))

    fields = [_describe(error) for error in errors]
    first = fields[0] if fields else {"field": "body", "message": "invalid request"}
    return _error_response(
        422, first["message"], field=first["field"], extra={"fields": fields}
    )


def _describe(error: Any) -> dict[str, str]:
    """Turn one pydantic error into a field name and a message naming it."""
    location = [str(part) for part in error.get("loc", ())]
    if location and location[0] in ("body", "query", "path", "header"):
        location = location[1:]
    kind = error.get("type", "")

    if kind == "json_invalid":
        return {
            "field": "body",
            "message": f"request body is not valid JSON: {error.get('msg')}",
        }
    field = ".".join(location) or "body"
    if kind == "missing":
        return {"field": field, "message": f"missing field {field!r}"}

    received = repr(error.get("input"))
    if len(received) > _MAX_ECHOED_INPUT:
        received = received[:_MAX_ECHOED_INPUT] + "..."
    message = f"invalid field {field!r}: {error.get('msg')}; received {received}"
    return {"field": field, "message": message}


def _error_response(
    status: int,
    detail: str,
    *,
    field: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"detail": detail}
    if field is not None:
        body["field"] = field
    body.update(extra or {})
    return JSONResponse({"errors": body}, status_code=status, headers=headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
