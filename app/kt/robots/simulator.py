"""Virtual robots driven against the REST API, for demos and load tests (`dxhub robots simulate`).

Each tick every robot moves toward its next waypoint, drains or charges its battery, now and then
reports an error or fails its task, and the whole fleet's states go out in one batch. Orders come
from the task list of the site (one call per tick) and each robot's order endpoint (staggered).
"""

from __future__ import annotations

import math
import random
import time as systime
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from app.core.db import utcnow

PREFIX = "/api/v1/kt/robots"
TYPES = ("guide", "patrol", "care")


@dataclass
class VirtualRobot:
    id: int
    name: str
    x: float
    y: float
    battery: float
    capabilities: list[str]
    task_id: int | None = None
    route: list[dict[str, float]] = field(default_factory=list)
    leg: int = 0
    legs: int = 0
    charging: bool = False
    docking: bool = False
    paused: bool = False
    fatal_ticks: int = 0
    theta: float = 0.0


class Simulator:
    def __init__(self, client: httpx.Client, *, site_code: str, robots: int, seed: int = 7,
                 speed_m_s: float | None = None, failure_rate: float = 0.02, fatal_rate: float = 0.0005,
                 orders_every: int = 10) -> None:
        self.client = client
        self.rng = random.Random(seed)
        self.failure_rate = failure_rate
        self.fatal_rate = fatal_rate
        self.orders_every = orders_every
        self.tick_no = 0
        self.site = self._site(site_code)
        self.speed = speed_m_s or max(1.0, self.site["map_width_m"] / 60)
        self.dock = next((p for p in self.site["places"] if p["kind"] == "dock"), None)
        self.robots = self._fleet(robots)

    # --- setup -------------------------------------------------------------------------------

    def _get(self, path: str, **params: Any) -> Any:
        r = self.client.get(PREFIX + path, params=params)
        r.raise_for_status()
        return r.json()

    def _site(self, code: str) -> dict[str, Any]:
        offset = 0
        while True:
            page = self._get("/sites", limit=200, offset=offset)
            for site in page["items"]:
                if site["code"] == code:
                    return site
            offset += 200
            if offset >= page["total"]:
                raise LookupError(f"no site with code {code!r} is visible to this key")

    def _fleet(self, n: int) -> list[VirtualRobot]:
        existing: list[dict[str, Any]] = []
        offset = 0
        while len(existing) < n:
            page = self._get("", site_id=self.site["id"], limit=200, offset=offset)
            existing += page["items"]
            offset += 200
            if offset >= page["total"]:
                break
        existing = existing[:n]
        for i in range(len(existing), n):
            kind = TYPES[i % 3]
            r = self.client.post(PREFIX, json={
                "external_id": f"SIM-{self.site['code']}-{i + 1:04d}", "name": f"가상 로봇 {i + 1}",
                "vendor": "DX Hub 시뮬레이터", "model": "SIM-1", "type": kind, "site_id": self.site["id"],
                "capabilities": [kind, "dock"]})
            if r.status_code == 409:  # registered by an earlier run but on another page
                continue
            r.raise_for_status()
            existing.append(r.json())
        fleet = []
        for robot in existing:
            pos = robot.get("position") or {}
            start = self.dock or {"x": self.site["map_width_m"] / 2, "y": self.site["map_height_m"] / 2}
            battery = (robot.get("battery") or {}).get("charge_pct") or self.rng.uniform(60, 100)
            fleet.append(VirtualRobot(id=robot["id"], name=robot["name"], x=pos.get("x", start["x"]),
                                      y=pos.get("y", start["y"]), battery=float(battery),
                                      capabilities=robot["capabilities"]))
        return fleet

    # --- one tick ----------------------------------------------------------------------------

    def _sync_orders(self) -> None:
        assigned = self._get("/tasks", site_id=self.site["id"], status="assigned", limit=200)["items"]
        by_robot = {t["assigned_robot_id"]: t for t in assigned}
        for i, robot in enumerate(self.robots):
            task = by_robot.get(robot.id)
            if task is not None and task["id"] != robot.task_id:
                robot.task_id, robot.route, robot.leg = task["id"], task["waypoints"], 0
                robot.legs, robot.docking = len(task["waypoints"]), False
            if (self.tick_no + i) % self.orders_every == 0 or task is not None:
                self._commands(robot)

    def _commands(self, robot: VirtualRobot) -> None:
        orders = self._get(f"/{robot.id}/orders")
        ids = {o["order_id"] for o in orders["orders"]}
        if robot.task_id is not None and robot.task_id not in ids:
            robot.task_id, robot.route = None, []  # canceled or requeued by the platform
        for command in orders["commands"]:
            if command["kind"] == "pause":
                robot.paused = True
            elif command["kind"] == "resume":
                robot.paused = False
            elif command["kind"] in ("dock", "charge"):
                robot.task_id, robot.route, robot.docking = None, [], True
            self.client.post(f"{PREFIX}/{robot.id}/commands/{command['id']}/ack", json={"status": "completed"})

    def _move(self, robot: VirtualRobot, target: dict[str, float], dt: float) -> bool:
        dx, dy = target["x"] - robot.x, target["y"] - robot.y
        dist = math.hypot(dx, dy)
        step = self.speed * dt
        if dist <= step:
            robot.x, robot.y = target["x"], target["y"]
            return True
        robot.theta = math.atan2(dy, dx)
        robot.x, robot.y = robot.x + dx / dist * step, robot.y + dy / dist * step
        return False

    def _step(self, robot: VirtualRobot, dt: float) -> dict[str, Any]:
        errors: list[dict[str, str]] = []
        task_report = None
        if robot.fatal_ticks > 0:
            robot.fatal_ticks -= 1
            errors = [{"type": "drive_fault", "level": "fatal", "description": "구동부 이상 (모의)"}]
            robot.task_id, robot.route = None, []
        elif self.rng.random() < self.fatal_rate:
            robot.fatal_ticks = 10
        if robot.charging:
            robot.battery = min(100.0, robot.battery + 0.5 * dt)
            robot.charging = robot.battery < 95
        elif not errors and not robot.paused:
            if robot.task_id is not None and robot.route:
                if self._move(robot, robot.route[robot.leg], dt):
                    robot.leg += 1
                robot.battery = max(0.0, robot.battery - 0.05 * dt)
                progress = round(100.0 * robot.leg / max(robot.legs, 1), 1)
                if robot.leg >= robot.legs:
                    task_report = {"task_id": robot.task_id, "status": "completed", "progress": 100.0}
                    robot.task_id, robot.route = None, []
                elif self.rng.random() < self.failure_rate * dt / 30:
                    task_report = {"task_id": robot.task_id, "status": "failed", "progress": progress,
                                   "failure_reason": "경로가 막혀 있음 (모의)"}
                    robot.task_id, robot.route = None, []
                else:
                    task_report = {"task_id": robot.task_id, "status": "underway", "progress": progress}
            elif (robot.docking or robot.battery < 20) and self.dock is not None:
                robot.docking = True
                if self._move(robot, self.dock, dt):
                    robot.docking, robot.charging = False, True
                robot.battery = max(0.0, robot.battery - 0.05 * dt)
            else:
                robot.battery = max(0.0, robot.battery - 0.01 * dt)
        idle = (not errors and not robot.paused and not robot.charging and not robot.docking
                and robot.task_id is None)
        return {"errors": errors, "task": task_report, "idle": idle}

    def tick(self, now: datetime | None = None, dt: float = 1.0) -> dict[str, Any]:
        """Advance every robot by ``dt`` seconds and report the fleet's states in one batch."""
        now = now or utcnow()
        self._sync_orders()
        reports = []
        for robot in self.robots:
            extra = self._step(robot, dt)
            report: dict[str, Any] = {
                "robot_id": robot.id, "time": now.isoformat(), "operating_mode": "automatic",
                "position": {"x": round(robot.x, 2), "y": round(robot.y, 2), "theta": round(robot.theta, 3),
                             "map_id": self.site["map_id"]},
                "battery": {"charge_pct": round(robot.battery, 1), "charging": robot.charging},
                "errors": extra["errors"], "idle": extra["idle"]}
            if extra["task"] is not None:
                report["task"] = extra["task"]
            reports.append(report)
        result: dict[str, Any] = {"accepted": 0}
        for i in range(0, len(reports), 1000):
            r = self.client.post(PREFIX + "/states", json=reports[i:i + 1000])
            r.raise_for_status()
            result["accepted"] += r.json()["accepted"]
        self.tick_no += 1
        return result

    def run(self, *, duration_s: float, interval_s: float = 1.0, out=print) -> None:
        end = systime.monotonic() + duration_s
        while systime.monotonic() < end:
            started = systime.monotonic()
            result = self.tick(dt=interval_s)
            took = systime.monotonic() - started
            out(f"tick {self.tick_no}: {result['accepted']} states in {took * 1000:.0f} ms")
            systime.sleep(max(0.0, interval_s - took))

