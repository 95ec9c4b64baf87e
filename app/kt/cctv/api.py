"""REST API of the CCTV AI control centre, mounted at /api/v1/kt/cctv."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile

from app.core.db import utcnow
from app.core.deps import SessionDep
from app.core.errors import InvalidInput
from app.core.pagination import Page, PageDep
from app.core.schemas import INT32_MAX, Id
from app.kt.cctv import frigate, service
from app.kt.cctv.deps import CameraDep, CctvSettingsDep, IncidentDep, RawBody, SnapshotDep, SnapshotRootDep
from app.kt.cctv.rollup import day_bounds, seoul_day
from app.kt.cctv.schemas import (
    CameraIn,
    CameraOut,
    CameraRef,
    CameraUpdate,
    DispatchIn,
    EventIn,
    EventOut,
    EventType,
    FrigateCameraOut,
    FrigateLabelOut,
    FrigateLabelsIn,
    HeartbeatIn,
    HeartbeatResult,
    IncidentOut,
    IncidentStatus,
    IngestResult,
    NoteIn,
    RuleIn,
    RuleOut,
    Severity,
    SnapshotOut,
    StatsOut,
    ZoneOut,
    ZonesIn,
)
from app.kt.cctv.views import camera_out, event_out, incident_out, snapshot_out
from app.platform.auth import ApiPrincipal, require_api_platform_admin

router = APIRouter()

_PROBLEM = {"application/problem+json": {"schema": {"type": "object", "properties": {
    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
    "detail": {"type": "string"},
    "errors": {"type": "array", "items": {"type": "object", "properties": {
        "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
        "msg": {"type": "string"}, "type": {"type": "string"}}}}}}}}


def _problems(**codes: str) -> dict:
    return {int(code.removeprefix("e")): {"description": text, "content": _PROBLEM} for code, text in codes.items()}


BATCH_ERRORS = _problems(
    e413="The body is larger than max_body_bytes (2 MB by default); nothing is stored",
    e422="Invalid rows, each named as [\"rows\", i, field] (unknown camera, bad type, confidence outside 0-1, "
         "box outside the image, time in the future...); nothing is stored")
STEP_ERRORS = _problems(e404="No such incident (or another municipality's)",
                        e409="The incident is not in a state this step starts from")


def _one_or_many(model: type, max_items: int, example: dict) -> dict:
    schema = model.model_json_schema()
    schema.pop("title", None)
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"oneOf": [schema, {"type": "array", "items": schema, "minItems": 1, "maxItems": max_items}]},
        "examples": {"one": {"summary": "One item", "value": example},
                     "batch": {"summary": "A batch (up to 1,000)", "value": [example]}}}}}}


FIRE_EXAMPLE = {"event_id": "an-01-000123", "camera_external_id": "US-NG-002", "type": "fire", "confidence": 0.93,
                "detected_at": "2026-12-03T21:14:05.120+09:00", "bbox": [0.41, 0.32, 0.18, 0.22],
                "track_id": "t-88", "attributes": {}}
HEARTBEAT_EXAMPLE = {"camera_external_id": "US-NG-002", "at": "2026-12-03T21:14:00+09:00"}


# --- cameras and zones -----------------------------------------------------------------------

@router.post("/cameras", status_code=201, response_model=CameraOut, tags=["kt.cctv cameras"],
             responses=_problems(e409="A camera with this external_id exists in the municipality"))
def create_camera(data: CameraIn, db: SessionDep, principal: ApiPrincipal, settings: CctvSettingsDep):
    """Register a camera. An API key's camera belongs to the key's municipality unless one is named."""
    camera = service.create_camera(db, data=data, default_municipality_id=principal.municipality_id)
    return camera_out(camera, codes=service.municipality_codes(db), settings=settings, now=utcnow())


@router.get("/cameras", response_model=Page[CameraOut], tags=["kt.cctv cameras"])
def list_cameras(db: SessionDep, page: PageDep, settings: CctvSettingsDep,
                 q: Annotated[str | None, Query(max_length=100)] = None):
    """Cameras of the caller's municipalities with online state and zones; `q` searches name, external id
    and address."""
    items, total = service.list_cameras(db, page=page, q=q)
    codes, now = service.municipality_codes(db), utcnow()
    return Page(items=[camera_out(c, codes=codes, settings=settings, now=now) for c in items], total=total,
                limit=page.limit, offset=page.offset)


@router.get("/cameras/{camera_id}", response_model=CameraOut, tags=["kt.cctv cameras"])
def get_camera(camera: CameraDep, db: SessionDep, settings: CctvSettingsDep):
    """One camera with its zones and whether it is online."""
    return camera_out(camera, codes=service.municipality_codes(db), settings=settings, now=utcnow())


@router.patch("/cameras/{camera_id}", response_model=CameraOut, tags=["kt.cctv cameras"])
def update_camera(camera: CameraDep, data: CameraUpdate, db: SessionDep, settings: CctvSettingsDep):
    """Change a camera's name, position, address or control centre."""
    camera = service.update_camera(db, camera=camera, data=data)
    return camera_out(camera, codes=service.municipality_codes(db), settings=settings, now=utcnow())


