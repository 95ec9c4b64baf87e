"""Frigate NVR events as CCTV detections: the message shapes, the label mapping per municipality, and the one
stored event per Frigate tracked object.

Frigate publishes ``new``, ``update`` and ``end`` messages for each tracked object on ``<prefix>/events``
(https://docs.frigate.video/integrations/mqtt). They become one stored event whose id is Frigate's id: the
first message that maps to a detection type goes through :func:`service.ingest_events` (the REST API's
ingestion: rules, merging into incidents, live boards), later ones revise it with
:func:`service.revise_event`. Frigate's camera name is a camera's ``external_id``; its zone names are the
camera's zone names (or a zone type itself, e.g. a Frigate zone called ``restricted``).

Nothing here knows about MQTT or HTTP: the bridge (:mod:`app.kt.cctv.bridge`) feeds these functions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.core.bulk import dialect_insert
from app.core.errors import InvalidInput, field_error
from app.core.tenancy import within_reach
from app.kt.cctv import service
from app.kt.cctv.config import CctvSettings
from app.kt.cctv.models import (
    EVENT_TYPES,
    FRIGATE_IGNORE,
    PARKING_ZONE_TYPES,
    ZONE_TYPES,
    CctvCamera,
    CctvEvent,
    CctvFrigateLabel,
    CctvFrigateUnknownCamera,
)
from app.kt.cctv.schemas import EventIn, FrigateLabelIn

log = logging.getLogger("dxhub.kt.cctv.frigate")

MESSAGES = Counter("dxhub_kt_cctv_frigate_messages", "Frigate messages by topic kind and outcome.",
                   ["kind", "outcome"])

# (label, zone type or "" for anywhere, detection type): what a municipality without rows of its own gets.
DEFAULT_LABELS: tuple[tuple[str, str, str], ...] = (
    ("fire", "", "fire"),
    ("smoke", "", "smoke"),
    ("fall", "", "fall"),  # a model that detects falls as their own label
    ("person:fallen", "", "fall"),  # or a classification sub label of a person
    ("car", "no_parking", "illegal_parking"),
    ("car", "no_stopping", "illegal_parking"),
    ("truck", "no_parking", "illegal_parking"),
    ("truck", "no_stopping", "illegal_parking"),
    ("person", "restricted", "intrusion"),
)

Name = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[\x21-\x7e]+$")]
Score = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Epoch = Annotated[float, Field(gt=0, lt=32503680000, allow_inf_nan=False)]  # seconds, before the year 3000


class FrigateObject(BaseModel):
    """The ``before``/``after`` object of a ``frigate/events`` message: the fields this bridge reads (Frigate
    sends many more; they are ignored)."""

    model_config = ConfigDict(extra="ignore")

    id: Name
    camera: Name
    label: Annotated[str, StringConstraints(min_length=1, max_length=60)]
    sub_label: str | list[Any] | None = None  # a name, or [name, score] in recent versions
    score: Score | None = None
    top_score: Score | None = None
    start_time: Epoch
    end_time: Epoch | None = None
    frame_time: Epoch | None = None
    current_zones: list[Annotated[str, StringConstraints(max_length=100)]] = Field(default_factory=list,
                                                                                   max_length=50)
    entered_zones: list[Annotated[str, StringConstraints(max_length=100)]] = Field(default_factory=list,
                                                                                   max_length=50)
    has_snapshot: bool = False
    false_positive: bool = False
    box: list[float] | None = Field(default=None, max_length=4)
    stationary: bool | None = None

    @property
    def sub_label_name(self) -> str | None:
        value = self.sub_label[0] if isinstance(self.sub_label, list) and self.sub_label else self.sub_label
        return value if isinstance(value, str) and value else None

    @property
    def confidence(self) -> float:
        return max(self.top_score or 0.0, self.score or 0.0)

    def at(self, seconds: float | None = None) -> datetime:
        return datetime.fromtimestamp(seconds if seconds is not None else (self.frame_time or self.start_time), UTC)


class FrigateEventMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["new", "update", "end"]
    before: FrigateObject | None = None
    after: FrigateObject


class ReviewData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    detections: list[Name] = Field(default_factory=list, max_length=500)
    zones: list[str] = Field(default_factory=list, max_length=50)


class FrigateReview(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: Name
    camera: Name
    severity: Literal["alert", "detection"]
    start_time: Epoch
    end_time: Epoch | None = None
    data: ReviewData = Field(default_factory=ReviewData)


class FrigateReviewMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["new", "update", "end", "genai"]
    before: FrigateReview | None = None
    after: FrigateReview


# --- label mapping ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class LabelRule:
    label: str
    zone_type: str
    event_type: str
    customised: bool = False


def label_rules(db: Session, *, municipality_id: int) -> list[LabelRule]:
    """The municipality's mapping: its own rows for the labels it has set, the defaults for the others."""
    own = [LabelRule(r.label, r.zone_type, r.event_type, True) for r in db.scalars(
        select(CctvFrigateLabel).where(CctvFrigateLabel.municipality_id == municipality_id)
        .order_by(CctvFrigateLabel.label, CctvFrigateLabel.zone_type))]
    mine = {r.label for r in own}
    return own + [LabelRule(*d) for d in DEFAULT_LABELS if d[0] not in mine]


