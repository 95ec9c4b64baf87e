"""Statistics of the fleet: utilisation, availability, errors and tasks, read from the daily rollups
(never a scan of the state reports)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.i18n import SEOUL
from app.kt.robots.models import Robot, RobotDaily, RobotTask


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 1) if whole > 0 else None


def _day_seconds(day: date, now: datetime) -> float:
    """Length of ``day`` (Seoul) that has passed by ``now``."""
    start = datetime.combine(day, time.min, tzinfo=SEOUL)
    end = min(start + timedelta(days=1), now.astimezone(SEOUL))
    return max((end - start).total_seconds(), 0.0)


def fleet_stats(db: Session, *, date_from: date, date_to: date, site_id: int | None = None,
                now: datetime | None = None) -> dict[str, Any]:
    """Per robot and per day: hours online and working, utilisation (working / online), availability
    (online without a fatal error / time elapsed), error reports, tasks completed and failed; and the
    period's totals (tasks completed and failed, utilisation: the program KPIs' sources)."""
    now = now or utcnow()
    robots_stmt = select(Robot).order_by(Robot.site_id, Robot.name)
    if site_id:
        robots_stmt = robots_stmt.where(Robot.site_id == site_id)
    robots = list(db.scalars(robots_stmt))
    ids = [r.id for r in robots]
    rollup = defaultdict(lambda: defaultdict(float))
    per_day = defaultdict(lambda: defaultdict(float))
    if ids:
        rows = db.execute(select(RobotDaily.robot_id, RobotDaily.day_date, RobotDaily.online_s,
                                 RobotDaily.working_s, RobotDaily.charging_s, RobotDaily.error_s,
                                 RobotDaily.error_reports)
                          .where(RobotDaily.robot_id.in_(ids), RobotDaily.day_date >= date_from,
                                 RobotDaily.day_date <= date_to))
        for rid, day, online, working, charging, error, error_reports in rows:
            for target in (rollup[rid], per_day[day]):
                target["online_s"] += online
                target["working_s"] += working
                target["charging_s"] += charging
                target["error_s"] += error
                target["error_reports"] += error_reports
    start = datetime.combine(date_from, time.min, tzinfo=SEOUL)
    end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=SEOUL)
    task_stmt = (select(RobotTask.assigned_robot_id, RobotTask.finished_at, RobotTask.status)
                 .where(RobotTask.status.in_(("completed", "failed")), RobotTask.finished_at >= start,
                        RobotTask.finished_at < end))
    if site_id:
        task_stmt = task_stmt.where(RobotTask.site_id == site_id)
    for rid, finished, status in db.execute(task_stmt):
        day = finished.astimezone(SEOUL).date()
        key = "tasks_completed" if status == "completed" else "tasks_failed"
        per_day[day][key] += 1
        if rid is not None:
            rollup[rid][key] += 1
    days = []
    period_s = 0.0
    day = date_from
    while day <= date_to:
        elapsed = _day_seconds(day, now)
        period_s += elapsed
        d = per_day.get(day, {})
        fleet_elapsed = elapsed * max(len(robots), 1)
        days.append({"day": day, "online_h": round(d.get("online_s", 0.0) / 3600, 4),
                     "working_h": round(d.get("working_s", 0.0) / 3600, 4),
                     "utilisation_pct": _pct(d.get("working_s", 0.0), d.get("online_s", 0.0)),
                     "availability_pct": _pct(d.get("online_s", 0.0) - d.get("error_s", 0.0), fleet_elapsed)
                     if elapsed else None,
                     "error_reports": int(d.get("error_reports", 0)),
                     "tasks_completed": int(d.get("tasks_completed", 0)),
                     "tasks_failed": int(d.get("tasks_failed", 0))})
        day += timedelta(days=1)
    out_robots = []
    for robot in robots:
        r = rollup.get(robot.id, {})
        out_robots.append({
            "robot_id": robot.id, "robot_name": robot.name, "site_id": robot.site_id, "type": robot.type,
            "online_h": round(r.get("online_s", 0.0) / 3600, 4), "working_h": round(r.get("working_s", 0.0) / 3600, 4),
            "charging_h": round(r.get("charging_s", 0.0) / 3600, 4), "error_h": round(r.get("error_s", 0.0) / 3600, 4),
            "utilisation_pct": _pct(r.get("working_s", 0.0), r.get("online_s", 0.0)),
            "availability_pct": _pct(r.get("online_s", 0.0) - r.get("error_s", 0.0), period_s),
            "error_reports": int(r.get("error_reports", 0)), "tasks_completed": int(r.get("tasks_completed", 0)),
            "tasks_failed": int(r.get("tasks_failed", 0))})
    online = sum(d.get("online_s", 0.0) for d in per_day.values())
    totals = {"tasks_completed": sum(d["tasks_completed"] for d in days),
              "tasks_failed": sum(d["tasks_failed"] for d in days),
              "utilisation_pct": _pct(sum(d.get("working_s", 0.0) for d in per_day.values()), online)}
    return {"date_from": date_from, "date_to": date_to, "robots": out_robots, "days": days, "totals": totals}


ROBOT_COLUMNS = ("robot_id", "robot_name", "site_id", "type", "online_h", "working_h", "charging_h", "error_h",
                 "utilisation_pct", "availability_pct", "error_reports", "tasks_completed", "tasks_failed")
DAY_COLUMNS = ("day", "online_h", "working_h", "utilisation_pct", "availability_pct", "error_reports",
               "tasks_completed", "tasks_failed")


def stats_table(stats: dict[str, Any], *, per: str = "robot") -> tuple[tuple[str, ...], list[list[object]]]:
    """The header and rows of the fleet statistics per robot or per day, written by ``core.csvout``."""
    columns = ROBOT_COLUMNS if per == "robot" else DAY_COLUMNS
    return columns, [[row[c] for c in columns] for row in stats["robots" if per == "robot" else "days"]]


def default_period(today: date | None = None, days: int = 7) -> tuple[date, date]:
    today = today or utcnow().astimezone(SEOUL).date()
    return today - timedelta(days=days - 1), today


def count_tasks_today(db: Session, *, now: datetime | None = None) -> dict[str, int]:
    now = now or utcnow()
    start = datetime.combine(now.astimezone(SEOUL).date(), time.min, tzinfo=SEOUL)
    rows = db.execute(select(RobotTask.status, func.count()).where(RobotTask.created_at >= start)
                      .group_by(RobotTask.status))
    return {status: n for status, n in rows}