@router.get("/cameras/{camera_id}/zones", response_model=list[ZoneOut], tags=["kt.cctv cameras"])
def list_zones(camera: CameraDep):
    """The camera's zones (polygons in normalised image coordinates)."""
    return [ZoneOut.model_validate(z) for z in camera.zones]


@router.put("/cameras/{camera_id}/zones", response_model=list[ZoneOut], tags=["kt.cctv cameras"])
def replace_zones(camera: CameraDep, data: ZonesIn, db: SessionDep):
    """Replace the camera's zones. Polygons are in normalised image coordinates (0-1, origin top-left);
    a zone keeps its id while its name stays the same, so parking dwell carries on across edits."""
    return [ZoneOut.model_validate(z) for z in service.replace_zones(db, camera=camera, zones=data.zones)]


@router.post("/heartbeats", response_model=HeartbeatResult, tags=["kt.cctv events"],
             openapi_extra=_one_or_many(HeartbeatIn, 1000, HEARTBEAT_EXAMPLE), responses=BATCH_ERRORS)
def heartbeats(body: RawBody, db: SessionDep, settings: CctvSettingsDep):
    """Analysers report that cameras are alive; a camera silent for `offline_after_s` shows offline."""
    beats = service.parse_rows(HeartbeatIn, body, max_rows=settings.max_batch)
    return HeartbeatResult(updated=service.record_heartbeats(db, beats=beats, settings=settings))


# --- events ----------------------------------------------------------------------------------

@router.post("/events", response_model=IngestResult, tags=["kt.cctv events"],
             openapi_extra=_one_or_many(EventIn, 1000, FIRE_EXAMPLE), responses=BATCH_ERRORS)
def ingest_events(body: RawBody, db: SessionDep, settings: CctvSettingsDep):
    """Take one detection or an array of up to 1,000.

    Each event is stored once per camera and `event_id`: a retried batch answers its events as
    `duplicates`. Detections of one type on one camera merge into one incident until the type's quiet
    window passes, counted by `detected_at`. Illegal parking opens an incident only once one track's
    bottom-centre point has stayed in a `no_parking`/`no_stopping` zone for the dwell time. A bad
    event rejects the whole batch (`422`, every bad row named as `["rows", i, field]`).
    """
    events = service.parse_rows(EventIn, body, max_rows=settings.max_batch)
    return service.ingest_events(db, events=events, settings=settings)


@router.get("/events", response_model=Page[EventOut], tags=["kt.cctv events"])
def list_events(db: SessionDep, page: PageDep, camera_id: Id | None = None,
                incident_id: Id | None = None):
    """Stored detections, newest first, of one incident or one camera."""
    items, total = service.list_events(db, page=page, camera_id=camera_id, incident_id=incident_id)
    snaps = service.snapshot_ids_for(db, [e.id for e in items])
    return Page(items=[event_out(e, snaps.get(e.id)) for e in items], total=total, limit=page.limit,
                offset=page.offset)


@router.post("/snapshots", status_code=201, response_model=SnapshotOut, tags=["kt.cctv events"],
             responses={200: {"description": "The same image was uploaded before: nothing changed"},
                        **_problems(e404="The event was not sent first", e409="The event has a different snapshot",
                                    e422="Not a JPEG or PNG by content, too large, or an unknown camera")})
def upload_snapshot(db: SessionDep, settings: CctvSettingsDep, root: SnapshotRootDep, response: Response,
                    event_id: Annotated[str, Form(min_length=1, max_length=100)],
                    file: Annotated[UploadFile, File(description="JPEG or PNG, checked by content")],
                    camera_id: Annotated[int | None, Form(ge=1, le=INT32_MAX)] = None,
                    camera_external_id: Annotated[str | None, Form(max_length=100)] = None):
    """Upload the image of an event already sent (multipart). A retry of the same image answers 200."""
    try:
        ref = CameraRef(camera_id=camera_id, camera_external_id=camera_external_id)
    except ValueError:
        raise InvalidInput.field("camera_id", "Give exactly one of camera_id and camera_external_id") from None
    content = file.file.read(settings.snapshot_max_bytes + 1)
    snapshot, created = service.store_snapshot(db, ref=ref, event_id=event_id, content=content, root=root,
                                               settings=settings)
    if not created:
        response.status_code = 200
    return snapshot_out(snapshot, service.snapshot_event(db, snapshot=snapshot))


