"""REST API of the robot platform under /api/v1/kt/robots.

Robots (or their vendor's fleet manager) report state and fetch orders; operators and integrators
manage sites and robots, queue tasks, send commands and acknowledge alerts.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from app.core.csvout import CsvResponse, csv_response
from app.core.db import utcnow
from app.core.deps import SessionDep
from app.core.errors import DomainError, InvalidInput
from app.core.pagination import Page, PageDep
from app.core.schemas import Id
from app.kt.robots import live, service, stats, vehicles
from app.kt.robots.deps import AlertDep, CommandDep, RobotDep, SiteDep, TaskDep
from app.kt.robots.schemas import (
    MAX_BATCH,
    AlertOut,
    CommandAck,
    CommandIn,
    CommandOut,
    IngestResult,
    OrdersOut,
    PlaceIn,
    RobotIn,
    RobotOut,
    RobotStatus,
    RobotType,
    RobotUpdate,
    SiteIn,
    SiteLiveOut,
    SiteOut,
    SiteUpdate,
    StateBatchItem,
    StateIn,
    StateOut,
    StatsOut,
    TaskIn,
    TaskKind,
    TaskOut,
    TaskStatus,
    VdaVehicleOut,
)
from app.platform.auth import require_api_platform_admin

router = APIRouter(tags=["kt.robots"])
MAX_BODY_BYTES = 2 * 1024 * 1024


class PayloadTooLarge(DomainError):
    status = 413
    title = "Content too large"


def limit_body(request: Request) -> None:
    """Refuse oversized bodies by their declared length (a batch of 1,000 reports is about 400 kB)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise PayloadTooLarge("The body is larger than {limit} bytes", limit=MAX_BODY_BYTES)


LimitedBody = [Depends(limit_body)]


# --- sites -----------------------------------------------------------------------------------

@router.get("/sites", response_model=Page[SiteOut])
def list_sites(db: SessionDep, page: PageDep):
    """Sites of the caller's municipalities: floor map size, named places and their thresholds."""
    sites = service.list_sites(db)
    chunk = sites[page.offset:page.offset + page.limit]
    return Page(items=[service.site_out(s) for s in chunk], total=len(sites), limit=page.limit,
                offset=page.offset)


@router.post("/sites", status_code=201, response_model=SiteOut, dependencies=LimitedBody)
def create_site(data: SiteIn, db: SessionDep):
    """A site with its floor map size (metres) and named places. Platform admins name the
    municipality; an API key's site belongs to the key's municipality."""
    return service.site_out(service.create_site(db, data=data))


@router.get("/sites/{site_id}", response_model=SiteOut)
def get_site(site: SiteDep):
    """One site with its named places."""
    return service.site_out(site)


@router.patch("/sites/{site_id}", response_model=SiteOut)
def update_site(site: SiteDep, data: SiteUpdate, db: SessionDep):
    """Change a site's name, map size or thresholds (`offline_after_s`, battery floor, low battery)."""
    return service.site_out(service.update_site(db, site=site, data=data))


@router.put("/sites/{site_id}/places", response_model=SiteOut, dependencies=LimitedBody)
def replace_places(site: SiteDep, db: SessionDep,
                   places: Annotated[list[PlaceIn], Body(max_length=500)]):
    """Replace the site's named places (desks, doors, docks, exhibits) with this list."""
    return service.site_out(service.replace_places(db, site=site, places=places))


@router.get("/sites/{site_id}/live", response_model=SiteLiveOut)
def site_live(site: SiteDep, db: SessionDep, request: Request):
    """Everything the site screen shows, in one call: robots with position, battery, status and
    errors; recent tasks; open alerts. Readers share one copy for up to a second; the first reader
    after a change builds a new one, and readers arriving during that build get the previous copy."""
    body = live.SiteCache.get(request.app.state.db, site.id, lambda: SiteLiveOut.model_validate(
        service.site_live(db, site=site)).model_dump_json().encode())
    return Response(body, media_type="application/json")


@router.get("/sites/{site_id}/stream")
async def site_stream(site: SiteDep, request: Request):
    """Server-sent events of the site: `robots` (changed robots), `task`, `alert`."""
    return live.site_stream(request, site.id)


# --- state reports ---------------------------------------------------------------------------

STATE_EXAMPLE = {"time": "2026-12-03T10:15:02.500+09:00", "operating_mode": "automatic",
                 "position": {"x": 12.4, "y": 7.9, "theta": 1.57, "map_id": "1F"},
                 "battery": {"charge_pct": 76.5, "charging": False},
                 "errors": [{"type": "lidar_dirty", "level": "warning", "description": "전방 라이다 오염"}],
                 "task": {"task_id": 42, "status": "underway", "progress": 35.0}}


