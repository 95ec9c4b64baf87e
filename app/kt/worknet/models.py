"""Tables of the 5G work network: routers, fixed-IP pools and leases, policies, the access log, alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, TenantScoped, utcnow

ROUTER_STATUSES = ("in_stock", "assigned", "lost", "retired")
ALERT_KINDS = ("off_hours", "wrong_router", "unknown_router", "inactive_router", "failure_burst", "ip_mismatch")
EVENT_KINDS = ("auth", "start", "interim", "stop")
ALERT_STATUSES = ("open", "acknowledged", "resolved")
RESULTS = ("success", "failure")

_ACTIVE = text("released_at IS NULL")


class Router(TenantScoped, Base):
    """A 5G router ("5G egg") lent to a civil servant; its USIM's ICCID is sealed, never stored in clear."""

    __tablename__ = "worknet_router"
    __audit_exclude__ = ("iccid_sealed", "iccid_digest")

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(60))
    imei: Mapped[str] = mapped_column(String(15))
    iccid_sealed: Mapped[str] = mapped_column(String(200))
    iccid_digest: Mapped[str] = mapped_column(String(64))
    iccid_masked: Mapped[str] = mapped_column(String(24))
    # The SIM as the operator's RADIUS names it (User-Name = IMSI, Calling-Station-Id = MSISDN in
    # international digits): the keys of the users file and of accounting records (docs/modules/kt.worknet.md).
    imsi: Mapped[str | None] = mapped_column(String(15))
    msisdn: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="in_stock", index=True)
    department: Mapped[str] = mapped_column(String(100), default="")
    assignee_username: Mapped[str | None] = mapped_column(String(64), index=True)
    assignee_name: Mapped[str] = mapped_column(String(100), default="")
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("municipality_id", "serial"),
        UniqueConstraint("municipality_id", "imei"),
        UniqueConstraint("municipality_id", "iccid_digest"),
        UniqueConstraint("municipality_id", "imsi"),
        UniqueConstraint("municipality_id", "msisdn"),
        CheckConstraint("status IN ('in_stock', 'assigned', 'lost', 'retired')", name="status"),
        CheckConstraint("status <> 'assigned' OR assignee_username IS NOT NULL", name="assigned_has_user"),
    )


class RouterEvent(TenantScoped, Base):
    """One line of a router's history: registered, assigned, returned, lost, found, retired, IP given/taken."""

    __tablename__ = "worknet_router_event"
    __audit__ = False  # the history itself; the router's row changes are audited

    id: Mapped[int] = mapped_column(primary_key=True)
    router_id: Mapped[int] = mapped_column(ForeignKey("worknet_router.id", ondelete="CASCADE"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(30))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    actor: Mapped[str] = mapped_column(String(120), default="")


class Pool(TenantScoped, Base):
    """A block of fixed IPv4 addresses for a municipality or one of its departments."""

    __tablename__ = "worknet_pool"
    __audit_exclude__ = ("next_ip_int",)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    cidr: Mapped[str] = mapped_column(String(18))
    department: Mapped[str] = mapped_column(String(100), default="")
    # Usable host range (network, broadcast and the reserved gateway addresses excluded), as integers.
    first_ip_int: Mapped[int] = mapped_column(BigInteger)
    last_ip_int: Mapped[int] = mapped_column(BigInteger)
    # Next-fit cursor: allocation starts here, so a released address is the last to be reused.
    next_ip_int: Mapped[int] = mapped_column(BigInteger)
    quarantine_hours: Mapped[int] = mapped_column(Integer, default=72)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("municipality_id", "name"),
        CheckConstraint("first_ip_int <= last_ip_int", name="range"),
        CheckConstraint("quarantine_hours >= 0", name="quarantine_nonnegative"),
    )

    @property
    def size(self) -> int:
        return self.last_ip_int - self.first_ip_int + 1


