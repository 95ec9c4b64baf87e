"""Robots that speak VDA 5050: the vehicles heard on the interface, what their messages change, and the
orders and instant actions the platform sends them.

Every message feeds the same service functions as the REST API (``service.ingest_states``,
``service.take_offline``); this file only translates. A vehicle nobody registered is kept and listed
for platform admins (never ignored, never given a site on its own); registering a robot with the
vehicle's manufacturer as vendor and its serial number as external id links the two.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.core.bulk import insert_rows
from app.core.config import Settings, get_settings
from app.core.db import utcnow
from app.core.errors import InvalidInput, NotFound
from app.core.mqtt import publish_after_commit
from app.kt.robots import service, vda5050
from app.kt.robots.config import get_robots_settings
from app.kt.robots.models import Robot, RobotTask, RobotVdaVehicle
from app.kt.robots.schemas import StateIn, TaskReport

VehicleKey = tuple[str, str]  # (manufacturer, serialNumber)


def settings_of(db: Session) -> Settings:
    """The settings of the process the session works for (a request's app, the bridge's worker)."""
    return db.info.get("settings") or get_settings()


# --- the vehicles heard --------------------------------------------------------------------------

def seen(db: Session, *, manufacturer: str, serial_number: str, now: datetime) -> RobotVdaVehicle:
    """The vehicle's row, created on its first message, linked to its robot once one is registered.

    Its bookkeeping (:func:`heard`) is written last in the transaction: a dispatch elsewhere locks the
    site and the robots before it numbers a message on this row, so the bridge takes them in that order
    too (PostgreSQL would otherwise find the two transactions waiting on each other)."""
    known = select(RobotVdaVehicle).where(RobotVdaVehicle.manufacturer == manufacturer,
                                          RobotVdaVehicle.serial_number == serial_number)
    vehicle = db.scalars(known).first()
    if vehicle is None:  # its first message (two workers may race here: the unique key keeps one row)
        insert_rows(db, RobotVdaVehicle.__table__, [{
            "manufacturer": manufacturer, "serial_number": serial_number, "first_seen_at": now,
            "last_seen_at": now, "order_header_id": 0, "instant_actions_header_id": 0, "messages": 0}],
            conflict=["manufacturer", "serial_number"])
        vehicle = db.scalars(known).one()
    if vehicle.robot_id is None:
        robot_id = _registered_robot(db, manufacturer=manufacturer, serial_number=serial_number)
        if robot_id is not None:
            vehicle.robot_id = robot_id
    return vehicle


def heard(db: Session, *, vehicle: RobotVdaVehicle, now: datetime, protocol_version: str | None = None,
          connection_state: str | None = None) -> None:
    """Note the message on the vehicle's row (the transaction's last write, see :func:`seen`)."""
    db.execute(update(RobotVdaVehicle).where(RobotVdaVehicle.id == vehicle.id).values(
        last_seen_at=now, messages=RobotVdaVehicle.messages + 1,
        protocol_version=(protocol_version or vehicle.protocol_version or "")[:20] or None,
        connection_state=connection_state or vehicle.connection_state))


def _registered_robot(db: Session, *, manufacturer: str, serial_number: str) -> int | None:
    """The robot registered for this vehicle (vendor and external id), if exactly one is."""
    ids = list(db.scalars(select(Robot.id).where(Robot.vendor == manufacturer, Robot.external_id == serial_number)))
    return ids[0] if len(ids) == 1 else None


def link_robot(db: Session, *, robot: Robot) -> None:
    """Called when a robot is registered: a vehicle already heard with its vendor and external id is its,
    and is asked for its factsheet (its capabilities)."""
    vehicle = db.scalars(select(RobotVdaVehicle).where(RobotVdaVehicle.manufacturer == robot.vendor,
                                                       RobotVdaVehicle.serial_number == robot.external_id,
                                                       RobotVdaVehicle.robot_id.is_(None))).first()
    if vehicle is None:
        return
    vehicle.robot_id = robot.id
    db.flush()
    if not vehicle.factsheet:
        request_factsheet(db, vehicle=vehicle)


def request_factsheet(db: Session, *, vehicle: RobotVdaVehicle, now: datetime | None = None) -> None:
    send_instant_actions(db, vehicle=vehicle, action_types=["factsheetRequest"],
                         prefix=f"dxhub-factsheet-{vehicle.instant_actions_header_id + 1}", now=now)


def list_unregistered(db: Session) -> list[RobotVdaVehicle]:
    return list(db.scalars(select(RobotVdaVehicle).where(RobotVdaVehicle.robot_id.is_(None))
                           .order_by(RobotVdaVehicle.last_seen_at.desc())))


def get_vehicle(db: Session, *, vehicle_id: int) -> RobotVdaVehicle:
    vehicle = db.get(RobotVdaVehicle, vehicle_id)
    if vehicle is None:
        raise NotFound("Vehicle {id} not found", id=vehicle_id)
    return vehicle


def series_name(vehicle: RobotVdaVehicle) -> str | None:
    return ((vehicle.factsheet or {}).get("typeSpecification") or {}).get("seriesName")


def vehicle_out(vehicle: RobotVdaVehicle) -> dict[str, Any]:
    return {"id": vehicle.id, "manufacturer": vehicle.manufacturer, "serial_number": vehicle.serial_number,
            "robot_id": vehicle.robot_id, "connection_state": vehicle.connection_state,
            "protocol_version": vehicle.protocol_version, "series_name": series_name(vehicle),
            "messages": vehicle.messages, "first_seen_at": vehicle.first_seen_at,
            "last_seen_at": vehicle.last_seen_at}


def vehicle_of(db: Session, *, robot_id: int) -> RobotVdaVehicle | None:
    return db.scalars(select(RobotVdaVehicle).where(RobotVdaVehicle.robot_id == robot_id)).first()


def _robot(db: Session, vehicle: RobotVdaVehicle) -> Robot | None:
    return service.get_robot(db, robot_id=vehicle.robot_id) if vehicle.robot_id is not None else None


# --- what the vehicle says --------------------------------------------------------------------------

def on_connection(db: Session, *, vehicle: RobotVdaVehicle, message: dict[str, Any], now: datetime) -> None:
    """ONLINE is noted (the state that follows brings the robot back); OFFLINE and CONNECTIONBROKEN (the
    broker's last will) take the robot offline at once, with its alert, its task back in the queue."""
    robot = _robot(db, vehicle)
    if robot is None:
        return
    if message["connectionState"] == "ONLINE":
        if not vehicle.factsheet:
            request_factsheet(db, vehicle=vehicle, now=now)
        return
    if robot.online:  # the connection topic is retained: the last word is the current one
        reason = ("connection broken (VDA 5050 last will)" if message["connectionState"] == "CONNECTIONBROKEN"
                  else "vehicle went offline (VDA 5050 connection)")
        service.take_offline(db, site=robot.site, robots=[robot], now=now, reason=reason)


def on_factsheet(db: Session, *, vehicle: RobotVdaVehicle, message: dict[str, Any]) -> None:
    """Keep the factsheet and give the robot the capabilities it lists (its site's task kinds, dock)."""
    vehicle.factsheet = message
    robot = _robot(db, vehicle)
    if robot is None:
        return
    kinds = tuple(robot.site.task_kinds or ())
    capabilities = vda5050.capabilities_of(message, task_kinds=kinds)
    if capabilities and sorted(robot.capabilities or []) != capabilities:
        robot.capabilities = capabilities


def on_state(db: Session, *, vehicle: RobotVdaVehicle, message: dict[str, Any], now: datetime) -> dict[str, int]:
    """Feed the state into the REST API's ingestion: position, battery, errors, operating mode, the task's
    progress read from the order's nodes and actions, idle when nothing is left to do."""
    robot = _robot(db, vehicle)
    if robot is None:
        return {"accepted": 0, "duplicates": 0, "robots": 0}
    state = state_in(message, robot=robot, task_report=task_report(db, robot=robot, message=message))
    return service.ingest_states(db, items=[(robot.id, None, state)], now=now)


def state_in(message: dict[str, Any], *, robot: Robot, task_report: TaskReport | None) -> StateIn:
    """A VDA 5050 state as the ingestion's report (a state without ``agvPosition`` keeps the last one)."""
    position = message.get("agvPosition")
    if position is not None:
        where = {"x": position["x"], "y": position["y"], "theta": position["theta"], "map_id": position["mapId"]}
    elif robot.x is not None and robot.y is not None and robot.map_id:
        where = {"x": robot.x, "y": robot.y, "theta": robot.theta or 0.0, "map_id": robot.map_id}
    else:
        raise InvalidInput("The state has no agvPosition and the robot's position is not known yet")
    battery = message["batteryState"]
    return StateIn.model_validate({
        "time": vda5050.parse_time(message["timestamp"]), "operating_mode": message["operatingMode"].lower(),
        "position": where, "battery": {"charge_pct": min(max(battery["batteryCharge"], 0.0), 100.0),
                                       "charging": battery["charging"]},
        "errors": vda5050.errors_of(message), "task": task_report, "idle": vda5050.is_idle(message)})


def task_report(db: Session, *, robot: Robot, message: dict[str, Any]) -> TaskReport | None:
    """The progress of the robot's open task, read from how far the vehicle got with its order."""
    task = db.scalars(select(RobotTask).where(RobotTask.assigned_robot_id == robot.id,
                                              RobotTask.status.in_(("assigned", "underway")))).first()
    if task is None:
        return None
    progress = vda5050.order_progress(message, order_id=vda5050.order_id_of(task.id, task.attempts),
                                      nodes=len(task.waypoints) + 1, was_started=task.status == "underway")
    if progress is None:
        return None
    return TaskReport(task_id=task.id, status=progress.status, progress=progress.progress,
                      failure_reason=progress.failure_reason)


# --- what the platform sends ---------------------------------------------------------------------

def _next_header(db: Session, vehicle: RobotVdaVehicle, column: str, now: datetime) -> dict[str, Any]:
    """The next header of ``column``'s topic: headerId counts up per topic and vehicle, in the database,
    so every process numbers on from the last message sent."""
    counter = getattr(RobotVdaVehicle, column)
    header_id = db.execute(update(RobotVdaVehicle).where(RobotVdaVehicle.id == vehicle.id)
                           .values({column: counter + 1}).returning(counter)).scalar_one()
    db.expire(vehicle, [column])
    return vda5050.header(header_id=header_id, manufacturer=vehicle.manufacturer,
                          serial_number=vehicle.serial_number, now=now)


def _send(db: Session, vehicle: RobotVdaVehicle, subtopic: str, message: dict[str, Any]) -> None:
    settings = settings_of(db)
    topic = vda5050.topic_of(get_robots_settings().vda5050_interface, vehicle.manufacturer,
                             vehicle.serial_number, subtopic)
    publish_after_commit(db, settings, topic, message, qos=1)


def send_order(db: Session, *, robot: Robot, task: RobotTask, now: datetime | None = None) -> bool:
    """Send the task to a VDA 5050 robot as an order (after the commit); False for a robot that is not one."""
    vehicle = vehicle_of(db, robot_id=robot.id)
    if vehicle is None or not settings_of(db).mqtt_url:
        return False
    now = now or utcnow()
    head = _next_header(db, vehicle, "order_header_id", now)
    start = {"x": robot.x, "y": robot.y} if robot.x is not None and robot.y is not None else None
    message = vda5050.build_order(head=head, order_id=vda5050.order_id_of(task.id, task.attempts), kind=task.kind,
                                  waypoints=task.waypoints, map_id=robot.map_id or robot.site.map_id, start=start)
    _send(db, vehicle, "order", message)
    return True


def send_instant_actions(db: Session, *, vehicle: RobotVdaVehicle, action_types: list[str], prefix: str,
                         now: datetime | None = None) -> None:
    if not settings_of(db).mqtt_url:
        return
    now = now or utcnow()
    head = _next_header(db, vehicle, "instant_actions_header_id", now)
    _send(db, vehicle, "instantActions",
          vda5050.build_instant_actions(head=head, action_types=action_types, prefix=prefix))


def send_command(db: Session, *, robot: Robot, kind: str, command_id: int, now: datetime | None = None,
                 cancel_order: bool = False) -> bool:
    """An operator's command (pause, resume, dock, charge) as VDA 5050 instant actions; a command that
    took the robot's task back to the queue cancels its order first."""
    vehicle = vehicle_of(db, robot_id=robot.id)
    if vehicle is None:
        return False
    actions = vda5050.COMMAND_ACTIONS[kind]
    if cancel_order and "cancelOrder" not in actions:
        actions = ["cancelOrder", *actions]
    send_instant_actions(db, vehicle=vehicle, action_types=actions,
                         prefix=f"dxhub-command-{command_id}", now=now)
    return True


def cancel_order(db: Session, *, robot_id: int, task: RobotTask, now: datetime | None = None) -> bool:
    vehicle = vehicle_of(db, robot_id=robot_id)
    if vehicle is None:
        return False
    send_instant_actions(db, vehicle=vehicle, action_types=["cancelOrder"],
                         prefix=f"dxhub-cancel-{vda5050.order_id_of(task.id, task.attempts)}", now=now)
    return True
