"""Staff pages of the robot platform under /kt/robots: fleet, live site screen, robot detail, tasks,
alerts, statistics, and the forms to register sites and robots."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.core.csvout import csv_response
from app.core.db import utcnow
from app.core.deps import SessionDep
from app.core.errors import DomainError, Forbidden
from app.core.forms import answer_form, form_to_dict
from app.core.i18n import SEOUL
from app.core.i18n import gettext as _
from app.core.pagination import PageParams
from app.core.schemas import Id
from app.core.templating import env, flash, render, see_other
from app.core.tenancy import Principal
from app.kt.robots import live, mapview, service, stats, vehicles
from app.kt.robots.deps import AlertDep, RobotDep, SiteDep, TaskDep
from app.kt.robots.models import ALERT_KINDS, DEFAULT_TASK_KINDS, ROBOT_TYPES, TASK_STATUSES
from app.kt.robots.schemas import CommandIn, PlaceIn, RobotIn, SiteIn, SiteUpdate, TaskIn
from app.platform import service as platform_service
from app.platform.auth import WRITER

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25

ROBOT_STATUS_LABELS = {"idle": "Idle", "working": "Working", "charging": "Charging", "paused": "Paused",
                       "error": "Error", "offline": "Offline"}
TASK_STATUS_LABELS = {"queued": "Queued", "assigned": "Assigned", "underway": "Underway",
                      "completed": "Completed", "failed": "Failed", "canceled": "Canceled"}
KIND_LABELS = {"guide": "Guide", "patrol": "Patrol", "care": "Care", "delivery": "Delivery"}
ALERT_LABELS = {"low_battery": "Low battery", "fatal_error": "Fatal error", "offline": "Offline",
                "task_failed": "Task failed"}
COMMAND_LABELS = {"pause": "Pause", "resume": "Resume", "dock": "Send to dock", "charge": "Send to charge"}
env.filters.update(cos=math.cos, sin=math.sin)
env.globals["robot_site_map"] = mapview.site_map
env.globals["robot_label"] = lambda key: _(
    {**ROBOT_STATUS_LABELS, **TASK_STATUS_LABELS, **KIND_LABELS, **ALERT_LABELS, **COMMAND_LABELS}.get(key, key))


def _back(request: Request, fallback: str) -> str:
    target = request.headers.get("referer", "")
    base = str(request.base_url)
    return target if target.startswith(base) else fallback


# --- forms (declared before the routes with ids, which would take "new" for an id) ---------

def _choices(db) -> dict[str, Any]:
    return {"site_options": [(s.id, s.name) for s in service.list_sites(db)], "types": ROBOT_TYPES}


@router.api_route("/robots/new", methods=["GET", "POST"], name="robots_robot_new", dependencies=WRITER)
async def robot_new(request: Request, db: SessionDep):
    if request.method == "GET":
        values = {"type": "guide", "site_id": request.query_params.get("site_id", ""),
                  **_vehicle_values(request, db)}
        return render(request, "kt/robots/robot_form.html", {"values": values, "errors": {}, **_choices(db)})
    values = form_to_dict(await request.form(), lists=("capabilities",))
    if not values["capabilities"]:
        values.pop("capabilities")
    return answer_form(request, db, RobotIn, values, lambda data: service.register_robot(db, data=data),
                       page=lambda errors: render(request, "kt/robots/robot_form.html",
                                                  {"values": values, "errors": errors, **_choices(db)}),
                       message=_("Robot registered."),
                       done=lambda robot: request.url_for("robots_robot", robot_id=robot.id))


def _parse_places(text: str) -> tuple[list[dict[str, Any]], str | None]:
    """One place a line: ``name, kind, x, y`` (kind optional)."""
    places = []
    for n, line in enumerate(text.splitlines(), start=1):
        parts = [p.strip() for p in line.split(",")]
        if not line.strip():
            continue
        if len(parts) == 3:
            parts.insert(1, "poi")
        if len(parts) != 4:
            return [], _("Line {n}: write name, kind, x, y", n=n)
        try:
            place = PlaceIn(name=parts[0], kind=parts[1], x=float(parts[2]), y=float(parts[3]))
        except (ValueError, TypeError):
            return [], _("Line {n}: write name, kind, x, y", n=n)
        places.append(place.model_dump())
    return places, None


def _vehicle_values(request: Request, db) -> dict[str, Any]:
    """The form filled in from an unregistered VDA 5050 vehicle (``?vehicle=<id>``, platform admins)."""
    raw = request.query_params.get("vehicle", "")
    if not raw.isdigit() or not request.state.principal.is_platform_admin:
        return {}
    try:
        vehicle = vehicles.get_vehicle(db, vehicle_id=int(raw))
    except DomainError:
        return {}
    return {"external_id": vehicle.serial_number, "vendor": vehicle.manufacturer, "name": vehicle.serial_number,
            "model": vehicles.series_name(vehicle) or "VDA 5050"}


@router.get("/vehicles", name="robots_vehicles")
def unregistered_vehicles(request: Request, db: SessionDep):
    """VDA 5050 vehicles heard on the broker that no robot is registered for (platform admins only: they
    belong to no municipality yet); each is registered at a site with the robot form."""
    if not request.state.principal.is_platform_admin:
        raise Forbidden("Only platform administrators may open this page")
    return render(request, "kt/robots/vehicles.html", {"vehicles": vehicles.list_unregistered(db),
                                                       "series_name": vehicles.series_name})


def _municipality_options(db) -> list[tuple[str, str]]:
    return platform_service.municipality_options(platform_service.all_municipalities(db))


@router.api_route("/sites/new", methods=["GET", "POST"], name="robots_site_new", dependencies=WRITER)
async def site_new(request: Request, db: SessionDep):
    principal: Principal = request.state.principal
    if request.method == "GET":
        code = ""
        if principal.municipality_id:
            code = platform_service.get_municipality_by_id(db, municipality_id=principal.municipality_id).code
        return render(request, "kt/robots/site_form.html", {
            "values": {"municipality_code": code, "offline_after_s": 30, "battery_floor_pct": 25,
                       "low_battery_pct": 15, "map_id": "floor-1", "task_kinds": _kinds_text(DEFAULT_TASK_KINDS)},
            "errors": {},
            "municipality_options": _municipality_options(db)})
    values = form_to_dict(await request.form(), words=("task_kinds",))
    places, place_error = _parse_places(values.get("places_text", ""))

    def places_field(errors: dict[str, str]) -> dict[str, str]:  # the places are typed in one text field
        if "places" in errors:
            errors.setdefault("places_text", errors.pop("places"))
        return errors

    return answer_form(request, db, SiteIn, {**{k: v for k, v in values.items() if k != "places_text"},
                                             "places": places},
                       lambda data: service.create_site(db, data=data),
                       errors={"places_text": place_error} if place_error else None, map_errors=places_field,
                       page=lambda errors: render(request, "kt/robots/site_form.html", {
                           "values": _shown(values), "errors": errors,
                           "municipality_options": _municipality_options(db)}),
                       message=_("Site registered."), done=lambda site: request.url_for("robots_site", site_id=site.id))


def _kinds_text(kinds) -> str:
    return ", ".join(kinds)


def _shown(values: dict[str, Any]) -> dict[str, Any]:
    """Form values as typed, to show again: the task kinds back to one line."""
    kinds = values.get("task_kinds")
    return {**values, "task_kinds": _kinds_text(kinds)} if isinstance(kinds, list) else values


def _places_text(site) -> str:
    return "\n".join(f"{p.name}, {p.kind}, {p.x:g}, {p.y:g}" for p in site.places)


@router.api_route("/sites/{site_id}/edit", methods=["GET", "POST"], name="robots_site_edit", dependencies=WRITER)
async def site_edit(request: Request, site: SiteDep, db: SessionDep):
    if request.method == "GET":
        values = {k: getattr(site, k) for k in ("name", "offline_after_s", "battery_floor_pct", "low_battery_pct")}
        values["places_text"] = _places_text(site)
        values["task_kinds"] = _kinds_text(site.task_kinds or DEFAULT_TASK_KINDS)
        return render(request, "kt/robots/site_edit.html", {"site": site, "values": values, "errors": {}})
    values = form_to_dict(await request.form(), words=("task_kinds",))
    places, place_error = _parse_places(values.get("places_text", ""))

    def save(data: SiteUpdate) -> None:
        service.update_site(db, site=site, data=data)
        service.replace_places(db, site=site, places=[PlaceIn(**p) for p in places])

    def places_field(errors: dict[str, str]) -> dict[str, str]:  # a rule about a place: shown at the places
        if any(k not in SiteUpdate.model_fields and k != "places_text" for k in errors):
            return {"places_text": next(iter(errors.values()))}
        return errors

    return answer_form(request, db, SiteUpdate, {k: v for k, v in values.items() if k != "places_text"}, save,
                       errors={"places_text": place_error} if place_error else None, map_errors=places_field,
                       page=lambda errors: render(request, "kt/robots/site_edit.html", {
                           "site": service.get_site(db, site_id=site.id), "values": _shown(values),
                           "errors": errors}),
                       message=_("Changes saved."), done=request.url_for("robots_site", site_id=site.id))


# --- fleet and site screens ------------------------------------------------------------------

@router.get("/", name="robots_fleet")
def fleet(request: Request, db: SessionDep):
    now = utcnow()
    principal: Principal = request.state.principal
    return render(request, "kt/robots/fleet.html", {
        "overview": service.fleet_overview(db, now=now),
        "unregistered": len(vehicles.list_unregistered(db)) if principal.is_platform_admin else 0,
        "alerts": [service.alert_out(a) for a in db.scalars(service.alert_query(open_only=True).limit(10))],
        "statuses": list(ROBOT_STATUS_LABELS)})


def _site_context(db, site, now) -> dict[str, Any]:
    data = service.site_live(db, site=site, now=now)
    robots = data["robots"]
    open_tasks = [t for t in data["tasks"] if t.status in ("queued", "assigned", "underway")]
    done_tasks = [t for t in data["tasks"] if t.status not in ("queued", "assigned", "underway")][:10]
    names = {r["id"]: r["name"] for r in robots}
    return {"site": site, "robots": robots, "open_tasks": open_tasks, "done_tasks": done_tasks,
            "alerts": data["alerts"], "robot_names": names, "now": now}


def _site_page(request: Request, db, site, *, values: dict | None = None, errors: dict | None = None,
               status_code: int = 200) -> Response:
    context = _site_context(db, site, utcnow())
    context.update({"values": values or {"kind": "guide", "priority": 5}, "errors": errors or {},
                    "kind_options": [(k, _(KIND_LABELS.get(k, k))) for k in site.task_kinds or DEFAULT_TASK_KINDS],
                    "place_options": [(p.name, p.name) for p in site.places],
                    "robot_options": [(r["id"], r["name"]) for r in context["robots"]]})
    return render(request, "kt/robots/site.html", context, status_code=status_code)


@router.get("/sites/{site_id}", name="robots_site")
def site_screen(request: Request, site: SiteDep, db: SessionDep):
    return _site_page(request, db, site)


@router.get("/sites/{site_id}/panels", name="robots_site_panels")
def site_panels(request: Request, site: SiteDep, db: SessionDep):
    """The live parts of the site screen, re-fetched when the stream says something changed."""
    return render(request, "kt/robots/_site_panels.html", _site_context(db, site, utcnow()))


@router.get("/sites/{site_id}/stream", name="robots_site_stream")
async def site_stream(request: Request, site: SiteDep):
    return live.site_stream(request, site.id)


def _seoul_time(value: str | None) -> str | None:
    """A datetime-local field has no zone: it is Seoul time."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value  # the schema names the error
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=SEOUL)).isoformat()