class Lease(TenantScoped, Base):
    """A fixed IP bound to one router. Active while ``released_at`` is empty; then quarantined."""

    __tablename__ = "worknet_lease"

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("worknet_pool.id", ondelete="RESTRICT"))
    router_id: Mapped[int] = mapped_column(ForeignKey("worknet_router.id", ondelete="RESTRICT"), index=True)
    ip: Mapped[str] = mapped_column(String(15))
    ip_int: Mapped[int] = mapped_column(BigInteger)
    allocated_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column()
    reusable_at: Mapped[datetime | None] = mapped_column()
    release_reason: Mapped[str] = mapped_column(String(200), default="")

    pool: Mapped[Pool] = relationship(lazy="joined")
    router: Mapped[Router] = relationship(lazy="joined")

    __table_args__ = (
        Index("ix_worknet_lease_pool_ip", "pool_id", "ip_int"),
        # The database itself refuses an address given twice, and a second active lease for a router.
        Index("uq_worknet_lease_active_ip", "municipality_id", "ip_int", unique=True,
              sqlite_where=_ACTIVE, postgresql_where=_ACTIVE),
        Index("uq_worknet_lease_active_router", "router_id", unique=True,
              sqlite_where=_ACTIVE, postgresql_where=_ACTIVE),
    )


class Policy(TenantScoped, Base):
    """The security policy of a department ("" = the municipality's default for every other department)."""

    __tablename__ = "worknet_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    department: Mapped[str] = mapped_column(String(100), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    weekdays: Mapped[list[int]] = mapped_column(JSON, default=list)  # 0 = Monday, Asia/Seoul
    start_minute: Mapped[int] = mapped_column(Integer, default=0)
    end_minute: Mapped[int] = mapped_column(Integer, default=1440)
    bind_routers: Mapped[bool] = mapped_column(Boolean, default=True)
    # Routers a user may use besides the ones assigned to them: {"username": ["SERIAL", ...]}.
    user_routers: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)
    failure_threshold: Mapped[int] = mapped_column(Integer, default=5)
    failure_window_minutes: Mapped[int] = mapped_column(Integer, default=10)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("municipality_id", "department"),
        CheckConstraint("start_minute >= 0 AND end_minute <= 1440 AND start_minute < end_minute", name="hours"),
        CheckConstraint("failure_threshold >= 2", name="threshold"),
    )


class PolicyVersion(TenantScoped, Base):
    """Every saved version of a policy, immutable: access events name the version that judged them."""

    __tablename__ = "worknet_policy_version"
    __audit__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("worknet_policy.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(120), default="")

    __table_args__ = (UniqueConstraint("policy_id", "version"),)


class AccessEvent(TenantScoped, Base):
    """One authentication on the network side; idempotent by the integrator's ``client_id``."""

    __tablename__ = "worknet_access_event"
    __audit__ = False  # machine data: each batch is audited once

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    router_serial: Mapped[str | None] = mapped_column(String(40))
    router_id: Mapped[int | None] = mapped_column(ForeignKey("worknet_router.id", ondelete="SET NULL"), index=True)
    ip: Mapped[str | None] = mapped_column(String(15))
    result: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(10), default="auth", server_default="auth")
    session_id: Mapped[str | None] = mapped_column(String(64))
    department: Mapped[str] = mapped_column(String(100), default="")
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("worknet_policy.id", ondelete="SET NULL"))
    policy_version: Mapped[int | None] = mapped_column(Integer)
    flags: Mapped[str] = mapped_column(String(100), default="")  # comma-separated alert kinds
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("municipality_id", "client_id"),
        CheckConstraint("result IN ('success', 'failure')", name="result"),
        CheckConstraint("kind IN ('auth', 'start', 'interim', 'stop')", name="kind"),
    )


class Alert(TenantScoped, Base):
    """A policy breach found in the access log, worked by staff: open -> acknowledged -> resolved."""

    __tablename__ = "worknet_alert"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    username: Mapped[str] = mapped_column(String(64))
    router_serial: Mapped[str | None] = mapped_column(String(40))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("worknet_access_event.id", ondelete="SET NULL"))
    department: Mapped[str] = mapped_column(String(100), default="")
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    note: Mapped[str] = mapped_column(String(500), default="")
    handled_by: Mapped[str] = mapped_column(String(120), default="")
    handled_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint("kind IN ('off_hours', 'wrong_router', 'unknown_router', 'inactive_router', "
                        "'failure_burst', 'ip_mismatch')", name="kind"),
        CheckConstraint("status IN ('open', 'acknowledged', 'resolved')", name="status"),
    )


class RadiusFeed(TenantScoped, Base):
    """How far the worker has read one FreeRADIUS ``detail`` file (``DXHUB_WORKNET_RADIUS_DETAIL``)."""

    __tablename__ = "worknet_radius_feed"
    __audit__ = False  # a read cursor; each ingested batch is audited

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(500))
    position: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes read
    records: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("municipality_id", "path"),)