@router.post("/states", response_model=IngestResult, dependencies=LimitedBody)
def report_states(db: SessionDep, reports: Annotated[list[StateBatchItem], Body(
        min_length=1, max_length=MAX_BATCH, openapi_examples={"fleet manager": {
            "summary": "Two robots, by id and by external id",
            "value": [{"robot_id": 7, **STATE_EXAMPLE}, {"robot_external_id": "CB-G-02", **STATE_EXAMPLE,
                                                         "task": None, "errors": []}]}})]):
    """A batch of up to 1,000 state reports of any robots (by `robot_id` or `robot_external_id`).
    A bad report rejects the whole batch, each bad row named; a report already stored (same robot,
    same `time`) is counted in `duplicates` and changes nothing, so retries are safe."""
    items = [(r.robot_id, r.robot_external_id, r) for r in reports]
    result = service.ingest_states(db, items=items)
    service.sweep_offline(db)
    return result


# --- tasks -----------------------------------------------------------------------------------

@router.get("/tasks", response_model=Page[TaskOut])
def list_tasks(db: SessionDep, page: PageDep, site_id: Id | None = None,
               status: TaskStatus | None = None, kind: TaskKind | None = None,
               robot_id: Id | None = None):
    """Tasks, newest first, filtered by site, status, kind or robot."""
    items, total = service.list_tasks(db, page=page, site_id=site_id, status=status, kind=kind, robot_id=robot_id)
    return Page(items=[TaskOut.model_validate(t) for t in items], total=total, limit=page.limit,
                offset=page.offset)


@router.post("/tasks", status_code=201, response_model=TaskOut, dependencies=LimitedBody,
             responses={200: {"description": "A retry: the task with this client_task_id already exists"}})
def create_task(data: TaskIn, db: SessionDep, response: Response):
    """Queue a task and dispatch it at once to the cheapest capable, available robot of the site
    (travel distance plus a battery penalty); `assigned_robot_id` names it, or stays null while the
    task waits in the queue. A kind no robot of the site can do is refused."""
    task, created = service.create_task(db, data=data)
    if not created:
        response.status_code = 200
    return task


@router.get("/tasks/{task_id}", response_model=TaskOut)
def get_task(task: TaskDep):
    """One task: status, assigned robot, progress and the times of each step."""
    return task


@router.post("/tasks/{task_id}/cancel", response_model=TaskOut)
def cancel_task(task: TaskDep, db: SessionDep):
    """Cancel a queued, assigned or underway task; its robot becomes free for the next one."""
    return service.cancel_task(db, task=task)


# --- alerts ----------------------------------------------------------------------------------

@router.get("/alerts", response_model=Page[AlertOut])
def list_alerts(db: SessionDep, page: PageDep, site_id: Id | None = None,
                open_only: bool = False,
                kind: Literal["low_battery", "fatal_error", "offline", "task_failed"] | None = None):
    """Alerts (low battery, fatal error, offline, task failed), newest first; `open_only` for unacknowledged."""
    items, total = service.list_alerts(db, page=page, site_id=site_id, open_only=open_only, kind=kind)
    return Page(items=[service.alert_out(a) for a in items], total=total, limit=page.limit, offset=page.offset)


@router.post("/alerts/{alert_id}/ack", response_model=AlertOut)
def acknowledge_alert(alert: AlertDep, db: SessionDep):
    """An operator has seen the alert; who and when are recorded."""
    return service.alert_out(service.acknowledge_alert(db, alert=alert))


# --- statistics ------------------------------------------------------------------------------

def _period(date_from: date | None, date_to: date | None) -> tuple[date, date]:
    default_from, default_to = stats.default_period()
    date_from, date_to = date_from or default_from, date_to or default_to
    if date_to < date_from:
        raise InvalidInput.field("date_to", "date_to must not be before date_from")
    if (date_to - date_from).days > 366:
        raise InvalidInput.field("date_from", "At most 366 days at a time")
    return date_from, date_to


@router.get("/stats", response_model=StatsOut)
def fleet_stats(db: SessionDep, date_from: date | None = None, date_to: date | None = None,
                site_id: Id | None = None):
    """Utilisation (working / online), availability (online without a fatal error / time elapsed),
    error reports and tasks, per robot and per day (Asia/Seoul), from daily rollups."""
    start, end = _period(date_from, date_to)
    return stats.fleet_stats(db, date_from=start, date_to=end, site_id=site_id)


