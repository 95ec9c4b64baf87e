"""Demo data: 충청북도's two sites of the article (충북도청 민원실, 청남대) with a mixed fleet of two
vendors and a week of state history, tasks and alerts; and the few objects the tenancy walk needs."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.core.bulk import insert_rows
from app.core.db import utcnow
from app.core.i18n import SEOUL
from app.kt.robots.models import (
    Robot,
    RobotAlert,
    RobotCommand,
    RobotDaily,
    RobotPlace,
    RobotSite,
    RobotState,
    RobotTask,
)
from app.platform import service as platform_service

CHUNGBUK = "4300000000"

SITES = [
    {"code": "cb-minwon", "name": "충북도청 민원실", "map_id": "minwon-1f", "w": 40.0, "h": 24.0,
     "places": [("정문", "door", 2.0, 12.0), ("민원 안내 데스크", "desk", 8.0, 12.0),
                ("여권 민원 창구", "desk", 20.0, 4.0), ("차량 등록 창구", "desk", 28.0, 4.0),
                ("무인 민원 발급기", "poi", 20.0, 20.0), ("대기석", "poi", 14.0, 18.0),
                ("민원인 휴게실", "room", 32.0, 19.0), ("엘리베이터", "door", 37.0, 12.0),
                ("충전 도크", "dock", 4.0, 21.0)],
     "robots": [("CBH-GUIDE-01", "안내로봇 1호", "KT", "KT AI 안내로봇 GR-2", "guide", ["guide", "dock", "voice"]),
                ("CBH-GUIDE-02", "안내로봇 2호", "LG전자", "CLOi GuideBot", "guide", ["guide", "dock", "voice"]),
                ("CBH-PATROL-01", "순찰로봇", "KT", "KT AI 방역순찰로봇 PR-1", "patrol", ["patrol", "dock"]),
                ("CBH-CARE-01", "돌봄로봇", "LG전자", "CLOi CareBot", "care", ["care", "guide"])]},
    {"code": "cheongnamdae", "name": "청남대", "map_id": "cheongnamdae-grounds", "w": 600.0, "h": 400.0,
     "places": [("정문 안내소", "door", 40.0, 360.0), ("본관", "exhibit", 300.0, 180.0),
                ("대통령기념관", "exhibit", 210.0, 250.0), ("오각정", "exhibit", 470.0, 120.0),
                ("그늘집", "poi", 380.0, 300.0), ("헬기장", "poi", 520.0, 330.0),
                ("충전 도크", "dock", 70.0, 330.0)],
     "robots": [("CND-GUIDE-01", "청남대 안내로봇 1호", "KT", "KT AI 안내로봇 GR-2", "guide",
                 ["guide", "dock", "voice"]),
                ("CND-GUIDE-02", "청남대 안내로봇 2호", "LG전자", "CLOi GuideBot", "guide", ["guide", "dock"]),
                ("CND-PATROL-01", "청남대 순찰로봇", "KT", "KT AI 방역순찰로봇 PR-1", "patrol", ["patrol", "dock"])]},
]

HISTORY_DAYS = 7
STEP_S = 120  # one stored report every two minutes of opening hours keeps the demo quick to load


def _make_site(session: Session, municipality_id: int, spec: dict[str, Any]) -> RobotSite:
    site = RobotSite(municipality_id=municipality_id, code=spec["code"], name=spec["name"], map_id=spec["map_id"],
                     map_width_m=spec["w"], map_height_m=spec["h"], offline_after_s=30, battery_floor_pct=25,
                     low_battery_pct=15)
    site.places = [RobotPlace(municipality_id=municipality_id, name=n, kind=k, x=x, y=y)
                   for n, k, x, y in spec["places"]]
    session.add(site)
    session.flush()
    return site


def load_demo(session: Session) -> None:
    """Two sites, seven robots of KT and LG전자, a week of opening hours of history (Core bulk inserts)."""
    rng = random.Random(4300)
    municipality = platform_service.get_municipality(session, code=CHUNGBUK)
    now = utcnow()
    today = now.astimezone(SEOUL).date()
    state_rows: list[dict[str, Any]] = []
    daily: dict[tuple[int, Any], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for spec in SITES:
        site = _make_site(session, municipality.id, spec)
        places = [(p.name, p.x, p.y) for p in site.places]
        dock = next(p for p in site.places if p.kind == "dock")
        robots = []
        for ext, name, vendor, model, rtype, caps in spec["robots"]:
            robot = Robot(municipality_id=municipality.id, site_id=site.id, external_id=ext, name=name,
                          vendor=vendor, model=model, type=rtype, capabilities=sorted(caps), status="offline",
                          online=False, errors=[], x=dock.x, y=dock.y, theta=0.0, map_id=site.map_id,
                          battery_pct=100.0, charging=True)
            session.add(robot)
            robots.append(robot)
        session.flush()
        for robot in robots:
            _history(rng, robot, site, places, today, state_rows, daily)
        _task_history(session, rng, site, robots, places, today)
    for i in range(0, len(state_rows), 5000):
        insert_rows(session, RobotState.__table__, state_rows[i:i + 5000])
    insert_rows(session, RobotDaily.__table__, [
        {"robot_id": rid, "day_date": day, "municipality_id": municipality.id, **values}
        for (rid, day), values in daily.items()])


def _history(rng: random.Random, robot: Robot, site: RobotSite, places: list[tuple[str, float, float]],
             today, rows: list[dict[str, Any]], daily) -> None:
    """Opening hours (09-18 Seoul) of the past week: the robot wanders between places, its battery
    drains while it works and it charges at the dock; now and then an error."""
    battery = 100.0
    x, y = robot.x or 0.0, robot.y or 0.0
    last = None
    charging = False
    for back in range(HISTORY_DAYS, 0, -1):
        day = today - timedelta(days=back)
        start = datetime.combine(day, time(9), tzinfo=SEOUL)
        target = rng.choice(places)
        charging = False
        for step in range(0, 9 * 3600, STEP_S):
            at = start + timedelta(seconds=step)
            errors: list[dict[str, str]] = []
            if charging:
                battery = min(100.0, battery + 4.0)
                charging = battery < 95
                status = "charging"
            else:
                dx, dy = target[1] - x, target[2] - y
                dist = math.hypot(dx, dy)
                move = min(dist, site.map_width_m / 20)
                if dist > 0.1:
                    x, y = x + dx / dist * move, y + dy / dist * move
                    status = "working"
                else:
                    target = rng.choice(places)
                    status = "idle"
                battery = max(0.0, battery - rng.uniform(0.4, 1.0))
                if battery < 30:
                    charging = True
                if rng.random() < 0.004:
                    errors = [{"type": "obstacle", "level": "warning", "description": "경로에 장애물"}]
                if rng.random() < 0.0015:
                    errors = [{"type": "wheel_motor", "level": "fatal", "description": "바퀴 모터 과열"}]
                    status = "error"
            rows.append({"municipality_id": robot.municipality_id, "robot_id": robot.id, "reported_at": at,
                         "received_at": at, "operating_mode": "automatic", "x": round(x, 2), "y": round(y, 2),
                         "theta": 0.0, "map_id": site.map_id, "battery_pct": round(battery, 1),
                         "charging": charging, "errors": errors, "task_id": None, "task_progress": None})
            acc = daily[(robot.id, day)]
            acc["online_s"] += STEP_S
            acc["working_s"] += STEP_S if status == "working" else 0
            acc["charging_s"] += STEP_S if status == "charging" else 0
            acc["error_s"] += STEP_S if status == "error" else 0
            acc["reports"] += 1
            acc["error_reports"] += 1 if errors else 0
            last = at
    robot.x, robot.y, robot.battery_pct, robot.charging = round(x, 2), round(y, 2), round(battery, 1), charging
    robot.last_seen_at = last
    robot.operating_mode = "automatic"


def _task_history(session: Session, rng: random.Random, site: RobotSite, robots: list[Robot],
                  places: list[tuple[str, float, float]], today) -> None:
    alerts = []
    for back in range(HISTORY_DAYS, 0, -1):
        day = today - timedelta(days=back)
        for _n in range(rng.randint(12, 20)):
            robot = rng.choice(robots)
            kind = robot.type
            stops = rng.sample(places, 3 if kind == "patrol" else 2)
            created = datetime.combine(day, time(9), tzinfo=SEOUL) + timedelta(minutes=rng.randint(0, 500))
            failed = rng.random() < 0.06
            task = RobotTask(municipality_id=site.municipality_id, site_id=site.id, kind=kind,
                             status="failed" if failed else "completed", priority=rng.choice((3, 5, 5, 7)),
                             waypoints=[{"name": n, "x": x, "y": y} for n, x, y in stops], note="",
                             assigned_robot_id=robot.id, progress=60.0 if failed else 100.0, attempts=1,
                             failure_reason="경로 막힘" if failed else "", created_by="demo",
                             created_at=created, assigned_at=created + timedelta(seconds=rng.randint(2, 40)),
                             started_at=created + timedelta(minutes=1),
                             finished_at=created + timedelta(minutes=rng.randint(4, 25)))
            session.add(task)
            if failed:
                session.flush()
                alerts.append(RobotAlert(municipality_id=site.municipality_id, site_id=site.id, robot_id=robot.id,
                                         task_id=task.id, kind="task_failed", message=f"#{task.id}: 경로 막힘",
                                         raised_at=task.finished_at, acknowledged_at=task.finished_at
                                         + timedelta(minutes=3), acknowledged_by="user:chungbuk.staff"))
    low = robots[-1]  # its battery ran low and it has not reached the dock yet: the alert says what it shows
    low.battery_pct, low.charging = 12.0, False
    alerts.append(RobotAlert(municipality_id=site.municipality_id, site_id=site.id, robot_id=low.id,
                             kind="low_battery", message=f"{low.battery_pct:.0f}%",
                             raised_at=low.last_seen_at or utcnow() - timedelta(hours=2)))
    session.add_all(alerts)
    session.flush()


def sample_data(session: Session, municipality_id: int) -> None:
    """A site, a robot never heard from, a stored report, a queued task, a command, an alert, a rollup."""
    site = _make_site(session, municipality_id, {
        "code": "sample-site", "name": "표본 로봇 현장", "map_id": "sample-map", "w": 30.0, "h": 20.0,
        "places": [("표본 안내 데스크", "desk", 5.0, 5.0), ("표본 충전 도크", "dock", 25.0, 15.0)]})
    robot = Robot(municipality_id=municipality_id, site_id=site.id, external_id="SAMPLE-ROBOT-01",
                  name="표본 안내로봇", vendor="표본 제조사", model="SAMPLE-1", type="guide",
                  capabilities=["dock", "guide"], status="offline", online=False, errors=[])
    session.add(robot)
    session.flush()
    at = utcnow() - timedelta(days=1)
    insert_rows(session, RobotState.__table__, [{
        "municipality_id": municipality_id, "robot_id": robot.id, "reported_at": at, "received_at": at,
        "operating_mode": "automatic", "x": 5.0, "y": 5.0, "theta": 0.0, "map_id": "sample-map",
        "battery_pct": 80.0, "charging": False, "errors": [], "task_id": None, "task_progress": None}])
    task = RobotTask(municipality_id=municipality_id, site_id=site.id, client_task_id="sample-task-0001",
                     kind="guide", status="queued", priority=5,
                     waypoints=[{"name": "표본 안내 데스크", "x": 5.0, "y": 5.0}], note="표본 안내 요청",
                     progress=0.0, attempts=0, failure_reason="", created_by="sample")
    session.add(task)
    session.add(RobotCommand(municipality_id=municipality_id, robot_id=robot.id, kind="pause", status="pending",
                             note="표본 일시정지", created_by="sample"))
    session.add(RobotAlert(municipality_id=municipality_id, site_id=site.id, robot_id=robot.id, kind="offline",
                           message="> 30 s"))
    insert_rows(session, RobotDaily.__table__, [{
        "robot_id": robot.id, "day_date": at.astimezone(SEOUL).date(), "municipality_id": municipality_id,
        "online_s": 3600.0, "working_s": 1800.0, "charging_s": 600.0, "error_s": 0.0, "reports": 3600,
        "error_reports": 0}])
    session.flush()
