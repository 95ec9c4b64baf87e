"""The robots' offline sweep runs in the worker, with no screen open."""

from __future__ import annotations

import time_machine
from sqlalchemy import select

from app.core.db import utcnow
from app.core.manifest import duties
from app.core.tenancy import SYSTEM
from app.core.worker import run_duty_now
from app.platform.models import AuditLog
from tests.kt.robots.conftest import state


def test_a_silent_robot_is_marked_offline_and_alerted_by_the_worker(database, job_queue, fleet, client, auth):
    from app.kt.robots.models import Robot, RobotAlert

    h = auth("cw.staff")
    start = utcnow()
    with time_machine.travel(start, tick=False) as clock:
        rows = [dict(state(x=2.0, y=10.0), robot_id=fleet.guide_a)]
        assert client.post("/api/v1/kt/robots/states", json=rows, headers=h).status_code == 200
        with database.unit_of_work(principal=SYSTEM) as s:
            robot = s.get(Robot, fleet.guide_a)
            assert robot.online and robot.status != "offline"
            offline_after = robot.site.offline_after_s
        # nobody watches any screen: only the worker's clock runs
        clock.shift(offline_after - 1)
        assert run_duty_now(job_queue, "kt.robots.sweep_offline")
        assert _robot_online(database, fleet.guide_a)
        clock.shift(1 + duties()["kt.robots.sweep_offline"].period_s)  # offline_after_s + one sweep
        assert run_duty_now(job_queue, "kt.robots.sweep_offline")
    assert not _robot_online(database, fleet.guide_a)
    with database.unit_of_work(principal=SYSTEM) as s:
        alerts = s.scalars(select(RobotAlert).where(RobotAlert.robot_id == fleet.guide_a,
                                                    RobotAlert.kind == "offline")).all()
        assert len(alerts) == 1
        actors = set(s.scalars(select(AuditLog.actor).where(AuditLog.object_type == "kt_robot_alert",
                                                            AuditLog.object_id == str(alerts[0].id))))
        assert actors == {"system:worker:kt.robots.sweep_offline"}


def _robot_online(database, robot_id: int) -> bool:
    from app.kt.robots.models import Robot

    with database.unit_of_work(principal=SYSTEM) as s:
        return s.scalar(select(Robot.online).where(Robot.id == robot_id))


