"""The rules of the CCTV control centre: cameras, event ingestion and merging, workflow, statistics.

Plain functions taking the request's session; nothing here commits or knows about HTTP.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Select, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from app.core.bulk import among, insert_rows, update_rows_by_id
from app.core.db import utcnow
from app.core.errors import Conflict, InvalidInput, NotFound, field_error
from app.core.i18n import SEOUL
from app.core.images import sniff_image
from app.core.lookup import one_or_404
from app.core.metrics import count_ingested
from app.core.pagination import PageParams, paginate
from app.core.tenancy import check_rows, within_reach
from app.kt.cctv import live, rollup
from app.kt.cctv.config import CctvSettings, TypeRule
from app.kt.cctv.geometry import bottom_centre, point_in_polygon
from app.kt.cctv.live import ALL_TOPIC, topic_for  # noqa: F401  (re-exported for the routers)
from app.kt.cctv.models import (
    EVENT_TYPES,
    OPEN_STATUSES,
    PARKING_ZONE_TYPES,
    CctvCamera,
    CctvEvent,
    CctvIncident,
    CctvRule,
    CctvSnapshot,
    CctvZone,
)
from app.kt.cctv.schemas import (
    CameraIn,
    CameraRef,
    CameraUpdate,
    DispatchIn,
    EventIn,
    HeartbeatIn,
    RuleIn,
    ZoneIn,
)
from app.platform import audit
from app.platform import service as platform_service

log = logging.getLogger("dxhub.kt.cctv")

URGENT_TYPES = ("fire", "fall")
# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "acknowledge": (("new",), "acknowledged"),
    "dispatch": (("acknowledged",), "dispatched"),
    "resolve": (("acknowledged", "dispatched"), "resolved"),
    "false_alarm": (OPEN_STATUSES, "false_alarm"),
}


def _publish(db: Session, municipality_id: int, message: dict[str, Any]) -> None:
    live.publish(db, municipality_id, message)


def municipality_codes(db: Session) -> dict[int, str]:
    return {m.id: m.code for m in platform_service.all_municipalities(db)}


# --- cameras ---------------------------------------------------------------------------------

def is_online(camera: CctvCamera, *, now: datetime, settings: CctvSettings) -> bool:
    seen = camera.last_heartbeat_at
    return seen is not None and seen >= now - timedelta(seconds=settings.offline_after_s)


def create_camera(db: Session, *, data: CameraIn, default_municipality_id: int | None) -> CctvCamera:
    if data.municipality_code:
        municipality_id = platform_service.resolve_municipality(db, code=data.municipality_code).id
    elif default_municipality_id is not None:
        municipality_id = default_municipality_id
    else:
        raise InvalidInput.field("municipality_code", "Name the municipality of the camera")
    taken = db.scalar(select(CctvCamera.id).where(CctvCamera.municipality_id == municipality_id,
                                                  CctvCamera.external_id == data.external_id))
    if taken:
        raise Conflict("A camera with external id {external_id} already exists", external_id=data.external_id)
    camera = CctvCamera(municipality_id=municipality_id, external_id=data.external_id, name=data.name,
                        lat=data.lat, lon=data.lon, address=data.address, control_centre=data.control_centre)
    db.add(camera)
    db.flush()
    return camera


def update_camera(db: Session, *, camera: CctvCamera, data: CameraUpdate) -> CctvCamera:
    for key, value in data.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(camera, key, value)
    db.flush()
    return camera


def camera_query(*, q: str | None = None) -> Select:
    stmt = select(CctvCamera).order_by(CctvCamera.name, CctvCamera.id)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(CctvCamera.name.ilike(like), CctvCamera.external_id.ilike(like),
                              CctvCamera.address.ilike(like)))
    return stmt


def list_cameras(db: Session, *, page: PageParams, q: str | None = None) -> tuple[list[CctvCamera], int]:
    return paginate(db, camera_query(q=q), page)


def all_cameras(db: Session) -> list[CctvCamera]:
    return list(db.scalars(camera_query()))


def get_camera(db: Session, *, camera_id: int) -> CctvCamera:
    return one_or_404(db, CctvCamera, camera_id, "Camera {id} not found")


def replace_zones(db: Session, *, camera: CctvCamera, zones: list[ZoneIn]) -> list[CctvZone]:
    """Make the camera's zones exactly ``zones``; a zone keeps its id while its name stays the same."""
    names = [z.name for z in zones]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InvalidInput("Zone names must be unique on a camera",
                           errors=[field_error(["zones", names.index(n), "name"],
                                               "Zone name {name} is used twice", name=n) for n in dupes])
    existing = {z.name: z for z in camera.zones}
    kept = []
    for data in zones:
        zone = existing.pop(data.name, None)
        polygon = [[float(x), float(y)] for x, y in data.polygon]
        if zone is None:
            zone = CctvZone(municipality_id=camera.municipality_id, name=data.name, type=data.type,
                            polygon=polygon)
            camera.zones.append(zone)
        else:
            zone.type, zone.polygon = data.type, polygon
        kept.append(zone)
    for zone in existing.values():
        camera.zones.remove(zone)
    db.flush()
    return kept


def _resolve_cameras(db: Session, refs: list[CameraRef], loc: str) -> tuple[list[CctvCamera | None], list[dict]]:
    """The camera each reference names (scoped to the caller), and an error per unknown one."""
    ids = {r.camera_id for r in refs if r.camera_id is not None}
    exts = {r.camera_external_id for r in refs if r.camera_external_id is not None}
    conditions = []
    if ids:
        conditions.append(CctvCamera.id.in_(ids))
    if exts:
        conditions.append(CctvCamera.external_id.in_(exts))
    by_id: dict[int, CctvCamera] = {}
    by_ext: dict[str, list[CctvCamera]] = defaultdict(list)
    if conditions:
        for cam in db.scalars(select(CctvCamera).where(or_(*conditions))):
            by_id[cam.id] = cam
            by_ext[cam.external_id].append(cam)
    found: list[CctvCamera | None] = []
    errors: list[dict] = []
    for i, ref in enumerate(refs):
        if ref.camera_id is not None:
            cam = by_id.get(ref.camera_id)
            if cam is None:
                errors.append(field_error([loc, i, "camera_id"], "Unknown camera {id}", id=ref.camera_id))
        else:
            matches = by_ext.get(ref.camera_external_id or "", [])
            cam = matches[0] if len(matches) == 1 else None
            if not matches:
                errors.append(field_error([loc, i, "camera_external_id"], "Unknown camera {id}",
                                          id=ref.camera_external_id))
            elif len(matches) > 1:
                errors.append(field_error([loc, i, "camera_external_id"],
                                          "Camera {id} exists in several municipalities: send camera_id",
                                          id=ref.camera_external_id))
        found.append(cam)
    return found, errors