def map_label(rules: list[LabelRule], *, label: str, sub_label: str | None, zone_types: set[str]) -> str | None:
    """The detection type of a Frigate object, or None when nothing maps (or the mapping says ``ignore``).
    ``label:sub_label`` is tried before ``label``; a row for a zone type the object is in wins over a row
    for anywhere."""
    for key in ([f"{label}:{sub_label}"] if sub_label else []) + [label]:
        rows = [r for r in rules if r.label == key]
        hit = next((r for r in rows if r.zone_type and r.zone_type in zone_types), None) or \
            next((r for r in rows if not r.zone_type), None)
        if hit is not None:
            return None if hit.event_type == FRIGATE_IGNORE else hit.event_type
    return None


def set_labels(db: Session, *, municipality_id: int, rows: list[FrigateLabelIn]) -> None:
    """Replace the municipality's own mapping with ``rows`` (none: back to the defaults)."""
    keys = [(r.label, r.zone_type) for r in rows]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise InvalidInput("Each label and zone may be mapped once",
                           errors=[field_error(["labels", keys.index(k), "label"],
                                               "{label} is mapped twice for the same zone", label=k[0])
                                   for k in dupes])
    existing = {(r.label, r.zone_type): r for r in db.scalars(
        select(CctvFrigateLabel).where(CctvFrigateLabel.municipality_id == municipality_id))}
    for data in rows:
        row = existing.pop((data.label, data.zone_type), None)
        if row is None:
            db.add(CctvFrigateLabel(municipality_id=municipality_id, label=data.label, zone_type=data.zone_type,
                                    event_type=data.event_type))
        elif row.event_type != data.event_type:
            row.event_type = data.event_type
    for row in existing.values():
        db.delete(row)
    db.flush()


def add_label(db: Session, *, municipality_id: int, data: FrigateLabelIn) -> None:
    """Add or change one row of the municipality's own mapping."""
    own = [FrigateLabelIn(label=r.label, zone_type=r.zone_type, event_type=r.event_type)
           for r in label_rules(db, municipality_id=municipality_id) if r.customised
           and (r.label, r.zone_type) != (data.label, data.zone_type)]
    if not any(r.label == data.label for r in own):  # the label's first own row: keep its defaults beside it
        own += [FrigateLabelIn(label=d[0], zone_type=d[1], event_type=d[2]) for d in DEFAULT_LABELS
                if d[0] == data.label and d[1] != data.zone_type]
    set_labels(db, municipality_id=municipality_id, rows=[*own, data])


def remove_label(db: Session, *, municipality_id: int, label: str, zone_type: str) -> None:
    own = [FrigateLabelIn(label=r.label, zone_type=r.zone_type, event_type=r.event_type)
           for r in label_rules(db, municipality_id=municipality_id) if r.customised
           and (r.label, r.zone_type) != (label, zone_type)]
    set_labels(db, municipality_id=municipality_id, rows=own)


