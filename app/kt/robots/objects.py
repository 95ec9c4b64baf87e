"""How the robot fleet's objects read in histories (declared in the manifest)."""

from __future__ import annotations

from app.core.i18n import gettext as _
from app.core.manifest import ObjectKind
from app.kt.robots.models import Robot, RobotAlert, RobotCommand, RobotPlace, RobotSite, RobotTask
from app.kt.robots.web import ALERT_LABELS, COMMAND_LABELS, KIND_LABELS, ROBOT_STATUS_LABELS, TASK_STATUS_LABELS

OBJECTS = (
    ObjectKind("kt_robot_site", "Robot site", RobotSite, "name", fields={"name": "Name", "code": "Code"}),
    ObjectKind("kt_robot_place", "Robot place", RobotPlace, "name", fields={"name": "Name"}),
    ObjectKind("kt_robot", "Robot", Robot, "name", fields={"name": "Name", "status": "Status"},
               values={"status": ROBOT_STATUS_LABELS}),
    ObjectKind("kt_robot_task", "Robot task", RobotTask, lambda t: _(KIND_LABELS.get(t.kind, t.kind)),
               fields={"kind": "Kind", "status": "Status", "priority": "Priority", "robot_id": "Robot"},
               values={"kind": KIND_LABELS, "status": TASK_STATUS_LABELS}),
    ObjectKind("kt_robot_command", "Robot command", RobotCommand,
               lambda c: _(COMMAND_LABELS.get(c.kind, c.kind)),
               fields={"status": "Status"}),
    ObjectKind("kt_robot_alert", "Robot alert", RobotAlert, lambda a: _(ALERT_LABELS.get(a.kind, a.kind)),
               fields={"acknowledged_at": "Acknowledged at", "acknowledged_by": "Acknowledged by",
                       "cleared_at": "Cleared at"}),
    ObjectKind("kt_robot_state", "Robot states", actions={"ingest": "States received"}),
)