@lru_cache
def _adapters(model: type) -> tuple[TypeAdapter, TypeAdapter]:
    return TypeAdapter(model), TypeAdapter(list[model])  # type: ignore[valid-type]


def parse_rows(model: type, raw: bytes, *, max_rows: int) -> list:
    """One JSON object or an array of up to ``max_rows``, validated straight from the bytes; every bad row
    is named as ``["rows", i, field]``."""
    head = raw.lstrip()[:1]
    if head not in (b"{", b"["):
        raise InvalidInput.field("body", "Send one object or an array of objects")
    one, many = _adapters(model)
    try:
        rows = many.validate_json(raw) if head == b"[" else [one.validate_json(raw)]
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            if err.get("type") == "json_invalid":
                raise InvalidInput.field("body", "The body is not valid JSON") from None
            loc = list(err["loc"]) if head == b"[" else [0, *err["loc"]]
            if not loc or not isinstance(loc[0], int):
                raise InvalidInput.field("body", "Send one object or an array of objects") from None
            msg = str(err.get("msg", "invalid")).replace("{", "(").replace("}", ")")
            errors.append({**field_error(["rows", *loc], msg), "type": err.get("type", "")})
        raise InvalidInput("{n} row is invalid; nothing was stored",
                           plural="{n} rows are invalid; nothing was stored", errors=errors,
                           n=len({e["loc"][1] for e in errors})) from None
    if not rows:
        raise InvalidInput.field("body", "The array is empty")
    if len(rows) > max_rows:
        raise InvalidInput.field("body", "At most {max} items per request; this one has {n}", max=max_rows,
                                 n=len(rows))
    return rows


def record_heartbeats(db: Session, *, beats: list[HeartbeatIn], settings: CctvSettings,
                      now: datetime | None = None) -> int:
    now = now or utcnow()
    cameras, errors = _resolve_cameras(db, beats, "rows")
    for i, beat in enumerate(beats):
        if beat.at is not None and beat.at > now + timedelta(seconds=settings.max_future_s):
            errors.append(field_error(["rows", i, "at"], "The time is in the future"))
    if errors:
        raise InvalidInput("Some heartbeats are invalid; nothing was stored", errors=errors)
    latest: dict[int, datetime] = {}
    for beat, cam in zip(beats, cameras, strict=True):
        at = beat.at or now
        if cam is not None and (cam.id not in latest or at > latest[cam.id]):
            latest[cam.id] = at
    by_id = {c.id: c for c in cameras if c is not None}
    rows = []
    for cam_id, at in latest.items():
        cam = by_id[cam_id]
        if cam.last_heartbeat_at is not None and cam.last_heartbeat_at >= at:
            continue
        was_online = is_online(cam, now=now, settings=settings)
        rows.append({"id": cam_id, "last_heartbeat_at": at})
        if not was_online:
            _publish(db, cam.municipality_id, {"event": "camera", "id": cam_id, "online": True})
    update_rows_by_id(db, CctvCamera.__table__, rows)
    return len(latest)


def announce_silent_cameras(db: Session, *, since: datetime, settings: CctvSettings,
                            now: datetime | None = None) -> list[int]:
    """Tell open boards about cameras that went offline after ``since``: their last heartbeat became
    older than ``offline_after_s`` in that time. Returns their ids."""
    now = now or utcnow()
    window = timedelta(seconds=settings.offline_after_s)
    silent = db.execute(select(CctvCamera.id, CctvCamera.municipality_id, CctvCamera.name).where(
        CctvCamera.last_heartbeat_at > since - window, CctvCamera.last_heartbeat_at <= now - window)
        .order_by(CctvCamera.id)).all()
    for cam_id, municipality_id, name in silent:
        log.warning("camera %s (%s) went offline: no heartbeat for %s s", cam_id, name, settings.offline_after_s)
        _publish(db, municipality_id, {"event": "camera", "id": cam_id, "online": False})
    return [row.id for row in silent]


# --- rules -----------------------------------------------------------------------------------

class RuleBook:
    """The rule of each detection type for each municipality: its own where it set one, else the default."""

    def __init__(self, settings: CctvSettings, overrides: dict[tuple[int, str], TypeRule]) -> None:
        self.settings, self.overrides = settings, overrides

    def rule(self, municipality_id: int, event_type: str) -> TypeRule:
        return self.overrides.get((municipality_id, event_type)) or self.settings.rule(event_type)

    def quiet(self, municipality_id: int, event_type: str) -> timedelta:
        return timedelta(seconds=self.rule(municipality_id, event_type).quiet_s)


def _as_rule(row: CctvRule) -> TypeRule:
    return TypeRule(quiet_s=row.quiet_s, min_confidence=row.min_confidence, alert_confidence=row.alert_confidence,
                    required_zones=tuple(row.required_zones or ()))


def rulebook(db: Session, *, settings: CctvSettings, municipality_ids: set[int] | None = None) -> RuleBook:
    stmt = select(CctvRule)
    if municipality_ids is not None:
        stmt = stmt.where(CctvRule.municipality_id.in_(municipality_ids or {-1}))
    return RuleBook(settings, {(r.municipality_id, r.type): _as_rule(r) for r in db.scalars(stmt)})


def rule_municipality(db: Session, *, code: str | None, default_municipality_id: int | None) -> int:
    if code:
        return platform_service.resolve_municipality(db, code=code).id
    if default_municipality_id is None:
        raise InvalidInput.field("municipality_code", "Name the municipality whose rules these are")
    return default_municipality_id


def list_rules(db: Session, *, municipality_id: int, settings: CctvSettings) -> list[dict[str, Any]]:
    book = rulebook(db, settings=settings, municipality_ids={municipality_id})
    out = []
    for t in EVENT_TYPES:
        rule = book.rule(municipality_id, t)
        out.append({"type": t, "quiet_s": rule.quiet_s, "min_confidence": rule.min_confidence,
                    "alert_confidence": rule.alert_confidence, "required_zones": list(rule.required_zones),
                    "customised": (municipality_id, t) in book.overrides})
    return out


def set_rule(db: Session, *, municipality_id: int, event_type: str, data: RuleIn) -> CctvRule:
    """Give one municipality its own rule for a type; it applies to detections from now on."""
    row = db.scalar(select(CctvRule).where(CctvRule.municipality_id == municipality_id,
                                           CctvRule.type == event_type))
    if row is None:
        row = CctvRule(municipality_id=municipality_id, type=event_type)
        db.add(row)
    row.quiet_s, row.min_confidence = data.quiet_s, data.min_confidence
    row.alert_confidence, row.required_zones = data.alert_confidence, list(dict.fromkeys(data.required_zones))
    db.flush()
    return row


