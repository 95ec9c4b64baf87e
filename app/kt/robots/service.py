"""Rules of the robot platform: fleet, state ingestion, offline detection, dispatch, commands, alerts.

Plain functions with keyword-only arguments. The caller's session carries the principal, so every
ORM read is already scoped to the caller's municipalities. The state ingestion is the hot path: it
reads the batch's robots in one query and writes with a few Core statements per batch, never the ORM
unit of work.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, false, func, or_, select
from sqlalchemy.orm import Session, object_session

from app.core.bulk import among, insert_rows, update_rows_by_id
from app.core.db import utcnow
from app.core.errors import Conflict, InvalidInput, NotFound, field_error, flush_or_conflict
from app.core.i18n import SEOUL
from app.core.live import broker, publish_after_commit
from app.core.lookup import one_or_404
from app.core.metrics import count_ingested
from app.core.pagination import PageParams, paginate
from app.core.tenancy import principal_of
from app.kt.robots import relay
from app.kt.robots.models import (
    DEFAULT_TASK_KINDS,
    HOLDING_COMMANDS,
    OPEN_TASK_STATUSES,
    Robot,
    RobotAlert,
    RobotCommand,
    RobotDaily,
    RobotPlace,
    RobotSite,
    RobotState,
    RobotTask,
)
from app.kt.robots.schemas import (
    CommandIn,
    PlaceIn,
    RobotIn,
    RobotUpdate,
    SiteIn,
    SiteUpdate,
    StateIn,
    TaskIn,
)
from app.platform import audit
from app.platform import service as platform_service

FUTURE_TOLERANCE_S = 300  # a robot's clock may run a little ahead; more is refused
MAP_MARGIN_M = 1.0  # positions may stray this far outside the drawn map
BATTERY_PENALTY_M_PER_PCT = 0.3  # dispatch cost: one missing percent of charge weighs like 0.3 m of travel
LOW_BATTERY_HYSTERESIS_PCT = 5


CHANGED_SITES = "kt_robots_changed_sites"


def topic(site_id: int) -> str:
    return f"kt.robots.site.{site_id}"


def _touch(db: Session, site_id: int) -> None:
    db.info.setdefault(CHANGED_SITES, set()).add(site_id)


def _publish(db: Session, site_id: int, message: dict[str, Any]) -> None:
    """Tell live screens of ``site_id`` after the commit, and mark its cached screen data stale."""
    db.info.setdefault(CHANGED_SITES, set()).add(site_id)
    publish_after_commit(db, topic(site_id), message)
    relay.notify(db, topic(site_id), message)


def _vehicles():  # the VDA 5050 side imports this module
    from app.kt.robots import vehicles

    return vehicles



# --- sites -----------------------------------------------------------------------------------

def list_sites(db: Session) -> list[RobotSite]:
    return list(db.scalars(select(RobotSite).order_by(RobotSite.name)))


def get_site(db: Session, *, site_id: int) -> RobotSite:
    return one_or_404(db, RobotSite, site_id, "Site {id} not found")


def _site_for_input(db: Session, *, site_id: int, field: str = "site_id") -> RobotSite:
    site = db.scalar(select(RobotSite).where(RobotSite.id == site_id))
    if site is None:
        raise InvalidInput.field(field, "Unknown site {id}", id=site_id)
    return site


def create_site(db: Session, *, data: SiteIn) -> RobotSite:
    principal = principal_of(db)
    if data.municipality_code:
        municipality_id = platform_service.resolve_municipality(db, code=data.municipality_code).id
    elif principal is not None and principal.municipality_id is not None:
        municipality_id = principal.municipality_id
    else:
        raise InvalidInput.field("municipality_code", "Name the municipality of the site")
    site = RobotSite(municipality_id=municipality_id, code=data.code, name=data.name, map_id=data.map_id,
                     map_width_m=data.map_width_m, map_height_m=data.map_height_m,
                     offline_after_s=data.offline_after_s, battery_floor_pct=data.battery_floor_pct,
                     low_battery_pct=data.low_battery_pct, task_kinds=list(data.task_kinds))
    site.places = [RobotPlace(municipality_id=municipality_id, name=p.name, kind=p.kind, x=p.x, y=p.y)
                   for p in data.places]
    db.add(site)
    flush_or_conflict(db, "A site with code {code} already exists", code=data.code)
    _touch(db, site.id)
    return site


def update_site(db: Session, *, site: RobotSite, data: SiteUpdate) -> RobotSite:
    for key, value in data.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(site, key, value)
    db.flush()
    _touch(db, site.id)
    return site


def replace_places(db: Session, *, site: RobotSite, places: list[PlaceIn]) -> RobotSite:
    errors = []
    seen: set[str] = set()
    for i, place in enumerate(places):
        if place.name in seen:
            errors.append(field_error(["rows", i, "name"], "Place {name} appears twice", name=place.name))
        seen.add(place.name)
        if place.x > site.map_width_m or place.y > site.map_height_m:
            errors.append(field_error(["rows", i, "x"], "Place {name} lies outside the map", name=place.name))
    if errors:
        raise InvalidInput("{n} places are invalid", errors=errors, n=len(errors))
    site.places.clear()
    db.flush()
    site.places.extend(RobotPlace(municipality_id=site.municipality_id, name=p.name, kind=p.kind, x=p.x, y=p.y)
                       for p in places)
    db.flush()
    _touch(db, site.id)
    return site


def place_by_name(site: RobotSite) -> dict[str, RobotPlace]:
    return {p.name: p for p in site.places}


# --- robots ----------------------------------------------------------------------------------

def robot_query(*, site_id: int | None = None, type: str | None = None, status: str | None = None,
                q: str | None = None) -> Select[Any]:
    stmt = select(Robot).order_by(Robot.site_id, Robot.name, Robot.id)
    if site_id:
        stmt = stmt.where(Robot.site_id == site_id)
    if type:
        stmt = stmt.where(Robot.type == type)
    if status:
        stmt = stmt.where(Robot.status == status)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(Robot.name.ilike(like) | Robot.external_id.ilike(like) | Robot.vendor.ilike(like))
    return stmt


def list_robots(db: Session, *, page: PageParams, status: str | None = None, now: datetime | None = None,
                **filters: Any) -> tuple[list[Robot], int]:
    """Robots by the status they show: a robot silent past its site's ``offline_after_s`` counts as
    offline even before the sweep has marked it."""
    stmt = robot_query(**filters)
    if status:
        now = now or utcnow()
        fresh = or_(false(), *(and_(Robot.site_id == site.id,
                                    Robot.last_seen_at >= now - timedelta(seconds=site.offline_after_s))
                               for site in list_sites(db)))
        heard = and_(Robot.online.is_(True), fresh)
        stmt = stmt.where(~heard if status == "offline" else and_(heard, Robot.status == status))
    return paginate(db, stmt, page)


def site_robots(db: Session, *, site_id: int) -> list[Robot]:
    return list(db.scalars(robot_query(site_id=site_id)))


def get_robot(db: Session, *, robot_id: int) -> Robot:
    return one_or_404(db, Robot, robot_id, "Robot {id} not found")


@dataclass(slots=True)
class RobotView:
    """A robot's columns read with one Core-level select (still scoped to the caller's municipalities)
    and its site: what the state ingestion and the site screen need, without an ORM object per robot.
    The rules below read either this or a ``Robot``."""

    id: int
    municipality_id: int
    site_id: int
    external_id: str
    name: str
    vendor: str
    model: str
    type: str
    capabilities: list[str]
    paused: bool
    hold: str | None
    status: str
    online: bool
    last_seen_at: datetime | None
    operating_mode: str | None
    x: float | None
    y: float | None
    theta: float | None
    map_id: str | None
    battery_pct: float | None
    charging: bool
    errors: list[dict[str, Any]]
    current_task_id: int | None
    task_progress: float | None
    site: RobotSite


_VIEW_COLUMNS = [getattr(Robot, f.name) for f in fields(RobotView) if f.name != "site"]


def robot_views(db: Session, where: Any, *, order_by: Any = None) -> list[RobotView]:
    """Robots matching ``where`` as views, their sites loaded once (tenant scoping applies: the select
    names the mapped entity)."""
    stmt = select(Robot).where(where).with_only_columns(*_VIEW_COLUMNS)
    if order_by is not None:
        stmt = stmt.order_by(*order_by)
    rows = db.execute(stmt).all()
    sites = {s.id: s for s in db.scalars(select(RobotSite).where(RobotSite.id.in_({r.site_id for r in rows})))}
    return [RobotView(*row, site=sites[row.site_id]) for row in rows]


def register_robot(db: Session, *, data: RobotIn) -> Robot:
    site = _site_for_input(db, site_id=data.site_id)
    capabilities = sorted(set(data.capabilities if data.capabilities is not None else [data.type, "dock"]))
    robot = Robot(municipality_id=site.municipality_id, site_id=site.id, external_id=data.external_id,
                  name=data.name, vendor=data.vendor, model=data.model, type=data.type,
                  capabilities=capabilities, status="offline", online=False, errors=[])
    db.add(robot)
    flush_or_conflict(db, "A robot with external id {external_id} already exists", external_id=data.external_id)
    _vehicles().link_robot(db, robot=robot)
    _touch(db, site.id)
    return robot


def update_robot(db: Session, *, robot: Robot, data: RobotUpdate) -> Robot:
    values = data.model_dump(exclude_unset=True)
    if values.get("site_id") is not None and values["site_id"] != robot.site_id:
        site = _site_for_input(db, site_id=values["site_id"])
        if site.municipality_id != robot.municipality_id:
            raise InvalidInput.field("site_id", "Unknown site {id}", id=site.id)
        _requeue_robot_tasks(db, robot=robot, reason="moved to another site")
        _touch(db, robot.site_id)
        robot.site_id = site.id
    if values.get("capabilities") is not None:
        robot.capabilities = sorted(set(values["capabilities"]))
    if values.get("name"):
        robot.name = values["name"]
    db.flush()
    _touch(db, robot.site_id)
    return robot


def is_online(robot: Robot | RobotView, *, now: datetime) -> bool:
    """Online means heard from within the site's ``offline_after_s``, whether or not a sweep has run."""
    return bool(robot.online and robot.last_seen_at is not None
                and (now - robot.last_seen_at).total_seconds() <= robot.site.offline_after_s)


