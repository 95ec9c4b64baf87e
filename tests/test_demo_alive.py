"""The demo stays alive: with the demo data (and only then, unless told otherwise) the worker's demo duties
keep the robots and cameras online and bring calls; the demo's alerts agree with what they describe."""

from __future__ import annotations

import random

from sqlalchemy import func, select

from app.core.config import Settings
from app.core.db import utcnow
from app.core.jobs import demo_simulation_on, set_mark
from app.core.manifest import installed
from app.core.tenancy import SYSTEM, bind_principal
from app.core.worker import run_duty_now
from app.platform import demo


def _load(database, *, mark: bool) -> None:
    with database.unit_of_work(principal=SYSTEM) as s:
        bind_principal(s, SYSTEM)
        demo.load_platform(s)
        for key in ("kt.robots", "kt.cctv", "kt.voicebot"):
            installed()[key].load_demo(s)
        if mark:
            set_mark(s, "demo_data")


def test_the_simulation_is_on_for_the_demo_data_only(database, settings):
    with database.unit_of_work(principal=SYSTEM) as s:
        assert not demo_simulation_on(s, settings)
        assert demo_simulation_on(s, settings.model_copy(update={"demo_simulate": True}))
        set_mark(s, "demo_data")
    with database.unit_of_work(principal=SYSTEM) as s:
        assert demo_simulation_on(s, settings)
        assert not demo_simulation_on(s, Settings(**{**settings.model_dump(), "demo_simulate": False}))


def test_the_worker_keeps_the_demo_robots_cameras_and_calls_alive(database, job_queue):
    from app.kt.cctv.models import CctvCamera
    from app.kt.robots.models import Robot, RobotAlert
    from app.kt.voicebot import demo_live as calls
    from app.kt.voicebot.models import VoicebotCall

    _load(database, mark=True)
    with database.unit_of_work(principal=SYSTEM) as s:
        for alert in s.scalars(select(RobotAlert).where(RobotAlert.kind == "low_battery")):
            robot = s.get(Robot, alert.robot_id)
            assert alert.message == f"{robot.battery_pct:.0f}%" and not robot.charging  # the alert agrees
        assert s.scalar(select(func.count()).select_from(Robot).where(Robot.online.is_(True))) == 0

    assert run_duty_now(job_queue, "kt.robots.demo_simulate")
    assert run_duty_now(job_queue, "kt.cctv.demo_simulate")
    assert run_duty_now(job_queue, "kt.robots.sweep_offline")
    with database.unit_of_work(principal=SYSTEM) as s:
        robots = s.scalars(select(Robot)).all()
        assert robots and all(r.online for r in robots)
        cameras = s.scalars(select(CctvCamera)).all()
        assert cameras and all(c.last_heartbeat_at >= utcnow().replace(microsecond=0) - _seconds(60)
                               for c in cameras)

    rng = random.Random(7)
    for _ in range(8):
        with database.unit_of_work(principal=SYSTEM) as s:
            bind_principal(s, SYSTEM)
            calls.step(s, rng=rng)
    with database.unit_of_work(principal=SYSTEM) as s:
        simulated = s.scalars(select(VoicebotCall).where(VoicebotCall.client_call_id.like("sim-%"))).all()
        assert len(simulated) >= 3
        assert any(c.status != "active" for c in simulated)  # callers finish or hang up
        assert all(c.turn_count <= calls.MAX_CALLER_TURNS for c in simulated)


def _seconds(n: int):
    from datetime import timedelta

    return timedelta(seconds=n)
