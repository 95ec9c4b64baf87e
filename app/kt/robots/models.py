"""Tables of the robot platform: sites with named places, robots, their state reports, tasks, commands,
alerts and the daily rollups the statistics read."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, TenantScoped, utcnow

ROBOT_TYPES = ("guide", "patrol", "care")
# The task kinds a new site accepts; each site edits its own list (e.g. adds "delivery").
DEFAULT_TASK_KINDS = ROBOT_TYPES
ROBOT_STATUSES = ("idle", "working", "charging", "paused", "error", "offline")
TASK_STATUSES = ("queued", "assigned", "underway", "completed", "failed", "canceled")
OPEN_TASK_STATUSES = ("queued", "assigned", "underway")
COMMAND_KINDS = ("pause", "resume", "dock", "charge")
# Commands that take a robot off dispatch until it reports idle again.
HOLDING_COMMANDS = ("pause", "dock", "charge")
COMMAND_STATUSES = ("pending", "delivered", "acknowledged", "completed", "failed")
ALERT_KINDS = ("low_battery", "fatal_error", "offline", "task_failed")
ERROR_LEVELS = ("warning", "fatal")



class RobotSite(TenantScoped, Base):
    """A place robots work in, with a floor map measured in metres (origin at the top-left corner)."""

    __tablename__ = "kt_robot_site"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    map_id: Mapped[str] = mapped_column(String(60))
    map_width_m: Mapped[float] = mapped_column(Float)
    map_height_m: Mapped[float] = mapped_column(Float)
    offline_after_s: Mapped[int] = mapped_column(Integer, default=30)
    battery_floor_pct: Mapped[int] = mapped_column(Integer, default=25)
    low_battery_pct: Mapped[int] = mapped_column(Integer, default=15)
    # The task kinds this site accepts (admins edit them on the site form); see DEFAULT_TASK_KINDS.
    task_kinds: Mapped[list[str]] = mapped_column(JSON, default=lambda: list(DEFAULT_TASK_KINDS))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    places: Mapped[list[RobotPlace]] = relationship(back_populates="site", cascade="all, delete-orphan",
                                                    order_by="RobotPlace.name", lazy="selectin")

    __table_args__ = (
        UniqueConstraint("municipality_id", "code"),
        CheckConstraint("map_width_m > 0 AND map_height_m > 0", name="map_size"),
        CheckConstraint("offline_after_s > 0", name="offline_after"),
    )


class RobotPlace(TenantScoped, Base):
    """A named point of a site's map: a desk, a door, an exhibition, a dock."""

    __tablename__ = "kt_robot_place"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("kt_robot_site.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20), default="poi")
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)

    site: Mapped[RobotSite] = relationship(back_populates="places")

    __table_args__ = (UniqueConstraint("site_id", "name"),)


class Robot(TenantScoped, Base):
    """A robot of any vendor, with its last known state (kept current by the state reports)."""

    __tablename__ = "kt_robot"
    # The state columns change every second; the ingestion audits each batch instead.
    __audit_exclude__ = ("status", "operating_mode", "online", "last_seen_at", "x", "y", "theta", "map_id",
                         "battery_pct", "charging", "errors", "task_progress", "current_task_id")

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("kt_robot_site.id", ondelete="RESTRICT"), index=True)
    external_id: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(100))
    vendor: Mapped[str] = mapped_column(String(80))
    model: Mapped[str] = mapped_column(String(80))
    type: Mapped[str] = mapped_column(String(20))
    capabilities: Mapped[list[str]] = mapped_column(JSON, default=list)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # The operator's command that took the robot off dispatch (dock, pause, charge): it gets no task
    # until it reports idle again (and is not paused).
    hold: Mapped[str | None] = mapped_column(String(10))
    # Last known state
    status: Mapped[str] = mapped_column(String(20), default="offline", index=True)
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen_at: Mapped[datetime | None] = mapped_column()
    operating_mode: Mapped[str | None] = mapped_column(String(30))
    x: Mapped[float | None] = mapped_column(Float)
    y: Mapped[float | None] = mapped_column(Float)
    theta: Mapped[float | None] = mapped_column(Float)
    map_id: Mapped[str | None] = mapped_column(String(60))
    battery_pct: Mapped[float | None] = mapped_column(Float)
    charging: Mapped[bool] = mapped_column(Boolean, default=False)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    current_task_id: Mapped[int | None] = mapped_column(Integer)
    task_progress: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    site: Mapped[RobotSite] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("municipality_id", "external_id"),
        CheckConstraint("type IN ('guide', 'patrol', 'care')", name="type"),
    )


