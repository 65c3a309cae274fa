"""The service registry: workers register once and send heartbeats."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from . import jobs
from .context import Coordinator, get_coordinator
from .errors import InvalidRequest, NotFound
from .routes_worker import OK
from .schemas import ServiceHeartbeat, ServiceRegister
from .store import Document

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/registry")

CoordinatorDep = Annotated[Coordinator, Depends(get_coordinator)]


@router.post("/register", status_code=201)
def register_service(body: ServiceRegister, coordinator: CoordinatorDep) -> Document:
    """Register a service.

    Strict updates an existing registration of the same ``service_id`` and
    keeps its id, so a restarted worker can register again. Compat rejects
    it, as the deployed server's unique ``service_id`` does.
    """
    stamp = jobs.isoformat(coordinator.clock())
    with coordinator.store.transaction() as tx:
        existing = tx.find_service(body.service_id)
        if existing is not None and not coordinator.profile.detailed_errors:
            raise InvalidRequest(
                f"service_id {body.service_id!r} is already registered",
                field="service_id",
            )
        service = {
            "id": existing["id"] if existing else str(uuid.uuid4()),
            **body.model_dump(),
            "status": "healthy",
            "last_heartbeat_at": stamp,
            "inserted_at": existing["inserted_at"] if existing else stamp,
            "updated_at": stamp,
        }
        tx.put_service(service)
    logger.info("service %s registered as %s", body.service_id, service["id"])
    return service


@router.get("/{registration_id}")
def get_service(registration_id: str, coordinator: CoordinatorDep) -> Document:
    """Return one registration (stand-in only)."""
    with coordinator.store.transaction() as tx:
        service = tx.get_service(registration_id)
    if service is None:
        raise NotFound("service", registration_id, compat_crashes=False)
    return service


@router.patch("/{registration_id}/heartbeat")
def heartbeat(
    registration_id: str, body: ServiceHeartbeat, coordinator: CoordinatorDep
) -> dict[str, Any]:
    """Record that a service is alive, and whether it is busy with a job."""
    with coordinator.store.transaction() as tx:
        service = tx.get_service(registration_id)
        if service is None:
            raise NotFound("service", registration_id, compat_crashes=False)
        stamp = jobs.isoformat(coordinator.clock())
        service["status"] = body.status
        service["metadata"] = {**service["metadata"], **body.metadata}
        service["last_heartbeat_at"] = stamp
        service["updated_at"] = stamp
        tx.put_service(service)
    return OK
