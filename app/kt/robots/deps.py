""""Get or 404" lookups of the robot platform; each resolves the caller first, so the lookup is scoped."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.core.deps import SessionDep
from app.core.schemas import Id
from app.kt.robots import service
from app.kt.robots.models import Robot, RobotAlert, RobotCommand, RobotSite, RobotTask
from app.platform.auth import OptionalPrincipal


def site_or_404(site_id: Id, db: SessionDep, _: OptionalPrincipal) -> RobotSite:
    return service.get_site(db, site_id=site_id)


def robot_or_404(robot_id: Id, db: SessionDep, _: OptionalPrincipal) -> Robot:
    return service.get_robot(db, robot_id=robot_id)


def task_or_404(task_id: Id, db: SessionDep, _: OptionalPrincipal) -> RobotTask:
    return service.get_task(db, task_id=task_id)


def alert_or_404(alert_id: Id, db: SessionDep, _: OptionalPrincipal) -> RobotAlert:
    return service.get_alert(db, alert_id=alert_id)


SiteDep = Annotated[RobotSite, Depends(site_or_404)]
RobotDep = Annotated[Robot, Depends(robot_or_404)]
TaskDep = Annotated[RobotTask, Depends(task_or_404)]
AlertDep = Annotated[RobotAlert, Depends(alert_or_404)]


def command_or_404(command_id: Id, robot: RobotDep, db: SessionDep) -> RobotCommand:
    return service.get_command(db, robot=robot, command_id=command_id)


CommandDep = Annotated[RobotCommand, Depends(command_or_404)]