def effective_status(robot: Robot | RobotView, *, now: datetime) -> str:
    return robot.status if is_online(robot, now=now) else "offline"


def has_fatal(errors: list[dict[str, Any]] | None) -> bool:
    return any(e.get("level") == "fatal" for e in errors or ())


def derive_status(*, online: bool, errors: list[dict[str, Any]] | None, charging: bool, paused: bool,
                  has_task: bool) -> str:
    if not online:
        return "offline"
    if has_fatal(errors):
        return "error"
    if paused:
        return "paused"
    if has_task:
        return "working"
    if charging:
        return "charging"
    return "idle"


# --- alerts ----------------------------------------------------------------------------------

# The alert's kind says what happened (shown translated); the message keeps only the particulars.
ALERT_MESSAGES = {
    "low_battery": "{pct}%",
    "fatal_error": "{detail}",
    "offline": "> {seconds} s",
    "task_failed": "#{task_id}: {detail}",
}


def _raise_alert(db: Session, *, robot: Robot | RobotView, kind: str, open_alerts: dict[tuple[int, str], RobotAlert],
                 now: datetime, task_id: int | None = None, message: str | None = None,
                 **params: Any) -> RobotAlert | None:
    """Open an alert unless one of this kind is already open for the robot (task failures always open)."""
    if kind != "task_failed" and (robot.id, kind) in open_alerts:
        return None
    alert = RobotAlert(municipality_id=robot.municipality_id, site_id=robot.site_id, robot_id=robot.id,
                       task_id=task_id, kind=kind, raised_at=now,
                       message=(message or ALERT_MESSAGES[kind].format(task_id=task_id, **params))[:500])
    db.add(alert)
    open_alerts[(robot.id, kind)] = alert
    _publish(db, robot.site_id, {"event": "alert", "robot_id": robot.id, "kind": kind,
                                                    "message": alert.message})
    return alert


def _clear_alert(db: Session, *, robot: Robot | RobotView, kind: str, open_alerts: dict[tuple[int, str], RobotAlert],
                 now: datetime) -> None:
    alert = open_alerts.pop((robot.id, kind), None)
    if alert is not None and alert.cleared_at is None:
        alert.cleared_at = now
        _publish(db, robot.site_id, {"event": "alert", "robot_id": robot.id, "kind": kind,
                                                        "cleared": True})