# --- cameras and zones ------------------------------------------------------------------------------

def find_camera(db: Session, *, name: str, event_id: str, now: datetime) -> CctvCamera | None:
    """The camera whose ``external_id`` is Frigate's camera name; an unknown (or ambiguous) name is counted
    in ``kt_cctv_frigate_unknown_camera`` and logged, and None returned."""
    matches = list(db.scalars(select(CctvCamera).where(CctvCamera.external_id == name).limit(2)))
    if len(matches) == 1:
        return matches[0]
    reason = "ambiguous" if matches else "unknown"
    log.warning("Frigate camera %r matches %s camera external_id: event %s not stored", name,
                "more than one" if matches else "no", event_id)
    table = CctvFrigateUnknownCamera.__table__
    stmt = dialect_insert(db, table).values(name=name, reason=reason, messages=1, first_seen_at=now,
                                            last_seen_at=now, last_event_id=event_id[:100])
    db.execute(stmt.on_conflict_do_update(index_elements=[table.c.name], set_={
        "reason": reason, "messages": table.c.messages + 1, "last_seen_at": now, "last_event_id": event_id[:100]}))
    return None


def unknown_cameras(db: Session) -> list[CctvFrigateUnknownCamera]:
    """Frigate camera names seen without a camera to match, most recent first (a deployment-wide list)."""
    return list(db.scalars(select(CctvFrigateUnknownCamera).order_by(CctvFrigateUnknownCamera.last_seen_at.desc(),
                                                                      CctvFrigateUnknownCamera.id)))


def _zones(camera: CctvCamera, names: list[str]) -> tuple[set[str], int | None]:
    """The zone types of Frigate zone names on this camera, and its first no-parking zone among them."""
    by_name = {z.name: z for z in camera.zones}
    types: set[str] = set()
    parking: int | None = None
    for name in names:
        zone = by_name.get(name)
        if zone is not None:
            types.add(zone.type)
            if parking is None and zone.type in PARKING_ZONE_TYPES:
                parking = zone.id
        elif name in ZONE_TYPES:
            types.add(name)
    return types, parking


# --- one Frigate event, one stored event -------------------------------------------------------------

@dataclass
class Outcome:
    outcome: str  # stored, revised, unmapped, unknown_camera, withdrawn, refused
    camera_id: int | None = None
    camera_external_id: str | None = None
    event_id: str | None = None
    has_snapshot: bool = False
    change: str | None = None  # what happened to an incident: opened, joined, raised, ...