def reset_rule(db: Session, *, municipality_id: int, event_type: str) -> None:
    row = db.scalar(select(CctvRule).where(CctvRule.municipality_id == municipality_id,
                                           CctvRule.type == event_type))
    if row is not None:
        db.delete(row)
        db.flush()


# --- events and incidents --------------------------------------------------------------------

def severity_for(rule: TypeRule, confidence: float, zone_types: set[str]) -> str:
    if rule.alert_confidence is None or confidence < rule.alert_confidence:
        return "detection"
    if rule.required_zones and not zone_types.intersection(rule.required_zones):
        return "detection"
    return "alert"


@dataclass
class _Incident:
    """An incident as the ingestion sees it; new ones are inserted and old ones updated in bulk at the end."""

    id: int | None
    municipality_id: int
    camera_id: int
    type: str
    severity: str
    status: str
    started_at: datetime
    last_detected_at: datetime
    event_count: int
    max_confidence: float
    open_key: str | None = None
    track_id: str | None = None
    zone_id: int | None = None
    opened: bool = False
    closed: bool = False  # an existing merge target whose window has passed: its open_key is cleared
    added: int = 0
    loaded_started_at: datetime | None = None  # as stored before this batch: its rollup day changes too

    def covers(self, t: datetime, quiet: timedelta) -> bool:
        return self.started_at - quiet <= t <= self.last_detected_at + quiet

    def join(self, t: datetime, confidence: float, severity: str) -> None:
        self.started_at = min(self.started_at, t)
        self.last_detected_at = max(self.last_detected_at, t)
        self.max_confidence = max(self.max_confidence, confidence)
        if severity == "alert":
            self.severity = "alert"
        self.added += 1


@dataclass(frozen=True, slots=True)
class _Cam:
    """The two facts of a camera the ingestion needs, without ORM attribute access per event."""

    id: int
    municipality_id: int


@dataclass
class _Pending:
    index: int
    event: EventIn
    camera: _Cam
    zone_id: int | None
    zone_types: set[str]
    row: dict[str, Any] = field(default_factory=dict)
    incident: _Incident | None = None


_INCIDENT_COLS = ("id", "municipality_id", "camera_id", "type", "severity", "status", "started_at",
                  "last_detected_at", "event_count", "max_confidence", "open_key")


def _load_incidents(db: Session, *where, limit: int | None = None) -> list[_Incident]:
    table = CctvIncident.__table__
    stmt = (select(*[table.c[c] for c in _INCIDENT_COLS]).where(within_reach(db, table), *where)
            .order_by(table.c.started_at.desc()))
    if limit:
        stmt = stmt.limit(limit)
    return [_Incident(**row._mapping, loaded_started_at=row.started_at) for row in db.execute(stmt)]


def _open_key(camera_id: int, event_type: str, track_id: str | None) -> str:
    return f"{camera_id}:{event_type}" + (f":{track_id}" if track_id else "")


class _Merger:
    """Assigns each detection of one batch to an incident: join, open a new one, or close and reopen.

    Reads the merge targets of every key in one query and writes back with a few bulk statements, so a
    batch costs the same handful of round trips whatever it holds.
    """

    def __init__(self, db: Session, rules: RuleBook, now: datetime, keys: set[str]) -> None:
        self.db, self.rules, self.now = db, rules, now
        self.table = CctvIncident.__table__
        self.open: dict[str, _Incident | None] = dict.fromkeys(keys)
        self.existing: dict[int, _Incident] = {}
        self.created: list[_Incident] = []
        if keys:
            for inc in _load_incidents(db, self.table.c.open_key.in_(keys)):
                self.open[inc.open_key or ""] = self.existing[inc.id] = inc  # type: ignore[index]

    def _create(self, p: _Pending, *, key: str | None, severity: str, started_at: datetime) -> _Incident:
        e = p.event
        inc = _Incident(id=None, municipality_id=p.camera.municipality_id, camera_id=p.camera.id, type=e.type,
                        severity=severity, status="new", started_at=started_at, last_detected_at=e.detected_at,
                        event_count=0, max_confidence=e.confidence, open_key=key, track_id=e.track_id,
                        zone_id=p.zone_id, opened=True)
        self.created.append(inc)
        return inc

    def assign(self, p: _Pending, *, severity: str, started_at: datetime | None = None) -> None:
        e = p.event
        quiet = self.rules.quiet(p.camera.municipality_id, e.type)
        track = e.track_id if e.type == "illegal_parking" else None
        key = _open_key(p.camera.id, e.type, track)
        t = e.detected_at
        current = self.open.get(key)
        if current is not None and current.status in OPEN_STATUSES and current.covers(t, quiet):
            target = current
        elif current is not None and t < current.started_at - quiet:
            target = self._late(p, quiet, track) or self._create(p, key=None, severity=severity,
                                                                 started_at=started_at or t)
        else:
            if current is not None:  # its quiet window has passed: it takes no more detections
                current.open_key = None
                current.closed = True
            target = self._create(p, key=key, severity=severity, started_at=started_at or t)
            self.open[key] = target
        target.join(t, e.confidence, severity)
        p.incident = target

    def _late(self, p: _Pending, quiet: timedelta, track: str | None) -> _Incident | None:
        """A detection older than the open incident: join an earlier incident whose window covers it."""
        t = p.event.detected_at
        for inc in self.created:
            if inc.camera_id == p.camera.id and inc.type == p.event.type and inc.covers(t, quiet) and \
                    (not track or inc.track_id == track):
                return inc
        c = self.table.c
        conditions = [c.camera_id == p.camera.id, c.type == p.event.type, c.last_detected_at >= t - quiet,
                      c.started_at <= t + quiet, c.status.in_(OPEN_STATUSES)]
        if track:
            conditions.append(c.track_id == track)
        found = _load_incidents(self.db, *conditions, limit=1)
        if not found:
            return None
        return self.existing.setdefault(found[0].id, found[0])  # type: ignore[arg-type]

    def write_back(self) -> None:
        c = self.table.c
        closed = [{"iid": i.id} for i in self.existing.values() if i.closed]
        if closed:  # first, so that the new merge targets may take the same keys
            self.db.execute(update(self.table).where(c.id == bindparam("iid"), within_reach(self.db, self.table))
                            .values(open_key=None), closed)
        if self.created:
            rows = [dict(municipality_id=i.municipality_id, camera_id=i.camera_id, type=i.type, severity=i.severity,
                         status="new", open_key=i.open_key, track_id=i.track_id, zone_id=i.zone_id,
                         started_at=i.started_at, last_detected_at=i.last_detected_at, opened_at=self.now,
                         event_count=i.added, max_confidence=i.max_confidence, dispatch_note="", close_note="")
                    for i in self.created]
            ids = self.db.execute(insert(self.table).returning(c.id, sort_by_parameter_order=True),
                                  check_rows(self.db, self.table, rows)).scalars()
            for inc, new_id in zip(self.created, ids, strict=True):
                inc.id = new_id
        rows = [{"iid": i.id, "started_at": i.started_at, "last_detected_at": i.last_detected_at,
                 "added": i.added, "max_confidence": i.max_confidence, "severity": i.severity}
                for i in self.existing.values() if i.added]
        if rows:
            within = within_reach(self.db, self.table)
            self.db.execute(update(self.table).where(c.id == bindparam("iid"), within).values(
                started_at=bindparam("started_at"), last_detected_at=bindparam("last_detected_at"),
                event_count=c.event_count + bindparam("added"), max_confidence=bindparam("max_confidence"),
                severity=bindparam("severity")), rows)

    @property
    def touched(self) -> list[_Incident]:
        return [i for i in self.existing.values() if i.added] + self.created