@router.post("/sites/{site_id}/tasks", name="robots_task_new", dependencies=WRITER)
async def task_new(request: Request, site: SiteDep, db: SessionDep):
    values = form_to_dict(await request.form(), lists=("waypoints",))
    values["site_id"] = site.id

    def queued(created) -> tuple[str, str]:
        task, _created = created
        if task.assigned_robot_id:
            robot = service.get_robot(db, robot_id=task.assigned_robot_id)
            return _("Task queued and assigned to {robot}.", robot=robot.name), "success"
        return _("Task queued: no capable robot is free yet."), "warning"

    return answer_form(request, db, TaskIn, {**values, "not_before": _seoul_time(values.get("not_before"))},
                       lambda data: service.create_task(db, data=data), message=queued,
                       page=lambda errors: _site_page(request, db, service.get_site(db, site_id=site.id),
                                                      values=values, errors=errors),
                       done=request.url_for("robots_site", site_id=site.id))


# --- robots ----------------------------------------------------------------------------------

@router.get("/robots/{robot_id}", name="robots_robot")
def robot_detail(request: Request, robot: RobotDep, db: SessionDep,
                 page: Annotated[int, Query(ge=1, le=100000)] = 1):
    now = utcnow()
    history, total = service.state_history(db, robot=robot, page=PageParams(limit=PAGE_SIZE,
                                                                            offset=(page - 1) * PAGE_SIZE))
    chart = list(reversed(history))
    tasks = list(db.scalars(service.task_query(robot_id=robot.id).limit(20)))
    alerts = list(db.scalars(service.alert_query(robot_id=robot.id).limit(20)))
    return render(request, "kt/robots/robot.html", {
        "robot": robot, "summary": service.robot_summary(robot, now=now), "history": history, "total": total,
        "page": page, "pages": max(1, -(-total // PAGE_SIZE)), "tasks": tasks,
        "alerts": [service.alert_out(a) for a in alerts], "commands": service.list_commands(db, robot=robot),
        "chart_labels": [s.reported_at.astimezone(SEOUL).strftime("%H:%M:%S") for s in chart],
        "chart_battery": [s.battery_pct for s in chart], "seoul": SEOUL})


@router.post("/robots/{robot_id}/commands", name="robots_command", dependencies=WRITER)
async def robot_command(request: Request, robot: RobotDep, db: SessionDep):
    def send(data: CommandIn) -> str:
        service.send_command(db, robot=robot, data=data)
        return data.kind

    return answer_form(request, db, CommandIn, form_to_dict(await request.form()), send,
                       message=lambda kind: _("{command} sent to {robot}.", command=_(COMMAND_LABELS[kind]),
                                              robot=robot.name),
                       done=_back(request, str(request.url_for("robots_site", site_id=robot.site_id))))


# --- tasks and alerts ------------------------------------------------------------------------

@router.get("/tasks", name="robots_tasks")
def tasks(request: Request, db: SessionDep, status: Annotated[str | None, Query(max_length=20)] = None,
          site_id: Id | None = None,
          page: Annotated[int, Query(ge=1, le=100000)] = 1):
    filters = {"status": status if status in TASK_STATUSES else None, "site_id": site_id}
    items, total = service.list_tasks(db, page=PageParams(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE),
                                      **filters)
    query = urlencode({k: v for k, v in filters.items() if v})
    return render(request, "kt/robots/tasks.html", {
        "tasks": items, "total": total, "page": page, "pages": max(1, -(-total // PAGE_SIZE)),
        "filters": filters, "query_base": query, "statuses": TASK_STATUSES, "sites": service.list_sites(db)})


@router.post("/tasks/{task_id}/cancel", name="robots_task_cancel", dependencies=WRITER)
def task_cancel(request: Request, task: TaskDep, db: SessionDep):
    return answer_form(request, db, None, {}, lambda _data: service.cancel_task(db, task=task),
                       message=_("Task canceled."), done=_back(request, str(request.url_for("robots_tasks"))))


@router.get("/alerts", name="robots_alerts")
def alerts(request: Request, db: SessionDep, show: Annotated[str, Query(pattern="^(open|all)$")] = "open",
           kind: Annotated[str | None, Query(max_length=20)] = None,
           page: Annotated[int, Query(ge=1, le=100000)] = 1):
    filters = {"open_only": show == "open", "kind": kind if kind in ALERT_KINDS else None}
    items, total = service.list_alerts(db, page=PageParams(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE),
                                       **filters)
    query = urlencode({k: v for k, v in {"show": show, "kind": filters["kind"]}.items() if v})
    return render(request, "kt/robots/alerts.html", {
        "alerts": [service.alert_out(a) for a in items], "total": total, "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)), "show": show, "kind": filters["kind"], "kinds": ALERT_KINDS,
        "query_base": query})


@router.post("/alerts/{alert_id}/ack", name="robots_alert_ack", dependencies=WRITER)
def alert_ack(request: Request, alert: AlertDep, db: SessionDep):
    service.acknowledge_alert(db, alert=alert)
    flash(request, _("Alert acknowledged."))
    return see_other(_back(request, str(request.url_for("robots_alerts"))))


# --- statistics ------------------------------------------------------------------------------

def _period(date_from: date | None, date_to: date | None) -> tuple[date, date]:
    default_from, default_to = stats.default_period()
    date_from, date_to = date_from or default_from, date_to or default_to
    if date_to < date_from or (date_to - date_from).days > 366:
        return default_from, default_to
    return date_from, date_to


@router.get("/stats", name="robots_stats")
def stats_page(request: Request, db: SessionDep, date_from: date | None = None, date_to: date | None = None,
               site_id: Id | None = None):
    start, end = _period(date_from, date_to)
    data = stats.fleet_stats(db, date_from=start, date_to=end, site_id=site_id)
    query = urlencode({k: v for k, v in {"date_from": start, "date_to": end, "site_id": site_id}.items() if v})
    return render(request, "kt/robots/stats.html", {
        "stats": data, "sites": service.list_sites(db), "site_id": site_id, "query": query,
        "labels": [d["day"].strftime("%m-%d") for d in data["days"]],
        "utilisation": [d["utilisation_pct"] for d in data["days"]],
        "availability": [d["availability_pct"] for d in data["days"]],
        "errors": [d["error_reports"] for d in data["days"]],
        "completed": [d["tasks_completed"] for d in data["days"]],
        "failed": [d["tasks_failed"] for d in data["days"]]})


@router.get("/stats.csv", name="robots_stats_csv")
def stats_csv(db: SessionDep, date_from: date | None = None, date_to: date | None = None,
              site_id: Id | None = None,
              per: Annotated[str, Query(pattern="^(robot|day)$")] = "robot"):
    start, end = _period(date_from, date_to)
    header, rows = stats.stats_table(stats.fleet_stats(db, date_from=start, date_to=end, site_id=site_id), per=per)
    return csv_response(f"robots-{per}-{start}-{end}.csv", header, rows)


# --- home widget -----------------------------------------------------------------------------

def widget(db, principal: Principal) -> dict[str, Any] | None:
    overview = service.fleet_overview(db)
    if not overview:
        return None
    totals: dict[str, int] = {}
    for site in overview:
        for status, n in site["statuses"].items():
            totals[status] = totals.get(status, 0) + n
    return {"sites": overview, "totals": totals, "open_alerts": sum(s["open_alerts"] for s in overview),
            "statuses": list(ROBOT_STATUS_LABELS)}
