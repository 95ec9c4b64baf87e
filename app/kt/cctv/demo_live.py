"""The demo's control centres alive (a worker duty while ``DXHUB_DEMO_SIMULATE`` is on): every demo camera
sends its heartbeat, and the edge-analyser simulator of ``dxhub cctv simulate`` sends its detections
through the same service functions the REST API feeds, so incidents keep arriving on the boards."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.core.db import utcnow
from app.kt.cctv import service
from app.kt.cctv.config import CctvSettings
from app.kt.cctv.demo import CENTRES
from app.kt.cctv.models import CctvCamera
from app.kt.cctv.schemas import EventIn, HeartbeatIn
from app.kt.cctv.simulate import Analyser
from app.platform.models import Municipality

_analysers: dict[tuple[int, ...], Analyser] = {}  # this process's simulators, by the cameras they watch


def _cameras(db: Session) -> list[CctvCamera]:
    codes = [code for code, _centre, _specs in CENTRES]
    ids = db.scalars(select(Municipality.id).where(Municipality.code.in_(codes))).all()
    return list(db.scalars(select(CctvCamera).where(CctvCamera.municipality_id.in_(ids))
                           .options(selectinload(CctvCamera.zones)).order_by(CctvCamera.id)))


def _analyser(cameras: list[CctvCamera]) -> Analyser:
    key = tuple(c.id for c in cameras)
    found = _analysers.get(key)
    if found is None:
        described: list[dict[str, Any]] = [
            {"id": c.id, "zones": [{"type": z.type, "polygon": z.polygon} for z in c.zones]} for c in cameras]
        found = _analysers[key] = Analyser(None, described)  # type: ignore[arg-type]  # no HTTP: events only
    return found


def step(db: Session, *, settings: CctvSettings, now: datetime | None = None) -> dict[str, int]:
    """One round: a heartbeat from every demo camera and one batch of the analyser's detections."""
    now = now or utcnow()
    cameras = _cameras(db)
    if not cameras:
        return {"heartbeats": 0, "events": 0}
    service.record_heartbeats(db, beats=[HeartbeatIn(camera_id=c.id, at=now) for c in cameras], settings=settings,
                              now=now)
    events = [EventIn.model_validate(e) for e in _analyser(cameras).tick(time.time())]
    if events:
        service.ingest_events(db, events=events, settings=settings, now=now)
    return {"heartbeats": len(cameras), "events": len(events)}