def _parking_run_starts(db: Session, tracks: dict[tuple[int, str], list[_Pending]],
                        rules: RuleBook) -> dict[int, datetime]:
    """For each parking event inside a no-parking zone (by batch index): since when its track has stood in
    that zone without a break. A break is a gap longer than the quiet window, or a sighting of the track
    outside the zone (the car drove off, or moved to another zone), in this batch or stored before."""
    starts: dict[int, datetime] = {}
    table = CctvEvent.__table__
    for (camera_id, track_id), items in tracks.items():
        if all(p.zone_id is None for p in items):
            continue  # never inside a zone in this batch: nothing can open
        municipality_id = items[0].camera.municipality_id
        gap = rules.quiet(municipality_id, "illegal_parking")
        first = min(p.event.detected_at for p in items)
        last = max(p.event.detected_at for p in items)
        prior = db.execute(select(table.c.detected_at, table.c.zone_id).where(
            table.c.camera_id == camera_id, table.c.track_id == track_id, table.c.type == "illegal_parking",
            table.c.confidence >= rules.rule(municipality_id, "illegal_parking").min_confidence,
            table.c.detected_at >= first - timedelta(hours=24), table.c.detected_at <= last,
            within_reach(db, table))).all()
        sightings = sorted([(t, -1, zone_id) for t, zone_id in prior]
                           + [(p.event.detected_at, p.index, p.zone_id) for p in items],
                           key=lambda s: (s[0], s[1]))
        run_zone: int | None = None
        run_start: datetime | None = None
        previous: datetime | None = None
        for t, index, zone_id in sightings:
            if zone_id is None or zone_id != run_zone or previous is None or t - previous > gap:
                run_zone, run_start = zone_id, (t if zone_id is not None else None)
            previous = t
            if index >= 0 and run_start is not None:
                starts[index] = run_start
    return starts


@dataclass(frozen=True)
class Sighting:
    """Where a bridge already knows an event's object to be, in place of the box test: the zone types it is
    in and, for parking, the no-parking zone and since when it has stood there without a break."""

    zone_types: frozenset[str] = frozenset()
    parking_zone_id: int | None = None
    parked_since: datetime | None = None
    seen_at: datetime | None = None  # the latest sighting, when later than the event's detected_at


def ingest_events(db: Session, *, events: list[EventIn], settings: CctvSettings, now: datetime | None = None,
                  sightings: dict[int, Sighting] | None = None) -> dict[str, Any]:
    """Store new detections once each and merge them into incidents; all or nothing.

    ``sightings`` (by the event's index) replace the box test for events whose zones the sender knows."""
    now = now or utcnow()
    sightings = sightings or {}
    cameras = _checked_cameras(db, events, settings=settings, now=now)
    cam_ids = sorted({c.id for c in cameras})
    lock_cameras(db, cam_ids)
    stored = _stored_event_keys(db, cam_ids, {e.event_id for e in events})
    rules = rulebook(db, settings=settings, municipality_ids={c.municipality_id for c in cameras})
    pending, duplicates = _pending_events(db, events, cameras, stored=stored, rules=rules, now=now,
                                          sightings=sightings)
    candidates = _incident_candidates(db, pending, rules=rules, settings=settings, sightings=sightings)
    merger = _merge(db, candidates, rules=rules, now=now)
    _store_events(db, pending)
    _audit_batch(db, pending, merger)
    opened, joined = _announce(db, merger, names={c.id: c.name for c in cameras})

    def ref(i: _Incident) -> dict[str, Any]:
        return {"id": i.id, "camera_id": i.camera_id, "type": i.type, "severity": i.severity, "status": i.status,
                "event_count": i.event_count + i.added}

    return {"accepted": len(pending), "duplicates": duplicates, "incidents_opened": [ref(i) for i in opened],
            "incidents_joined": [ref(i) for i in joined]}


def _checked_cameras(db: Session, events: list[EventIn], *, settings: CctvSettings,
                     now: datetime) -> list[CctvCamera]:
    """Step 1: each event's camera, and its time within the accepted window; every bad row named."""
    cameras, errors = _resolve_cameras(db, events, "rows")
    limit = now + timedelta(seconds=settings.max_future_s)
    oldest = now - timedelta(days=settings.max_age_days)
    for i, e in enumerate(events):
        if e.detected_at > limit:
            errors.append(field_error(["rows", i, "detected_at"], "The time {at} is in the future",
                                      at=e.detected_at.isoformat()))
        elif e.detected_at < oldest:
            errors.append(field_error(["rows", i, "detected_at"], "The time {at} is more than {days} days ago",
                                      at=e.detected_at.isoformat(), days=settings.max_age_days))
    if errors:
        raise InvalidInput("{n} of {total} events are invalid; nothing was stored", errors=errors,
                           n=len({e["loc"][1] for e in errors}), total=len(events))
    return [c for c in cameras if c is not None]


def lock_cameras(db: Session, cam_ids: list[int]) -> None:
    """Step 2: serialise batches touching the same cameras (PostgreSQL row locks; SQLite has one writer)."""
    cam_table = CctvCamera.__table__
    db.execute(select(cam_table.c.id).where(cam_table.c.id.in_(cam_ids), within_reach(db, cam_table))
               .order_by(cam_table.c.id).with_for_update())


def _stored_event_keys(db: Session, cam_ids: list[int], event_ids: set[str]) -> set[tuple[int, str]]:
    """Step 3: the (camera, event id) pairs already stored: a retried event is stored once."""
    ev_table = CctvEvent.__table__
    return {(r[0], r[1]) for r in db.execute(select(ev_table.c.camera_id, ev_table.c.event_id).where(
        among(db, ev_table.c.camera_id, cam_ids), among(db, ev_table.c.event_id, event_ids),
        within_reach(db, ev_table)))}