@router.get("/snapshots/{snapshot_id}", tags=["kt.cctv events"],
            responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}})
def get_snapshot_image(snapshot: SnapshotDep, db: SessionDep, root: SnapshotRootDep):
    """The image itself. Every view is logged with who and when."""
    content = service.read_snapshot(db, snapshot=snapshot, root=root)
    return Response(content, media_type=snapshot.content_type, headers={"Cache-Control": "private, no-store"})


@router.get("/snapshots/{snapshot_id}/meta", response_model=SnapshotOut, tags=["kt.cctv events"])
def get_snapshot_meta(snapshot: SnapshotDep, db: SessionDep):
    """A snapshot's event, size and box, without the image."""
    return snapshot_out(snapshot, service.snapshot_event(db, snapshot=snapshot))


# --- incidents -------------------------------------------------------------------------------

@router.get("/incidents", response_model=Page[IncidentOut], tags=["kt.cctv incidents"])
def list_incidents(db: SessionDep, page: PageDep, settings: CctvSettingsDep,
                   camera_id: Id | None = None,
                   type: EventType | None = None, status: IncidentStatus | None = None,
                   severity: Severity | None = None,
                   since: Annotated[datetime | None, Query(description="last detection at or after")] = None,
                   until: Annotated[datetime | None, Query(description="started before")] = None):
    """Incidents, latest detection first, each with its `event_count`. Alerts not acknowledged in time are
    escalated by `dxhub worker` (or `dxhub cctv escalate`), never by reading."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput.field(["query", name], "Give the time with its offset, e.g. 2026-11-25T09:00:00+09:00")
    items, total = service.list_incidents(db, page=page, settings=settings, camera_id=camera_id, type=type,
                                          status=status, severity=severity, since=since, until=until)
    codes, now, rules = service.municipality_codes(db), utcnow(), service.rulebook(db, settings=settings)
    return Page(items=[incident_out(i, codes=codes, rules=rules, now=now) for i in items], total=total,
                limit=page.limit, offset=page.offset)


@router.get("/incidents/{incident_id}", response_model=IncidentOut, tags=["kt.cctv incidents"])
def get_incident(incident: IncidentDep, db: SessionDep, settings: CctvSettingsDep):
    """One incident with its workflow times, who did each step, and its event count."""
    return _moved(db, incident, settings)


def _moved(db, incident, settings) -> IncidentOut:
    rules = service.rulebook(db, settings=settings, municipality_ids={incident.municipality_id})
    return incident_out(incident, codes=service.municipality_codes(db), rules=rules, now=utcnow())


@router.post("/incidents/{incident_id}/acknowledge", response_model=IncidentOut, tags=["kt.cctv incidents"],
             responses=STEP_ERRORS)
def acknowledge(incident: IncidentDep, db: SessionDep, settings: CctvSettingsDep):
    """An operator has seen the incident: new -> acknowledged (who and when are recorded)."""
    return _moved(db, service.transition(db, incident=incident, action="acknowledge"), settings)


@router.post("/incidents/{incident_id}/dispatch", response_model=IncidentOut, tags=["kt.cctv incidents"],
             responses=STEP_ERRORS)
def dispatch(incident: IncidentDep, data: DispatchIn, db: SessionDep, settings: CctvSettingsDep):
    """Send an acknowledged incident to 112 (police), 119 (fire) or a municipal department, with a note."""
    return _moved(db, service.transition(db, incident=incident, action="dispatch", dispatch=data), settings)


@router.post("/incidents/{incident_id}/resolve", response_model=IncidentOut, tags=["kt.cctv incidents"],
             responses=STEP_ERRORS)
def resolve(incident: IncidentDep, data: NoteIn, db: SessionDep, settings: CctvSettingsDep):
    """Close the incident as handled, with an optional note; time to resolve is measured from its opening."""
    return _moved(db, service.transition(db, incident=incident, action="resolve", note=data.note), settings)


@router.post("/incidents/{incident_id}/false-alarm", response_model=IncidentOut, tags=["kt.cctv incidents"],
             responses=STEP_ERRORS)
def false_alarm(incident: IncidentDep, data: NoteIn, db: SessionDep, settings: CctvSettingsDep):
    """Close the incident as a false alarm from any open state; the note helps tune thresholds."""
    return _moved(db, service.transition(db, incident=incident, action="false_alarm", note=data.note), settings)


# --- rules -----------------------------------------------------------------------------------

def _rules_out(db, municipality_id: int, settings) -> list[RuleOut]:
    code = service.municipality_codes(db).get(municipality_id, "")
    return [RuleOut(**r, municipality_code=code)
            for r in service.list_rules(db, municipality_id=municipality_id, settings=settings)]


@router.get("/rules", response_model=list[RuleOut], tags=["kt.cctv incidents"])
def list_rules(db: SessionDep, principal: ApiPrincipal, settings: CctvSettingsDep,
               municipality_code: Annotated[str | None, Query(pattern=r"^\d{10}$")] = None):
    """How detections become incidents in a municipality, per type: its own rules or the defaults."""
    municipality_id = service.rule_municipality(db, code=municipality_code,
                                                default_municipality_id=principal.municipality_id)
    return _rules_out(db, municipality_id, settings)


@router.put("/rules/{type}", response_model=list[RuleOut], tags=["kt.cctv incidents"])
def set_rule(type: EventType, data: RuleIn, db: SessionDep, principal: ApiPrincipal, settings: CctvSettingsDep):
    """Tune a type for a municipality (e.g. raise `min_confidence` where the false-alarm rate is high).
    Applies to detections from now on."""
    municipality_id = service.rule_municipality(db, code=data.municipality_code,
                                                default_municipality_id=principal.municipality_id)
    service.set_rule(db, municipality_id=municipality_id, event_type=type, data=data)
    return _rules_out(db, municipality_id, settings)


@router.delete("/rules/{type}", response_model=list[RuleOut], tags=["kt.cctv incidents"])
def reset_rule(type: EventType, db: SessionDep, principal: ApiPrincipal, settings: CctvSettingsDep,
               municipality_code: Annotated[str | None, Query(pattern=r"^\d{10}$")] = None):
    """Back to the deployment's default rule for this type."""
    municipality_id = service.rule_municipality(db, code=municipality_code,
                                                default_municipality_id=principal.municipality_id)
    service.reset_rule(db, municipality_id=municipality_id, event_type=type)
    return _rules_out(db, municipality_id, settings)