def _open_alerts(db: Session, robot_ids: list[int]) -> dict[tuple[int, str], RobotAlert]:
    if not robot_ids:
        return {}
    rows = db.scalars(select(RobotAlert).where(among(db, RobotAlert.robot_id, robot_ids),
                                               RobotAlert.cleared_at.is_(None),
                                               RobotAlert.kind != "task_failed"))
    return {(a.robot_id, a.kind): a for a in rows}


def alert_query(*, site_id: int | None = None, open_only: bool = False, kind: str | None = None,
                robot_id: int | None = None) -> Select[Any]:
    stmt = select(RobotAlert).order_by(RobotAlert.raised_at.desc(), RobotAlert.id.desc())
    if site_id:
        stmt = stmt.where(RobotAlert.site_id == site_id)
    if robot_id:
        stmt = stmt.where(RobotAlert.robot_id == robot_id)
    if kind:
        stmt = stmt.where(RobotAlert.kind == kind)
    if open_only:
        stmt = stmt.where(RobotAlert.acknowledged_at.is_(None))
    return stmt


def list_alerts(db: Session, *, page: PageParams, **filters: Any) -> tuple[list[RobotAlert], int]:
    return paginate(db, alert_query(**filters), page)


def get_alert(db: Session, *, alert_id: int) -> RobotAlert:
    return one_or_404(db, RobotAlert, alert_id, "Alert {id} not found")


def acknowledge_alert(db: Session, *, alert: RobotAlert, now: datetime | None = None) -> RobotAlert:
    if alert.acknowledged_at is None:
        alert.acknowledged_at = now or utcnow()
        alert.acknowledged_by = audit.actor(db)
        db.flush()
        _publish(db, alert.site_id, {"event": "alert", "robot_id": alert.robot_id,
                                                        "acknowledged": alert.id})
    return alert


def count_open_alerts(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(
        alert_query(open_only=True).order_by(None).subquery())) or 0


# --- state ingestion -------------------------------------------------------------------------

def _resolve_batch_robots(db: Session, items: list[tuple[int | None, str | None, StateIn]]
                          ) -> tuple[list[RobotView | None], list[dict[str, Any]]]:
    ids = {rid for rid, _ext, _s in items if rid is not None}
    exts = {ext for _rid, ext, _s in items if ext is not None}
    by_id = {r.id: r for r in robot_views(db, or_(among(db, Robot.id, ids), among(db, Robot.external_id, exts)))}
    by_ext: dict[str, RobotView | None] = {}
    for r in by_id.values():
        if r.external_id in exts:
            # the same external id in two reachable municipalities names no robot
            by_ext[r.external_id] = None if r.external_id in by_ext else r
    robots: list[RobotView | None] = []
    errors: list[dict[str, Any]] = []
    for i, (rid, ext, _state) in enumerate(items):
        robot = by_id.get(rid) if rid is not None else by_ext.get(ext or "")
        if robot is None:
            if rid is not None:
                errors.append(field_error(["rows", i, "robot_id"], "Unknown robot {id}", id=rid))
            else:
                errors.append(field_error(["rows", i, "robot_external_id"], "Unknown robot {external_id}",
                                          external_id=ext))
        robots.append(robot)
    return robots, errors


Report = tuple[int | None, str | None, StateIn]  # (robot id, or the vendor's external id, the state)


def ingest_states(db: Session, *, items: list[Report], now: datetime | None = None) -> dict[str, int]:
    """Store a batch of state reports and bring each robot's current state, tasks, alerts and daily
    rollups up to date. A bad report rejects the whole batch with every bad row named; a report already
    stored (same robot, same time) counts as a duplicate and changes nothing. The REST API and the
    VDA 5050 bridge both come here."""
    now = now or utcnow()
    robots = _check_batch(db, items=items, now=now)
    fresh, duplicates, robot_by_id = _fresh_reports(db, items=items, robots=robots)
    if not fresh:
        return {"accepted": 0, "duplicates": duplicates, "robots": len(robot_by_id)}
    _store_reports(db, fresh=fresh, robot_by_id=robot_by_id, now=now)
    live, sites_to_dispatch = _advance_robots(db, touched=[robot_by_id[rid] for rid in fresh], fresh=fresh,
                                              now=now)
    _after_batch(db, fresh=fresh, robot_by_id=robot_by_id, live=live, sites_to_dispatch=sites_to_dispatch,
                 now=now)
    return {"accepted": sum(len(v) for v in fresh.values()), "duplicates": duplicates, "robots": len(robot_by_id)}


def _check_batch(db: Session, *, items: list[Report], now: datetime) -> list[RobotView]:
    """The batch's robots; raises when a report names no robot, lies in the future or off the map."""
    robots, errors = _resolve_batch_robots(db, items)
    horizon = now + timedelta(seconds=FUTURE_TOLERANCE_S)
    for i, ((_rid, _ext, state), robot) in enumerate(zip(items, robots, strict=True)):
        if state.time > horizon:
            errors.append(field_error(["rows", i, "time"], "The time {time} lies in the future",
                                      time=state.time.isoformat()))
        if robot is not None:
            site = robot.site
            x, y = state.position.x, state.position.y
            if not (-MAP_MARGIN_M <= x <= site.map_width_m + MAP_MARGIN_M
                    and -MAP_MARGIN_M <= y <= site.map_height_m + MAP_MARGIN_M):
                errors.append(field_error(["rows", i, "position"],
                                          "Position ({x}, {y}) lies outside the site map of {w} x {h} m",
                                          x=x, y=y, w=site.map_width_m, h=site.map_height_m))
    if errors:
        errors.sort(key=lambda e: e["loc"][1])
        raise InvalidInput("{n} of the reports are invalid; nothing was stored", errors=errors,
                           n=len({e["loc"][1] for e in errors}))
    return robots  # type: ignore[return-value]