def _camera_zones(db: Session, cam_ids: list[int]) -> dict[int, list[Any]]:
    zone_table = CctvZone.__table__
    zones: dict[int, list[Any]] = defaultdict(list)
    for z in db.execute(select(zone_table.c.id, zone_table.c.camera_id, zone_table.c.type, zone_table.c.polygon)
                        .where(zone_table.c.camera_id.in_(cam_ids), within_reach(db, zone_table))
                        .order_by(zone_table.c.id)):
        zones[z.camera_id].append(z)
    return zones


def _pending_events(db: Session, events: list[EventIn], cameras: list[CctvCamera], *, stored: set[tuple[int, str]],
                    rules: RuleBook, now: datetime, sightings: dict[int, Sighting]) -> tuple[list[_Pending], int]:
    """Step 4: the new events as rows to insert, each with the zones its rule asks about (by the box's
    bottom-centre, or as the sender saw them); and how many were duplicates."""
    zones = _camera_zones(db, sorted({c.id for c in cameras}))
    plain = {c.id: _Cam(c.id, c.municipality_id) for c in cameras}
    pending: list[_Pending] = []
    duplicates = 0
    seen = set(stored)
    for i, (e, orm_cam) in enumerate(zip(events, cameras, strict=True)):
        cam = plain[orm_cam.id]
        if (cam.id, e.event_id) in seen:
            duplicates += 1
            continue
        seen.add((cam.id, e.event_id))
        parking = e.type == "illegal_parking"
        sighting = sightings.get(i)
        if sighting is not None:
            zone_types, parking_zone = set(sighting.zone_types), sighting.parking_zone_id if parking else None
        else:
            zone_types, parking_zone = _zones_under_box(e, zones.get(cam.id, ()), rules.rule(cam.municipality_id,
                                                                                             e.type))
        p = _Pending(index=i, event=e, camera=cam, zone_id=parking_zone, zone_types=zone_types)
        p.row = dict(municipality_id=cam.municipality_id, event_id=e.event_id, camera_id=cam.id, type=e.type,
                     confidence=e.confidence, detected_at=e.detected_at, received_at=now, bbox_x=e.bbox[0],
                     bbox_y=e.bbox[1], bbox_w=e.bbox[2], bbox_h=e.bbox[3], track_id=e.track_id,
                     zone_id=parking_zone, attributes=e.attributes, incident_id=None)
        pending.append(p)
    return pending, duplicates


def _zones_under_box(e: EventIn, zones: Any, rule: TypeRule) -> tuple[set[str], int | None]:
    """The zone types holding the box's bottom-centre (only those the rule asks about), and for parking
    the no-parking zone among them."""
    parking = e.type == "illegal_parking"
    wanted = (PARKING_ZONE_TYPES if parking else ()) + rule.required_zones
    if not wanted or not zones:
        return set(), None
    px, py = bottom_centre(e.bbox)
    hits = [z for z in zones if z.type in wanted and point_in_polygon(px, py, z.polygon)]
    parking_zone = next((z.id for z in hits if z.type in PARKING_ZONE_TYPES), None) if parking else None
    return {z.type for z in hits}, parking_zone


def _incident_candidates(db: Session, pending: list[_Pending], *, rules: RuleBook, settings: CctvSettings,
                         sightings: dict[int, Sighting]) -> list[tuple[_Pending, str, datetime | None]]:
    """Step 5: the events that meet their rule, with their severity (and, for parking, since when the car
    has stood in the zone: it qualifies once that is ``parking_dwell_s`` ago)."""
    parking_tracks: dict[tuple[int, str], list[_Pending]] = defaultdict(list)
    for p in pending:
        if (p.event.type == "illegal_parking" and p.event.track_id and p.index not in sightings
                and p.event.confidence >= rules.rule(p.camera.municipality_id, "illegal_parking").min_confidence):
            parking_tracks[(p.camera.id, p.event.track_id)].append(p)
    run_starts = _parking_run_starts(db, parking_tracks, rules) if parking_tracks else {}
    seen: dict[int, datetime] = {}
    for index, sighting in sightings.items():
        if sighting.parked_since is not None:
            run_starts[index] = sighting.parked_since
        if sighting.seen_at is not None:
            seen[index] = sighting.seen_at
    dwell = timedelta(seconds=settings.parking_dwell_s)
    candidates: list[tuple[_Pending, str, datetime | None]] = []
    for p in pending:
        e = p.event
        rule = rules.rule(p.camera.municipality_id, e.type)
        if e.confidence < rule.min_confidence:
            continue
        severity = severity_for(rule, e.confidence, p.zone_types)
        if e.type == "illegal_parking":
            start = run_starts.get(p.index)
            if start is None or max(e.detected_at, seen.get(p.index, e.detected_at)) - start < dwell:
                continue  # not parked (long enough) in a no-parking zone: kept as a plain detection
            candidates.append((p, severity, start))
        else:
            candidates.append((p, severity, None))
    return candidates


def _merge(db: Session, candidates: list[tuple[_Pending, str, datetime | None]], *, rules: RuleBook,
           now: datetime) -> _Merger:
    """Step 6: each candidate joins or opens its incident; the incidents and their daily rollup written."""
    keys = {_open_key(p.camera.id, p.event.type, p.event.track_id if p.event.type == "illegal_parking" else None)
            for p, _s, _t in candidates}
    merger = _Merger(db, rules, now, keys)
    for p, severity, start in sorted(candidates, key=lambda c: c[0].event.detected_at):
        merger.assign(p, severity=severity, started_at=start)
    merger.write_back()
    rollup.refresh(db, [(i.camera_id, t) for i in merger.touched for t in (i.started_at, i.loaded_started_at)
                        if t is not None])
    for p, _s, _t in candidates:
        if p.incident is not None:
            p.row["incident_id"] = p.incident.id
    return merger


def _store_events(db: Session, pending: list[_Pending]) -> None:
    """Step 7: the events, in one bulk insert."""
    if pending:
        insert_rows(db, CctvEvent.__table__, [p.row for p in pending])
        count_ingested(db, module="kt.cctv", kind="events", n=len(pending))


def _audit_batch(db: Session, pending: list[_Pending], merger: _Merger) -> None:
    """Step 8: one audit entry per municipality for the batch (events are not audited one by one)."""
    for municipality_id in sorted({p.camera.municipality_id for p in pending}):
        mine = [p for p in pending if p.camera.municipality_id == municipality_id]
        touched = [i for i in merger.touched if i.municipality_id == municipality_id]
        audit.record(db, action="ingest_events", object_type="kt_cctv_event",
                     object_id=f"{mine[0].event.event_id}..{mine[-1].event.event_id}"[:60],
                     municipality_id=municipality_id,
                     after={"accepted": len(mine), "incidents_opened": [i.id for i in touched if i.opened],
                            "incidents_joined": [i.id for i in touched if not i.opened]})


