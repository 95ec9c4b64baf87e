"""Pages of the control centre: live incident board, incident detail and workflow, cameras, statistics."""

from __future__ import annotations

import json
import math
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app.core.csvout import csv_response
from app.core.db import utcnow
from app.core.deps import SessionDep
from app.core.errors import DomainError, Forbidden, InvalidInput, NotFound
from app.core.forms import answer_form, form_to_dict
from app.core.i18n import SEOUL
from app.core.i18n import gettext as _
from app.core.live import sse_response
from app.core.pagination import PageParams
from app.core.schemas import INT32_MAX
from app.core.templating import flash, render, see_other
from app.core.tenancy import Principal
from app.kt.cctv import frigate, live, service
from app.kt.cctv.config import get_cctv_settings
from app.kt.cctv.deps import CameraDep, CctvSettingsDep, IncidentDep, SnapshotDep, SnapshotRootDep
from app.kt.cctv.models import DISPATCH_TARGETS, EVENT_TYPES, INCIDENT_STATUSES, ZONE_TYPES
from app.kt.cctv.schemas import CameraIn, DispatchIn, FrigateLabelIn, NoteIn, RuleIn, ZonesIn
from app.platform import audit, history
from app.platform import service as platform_service
from app.platform.auth import WRITER, WebUser, can_write

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 30
MAX_STATS_DAYS = 366

TYPE_LABELS = {"fire": "Fire", "smoke": "Smoke", "fall": "Fall", "illegal_parking": "Illegal parking",
               "loitering": "Loitering", "intrusion": "Intrusion", "crowd": "Crowd"}
STATUS_LABELS = {"new": "New", "acknowledged": "Acknowledged", "dispatched": "Dispatched", "resolved": "Resolved",
                 "false_alarm": "False alarm"}
SEVERITY_LABELS = {"alert": "Alert", "detection": "Detection"}
ZONE_LABELS = {"no_parking": "No parking", "no_stopping": "No stopping", "watch": "Watch", "restricted": "Restricted"}
TARGET_LABELS = {"112": "112 police", "119": "119 fire", "department": "Municipal department"}
ACTION_LABELS = {"acknowledge": "Acknowledge", "dispatch": "Dispatch", "resolve": "Resolve",
                 "false_alarm": "False alarm"}


