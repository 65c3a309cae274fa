"""``/_admin/faults``: fault injection over HTTP, for workers in other processes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from .context import Coordinator, get_coordinator
from .errors import InvalidRequest
from .schemas import FaultCreate

router = APIRouter(prefix="/_admin")

CoordinatorDep = Annotated[Coordinator, Depends(get_coordinator)]


@router.post("/faults", status_code=201)
def add_fault(body: FaultCreate, coordinator: CoordinatorDep) -> dict[str, Any]:
    """Register a fault for the next ``times`` matching requests."""
    try:
        fault = coordinator.faults.add(**body.model_dump())
    except ValueError as exc:
        raise InvalidRequest(str(exc), field="body") from None
    return fault.to_dict()


@router.get("/faults")
def list_faults(coordinator: CoordinatorDep) -> dict[str, list[dict[str, Any]]]:
    """List the faults that still have uses left."""
    return {"faults": [fault.to_dict() for fault in coordinator.faults.pending()]}


@router.delete("/faults", status_code=204)
def clear_faults(coordinator: CoordinatorDep) -> Response:
    """Remove every pending fault."""
    coordinator.faults.clear()
    return Response(status_code=204)
