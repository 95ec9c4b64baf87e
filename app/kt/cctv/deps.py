""""Get or 404" lookups and shared dependencies of the CCTV routers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request

from app.core.deps import SessionDep
from app.core.errors import DomainError
from app.core.schemas import Id
from app.kt.cctv import service
from app.kt.cctv.config import CctvSettings, get_cctv_settings
from app.kt.cctv.models import CctvCamera, CctvIncident, CctvSnapshot
from app.platform.auth import OptionalPrincipal

CctvSettingsDep = Annotated[CctvSettings, Depends(get_cctv_settings)]


class PayloadTooLarge(DomainError):
    status = 413
    title = "Content too large"


def snapshot_root(request: Request, settings: CctvSettingsDep) -> Path:
    return settings.snapshot_root(request.app.state.settings.data_dir)


SnapshotRootDep = Annotated[Path, Depends(snapshot_root)]


async def raw_body(request: Request, settings: CctvSettingsDep) -> bytes:
    """The request's body, read up to ``max_body_bytes``: a larger body is refused before parsing."""
    limit = settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge("The body is larger than {max} bytes: send at most {batch} events per request",
                              max=limit, batch=settings.max_batch)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge("The body is larger than {max} bytes: send at most {batch} events per request",
                                  max=limit, batch=settings.max_batch)
        chunks.append(chunk)
    return b"".join(chunks)


RawBody = Annotated[bytes, Depends(raw_body)]


def camera_or_404(camera_id: Id, db: SessionDep,
                  _: OptionalPrincipal) -> CctvCamera:
    return service.get_camera(db, camera_id=camera_id)


CameraDep = Annotated[CctvCamera, Depends(camera_or_404)]


def incident_or_404(incident_id: Id, db: SessionDep,
                    _: OptionalPrincipal) -> CctvIncident:
    return service.get_incident(db, incident_id=incident_id)


IncidentDep = Annotated[CctvIncident, Depends(incident_or_404)]


def snapshot_or_404(snapshot_id: Id, db: SessionDep,
                    _: OptionalPrincipal) -> CctvSnapshot:
    return service.get_snapshot(db, snapshot_id=snapshot_id)


SnapshotDep = Annotated[CctvSnapshot, Depends(snapshot_or_404)]