class RobotState(TenantScoped, Base):
    """One state report of a robot; a retried report (same robot, same time) is stored once."""

    __tablename__ = "kt_robot_state"
    __audit__ = False

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    robot_id: Mapped[int] = mapped_column(ForeignKey("kt_robot.id", ondelete="CASCADE"))
    reported_at: Mapped[datetime] = mapped_column()
    received_at: Mapped[datetime] = mapped_column()
    operating_mode: Mapped[str] = mapped_column(String(30))
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    theta: Mapped[float] = mapped_column(Float)
    map_id: Mapped[str] = mapped_column(String(60))
    battery_pct: Mapped[float] = mapped_column(Float)
    charging: Mapped[bool] = mapped_column(Boolean)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    task_id: Mapped[int | None] = mapped_column(Integer)
    task_progress: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (UniqueConstraint("robot_id", "reported_at"),)


class RobotTask(TenantScoped, Base):
    """Work for one robot of a site: guide a visitor, patrol a route, visit someone who needs care."""

    __tablename__ = "kt_robot_task"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("kt_robot_site.id", ondelete="RESTRICT"), index=True)
    client_task_id: Mapped[str | None] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    priority: Mapped[int] = mapped_column(Integer, default=5)
    # [{"name": "민원 안내 데스크", "x": 12.0, "y": 8.5}, ...]; the first is where the task starts.
    waypoints: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(String(500), default="")
    not_before_at: Mapped[datetime | None] = mapped_column()
    assigned_robot_id: Mapped[int | None] = mapped_column(ForeignKey("kt_robot.id", ondelete="SET NULL"),
                                                          index=True)
    pinned_robot_id: Mapped[int | None] = mapped_column(ForeignKey("kt_robot.id", ondelete="SET NULL"))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failure_reason: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_at: Mapped[datetime | None] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()

    site: Mapped[RobotSite] = relationship(lazy="joined")
    assigned_robot: Mapped[Robot | None] = relationship(foreign_keys=[assigned_robot_id], lazy="joined")

    __table_args__ = (
        UniqueConstraint("municipality_id", "client_task_id"),
        CheckConstraint("priority BETWEEN 1 AND 9", name="priority"),
        CheckConstraint("progress >= 0 AND progress <= 100", name="progress"),
    )


class RobotCommand(TenantScoped, Base):
    """An operator's instant action for one robot (pause, resume, send to dock), fetched with its orders."""

    __tablename__ = "kt_robot_command"

    id: Mapped[int] = mapped_column(primary_key=True)
    robot_id: Mapped[int] = mapped_column(ForeignKey("kt_robot.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()


class RobotAlert(TenantScoped, Base):
    """Something an operator should look at; one open alert per robot and kind."""

    __tablename__ = "kt_robot_alert"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("kt_robot_site.id", ondelete="CASCADE"), index=True)
    robot_id: Mapped[int] = mapped_column(ForeignKey("kt_robot.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(String(500))
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Cleared when the condition ends (battery charged, robot back online); open until acknowledged.
    cleared_at: Mapped[datetime | None] = mapped_column()
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    acknowledged_by: Mapped[str] = mapped_column(String(120), default="")

    robot: Mapped[Robot] = relationship(lazy="joined")


class RobotDaily(TenantScoped, Base):
    """Seconds per robot and day (Asia/Seoul) in each status, kept up to date by the ingestion."""

    __tablename__ = "kt_robot_daily"
    __audit__ = False

    robot_id: Mapped[int] = mapped_column(ForeignKey("kt_robot.id", ondelete="CASCADE"), primary_key=True)
    day_date: Mapped[date] = mapped_column(Date, primary_key=True)
    online_s: Mapped[float] = mapped_column(Float, default=0.0)
    working_s: Mapped[float] = mapped_column(Float, default=0.0)
    charging_s: Mapped[float] = mapped_column(Float, default=0.0)
    error_s: Mapped[float] = mapped_column(Float, default=0.0)
    reports: Mapped[int] = mapped_column(Integer, default=0)
    error_reports: Mapped[int] = mapped_column(Integer, default=0)



class RobotVdaVehicle(Base):
    """A vehicle heard on the VDA 5050 interface, by ``manufacturer`` and ``serialNumber``.

    Platform-level, not a tenant row: a vehicle nobody registered yet belongs to no municipality, so
    only platform admins list the unregistered ones and register each as a robot of a site (vendor =
    manufacturer, external id = serial number). Once registered, ``robot_id`` links it and its
    messages feed that robot. The header counters number what the platform sends it, per topic."""

    __tablename__ = "kt_robot_vda_vehicle"
    __audit__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    manufacturer: Mapped[str] = mapped_column(String(80))
    serial_number: Mapped[str] = mapped_column(String(80))
    robot_id: Mapped[int | None] = mapped_column(ForeignKey("kt_robot.id", ondelete="SET NULL"), index=True)
    connection_state: Mapped[str | None] = mapped_column(String(20))
    protocol_version: Mapped[str | None] = mapped_column(String(20))
    factsheet: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    order_header_id: Mapped[int] = mapped_column(Integer, default=0)
    instant_actions_header_id: Mapped[int] = mapped_column(Integer, default=0)
    messages: Mapped[int] = mapped_column(Integer, default=0)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("manufacturer", "serial_number"),)