def labels() -> dict[str, Any]:
    return {"type_label": lambda t: _(TYPE_LABELS.get(t, t)), "status_label_cctv": lambda s: _(STATUS_LABELS.get(s, s)),
            "severity_label": lambda s: _(SEVERITY_LABELS.get(s, s)), "zone_label": lambda z: _(ZONE_LABELS.get(z, z)),
            "target_label": lambda t: _(TARGET_LABELS.get(t, t)), "action_label": lambda a: _(ACTION_LABELS.get(a, a)),
            "duration": duration}


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    if seconds < 60:
        return _("{s} s", s=seconds)
    if seconds < 3600:
        return _("{m} min {s} s", m=seconds // 60, s=seconds % 60)
    return _("{h} h {m} min", h=seconds // 3600, m=(seconds % 3600) // 60)


def _filters(camera_id: str | None, type: str | None, status: str | None, severity: str | None
             ) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    if camera_id and camera_id.isdigit() and 0 < int(camera_id) <= INT32_MAX:
        filters["camera_id"] = int(camera_id)
    if type in EVENT_TYPES:
        filters["type"] = type
    if status in INCIDENT_STATUSES or status in ("open", "all"):
        filters["status"] = status
    if severity in ("alert", "detection"):
        filters["severity"] = severity
    return filters


def _query_filters(filters: dict[str, Any]) -> dict[str, Any]:
    status = filters.get("status", "open")
    q = {k: v for k, v in filters.items() if k != "status"}
    if status == "open":
        q["open_only"] = True
    elif status != "all":
        q["status"] = status
    return q


def _board(db: Session, settings, filters: dict[str, Any], page: int) -> dict[str, Any]:
    items, total = service.list_incidents(db, page=PageParams(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE),
                                          settings=settings, **_query_filters(filters))
    return {"incidents": items, "total": total, "page": page, "pages": max(1, -(-total // PAGE_SIZE)),
            "filters": filters, "query_base": urlencode(filters), "now": utcnow(), **labels()}


@router.get("/", name="cctv_console")
def console(request: Request, db: SessionDep, settings: CctvSettingsDep,
            camera_id: Annotated[str | None, Query(max_length=12)] = None,
            type: Annotated[str | None, Query(max_length=20)] = None,
            status: Annotated[str | None, Query(max_length=20)] = None,
            severity: Annotated[str | None, Query(max_length=20)] = None,
            page: Annotated[int, Query(ge=1, le=100000)] = 1):
    filters = _filters(camera_id, type, status, severity)
    context = _board(db, settings, filters, page)
    context.update(cameras=service.all_cameras(db), types=EVENT_TYPES, statuses=INCIDENT_STATUSES,
                   overview=service.overview(db, settings=settings))
    return render(request, "kt/cctv/console.html", context)


@router.get("/incidents/rows", name="cctv_incident_rows")
def incident_rows(request: Request, db: SessionDep, settings: CctvSettingsDep,
                  camera_id: Annotated[str | None, Query(max_length=12)] = None,
                  type: Annotated[str | None, Query(max_length=20)] = None,
                  status: Annotated[str | None, Query(max_length=20)] = None,
                  severity: Annotated[str | None, Query(max_length=20)] = None,
                  page: Annotated[int, Query(ge=1, le=100000)] = 1):
    """The board's rows alone: the live screen reloads them when the server announces a change."""
    context = _board(db, settings, _filters(camera_id, type, status, severity), page)
    context["overview"] = service.overview(db, settings=settings)
    return render(request, "kt/cctv/_incident_rows.html", context)


@router.get("/live", name="cctv_live")
async def live_stream(request: Request, settings: CctvSettingsDep):
    database = request.app.state.db
    live.ensure_listener(database.url)  # PostgreSQL: changes made by other processes arrive too
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None or principal.municipality_ids is None:
        topics = [service.ALL_TOPIC]
    else:
        topics = [service.topic_for(m) for m in sorted(principal.municipality_ids)]
    # Escalations and silent cameras come from the worker's duties, through the same messages.
    return sse_response(request, topics)


# --- incident detail and workflow ------------------------------------------------------------

def _incident_context(db: Session, incident, settings) -> dict[str, Any]:
    events, event_total = service.list_events(db, page=PageParams(limit=50, offset=0), incident_id=incident.id)
    snaps = service.snapshot_ids_for(db, [e.id for e in events])
    shown = next((e for e in events if e.id in snaps), events[0] if events else None)
    entries, _n = audit.list_entries(db, page=PageParams(limit=30, offset=0), object_type="kt_cctv_incident",
                                     object_id=str(incident.id))
    return {"incident": incident, "events": events, "event_total": event_total, "snaps": snaps, "shown": shown,
            "zones": incident.camera.zones, "history": history.present(db, entries),
            "actions": service.allowed_actions(incident),
            "targets": DISPATCH_TARGETS, "tta": service.time_to_acknowledge_s(incident),
            "ttr": service.time_to_resolve_s(incident),
            "merging": service.is_merging(incident, now=utcnow(), rules=service.rulebook(
                db, settings=settings, municipality_ids={incident.municipality_id})),
            "errors": {}, "values": {}, **labels()}


@router.get("/incidents/{incident_id}", name="cctv_incident")
def incident_detail(request: Request, incident: IncidentDep, db: SessionDep, settings: CctvSettingsDep):
    return render(request, "kt/cctv/incident.html", _incident_context(db, incident, settings))


@router.post("/incidents/{incident_id}/{action}", name="cctv_incident_action", dependencies=WRITER)
async def incident_action(request: Request, incident: IncidentDep, action: str, db: SessionDep,
                          settings: CctvSettingsDep):
    if action not in service.TRANSITIONS:
        raise NotFound("Unknown action")
    values = form_to_dict(await request.form())
    schema = DispatchIn if action == "dispatch" else NoteIn if action in ("resolve", "false_alarm") else None
    here = str(request.url_for("cctv_incident", incident_id=incident.id))

    def step(data) -> None:
        try:
            service.transition(db, incident=incident, action=action, note=getattr(data, "note", ""),
                               dispatch=data if action == "dispatch" else None)
        except DomainError as exc:  # e.g. another operator moved it first: say where it stands now
            db.rollback()
            current = service.get_incident(db, incident_id=incident.id)
            raise InvalidInput("This step is not possible now: the incident is {status}.",
                               status=_(STATUS_LABELS[current.status])) from exc

    def page(errors: dict[str, str]):
        context = _incident_context(db, incident, settings)
        context.update(errors=errors, values=values, failed_action=action)
        return render(request, "kt/cctv/incident.html", context)

    return answer_form(request, db, schema, values, step, done=here, page=page, flash_rules=True,
                       message=_("Incident {id}: {status}.", id=incident.id,
                                 status=_(STATUS_LABELS[service.TRANSITIONS[action][1]])))


@router.get("/snapshots/{snapshot_id}", name="cctv_snapshot")
def snapshot_image(snapshot: SnapshotDep, db: SessionDep, root: SnapshotRootDep):
    content = service.read_snapshot(db, snapshot=snapshot, root=root)
    return Response(content, media_type=snapshot.content_type, headers={"Cache-Control": "private, no-store"})


# --- cameras ---------------------------------------------------------------------------------

def camera_map(cameras: list, *, width: int = 640, height: int = 420, pad: int = 24) -> list[dict[str, Any]]:
    """Camera positions projected onto a plain plot (equirectangular, scaled to fit); no map tiles."""
    if not cameras:
        return []
    lats = [c.lat for c in cameras]
    lons = [c.lon for c in cameras]
    mid = math.cos(math.radians((min(lats) + max(lats)) / 2))
    span_x = max((max(lons) - min(lons)) * mid, 1e-3)
    span_y = max(max(lats) - min(lats), 1e-3)
    scale = min((width - 2 * pad) / span_x, (height - 2 * pad) / span_y)
    off_x = (width - span_x * scale) / 2
    off_y = (height - span_y * scale) / 2
    return [{"camera": c, "x": round(off_x + (c.lon - min(lons)) * mid * scale, 1),
             "y": round(height - (off_y + (c.lat - min(lats)) * scale), 1)} for c in cameras]


def _cameras_page(request: Request, db: Session, settings, *, values: dict, errors: dict, status_code: int = 200):
    cameras = service.all_cameras(db)
    now = utcnow()
    open_counts: dict[int, int] = {}
    for inc in service.list_incidents(db, page=PageParams(limit=200, offset=0), settings=settings,
                                      open_only=True)[0]:
        open_counts[inc.camera_id] = open_counts.get(inc.camera_id, 0) + 1
    return render(request, "kt/cctv/cameras.html", {
        "cameras": cameras, "points": camera_map(cameras), "online": {c.id: service.is_online(c, now=now,
                                                                                           settings=settings)
                                                                    for c in cameras},
        "open_counts": open_counts, "values": values, "errors": errors,
        "municipalities": platform_service.all_municipalities(db), **labels()},
        status_code=status_code)


@router.get("/cameras", name="cctv_cameras")
def cameras(request: Request, db: SessionDep, settings: CctvSettingsDep, principal: WebUser):
    return _cameras_page(request, db, settings, values={}, errors={})


@router.post("/cameras", name="cctv_camera_new", dependencies=WRITER)
async def camera_new(request: Request, db: SessionDep, settings: CctvSettingsDep, principal: WebUser):
    values = form_to_dict(await request.form())
    return answer_form(request, db, CameraIn, values, lambda data: service.create_camera(
                           db, data=data, default_municipality_id=principal.municipality_id),
                       page=lambda errors: _cameras_page(request, db, settings, values=values, errors=errors),
                       message=_("Camera registered."),
                       done=lambda camera: request.url_for("cctv_camera", camera_id=camera.id))


def _camera_context(db: Session, camera, settings) -> dict[str, Any]:
    incidents, _n = service.list_incidents(db, page=PageParams(limit=20, offset=0), settings=settings,
                                           camera_id=camera.id)
    return {"camera": camera, "incidents": incidents, "zone_types": ZONE_TYPES,
            "online": service.is_online(camera, now=utcnow(), settings=settings),
            "zones_json": json.dumps([{"name": z.name, "type": z.type, "polygon": z.polygon} for z in camera.zones],
                                     ensure_ascii=False, indent=1),
            "errors": {}, **labels()}


@router.get("/cameras/{camera_id}", name="cctv_camera")
def camera_detail(request: Request, camera: CameraDep, db: SessionDep, settings: CctvSettingsDep):
    return render(request, "kt/cctv/camera.html", _camera_context(db, camera, settings))


@router.post("/cameras/{camera_id}/zones", name="cctv_camera_zones", dependencies=WRITER)
async def camera_zones(request: Request, camera: CameraDep, db: SessionDep, settings: CctvSettingsDep):
    raw = str((await request.form()).get("zones_json", ""))
    try:
        parsed, errors = json.loads(raw or "[]"), None
    except ValueError:
        parsed, errors = [], {"zones_json": _("The zones are not valid JSON.")}

    def page(errors: dict[str, str]):
        context = _camera_context(db, camera, settings)
        context.update(errors=errors, zones_json=raw)
        return render(request, "kt/cctv/camera.html", context)

    return answer_form(request, db, ZonesIn, {"zones": parsed},
                       lambda data: service.replace_zones(db, camera=camera, zones=data.zones), errors=errors,
                       map_errors=lambda errors: {"zones_json": next(iter(errors.values()))},  # one text field
                       page=page, message=_("Zones saved."), done=request.url_for("cctv_camera", camera_id=camera.id))


# --- statistics ------------------------------------------------------------------------------

def _range(since: str | None, until: str | None) -> tuple[date, date]:
    today = utcnow().astimezone(SEOUL).date()
    try:
        end = date.fromisoformat(until) if until else today
    except ValueError:
        end = today
    try:
        start = date.fromisoformat(since) if since else end - timedelta(days=29)
    except ValueError:
        start = end - timedelta(days=29)
    end = min(end, today + timedelta(days=1))
    if start > end:
        start = end
    if (end - start).days > MAX_STATS_DAYS:
        start = end - timedelta(days=MAX_STATS_DAYS)
    return start, end


def _stats(db: Session, start: date, end: date) -> dict[str, Any]:
    since = datetime.combine(start, time.min, tzinfo=SEOUL)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=SEOUL)
    return service.compute_stats(db, since=since, until=until)


def _rules_for(db: Session, principal: Principal, settings) -> list[dict[str, Any]]:
    if principal.municipality_id is None:
        return [{"type": t, "customised": False, **settings.rule(t).model_dump()} for t in EVENT_TYPES]
    return service.list_rules(db, municipality_id=principal.municipality_id, settings=settings)


@router.post("/rules/{event_type}", name="cctv_rule_save", dependencies=WRITER)
async def rule_save(request: Request, event_type: str, db: SessionDep, settings: CctvSettingsDep,
                    principal: WebUser):
    """A municipality tunes one type's rule (the statistics page shows where it is needed)."""
    if event_type not in EVENT_TYPES:
        raise NotFound("Unknown detection type {type}", type=event_type)
    if principal.municipality_id is None:
        raise Forbidden("Rules belong to a municipality: sign in as its staff")
    form = await request.form()
    target = str(request.url_for("cctv_stats")) + "#rules"
    if form.get("reset"):
        service.reset_rule(db, municipality_id=principal.municipality_id, event_type=event_type)
        flash(request, _("Back to the default rule for {type}.", type=_(TYPE_LABELS[event_type])))
        return see_other(target)
    values = form_to_dict(form, lists=("required_zones",))
    data_in = dict(values)
    for key in ("min_confidence", "alert_confidence"):  # the form shows percentages
        try:
            if key in data_in:
                data_in[key] = float(data_in[key]) / 100
        except ValueError:
            pass

    def page(errors: dict[str, str]):
        context = _stats_context(db, settings, principal, None, None)
        context.update(rule_errors={event_type: next(iter(errors.values()))}, rule_values={event_type: values})
        return render(request, "kt/cctv/stats.html", context)

    return answer_form(request, db, RuleIn, data_in, lambda data: service.set_rule(
                           db, municipality_id=principal.municipality_id, event_type=event_type, data=data),
                       page=page, done=target, message=_("The rule for {type} is saved; it applies to new detections.",
                                                         type=_(TYPE_LABELS[event_type])))


def _stats_context(db: Session, settings, principal: Principal, since: str | None, until: str | None
                   ) -> dict[str, Any]:
    start, end = _range(since, until)
    data = _stats(db, start, end)
    days = [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
    counts = {(r["day"], r["type"]): r["incidents"] for r in data["per_type_per_day"]}
    present = [t for t in EVENT_TYPES if any(r["type"] == t for r in data["per_type_per_day"])]
    series = [{"type": t, "label": _(TYPE_LABELS[t]), "values": [counts.get((d, t), 0) for d in days]}
              for t in present]
    return {"start": start, "end": end, "days": days, "series": series, "stats": data,
            "response_labels": [_(TYPE_LABELS[r["type"]]) for r in data["response_times"]],
            "rules": _rules_for(db, principal, settings), "settings": settings, "zone_types": ZONE_TYPES,
            "rule_errors": {}, "rule_values": {},
            "query_base": urlencode({"since": start.isoformat(), "until": end.isoformat()}), **labels()}


# --- Frigate label mapping ---------------------------------------------------------------------

def _frigate_page(request: Request, db: Session, principal: Principal, settings, *, values: dict, errors: dict,
                  status_code: int = 200):
    rules = frigate.label_rules(db, municipality_id=principal.municipality_id) \
        if principal.municipality_id is not None else [frigate.LabelRule(*d) for d in frigate.DEFAULT_LABELS]
    targets, zones = frigate.label_choices()
    return render(request, "kt/cctv/frigate.html", {
        "rules": rules, "values": values, "errors": errors, "settings": settings,
        "editable": principal.municipality_id is not None and can_write(request),
        "unknown": frigate.unknown_cameras(db) if principal.is_platform_admin else None,
        "target_options": [(t, _(TYPE_LABELS[t]) if t in TYPE_LABELS else _("Ignore")) for t in targets],
        "zone_options": [(z, _(ZONE_LABELS[z]) if z else _("Anywhere")) for z in zones], **labels()},
        status_code=status_code)


@router.get("/frigate", name="cctv_frigate")
def frigate_page(request: Request, db: SessionDep, settings: CctvSettingsDep, principal: WebUser):
    return _frigate_page(request, db, principal, settings, values={}, errors={})


@router.post("/frigate/labels", name="cctv_frigate_label_save", dependencies=WRITER)
async def frigate_label_save(request: Request, db: SessionDep, settings: CctvSettingsDep, principal: WebUser):
    """Add or change one row of the municipality's Frigate label mapping, or remove it (``remove``)."""
    if principal.municipality_id is None:
        raise Forbidden("The label mapping belongs to a municipality: sign in as its staff")
    values = form_to_dict(await request.form())
    values.setdefault("zone_type", "")
    done = str(request.url_for("cctv_frigate"))
    if values.pop("remove", None):
        return answer_form(request, db, None, values, lambda v: frigate.remove_label(
            db, municipality_id=principal.municipality_id, label=str(v.get("label", "")),
            zone_type=str(v.get("zone_type", ""))), done=done, message=_("The mapping row is removed."))
    return answer_form(
        request, db, FrigateLabelIn, values,
        lambda d: frigate.add_label(db, municipality_id=principal.municipality_id, data=d),
        done=done, message=_("The mapping is saved; it applies to new Frigate messages."),
        page=lambda errors: _frigate_page(request, db, principal, settings, values=values, errors=errors))


@router.get("/stats", name="cctv_stats")
def stats_page(request: Request, db: SessionDep, settings: CctvSettingsDep, principal: WebUser,
               since: Annotated[str | None, Query(max_length=10)] = None,
               until: Annotated[str | None, Query(max_length=10)] = None):
    return render(request, "kt/cctv/stats.html", _stats_context(db, settings, principal, since, until))


@router.get("/stats.csv", name="cctv_stats_csv")
def stats_csv(db: SessionDep, since: Annotated[str | None, Query(max_length=10)] = None,
              until: Annotated[str | None, Query(max_length=10)] = None):
    start, end = _range(since, until)
    data = _stats(db, start, end)
    header = ["section", "day", "camera_id", "camera_name", "type", "incidents", "closed", "false_alarms",
              "false_alarm_rate", "acknowledged", "mean_ack_s", "median_ack_s", "resolved", "mean_resolve_s",
              "median_resolve_s"]

    def f(v, digits=1):
        return None if v is None else round(v, digits)

    rows: list[list[object]] = [["per_type_per_day", r["day"], None, None, r["type"], r["incidents"]] + [None] * 9
                                for r in data["per_type_per_day"]]
    rows += [["false_alarms", None, r["camera_id"], r["camera_name"], r["type"], None, r["closed"],
              r["false_alarms"], f(r["false_alarm_rate"], 4)] + [None] * 6 for r in data["false_alarms"]]
    rows += [["response_times", None, None, None, r["type"], None, None, None, None, r["acknowledged"],
              f(r["mean_ack_s"]), f(r["median_ack_s"]), r["resolved"], f(r["mean_resolve_s"]),
              f(r["median_resolve_s"])] for r in data["response_times"]]
    return csv_response(f"cctv-stats-{start.isoformat()}-{end.isoformat()}.csv", header, rows)


# --- home widget -----------------------------------------------------------------------------

def widget_context(db: Session, principal: Principal) -> dict[str, Any] | None:
    overview = service.overview(db, settings=get_cctv_settings())
    if not overview["cameras"]:
        return None
    return overview