def _fresh_reports(db: Session, *, items: list[Report], robots: list[RobotView]
                   ) -> tuple[dict[int, list[StateIn]], int, dict[int, RobotView]]:
    """Each robot's reports not stored yet, oldest first (repeats inside the batch dropped too), the
    number of duplicates, and the batch's robots by id."""
    per_robot: dict[int, list[StateIn]] = defaultdict(list)
    for (_rid, _ext, state), robot in zip(items, robots, strict=True):
        per_robot[robot.id].append(state)
    times = [s.time for _r, _e, s in items]
    existing = set()
    if per_robot:
        rows = db.execute(select(RobotState.robot_id, RobotState.reported_at).where(
            among(db, RobotState.robot_id, list(per_robot)), RobotState.reported_at >= min(times),
            RobotState.reported_at <= max(times)))
        existing = {(rid, t.timestamp()) for rid, t in rows}
    fresh: dict[int, list[StateIn]] = {}
    duplicates = 0
    for rid, states in per_robot.items():
        kept = []
        for state in sorted(states, key=lambda s: s.time):
            key = (rid, state.time.timestamp())
            if key in existing:
                duplicates += 1
                continue
            existing.add(key)
            kept.append(state)
        if kept:
            fresh[rid] = kept
    return fresh, duplicates, {r.id: r for r in robots if r.id in per_robot}


def _store_reports(db: Session, *, fresh: dict[int, list[StateIn]], robot_by_id: dict[int, RobotView],
                   now: datetime) -> None:
    state_rows = [{
        "municipality_id": robot_by_id[rid].municipality_id, "robot_id": rid, "reported_at": s.time,
        "received_at": now, "operating_mode": s.operating_mode, "x": s.position.x, "y": s.position.y,
        "theta": s.position.theta, "map_id": s.position.map_id, "battery_pct": s.battery.charge_pct,
        "charging": s.battery.charging, "errors": [e.model_dump() for e in s.errors],
        "task_id": s.task.task_id if s.task else None, "task_progress": s.task.progress if s.task else None,
    } for rid, states in fresh.items() for s in states]
    insert_rows(db, RobotState.__table__, state_rows, conflict=["robot_id", "reported_at"])
    count_ingested(db, module="kt.robots", kind="states", n=len(state_rows))


def _advance_robots(db: Session, *, touched: list[RobotView], fresh: dict[int, list[StateIn]], now: datetime
                    ) -> tuple[dict[int, list[dict[str, Any]]], set[int]]:
    """Move each robot's tasks, daily seconds and current state along its new reports (one UPDATE for
    the batch); returns the summaries for watched sites and the sites whose robots became available."""
    open_tasks = _open_tasks_of(db, [r.id for r in touched])
    open_alerts = _open_alerts(db, [r.id for r in touched])
    daily: dict[tuple[int, Any], dict[str, float]] = {}
    robot_updates = []
    sites_to_dispatch: set[int] = set()
    live: dict[int, list[dict[str, Any]]] = defaultdict(list)
    watched: dict[int, bool] = {}  # summaries are built only for sites someone watches in this process
    for robot in touched:
        newest = _accumulate_reports(db, robot=robot, states=fresh[robot.id], open_tasks=open_tasks,
                                     open_alerts=open_alerts, daily=daily, now=now)
        if newest is None:
            continue
        was_available = available(robot, now=now)
        values = _apply_current_state(db, robot=robot, state=newest, open_tasks=open_tasks,
                                      open_alerts=open_alerts, now=now)
        robot_updates.append({"id": robot.id, **values})
        if available(robot, now=now) and not was_available:
            sites_to_dispatch.add(robot.site_id)
        if watched.setdefault(robot.site_id, broker.subscriber_count(topic(robot.site_id)) > 0):
            live[robot.site_id].append(robot_summary(robot, now=now))
    if robot_updates:
        update_rows_by_id(db, Robot.__table__, robot_updates)
    _upsert_daily(db, daily)
    return live, sites_to_dispatch


def _accumulate_reports(db: Session, *, robot: RobotView, states: list[StateIn], open_tasks: dict[int, RobotTask],
                        open_alerts: dict[tuple[int, str], RobotAlert], daily: dict[tuple[int, Any], dict[str, float]],
                        now: datetime) -> StateIn | None:
    """Apply each report's task progress and add its seconds to the day's rollup; returns the newest
    report that moves the robot forward (None when all are late)."""
    prev_time = robot.last_seen_at if is_online(robot, now=states[0].time) else None
    prev_status = robot.status
    cap = robot.site.offline_after_s
    newest = None
    for state in states:
        _apply_task_report(db, robot=robot, state=state, open_tasks=open_tasks, open_alerts=open_alerts, now=now)
        day = state.time.astimezone(SEOUL).date()
        acc = daily.setdefault((robot.id, day), {"municipality_id": robot.municipality_id, "online_s": 0.0,
                                                 "working_s": 0.0, "charging_s": 0.0, "error_s": 0.0,
                                                 "reports": 0, "error_reports": 0})
        acc["reports"] += 1
        acc["error_reports"] += 1 if state.errors else 0
        if robot.last_seen_at is not None and state.time <= robot.last_seen_at:
            continue  # a late report: stored and counted, but it does not rewind the robot
        if prev_time is not None and state.time > prev_time:
            dt = min((state.time - prev_time).total_seconds(), cap)
            acc["online_s"] += dt
            if prev_status == "working":
                acc["working_s"] += dt
            elif prev_status == "charging":
                acc["charging_s"] += dt
            elif prev_status == "error":
                acc["error_s"] += dt
        errors_now = [e.model_dump() for e in state.errors]
        prev_status = derive_status(online=True, errors=errors_now, charging=state.battery.charging,
                                    paused=robot.paused, has_task=robot.id in open_tasks)
        prev_time = state.time
        newest = state
    return newest


def _after_batch(db: Session, *, fresh: dict[int, list[StateIn]], robot_by_id: dict[int, RobotView],
                 live: dict[int, list[dict[str, Any]]], sites_to_dispatch: set[int], now: datetime) -> None:
    """Dispatch where robots became free, audit the batch per municipality, tell the live screens."""
    for site_id in sorted(sites_to_dispatch | {t.site_id for t in db.info.pop("kt_robots_requeued", [])}):
        dispatch(db, site=get_site(db, site_id=site_id), now=now)
    by_municipality: dict[int, int] = defaultdict(int)
    for rid, states in fresh.items():
        by_municipality[robot_by_id[rid].municipality_id] += len(states)
    for municipality_id, n in by_municipality.items():
        audit.record(db, action="ingest", object_type="kt_robot_state", object_id=f"batch:{n}",
                     municipality_id=municipality_id, after={"accepted": n})
    changed_ids: dict[int, list[int]] = defaultdict(list)
    for rid in fresh:
        changed_ids[robot_by_id[rid].site_id].append(rid)
    for site_id, rids in changed_ids.items():
        _publish(db, site_id, {"event": "robots", "robot_ids": rids, "robots": live.get(site_id, [])})