@router.get("/stats.csv", response_class=CsvResponse)
def fleet_stats_csv(db: SessionDep, date_from: date | None = None, date_to: date | None = None,
                    site_id: Id | None = None,
                    per: Literal["robot", "day"] = "robot"):
    """The fleet statistics per robot and day as CSV (UTF-8 with BOM, for spreadsheets)."""
    start, end = _period(date_from, date_to)
    header, rows = stats.stats_table(stats.fleet_stats(db, date_from=start, date_to=end, site_id=site_id), per=per)
    return csv_response(f"robots-{per}-{start}-{end}.csv", header, rows)


# --- VDA 5050 vehicles ----------------------------------------------------------------------

@router.get("/vda5050/vehicles", response_model=Page[VdaVehicleOut],
            dependencies=[Depends(require_api_platform_admin)])
def unregistered_vehicles(db: SessionDep, page: PageDep):
    """Vehicles heard on the VDA 5050 interface that no robot is registered for yet, newest first
    (platform admins: such a vehicle belongs to no municipality until it is registered at a site with
    its manufacturer as vendor and its serial number as external id)."""
    found = vehicles.list_unregistered(db)
    return Page(items=[vehicles.vehicle_out(v) for v in found[page.offset:page.offset + page.limit]],
                total=len(found), limit=page.limit, offset=page.offset)


# --- robots (declared last: /{robot_id} would otherwise shadow the paths above) ---------------

@router.get("", response_model=Page[RobotOut])
def list_robots(db: SessionDep, page: PageDep, site_id: Id | None = None,
                type: RobotType | None = None, status: RobotStatus | None = None,
                q: Annotated[str | None, Query(max_length=100)] = None):
    """Robots with their current status, position and battery, filtered by site, type or status; `q` searches
    name, external id and vendor."""
    items, total = service.list_robots(db, page=page, site_id=site_id, type=type, status=status, q=q)
    now = utcnow()
    return Page(items=[service.robot_summary(r, now=now) for r in items], total=total, limit=page.limit,
                offset=page.offset)


@router.post("", status_code=201, response_model=RobotOut, dependencies=LimitedBody)
def register_robot(data: RobotIn, db: SessionDep):
    """Register a robot of any vendor at a site, with what it can do (`capabilities`)."""
    return service.robot_summary(service.register_robot(db, data=data), now=utcnow())


@router.get("/{robot_id}", response_model=RobotOut)
def get_robot(robot: RobotDep):
    """The robot's last known state; `status` is idle, working, charging, paused, error or offline."""
    return service.robot_summary(robot, now=utcnow())


@router.patch("/{robot_id}", response_model=RobotOut)
def update_robot(robot: RobotDep, data: RobotUpdate, db: SessionDep):
    """Change a robot's name, site or capabilities."""
    return service.robot_summary(service.update_robot(db, robot=robot, data=data), now=utcnow())


@router.post("/{robot_id}/state", response_model=IngestResult, dependencies=LimitedBody)
def report_state(robot: RobotDep, data: Annotated[StateIn, Body(openapi_examples={
        "working": {"summary": "Guiding a visitor, a warning raised", "value": STATE_EXAMPLE}})], db: SessionDep):
    """One state report of this robot (VDA 5050's state, trimmed): time, operating mode, position on
    the site map, battery, errors and the task it works on with its progress."""
    result = service.ingest_states(db, items=[(robot.id, None, data)])
    service.sweep_offline(db)
    return result


@router.get("/{robot_id}/states", response_model=Page[StateOut])
def state_history(robot: RobotDep, db: SessionDep, page: PageDep):
    """The robot's stored state reports, newest first."""
    items, total = service.state_history(db, robot=robot, page=page)
    return Page(items=[StateOut.model_validate(s) for s in items], total=total, limit=page.limit,
                offset=page.offset)


@router.get("/{robot_id}/orders", response_model=OrdersOut)
def fetch_orders(robot: RobotDep, db: SessionDep):
    """What the robot should do now: its assigned task as an order of nodes (named places with
    coordinates) and the commands not yet acknowledged. Fetching marks pending commands delivered."""
    return service.orders_for(db, robot=robot)


@router.get("/{robot_id}/commands", response_model=list[CommandOut])
def list_commands(robot: RobotDep, db: SessionDep):
    """Commands sent to the robot (pause, resume, dock) and how far each got."""
    return service.list_commands(db, robot=robot)


@router.post("/{robot_id}/commands", status_code=201, response_model=CommandOut)
def send_command(robot: RobotDep, data: CommandIn, db: SessionDep):
    """Pause, resume or send the robot to its dock; a robot without the `dock` capability is never
    sent there."""
    return service.send_command(db, robot=robot, data=data)


@router.post("/{robot_id}/commands/{command_id}/ack", response_model=CommandOut)
def acknowledge_command(command: CommandDep, data: CommandAck, db: SessionDep):
    """The robot confirms a command: acknowledged, then completed or failed."""
    return service.acknowledge_command(db, command=command, status=data.status)