def _announce(db: Session, merger: _Merger, *, names: dict[int, str]) -> tuple[list[_Incident], list[_Incident]]:
    """Step 9: tell the live boards about each incident opened or joined (sent when the batch commits)."""
    opened = [i for i in merger.touched if i.opened]
    joined = [i for i in merger.touched if not i.opened]
    for inc in opened + joined:
        _publish(db, inc.municipality_id, {
            "event": "incident", "id": inc.id, "change": "opened" if inc.opened else "joined", "type": inc.type,
            "severity": inc.severity, "status": inc.status, "camera_id": inc.camera_id,
            "camera_name": names.get(inc.camera_id, ""), "event_count": inc.event_count + inc.added,
            "urgent": inc.type in URGENT_TYPES and inc.severity == "alert"})
    return opened, joined


def revise_event(db: Session, *, camera: CctvCamera, event_id: str, confidence: float, sighting: Sighting,
                 attributes: dict[str, Any], settings: CctvSettings, withdrawn: bool = False,
                 now: datetime | None = None) -> str | None:
    """A later word on a stored event from a sender that tracks it (Frigate's ``update`` and ``end``): the
    confidence kept at its best, attributes merged. An event that now meets its rule (more confident,
    inside the zone, parked long enough) joins or opens an incident as a new event would; one already in an
    incident raises its confidence and severity. ``withdrawn`` (the sender calls it a false positive) marks
    the event and closes its incident as a false alarm when that incident is only this event and still new.

    Returns what changed: ``"opened"``, ``"joined"``, ``"raised"``, ``"withdrawn"``, ``"kept"``, or None
    when the event is not stored."""
    now = now or utcnow()
    lock_cameras(db, [camera.id])
    table = CctvEvent.__table__
    row = db.execute(select(table).where(table.c.camera_id == camera.id, table.c.event_id == event_id,
                                         within_reach(db, table))).first()
    if row is None:
        return None
    best = max(row.confidence, confidence)
    merged = {**(row.attributes or {}), **attributes}
    db.execute(update(table).where(table.c.id == row.id, within_reach(db, table))
               .values(confidence=best, attributes=merged,
                       zone_id=sighting.parking_zone_id if row.type == "illegal_parking" else row.zone_id))
    rules = rulebook(db, settings=settings, municipality_ids={camera.municipality_id})
    if withdrawn:
        return _withdraw(db, incident_id=row.incident_id)
    seen_at = max(row.detected_at, sighting.seen_at or row.detected_at)
    event = EventIn.model_construct(camera_id=camera.id, camera_external_id=None, event_id=event_id, type=row.type,
                                    confidence=best, detected_at=seen_at,
                                    bbox=(row.bbox_x, row.bbox_y, row.bbox_w, row.bbox_h), track_id=row.track_id,
                                    attributes=merged)
    p = _Pending(index=0, event=event, camera=_Cam(camera.id, camera.municipality_id),
                 zone_id=sighting.parking_zone_id, zone_types=set(sighting.zone_types))
    if row.incident_id is None:
        candidates = _incident_candidates(db, [p], rules=rules, settings=settings, sightings={0: sighting})
        if not candidates:
            return "kept"
        merger = _merge(db, candidates, rules=rules, now=now)
        db.execute(update(table).where(table.c.id == row.id, within_reach(db, table))
                   .values(incident_id=p.row["incident_id"]))
        opened, _joined = _announce(db, merger, names={camera.id: camera.name})
        return "opened" if opened else "joined"
    return _raise_incident(db, incident_id=row.incident_id, confidence=best, seen_at=event.detected_at,
                           severity=severity_for(rules.rule(camera.municipality_id, row.type), best, p.zone_types))


def _raise_incident(db: Session, *, incident_id: int, confidence: float, severity: str, seen_at: datetime) -> str:
    """The incident of a revised event: still being seen (it keeps taking detections while the object is
    there), as confident as its best event, an alert once the event is one."""
    incident = get_incident(db, incident_id=incident_id)
    if seen_at > incident.last_detected_at:
        incident.last_detected_at = seen_at
    raised = severity == "alert" and incident.severity != "alert"
    if confidence <= incident.max_confidence and not raised:
        return "kept"
    incident.max_confidence = max(incident.max_confidence, confidence)
    if raised:
        incident.severity = "alert"
    db.flush()
    _publish(db, incident.municipality_id, {"event": "incident", "id": incident.id, "change": "raised",
                                            "type": incident.type, "severity": incident.severity,
                                            "status": incident.status, "camera_id": incident.camera_id,
                                            "urgent": raised and incident.type in URGENT_TYPES})
    return "raised"


def _withdraw(db: Session, *, incident_id: int | None) -> str:
    if incident_id is not None:
        incident = get_incident(db, incident_id=incident_id)
        if incident.status == "new" and incident.event_count <= 1:
            transition(db, incident=incident, action="false_alarm", note="Withdrawn by the analyser: false positive")
    return "withdrawn"


def list_events(db: Session, *, page: PageParams, incident_id: int | None = None, camera_id: int | None = None
                ) -> tuple[list[CctvEvent], int]:
    stmt = select(CctvEvent).order_by(CctvEvent.detected_at.desc(), CctvEvent.id.desc())
    if incident_id is not None:
        stmt = stmt.where(CctvEvent.incident_id == incident_id)
    if camera_id is not None:
        stmt = stmt.where(CctvEvent.camera_id == camera_id)
    return paginate(db, stmt, page)


def snapshot_ids_for(db: Session, event_row_ids: list[int]) -> dict[int, int]:
    if not event_row_ids:
        return {}
    rows = db.execute(select(CctvSnapshot.event_row_id, CctvSnapshot.id).where(
        CctvSnapshot.event_row_id.in_(event_row_ids), CctvSnapshot.purged_at.is_(None)))
    return {r[0]: r[1] for r in rows}


# --- incidents: list, workflow, escalation ---------------------------------------------------

def incident_query(*, camera_id: int | None = None, type: str | None = None, status: str | None = None,
                   severity: str | None = None, since: datetime | None = None, until: datetime | None = None,
                   open_only: bool = False) -> Select:
    stmt = select(CctvIncident).order_by(CctvIncident.last_detected_at.desc(), CctvIncident.id.desc())
    if camera_id is not None:
        stmt = stmt.where(CctvIncident.camera_id == camera_id)
    if type:
        stmt = stmt.where(CctvIncident.type == type)
    if status:
        stmt = stmt.where(CctvIncident.status == status)
    if open_only:
        stmt = stmt.where(CctvIncident.status.in_(OPEN_STATUSES))
    if severity:
        stmt = stmt.where(CctvIncident.severity == severity)
    if since:
        stmt = stmt.where(CctvIncident.last_detected_at >= since)
    if until:
        stmt = stmt.where(CctvIncident.started_at < until)
    return stmt