def _hold_ends(db: Session, *, robot: RobotView, state: StateIn) -> bool:
    """An operator's hold ends when the robot, no longer paused, reports idle in a state measured after
    it fetched the holding command: an "idle" said before it knew of the command does not count."""
    if robot.hold is None or not state.idle or robot.paused or has_fatal([e.model_dump() for e in state.errors]):
        return False
    delivered = db.scalar(select(RobotCommand.delivered_at).where(
        RobotCommand.robot_id == robot.id, RobotCommand.kind.in_(HOLDING_COMMANDS))
        .order_by(RobotCommand.id.desc()).limit(1))
    return delivered is not None and state.time >= delivered


def _apply_current_state(db: Session, *, robot: RobotView, state: StateIn, open_tasks: dict[int, RobotTask],
                         open_alerts: dict[tuple[int, str], RobotAlert], now: datetime) -> dict[str, Any]:
    """Bring the in-memory robot to its newest state and raise or clear alerts; returns the column
    values the caller writes with one Core UPDATE for the whole batch."""
    errors = [e.model_dump() for e in state.errors]
    came_back = not robot.online
    fatal = has_fatal(errors)
    task = open_tasks.get(robot.id)
    if fatal and task is not None:
        _requeue(db, task=task, reason="robot reported a fatal error", now=now)
        open_tasks.pop(robot.id, None)
        task = None
    values = {
        "online": True, "last_seen_at": state.time, "operating_mode": state.operating_mode,
        "x": state.position.x, "y": state.position.y, "theta": state.position.theta,
        "map_id": state.position.map_id, "battery_pct": state.battery.charge_pct,
        "charging": state.battery.charging, "errors": errors,
        "current_task_id": task.id if task else None, "task_progress": task.progress if task else None,
        "status": derive_status(online=True, errors=errors, charging=state.battery.charging,
                                paused=robot.paused, has_task=task is not None),
        "hold": None if _hold_ends(db, robot=robot, state=state) else robot.hold,
    }
    for key, value in values.items():  # in the view only: the batch's UPDATE writes them
        setattr(robot, key, value)
    if came_back:
        _clear_alert(db, robot=robot, kind="offline", open_alerts=open_alerts, now=now)
    if fatal:
        detail = "; ".join(f"{e['type']}: {e['description']}".strip(": ") for e in errors if e["level"] == "fatal")
        _raise_alert(db, robot=robot, kind="fatal_error", open_alerts=open_alerts, now=now, detail=detail)
    else:
        _clear_alert(db, robot=robot, kind="fatal_error", open_alerts=open_alerts, now=now)
    low = robot.site.low_battery_pct
    if state.battery.charge_pct < low and not state.battery.charging:
        _raise_alert(db, robot=robot, kind="low_battery", open_alerts=open_alerts, now=now,
                     pct=round(state.battery.charge_pct))
    elif state.battery.charging or state.battery.charge_pct >= low + LOW_BATTERY_HYSTERESIS_PCT:
        _clear_alert(db, robot=robot, kind="low_battery", open_alerts=open_alerts, now=now)
    return values


def _upsert_daily(db: Session, daily: dict[tuple[int, Any], dict[str, float]]) -> None:
    rows = [{"robot_id": rid, "day_date": day, **values} for (rid, day), values in daily.items()]
    insert_rows(db, RobotDaily.__table__, rows, conflict=["robot_id", "day_date"],
                add_on_conflict=["online_s", "working_s", "charging_s", "error_s", "reports", "error_reports"])


# --- tasks -----------------------------------------------------------------------------------

def _open_tasks_of(db: Session, robot_ids: list[int]) -> dict[int, RobotTask]:
    if not robot_ids:
        return {}
    rows = db.scalars(select(RobotTask).where(among(db, RobotTask.assigned_robot_id, robot_ids),
                                              RobotTask.status.in_(("assigned", "underway")))
                      .order_by(RobotTask.assigned_at))
    return {t.assigned_robot_id: t for t in rows}  # type: ignore[misc]


def _apply_task_report(db: Session, *, robot: RobotView, state: StateIn, open_tasks: dict[int, RobotTask],
                       open_alerts: dict[tuple[int, str], RobotAlert], now: datetime) -> None:
    """Move the robot's task along from what the robot says; reports about a task it no longer holds
    (it was requeued or canceled meanwhile) are ignored: the robot learns from its orders."""
    report = state.task
    task = open_tasks.get(robot.id)
    if report is None or task is None or task.id != report.task_id:
        return
    task.progress = report.progress
    if report.status == "underway":
        if task.status == "assigned":
            task.status = "underway"
            task.started_at = state.time
    elif report.status == "completed":
        task.status, task.progress, task.finished_at = "completed", 100.0, state.time
        task.started_at = task.started_at or state.time
        open_tasks.pop(robot.id, None)
        db.info.setdefault("kt_robots_requeued", []).append(task)  # a robot became free: dispatch again
    else:
        task.status, task.finished_at = "failed", state.time
        task.failure_reason = report.failure_reason or "reported failed by the robot"
        open_tasks.pop(robot.id, None)
        _raise_alert(db, robot=robot, kind="task_failed", open_alerts=open_alerts, now=now, task_id=task.id,
                     detail=task.failure_reason)
        db.info.setdefault("kt_robots_requeued", []).append(task)
    _publish(db, task.site_id, {"event": "task", "task_id": task.id, "status": task.status})


def _requeue(db: Session, *, task: RobotTask, reason: str, now: datetime) -> None:
    task.status = "queued"
    task.assigned_robot_id = None
    task.assigned_at = None
    task.started_at = None
    task.progress = 0.0
    task.failure_reason = reason
    db.info.setdefault("kt_robots_requeued", []).append(task)
    _publish(db, task.site_id, {"event": "task", "task_id": task.id, "status": "queued"})