# --- Frigate (the MQTT bridge's label mapping and the cameras it could not match) --------------------

def _labels_out(db, municipality_id: int) -> list[FrigateLabelOut]:
    return [FrigateLabelOut(label=r.label, zone_type=r.zone_type, event_type=r.event_type, customised=r.customised)
            for r in frigate.label_rules(db, municipality_id=municipality_id)]


@router.get("/frigate/labels", response_model=list[FrigateLabelOut], tags=["kt.cctv frigate"])
def list_frigate_labels(db: SessionDep, principal: ApiPrincipal,
                        municipality_code: Annotated[str | None, Query(pattern=r"^\d{10}$")] = None):
    """How Frigate's labels become detection types in a municipality: its own rows, the defaults for the rest.
    A row with a zone type applies only while the object is in a zone of that type."""
    municipality_id = service.rule_municipality(db, code=municipality_code,
                                                default_municipality_id=principal.municipality_id)
    return _labels_out(db, municipality_id)


@router.put("/frigate/labels", response_model=list[FrigateLabelOut], tags=["kt.cctv frigate"])
def set_frigate_labels(data: FrigateLabelsIn, db: SessionDep, principal: ApiPrincipal):
    """Replace the municipality's own mapping (an empty list: back to the defaults). A label given here no
    longer uses its default rows; `ignore` stores nothing for it. Applies to Frigate messages from now on."""
    municipality_id = service.rule_municipality(db, code=data.municipality_code,
                                                default_municipality_id=principal.municipality_id)
    frigate.set_labels(db, municipality_id=municipality_id, rows=data.labels)
    return _labels_out(db, municipality_id)


@router.get("/frigate/unknown-cameras", response_model=list[FrigateCameraOut], tags=["kt.cctv frigate"],
            dependencies=[Depends(require_api_platform_admin)], openapi_extra={"x-tenant-scope": "global"})
def frigate_unknown_cameras(db: SessionDep):
    """Frigate camera names that matched no camera's `external_id` (or several): their messages were counted
    here, not stored. Register the camera (or rename it in Frigate) to take them in."""
    return [FrigateCameraOut.model_validate(c, from_attributes=True) for c in frigate.unknown_cameras(db)]


# --- statistics ------------------------------------------------------------------------------

@router.get("/stats", response_model=StatsOut, tags=["kt.cctv incidents"])
def stats(db: SessionDep, since: datetime | None = None, until: datetime | None = None):
    """Incidents per type per day (Asia/Seoul), false-alarm rate per camera and type, times to acknowledge
    and resolve, for incidents started in [since, until) (default: the 30 Seoul days up to and including
    today). Bounds on Seoul midnights are answered from the daily rollup alone; other bounds add their
    partial days from the incidents."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput.field(["query", name], "Give the time with its offset, e.g. 2026-11-25T09:00:00+09:00")
    until = until or day_bounds(seoul_day(utcnow()))[1]
    since = since or day_bounds(seoul_day(until - timedelta(microseconds=1)) - timedelta(days=29))[0]
    if since >= until:
        raise InvalidInput.field(["query", "since"], "since must be before until")
    return service.compute_stats(db, since=since, until=until)