def ingest_event_message(db: Session, *, message: FrigateEventMessage, settings: CctvSettings,
                         now: datetime) -> Outcome:
    """Store or revise the one event of Frigate's tracked object ``message.after``."""
    obj = message.after
    camera = find_camera(db, name=obj.camera, event_id=obj.id, now=now)
    if camera is None:
        return Outcome("unknown_camera")
    current_types, parking_zone = _zones(camera, obj.current_zones)
    entered_types, _ = _zones(camera, obj.entered_zones)
    zone_types = current_types | entered_types
    service.lock_cameras(db, [camera.id])
    table = CctvEvent.__table__
    stored = db.execute(select(table.c.type, table.c.attributes).where(
        table.c.camera_id == camera.id, table.c.event_id == obj.id, within_reach(db, table))).first()
    done = Outcome("", camera_id=camera.id, camera_external_id=camera.external_id, event_id=obj.id,
                   has_snapshot=obj.has_snapshot)
    previous = (stored.attributes or {}) if stored is not None else {}
    rules = label_rules(db, municipality_id=camera.municipality_id)
    # a sub label is a name Frigate recognised (a face, a plate owner): kept only when the mapping uses it
    sub_label = obj.sub_label_name if any(r.label == f"{obj.label}:{obj.sub_label_name}" for r in rules) else None
    attributes = _attributes(obj, previous, message.type, sub_label=sub_label)
    withdrawn = message.type == "end" and obj.false_positive
    event_type = stored.type if stored is not None else None
    if stored is None:
        if withdrawn:
            done.outcome = "unmapped"
            return done
        event_type = map_label(rules, label=obj.label, sub_label=obj.sub_label_name, zone_types=zone_types)
        if event_type is None:
            done.outcome = "unmapped"
            return done
    parked_since = _parked_since(obj, previous, parking_zone, message.type) if event_type == "illegal_parking" else None
    attributes["parked_since"] = parked_since.isoformat() if parked_since else None
    sighting = service.Sighting(zone_types=frozenset(zone_types), parking_zone_id=parking_zone,
                                parked_since=parked_since, seen_at=obj.at())
    if stored is None:
        started = obj.at(obj.start_time) if message.type == "new" else obj.at()
        event = EventIn.model_construct(camera_id=camera.id, camera_external_id=None, event_id=obj.id,
                                        type=event_type, confidence=obj.confidence, detected_at=started,
                                        bbox=(0.0, 0.0, 1.0, 1.0), track_id=obj.id, attributes=attributes)
        result = service.ingest_events(db, events=[event], settings=settings, now=now, sightings={0: sighting})
        done.outcome = "stored"
        done.change = "opened" if result["incidents_opened"] else "joined" if result["incidents_joined"] else None
        return done
    done.change = service.revise_event(db, camera=camera, event_id=obj.id, confidence=obj.confidence,
                                       sighting=sighting, attributes=attributes, settings=settings,
                                       withdrawn=withdrawn, now=now)
    done.outcome = "withdrawn" if withdrawn else "revised"
    return done


def _attributes(obj: FrigateObject, previous: dict[str, Any], kind: str, *, sub_label: str | None) -> dict[str, Any]:
    """What the stored event keeps of Frigate's object: zones seen (a union over its messages), labels, the
    box in Frigate's pixels, its end and whether Frigate withdrew it."""
    zones = sorted(set(previous.get("zones") or []) | set(obj.entered_zones) | set(obj.current_zones))
    out: dict[str, Any] = {"source": "frigate", "label": obj.label, "sub_label": sub_label,
                           "zones": zones[:20], "top_score": obj.top_score, "box": obj.box}
    if kind == "end" or obj.end_time is not None:
        out["ended_at"] = obj.at(obj.end_time).isoformat() if obj.end_time else obj.at().isoformat()
    if obj.false_positive:
        out["false_positive"] = True
    return out


def _parked_since(obj: FrigateObject, previous: dict[str, Any], parking_zone: int | None,
                  kind: str) -> datetime | None:
    """Since when the vehicle has stood in a no-parking zone: kept from earlier messages while it stays in
    one, started afresh when it comes back, None while it is outside."""
    if parking_zone is None:
        return None
    kept = previous.get("parked_since")
    if kept:
        return datetime.fromisoformat(kept)
    return obj.at(obj.start_time) if kind == "new" else obj.at()


def ingest_review_message(db: Session, *, message: FrigateReviewMessage, now: datetime) -> Outcome:
    """A review groups detections Frigate found worth a look; the stored events it names keep its id and
    severity (the events themselves come through ``<prefix>/events``)."""
    review = message.after
    camera = find_camera(db, name=review.camera, event_id=review.id, now=now)
    if camera is None:
        return Outcome("unknown_camera")
    table = CctvEvent.__table__
    rows = db.execute(select(table.c.id, table.c.attributes).where(
        table.c.camera_id == camera.id, table.c.event_id.in_(review.data.detections or ["-"]),
        within_reach(db, table))).all()
    for row in rows:
        attributes = {**(row.attributes or {}), "review_id": review.id, "review_severity": review.severity}
        db.execute(update(table).where(table.c.id == row.id, within_reach(db, table)).values(attributes=attributes))
    return Outcome("revised" if rows else "unmapped", camera_id=camera.id, camera_external_id=camera.external_id)


def label_choices() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The detection types a label may map to, and the zone conditions ("" = anywhere)."""
    return (*EVENT_TYPES, FRIGATE_IGNORE), ("", *ZONE_TYPES)