def _requeue_robot_tasks(db: Session, *, robot: Robot, reason: str, now: datetime | None = None) -> int:
    tasks = list(db.scalars(select(RobotTask).where(RobotTask.assigned_robot_id == robot.id,
                                                    RobotTask.status.in_(("assigned", "underway")))))
    for task in tasks:
        _requeue(db, task=task, reason=reason, now=now or utcnow())
    robot.current_task_id = None
    robot.task_progress = None
    return len(tasks)


def task_query(*, site_id: int | None = None, status: str | None = None, kind: str | None = None,
               robot_id: int | None = None, open_only: bool = False) -> Select[Any]:
    stmt = select(RobotTask).order_by(RobotTask.id.desc())
    if site_id:
        stmt = stmt.where(RobotTask.site_id == site_id)
    if status:
        stmt = stmt.where(RobotTask.status == status)
    if kind:
        stmt = stmt.where(RobotTask.kind == kind)
    if robot_id:
        stmt = stmt.where(RobotTask.assigned_robot_id == robot_id)
    if open_only:
        stmt = stmt.where(RobotTask.status.in_(OPEN_TASK_STATUSES))
    return stmt


def list_tasks(db: Session, *, page: PageParams, **filters: Any) -> tuple[list[RobotTask], int]:
    return paginate(db, task_query(**filters), page)


def get_task(db: Session, *, task_id: int) -> RobotTask:
    return one_or_404(db, RobotTask, task_id, "Task {id} not found")


def capable(robot: Robot, kind: str) -> bool:
    return kind in (robot.capabilities or ())


def create_task(db: Session, *, data: TaskIn, now: datetime | None = None) -> tuple[RobotTask, bool]:
    """Queue a task and dispatch at once; returns ``(task, created)``. A retry with the same
    ``client_task_id`` answers the task already made."""
    now = now or utcnow()
    if data.client_task_id:
        found = db.scalar(select(RobotTask).where(RobotTask.client_task_id == data.client_task_id))
        if found is not None:
            return found, False
    site = _site_for_input(db, site_id=data.site_id)
    places = place_by_name(site)
    errors = []
    names = (([data.start] if data.start else []) + list(data.waypoints)
             + ([data.destination] if data.destination else []))
    fields = (["start"] if data.start else []) + [["waypoints", i] for i in range(len(data.waypoints))] + (
        ["destination"] if data.destination else [])
    for name, loc in zip(names, fields, strict=True):
        if name not in places:
            errors.append(field_error(loc, "No place named {name} at this site", name=name))
    robots = site_robots(db, site_id=site.id)
    kinds = list(site.task_kinds or DEFAULT_TASK_KINDS)
    if data.kind not in kinds:
        errors.append(field_error("kind", "This site does not take {kind} tasks; it takes: {kinds}",
                                  kind=data.kind, kinds=", ".join(kinds)))
    elif data.robot_id is not None:
        pinned = next((r for r in robots if r.id == data.robot_id), None)
        if pinned is None:
            errors.append(field_error("robot_id", "Robot {id} does not work at this site", id=data.robot_id))
        elif not capable(pinned, data.kind):
            errors.append(field_error("robot_id", "Robot {name} cannot do {kind} tasks", name=pinned.name,
                                      kind=data.kind))
    elif not any(capable(r, data.kind) for r in robots):
        errors.append(field_error("kind", "No robot of this site can do {kind} tasks", kind=data.kind))
    if errors:
        raise InvalidInput("The task cannot be queued", errors=errors)
    task = RobotTask(municipality_id=site.municipality_id, site_id=site.id, client_task_id=data.client_task_id,
                     kind=data.kind, status="queued", priority=data.priority, note=data.note,
                     waypoints=[{"name": n, "x": places[n].x, "y": places[n].y} for n in names],
                     not_before_at=data.not_before, pinned_robot_id=data.robot_id, created_by=audit.actor(db),
                     created_at=now, progress=0.0, attempts=0, failure_reason="")
    db.add(task)
    flush_or_conflict(db, "A task with client id {id} already exists", id=data.client_task_id)
    _publish(db, site.id, {"event": "task", "task_id": task.id, "status": "queued"})
    dispatch(db, site=site, now=now)
    return task, True


def cancel_task(db: Session, *, task: RobotTask, now: datetime | None = None) -> RobotTask:
    if task.status not in OPEN_TASK_STATUSES:
        raise Conflict("Task {id} is already {status}", id=task.id, status=task.status)
    robot_id = task.assigned_robot_id
    task.status, task.finished_at = "canceled", now or utcnow()
    db.flush()
    if robot_id is not None:
        _vehicles().cancel_order(db, robot_id=robot_id, task=task, now=now)
        robot = get_robot(db, robot_id=robot_id)
        robot.current_task_id, robot.task_progress = None, None
        robot.status = derive_status(online=robot.online, errors=robot.errors, charging=robot.charging,
                                     paused=robot.paused, has_task=False)
        db.flush()
        dispatch(db, site=task.site, now=now)
    _publish(db, task.site_id, {"event": "task", "task_id": task.id, "status": "canceled"})
    return task


def dispatch_cost(robot: Robot, task: RobotTask) -> float:
    """Travel distance to where the task starts plus a penalty for a low battery."""
    start = task.waypoints[0]
    distance = math.hypot((robot.x or 0.0) - start["x"], (robot.y or 0.0) - start["y"])
    return distance + (100.0 - (robot.battery_pct or 0.0)) * BATTERY_PENALTY_M_PER_PCT


def available(robot: Robot | RobotView, *, now: datetime) -> bool:
    """May take a task: online, not paused nor held by an operator's command, no fatal error, above the
    battery floor, nothing to do."""
    return (is_online(robot, now=now) and not robot.paused and robot.hold is None and not has_fatal(robot.errors)
            and robot.status in ("idle", "charging") and robot.current_task_id is None
            and (robot.battery_pct or 0.0) >= robot.site.battery_floor_pct)