def list_incidents(db: Session, *, page: PageParams, settings: CctvSettings, now: datetime | None = None,
                   **filters: Any) -> tuple[list[CctvIncident], int]:
    """Incidents, newest first. Reading changes nothing: overdue alerts are escalated by the worker."""
    return paginate(db, incident_query(**filters), page)


def get_incident(db: Session, *, incident_id: int) -> CctvIncident:
    return one_or_404(db, CctvIncident, incident_id, "Incident {id} not found")


def allowed_actions(incident: CctvIncident) -> list[str]:
    return [a for a, (sources, _t) in TRANSITIONS.items() if incident.status in sources]


def is_merging(incident: CctvIncident, *, rules: RuleBook, now: datetime) -> bool:
    quiet = rules.quiet(incident.municipality_id, incident.type)
    return incident.open_key is not None and incident.last_detected_at + quiet >= now


def time_to_acknowledge_s(incident: CctvIncident) -> float | None:
    if incident.acknowledged_at is None:
        return None
    return max(0.0, (incident.acknowledged_at - incident.opened_at).total_seconds())


def time_to_resolve_s(incident: CctvIncident) -> float | None:
    if incident.status != "resolved" or incident.closed_at is None:
        return None
    return max(0.0, (incident.closed_at - incident.opened_at).total_seconds())


def transition(db: Session, *, incident: CctvIncident, action: str, note: str = "",
               dispatch: DispatchIn | None = None, now: datetime | None = None) -> CctvIncident:
    """Move an incident along new -> acknowledged -> dispatched -> resolved (or false_alarm)."""
    sources, target = TRANSITIONS[action]
    if incident.status not in sources:
        raise Conflict("An incident that is {status} cannot be moved to {target}", status=incident.status,
                       target=target)
    now = now or utcnow()
    who = audit.actor(db)
    if action == "acknowledge":
        incident.acknowledged_at, incident.acknowledged_by = now, who
    elif action == "dispatch":
        if dispatch is None:
            raise InvalidInput.field("target", "Choose where to dispatch")
        incident.dispatched_at, incident.dispatched_by = now, who
        incident.dispatch_target = dispatch.target
        incident.dispatch_department = dispatch.department if dispatch.target == "department" else None
        incident.dispatch_note = dispatch.note
    else:
        if incident.acknowledged_at is None:  # a false alarm dismissed straight from "new" is seen now
            incident.acknowledged_at, incident.acknowledged_by = now, who
        incident.closed_at, incident.closed_by, incident.close_note = now, who, note
        incident.open_key = None
    incident.status = target
    db.flush()
    rollup.refresh(db, [(incident.camera_id, incident.started_at)])
    _publish(db, incident.municipality_id, {"event": "incident", "id": incident.id, "change": action,
                                            "type": incident.type, "severity": incident.severity,
                                            "status": incident.status, "camera_id": incident.camera_id,
                                            "urgent": False})
    return incident


def escalate_overdue(db: Session, *, settings: CctvSettings, now: datetime | None = None) -> list[CctvIncident]:
    """Mark alerts still ``new`` after ``escalate_after_min`` minutes as escalated (shown and logged)."""
    now = now or utcnow()
    cutoff = now - timedelta(minutes=settings.escalate_after_min)
    overdue = list(db.scalars(select(CctvIncident).where(
        CctvIncident.severity == "alert", CctvIncident.status == "new", CctvIncident.escalated_at.is_(None),
        CctvIncident.opened_at <= cutoff).order_by(CctvIncident.id)
        .with_for_update(of=CctvIncident.__table__, skip_locked=True)))
    for incident in overdue:
        incident.escalated_at = now
        log.warning("escalated: %s incident %s on camera %s not acknowledged within %s min", incident.type,
                    incident.id, incident.camera_id, settings.escalate_after_min)
        _publish(db, incident.municipality_id, {"event": "incident", "id": incident.id, "change": "escalated",
                                                "type": incident.type, "severity": incident.severity,
                                                "status": incident.status, "camera_id": incident.camera_id,
                                                "urgent": incident.type in URGENT_TYPES})
    if overdue:
        db.flush()  # the audit hook records each escalation with the actor
    return overdue


# --- snapshots -------------------------------------------------------------------------------


def store_snapshot(db: Session, *, ref: CameraRef, event_id: str, content: bytes, root: Path,
                   settings: CctvSettings) -> tuple[CctvSnapshot, bool]:
    """Keep the image of an event on disk; returns (snapshot, created). A retried upload is stored once."""
    if len(content) > settings.snapshot_max_bytes:
        raise InvalidInput.field("file", "The image is larger than {max} bytes", max=settings.snapshot_max_bytes)
    content_type = sniff_image(content)
    if content_type is None:
        raise InvalidInput.field("file", "The file is not a JPEG or PNG image")
    cameras, errors = _resolve_cameras(db, [ref], "form")
    if errors:
        raise InvalidInput("Unknown camera", errors=[dict(e, loc=e["loc"][2:]) for e in errors])
    camera = cameras[0]
    assert camera is not None
    event = db.scalar(select(CctvEvent).where(CctvEvent.camera_id == camera.id, CctvEvent.event_id == event_id))
    if event is None:
        raise NotFound("Event {event_id} of camera {camera} not found: send the event first", event_id=event_id,
                       camera=camera.external_id)
    digest = hashlib.sha256(content).hexdigest()
    existing = db.scalar(select(CctvSnapshot).where(CctvSnapshot.event_row_id == event.id))
    if existing is not None:
        if existing.sha256 == digest:
            return existing, False
        raise Conflict("Event {event_id} already has a different snapshot", event_id=event_id)
    ext = "jpg" if content_type == "image/jpeg" else "png"
    relative = Path(str(camera.municipality_id)) / event.detected_at.astimezone(SEOUL).strftime("%Y-%m-%d") / \
        f"{event.id}-{digest[:16]}.{ext}"
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".part")
    tmp.write_bytes(content)
    os.replace(tmp, target)
    snapshot = CctvSnapshot(municipality_id=camera.municipality_id, event_row_id=event.id, camera_id=camera.id,
                            incident_id=event.incident_id, path=relative.as_posix(), content_type=content_type,
                            size_bytes=len(content), sha256=digest)
    db.add(snapshot)
    db.flush()
    if event.incident_id:
        _publish(db, camera.municipality_id, {"event": "snapshot", "id": snapshot.id,
                                              "incident_id": event.incident_id})
    return snapshot, True


