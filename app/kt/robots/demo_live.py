"""The demo's robots at work (a worker duty while ``DXHUB_DEMO_SIMULATE`` is on): every round each robot
of the demo sites reports a state through the same service the REST API feeds, so the fleet is online,
moves between the places of its site, drains its battery and goes back to its dock to charge."""

from __future__ import annotations

import math
import random
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.kt.robots import service
from app.kt.robots.demo import SITES
from app.kt.robots.models import Robot, RobotPlace, RobotSite
from app.kt.robots.schemas import Battery, Position, StateIn

DRAIN_PCT = 0.15  # per round while working
CHARGE_PCT = 2.0  # per round at the dock
GO_CHARGE_PCT = 20.0
STEP_M_PER_S = 0.8


def _target(robot: Robot, places: list[RobotPlace], now: datetime) -> RobotPlace:
    """The place the robot heads for: a new one every two minutes, the same in every worker."""
    rng = random.Random(f"{robot.id}:{int(now.timestamp() // 120)}")
    return rng.choice(places)


def next_state(robot: Robot, places: list[RobotPlace], dock: RobotPlace, *, map_id: str, now: datetime,
               dt_s: float) -> StateIn:
    battery, charging = robot.battery_pct or 0.0, bool(robot.charging)
    if charging and battery >= 95:
        charging = False
    if not charging and battery < GO_CHARGE_PCT:
        charging = True
    goal = dock if charging else _target(robot, places, now)
    x, y = robot.x or dock.x, robot.y or dock.y
    dx, dy = goal.x - x, goal.y - y
    distance = math.hypot(dx, dy)
    step = min(distance, STEP_M_PER_S * dt_s)
    if distance > 0:
        x, y = x + dx / distance * step, y + dy / distance * step
    at_dock = math.hypot(dock.x - x, dock.y - y) < 0.5
    battery = min(100.0, battery + CHARGE_PCT) if charging and at_dock else max(0.0, battery - DRAIN_PCT)
    theta = math.atan2(dy, dx) if distance > 0 else (robot.theta or 0.0)
    return StateIn(time=now, position=Position(x=round(x, 2), y=round(y, 2), theta=round(theta, 3),
                                               map_id=map_id),
                   battery=Battery(charge_pct=round(battery, 1), charging=charging and at_dock))


def step(db: Session, *, dt_s: float = 5.0, now: datetime | None = None) -> int:
    """One round: a state for every robot of the demo sites; returns how many reported."""
    now = now or utcnow()
    sites = db.scalars(select(RobotSite).where(RobotSite.code.in_([s["code"] for s in SITES]))).all()
    items = []
    for site in sites:
        places = list(site.places)
        dock = next((p for p in places if p.kind == "dock"), None)
        if dock is None:
            continue
        for robot in db.scalars(select(Robot).where(Robot.site_id == site.id).order_by(Robot.id)):
            items.append((robot.id, None, next_state(robot, places, dock, map_id=site.map_id, now=now,
                                                                dt_s=dt_s)))
    if items:
        service.ingest_states(db, items=items, now=now)
    return len(items)