def dispatch(db: Session, *, site: RobotSite, now: datetime | None = None) -> list[RobotTask]:
    """Give queued tasks of ``site`` (highest priority, then oldest first) to the cheapest capable,
    available robot. Returns the tasks assigned."""
    now = now or utcnow()
    db.flush()
    # One dispatcher per site at a time (PostgreSQL row lock; SQLite writers are serialised already),
    # so two concurrent requests never hand the same robot two tasks.
    db.execute(select(RobotSite.id).where(RobotSite.id == site.id).with_for_update(key_share=True))
    queued = [t for t in db.scalars(select(RobotTask).where(RobotTask.site_id == site.id,
                                                            RobotTask.status == "queued")
                                    .order_by(RobotTask.priority.desc(), RobotTask.created_at, RobotTask.id))
              if t.not_before_at is None or t.not_before_at <= now]
    if not queued:
        return []
    busy = set(_open_tasks_of(db, [r.id for r in site_robots(db, site_id=site.id)]))
    free = [r for r in site_robots(db, site_id=site.id) if r.id not in busy and available(r, now=now)]
    assigned = []
    for task in queued:
        candidates = [r for r in free if capable(r, task.kind)
                      and (task.pinned_robot_id is None or r.id == task.pinned_robot_id)]
        if not candidates:
            continue
        robot = min(candidates, key=lambda r: (dispatch_cost(r, task), r.id))
        free.remove(robot)
        task.status, task.assigned_robot_id, task.assigned_at = "assigned", robot.id, now
        task.attempts += 1
        robot.status, robot.current_task_id, robot.task_progress = "working", task.id, 0.0
        assigned.append(task)
        _vehicles().send_order(db, robot=robot, task=task, now=now)
        _publish(db, site.id, {"event": "task", "task_id": task.id, "status": "assigned",
                                                  "robot_id": robot.id})
    db.flush()
    return assigned


# --- offline detection -----------------------------------------------------------------------

def sweep_offline(db: Session, *, now: datetime | None = None) -> int:
    """Mark robots not heard from within their site's ``offline_after_s`` offline, raise an alert and
    return their tasks to the queue. Runs on every state batch, as the worker's duty every 5 s and from
    ``dxhub robots sweep``. Returns how many robots went offline."""
    now = now or utcnow()
    gone = 0
    for site in list_sites(db):
        cutoff = now - timedelta(seconds=site.offline_after_s)
        robots = list(db.scalars(select(Robot).where(Robot.site_id == site.id, Robot.online.is_(True),
                                                     Robot.last_seen_at < cutoff)))
        if not robots:
            dispatch(db, site=site, now=now)  # tasks whose start time has come
            continue
        take_offline(db, site=site, robots=robots, now=now)
        gone += len(robots)
    return gone


def take_offline(db: Session, *, site: RobotSite, robots: list[Robot], now: datetime,
                 reason: str | None = None) -> None:
    """Mark ``robots`` of ``site`` offline now (the sweep, or a vehicle's broken connection), raise their
    offline alerts, return their tasks to the queue and dispatch those to the others."""
    open_alerts = _open_alerts(db, [r.id for r in robots])
    open_tasks = _open_tasks_of(db, [r.id for r in robots])
    for robot in robots:
        robot.online = False
        robot.status = "offline"
        robot.current_task_id = None
        robot.task_progress = None
        if robot.id in open_tasks:
            _requeue(db, task=open_tasks[robot.id], reason=reason or "robot went offline", now=now)
        _raise_alert(db, robot=robot, kind="offline", open_alerts=open_alerts, now=now,
                     seconds=site.offline_after_s, message=reason)
    _publish(db, site.id, {"event": "robots", "robots": [robot_summary(r, now=now) for r in robots]})
    db.flush()
    db.info.pop("kt_robots_requeued", None)
    dispatch(db, site=site, now=now)


# --- orders and commands ---------------------------------------------------------------------

def orders_for(db: Session, *, robot: Robot, now: datetime | None = None) -> dict[str, Any]:
    """What the robot should do: its assigned task as an order of nodes, and commands not yet acknowledged
    (pending ones become delivered)."""
    now = now or utcnow()
    tasks = list(db.scalars(task_query(robot_id=robot.id).where(RobotTask.status.in_(("assigned", "underway")))))
    commands = list(db.scalars(select(RobotCommand).where(RobotCommand.robot_id == robot.id,
                                                          RobotCommand.status.in_(("pending", "delivered")))
                               .order_by(RobotCommand.id)))
    for command in commands:
        if command.status == "pending":
            command.status, command.delivered_at = "delivered", now
    db.flush()
    orders = [{"order_id": t.id, "kind": t.kind, "status": t.status, "priority": t.priority,
               "nodes": [{"sequence_id": i * 2, "name": w["name"], "x": w["x"], "y": w["y"]}
                         for i, w in enumerate(t.waypoints)]} for t in tasks]
    return {"robot_id": robot.id, "orders": orders, "commands": commands}


REQUEUE_REASONS = {"pause": "robot paused by an operator", "dock": "robot sent to dock",
                   "charge": "robot sent to charge"}


def send_command(db: Session, *, robot: Robot, data: CommandIn, now: datetime | None = None) -> RobotCommand:
    """Queue an instant action; ``dock`` and ``charge`` are refused to a robot without the ``dock``
    capability. ``dock``, ``pause`` and ``charge`` return the robot's task to the queue and hold the robot
    off dispatch until it reports idle again (``resume`` ends the pause, not the hold), so the task goes
    to another robot or waits: never straight back to the robot the operator just stopped."""
    now = now or utcnow()
    if data.kind in ("dock", "charge") and not capable(robot, "dock"):
        raise InvalidInput.field("kind", "Robot {name} cannot dock", name=robot.name)
    if data.kind == "pause":
        robot.paused = True
    elif data.kind == "resume":
        robot.paused = False
    had_task = robot.current_task_id is not None
    if data.kind in HOLDING_COMMANDS:
        robot.hold = data.kind
        _requeue_robot_tasks(db, robot=robot, reason=REQUEUE_REASONS[data.kind], now=now)
    robot.status = derive_status(online=robot.online, errors=robot.errors, charging=robot.charging,
                                 paused=robot.paused, has_task=robot.current_task_id is not None)
    command = RobotCommand(municipality_id=robot.municipality_id, robot_id=robot.id, kind=data.kind,
                           status="pending", note=data.note, created_by=audit.actor(db), created_at=now)
    db.add(command)
    db.flush()
    _vehicles().send_command(db, robot=robot, kind=data.kind, command_id=command.id, now=now,
                             cancel_order=had_task and data.kind in HOLDING_COMMANDS)
    db.info.pop("kt_robots_requeued", None)
    dispatch(db, site=robot.site, now=now)
    _publish(db, robot.site_id, {"event": "robots", "robots": [robot_summary(robot, now=now)]})
    return command