def event_has_snapshot(db: Session, *, camera_id: int | None, event_id: str | None) -> bool:
    """Whether the event already has a snapshot (purged ones count: retention is not undone)."""
    found = db.scalar(select(CctvSnapshot.id).join(CctvEvent, CctvEvent.id == CctvSnapshot.event_row_id).where(
        CctvEvent.camera_id == camera_id, CctvEvent.event_id == event_id))
    return found is not None


def get_snapshot(db: Session, *, snapshot_id: int) -> CctvSnapshot:
    snapshot = db.scalar(select(CctvSnapshot).where(CctvSnapshot.id == snapshot_id))
    if snapshot is None or snapshot.purged_at is not None:
        raise NotFound("Snapshot {id} not found", id=snapshot_id)
    return snapshot


def snapshot_event(db: Session, *, snapshot: CctvSnapshot) -> CctvEvent:
    return db.scalars(select(CctvEvent).where(CctvEvent.id == snapshot.event_row_id)).one()


def read_snapshot(db: Session, *, snapshot: CctvSnapshot, root: Path) -> bytes:
    """The image bytes; every view is logged with who and when (personal data)."""
    path = root / snapshot.path
    try:
        content = path.read_bytes()
    except OSError:
        raise NotFound("The image of snapshot {id} is no longer on disk", id=snapshot.id) from None
    audit.record_access(db, action="view", subject_type="kt_cctv_snapshot", subject_id=str(snapshot.id),
                        municipality_id=snapshot.municipality_id, data_subject=f"camera {snapshot.camera_id} view",
                        detail={"camera_id": snapshot.camera_id, "incident_id": snapshot.incident_id})
    return content


def purge_snapshots(db: Session, *, root: Path, retention_days: int, now: datetime | None = None) -> int:
    """Delete snapshot files older than the retention period; the rows stay, marked purged."""
    now = now or utcnow()
    cutoff = now - timedelta(days=retention_days)
    old = list(db.scalars(select(CctvSnapshot).where(CctvSnapshot.uploaded_at < cutoff,
                                                     CctvSnapshot.purged_at.is_(None))))
    for snapshot in old:
        (root / snapshot.path).unlink(missing_ok=True)
    if old:
        table = CctvSnapshot.__table__
        db.execute(update(table).where(table.c.id.in_([s.id for s in old]), within_reach(db, table))
                   .values(purged_at=now))
        for municipality_id in sorted({s.municipality_id for s in old}):
            audit.record(db, action="purge", object_type="kt_cctv_snapshot", object_id=f"before:{cutoff.date()}",
                         municipality_id=municipality_id,
                         after={"count": sum(1 for s in old if s.municipality_id == municipality_id),
                                "retention_days": retention_days})
    return len(old)


# --- statistics ------------------------------------------------------------------------------

def compute_stats(db: Session, *, since: datetime, until: datetime) -> dict[str, Any]:
    """Incidents per type per day, false-alarm rate per camera and type, times to acknowledge/resolve, and
    the period's totals (incidents, false-alarm rate of closed incidents: the program KPIs' sources).

    Sums the daily rollup over whole days in SQL and aggregates only the partial days at either end (if
    the bounds are not Seoul midnights) from their incidents: never the raw events. Means are exact;
    medians are interpolated within the rollup's time buckets.
    """
    n = len(rollup.BUCKET_EDGES_S) + 1
    per_day = {(r["day_date"].isoformat(), r["type"]): int(r["incidents"])
               for r in rollup.read(db, since=since, until=until, by=("day_date", "type"))}
    per_camera = {(r["camera_id"], r["type"]): (int(r["closed"]), int(r["false_alarms"]))
                  for r in rollup.read(db, since=since, until=until, by=("camera_id", "type"))}
    times = {r["type"]: {"acknowledged": int(r["acknowledged"]), "ack_s": float(r["ack_s_sum"]),
                         "ack": [int(r[f"ack_b{i}"]) for i in range(n)], "resolved": int(r["resolved"]),
                         "res_s": float(r["resolve_s_sum"]), "res": [int(r[f"res_b{i}"]) for i in range(n)]}
             for r in rollup.read(db, since=since, until=until, by=("type",))}
    names = {c.id: c.name for c in db.scalars(select(CctvCamera))}
    false_alarms = [{"camera_id": camera_id, "camera_name": names.get(camera_id, str(camera_id)), "type": type_,
                     "closed": closed, "false_alarms": false, "false_alarm_rate": (false / closed) if closed else None}
                    for (camera_id, type_), (closed, false) in per_camera.items()]
    false_alarms.sort(key=lambda f: (-(f["false_alarm_rate"] or 0), f["camera_name"], f["type"]))
    response = []
    for type_ in EVENT_TYPES:
        t = times.get(type_)
        if t and (t["acknowledged"] or t["resolved"]):
            response.append({
                "type": type_, "acknowledged": t["acknowledged"],
                "mean_ack_s": t["ack_s"] / t["acknowledged"] if t["acknowledged"] else None,
                "median_ack_s": rollup.median_from_buckets(t["ack"]), "resolved": t["resolved"],
                "mean_resolve_s": t["res_s"] / t["resolved"] if t["resolved"] else None,
                "median_resolve_s": rollup.median_from_buckets(t["res"])})
    closed = sum(f["closed"] for f in false_alarms)
    false_total = sum(f["false_alarms"] for f in false_alarms)
    totals = {"incidents": sum(per_day.values()), "closed": closed, "false_alarms": false_total,
              "false_alarm_rate": false_total / closed if closed else None}
    return {"since": since, "until": until,
            "per_type_per_day": [{"day": d, "type": t, "incidents": n} for (d, t), n in sorted(per_day.items())
                                 if n],
            "false_alarms": false_alarms, "response_times": response, "totals": totals}


def overview(db: Session, *, settings: CctvSettings, now: datetime | None = None) -> dict[str, Any]:
    """Counts for the home widget and the control-centre header."""
    now = now or utcnow()
    inc = CctvIncident
    open_rows = db.execute(select(inc.severity, inc.status, func.count()).where(inc.status.in_(OPEN_STATUSES))
                           .group_by(inc.severity, inc.status)).all()
    escalated = db.scalar(select(func.count()).select_from(inc).where(
        inc.status == "new", inc.escalated_at.is_not(None))) or 0
    cameras = all_cameras(db)
    online = sum(1 for c in cameras if is_online(c, now=now, settings=settings))
    return {"new_alerts": sum(n for s, st, n in open_rows if s == "alert" and st == "new"),
            "open": sum(n for _s, _st, n in open_rows), "escalated": escalated, "cameras": len(cameras),
            "online": online}