def get_command(db: Session, *, robot: Robot, command_id: int) -> RobotCommand:
    command = db.scalar(select(RobotCommand).where(RobotCommand.id == command_id,
                                                   RobotCommand.robot_id == robot.id))
    if command is None:
        raise NotFound("Command {id} not found", id=command_id)
    return command


COMMAND_TRANSITIONS = {"pending": ("acknowledged", "completed", "failed"),
                       "delivered": ("acknowledged", "completed", "failed"),
                       "acknowledged": ("completed", "failed"), "completed": (), "failed": ()}


def acknowledge_command(db: Session, *, command: RobotCommand, status: str,
                        now: datetime | None = None) -> RobotCommand:
    if command.status == status:
        return command  # a retried acknowledgement
    if status not in COMMAND_TRANSITIONS[command.status]:
        raise Conflict("Command {id} is {status} and cannot become {target}", id=command.id,
                       status=command.status, target=status)
    command.status = status
    if status in ("completed", "failed"):
        command.finished_at = now or utcnow()
    db.flush()
    return command


def list_commands(db: Session, *, robot: Robot, limit: int = 20) -> list[RobotCommand]:
    return list(db.scalars(select(RobotCommand).where(RobotCommand.robot_id == robot.id)
                           .order_by(RobotCommand.id.desc()).limit(limit)))


def state_history(db: Session, *, robot: Robot, page: PageParams) -> tuple[list[RobotState], int]:
    stmt = select(RobotState).where(RobotState.robot_id == robot.id).order_by(RobotState.reported_at.desc())
    return paginate(db, stmt, page)


# --- views -----------------------------------------------------------------------------------

def robot_summary(robot: Robot | RobotView, *, now: datetime) -> dict[str, Any]:
    """A robot as the live screens and the API show it."""
    has_position = robot.x is not None and robot.y is not None
    return {
        "id": robot.id, "external_id": robot.external_id, "name": robot.name, "vendor": robot.vendor,
        "model": robot.model, "type": robot.type, "site_id": robot.site_id, "site_code": robot.site.code,
        "capabilities": list(robot.capabilities or []), "status": effective_status(robot, now=now),
        "online": is_online(robot, now=now), "paused": robot.paused, "hold": robot.hold,
        "last_seen_at": robot.last_seen_at,
        "operating_mode": robot.operating_mode,
        "position": ({"x": robot.x, "y": robot.y, "theta": robot.theta or 0.0, "map_id": robot.map_id or ""}
                     if has_position else None),
        "battery": ({"charge_pct": robot.battery_pct, "charging": robot.charging}
                    if robot.battery_pct is not None else None),
        "errors": list(robot.errors or []), "current_task_id": robot.current_task_id,
        "task_progress": robot.task_progress,
    }


def site_out(site: RobotSite, *, municipality_code: str | None = None) -> dict[str, Any]:
    if municipality_code is None:
        db = object_session(site)
        municipality_code = platform_service.get_municipality_by_id(
            db, municipality_id=site.municipality_id).code if db is not None else ""
    return {"id": site.id, "code": site.code, "name": site.name, "municipality_code": municipality_code,
            "map_id": site.map_id, "map_width_m": site.map_width_m, "map_height_m": site.map_height_m,
            "offline_after_s": site.offline_after_s, "battery_floor_pct": site.battery_floor_pct,
            "low_battery_pct": site.low_battery_pct, "task_kinds": list(site.task_kinds or DEFAULT_TASK_KINDS),
            "places": [{"name": p.name, "kind": p.kind, "x": p.x, "y": p.y} for p in site.places],
            "created_at": site.created_at}


def alert_out(alert: RobotAlert) -> dict[str, Any]:
    return {"id": alert.id, "site_id": alert.site_id, "robot_id": alert.robot_id, "robot_name": alert.robot.name,
            "task_id": alert.task_id, "kind": alert.kind, "message": alert.message, "raised_at": alert.raised_at,
            "cleared_at": alert.cleared_at, "acknowledged_at": alert.acknowledged_at,
            "acknowledged_by": alert.acknowledged_by}


def site_live(db: Session, *, site: RobotSite, now: datetime | None = None) -> dict[str, Any]:
    """Everything a site screen shows: robots, open and recent tasks, open alerts."""
    now = now or utcnow()
    robots = robot_views(db, Robot.site_id == site.id, order_by=(Robot.name, Robot.id))
    tasks = list(db.scalars(task_query(site_id=site.id).limit(50)))
    alerts = list(db.scalars(alert_query(site_id=site.id, open_only=True).limit(50)))
    return {"site": site_out(site), "robots": [robot_summary(r, now=now) for r in robots], "tasks": tasks,
            "alerts": [alert_out(a) for a in alerts], "generated_at": now}


def fleet_overview(db: Session, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per site: robots by status and open tasks and alerts (the fleet page and the home widget)."""
    now = now or utcnow()
    out = []
    robots_by_site: dict[int, list[Robot]] = defaultdict(list)
    for robot in db.scalars(robot_query()):
        robots_by_site[robot.site_id].append(robot)
    open_tasks = dict(db.execute(select(RobotTask.site_id, func.count()).where(
        RobotTask.status.in_(OPEN_TASK_STATUSES)).group_by(RobotTask.site_id)).all())
    open_alerts = dict(db.execute(select(RobotAlert.site_id, func.count()).where(
        RobotAlert.acknowledged_at.is_(None)).group_by(RobotAlert.site_id)).all())
    for site in list_sites(db):
        statuses: dict[str, int] = defaultdict(int)
        for robot in robots_by_site.get(site.id, []):
            statuses[effective_status(robot, now=now)] += 1
        out.append({"site": site, "robots": len(robots_by_site.get(site.id, [])), "statuses": dict(statuses),
                    "open_tasks": open_tasks.get(site.id, 0), "open_alerts": open_alerts.get(site.id, 0)})
    return out
