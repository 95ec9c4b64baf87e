"""The shared domain: municipalities, partners, programs with KPIs and milestones, accounts, audit."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, TenantScoped, utcnow
from app.core.tenancy import TenantRoot

MUNICIPALITY_LEVELS = ("metropolitan", "basic")  # 광역 / 기초
PARTNER_KINDS = ("telecom", "public_agency", "data_company", "consultancy", "other")
PROGRAM_STATUSES = ("planned", "active", "completed", "suspended")


class Municipality(TenantRoot, Base):
    __tablename__ = "municipality"

    code: Mapped[str] = mapped_column(String(10), unique=True)  # 10-digit 법정동 code
    name_ko: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("municipality.id", ondelete="RESTRICT"),
                                                  index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    parent: Mapped[Municipality | None] = relationship(remote_side="Municipality.id", lazy="joined",
                                                       join_depth=1)

    __table_args__ = (CheckConstraint("level IN ('metropolitan', 'basic')", name="level"),)


class Partner(Base):
    __tablename__ = "partner"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_ko: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


program_partner = Table(
    "program_partner",
    Base.metadata,
    Column("program_id", ForeignKey("program.id", ondelete="CASCADE"), primary_key=True),
    Column("partner_id", ForeignKey("partner.id", ondelete="RESTRICT"), primary_key=True, index=True),
)


class Program(TenantScoped, Base):
    __tablename__ = "program"
    __audit_collections__ = ("partners",)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    module: Mapped[str | None] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(20), default="planned", index=True)
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    budget_krw: Mapped[int | None] = mapped_column(BigInteger)
    agreement_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    municipality: Mapped[Municipality] = relationship(lazy="joined")
    partners: Mapped[list[Partner]] = relationship(secondary=program_partner, lazy="selectin",
                                                   order_by=Partner.code)
    kpis: Mapped[list[Kpi]] = relationship(back_populates="program", cascade="all, delete-orphan",
                                           order_by="Kpi.id")
    milestones: Mapped[list[Milestone]] = relationship(back_populates="program", cascade="all, delete-orphan",
                                                       order_by="Milestone.due_date")

    __table_args__ = (
        UniqueConstraint("municipality_id", "title"),
        CheckConstraint("status IN ('planned', 'active', 'completed', 'suspended')", name="status"),
        CheckConstraint("budget_krw IS NULL OR budget_krw >= 0", name="budget_nonnegative"),
        CheckConstraint("end_date IS NULL OR start_date IS NULL OR end_date >= start_date", name="dates"),
    )


class MunicipalityModule(TenantScoped, Base):
    """A platform administrator's switch of one module for one municipality. Without a switch a module is
    on where the municipality has a program of it; a switch turns it on without one, or off despite one."""

    __tablename__ = "municipality_module"

    id: Mapped[int] = mapped_column(primary_key=True)
    module_key: Mapped[str] = mapped_column(String(40))
    enabled: Mapped[bool] = mapped_column(Boolean)
    switched_by: Mapped[str] = mapped_column(String(120))  # the actor's label, e.g. "user:admin"
    switched_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("municipality_id", "module_key"),)


class Kpi(TenantScoped, Base):
    __tablename__ = "kpi"

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("program.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(40), default="")
    baseline: Mapped[float] = mapped_column(Float, default=0.0)
    target: Mapped[float] = mapped_column(Float)
    # A module's metric source (app.core.manifest.MetricSource key): the value is then computed per
    # calendar month by the worker (kpi_reading); None: values are typed by hand (kpi_value).
    source_key: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    program: Mapped[Program] = relationship(back_populates="kpis")
    values: Mapped[list[KpiValue]] = relationship(back_populates="kpi", cascade="all, delete-orphan",
                                                  order_by="KpiValue.measured_date", lazy="selectin")
    readings: Mapped[list[KpiReading]] = relationship(back_populates="kpi", cascade="all, delete-orphan",
                                                      order_by="KpiReading.period_start", lazy="selectin")

    __table_args__ = (UniqueConstraint("program_id", "name"),)


class KpiValue(TenantScoped, Base):
    __tablename__ = "kpi_value"

    id: Mapped[int] = mapped_column(primary_key=True)
    kpi_id: Mapped[int] = mapped_column(ForeignKey("kpi.id", ondelete="CASCADE"), index=True)
    measured_date: Mapped[date] = mapped_column(Date)
    value: Mapped[float] = mapped_column(Float)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    kpi: Mapped[Kpi] = relationship(back_populates="values")

    __table_args__ = (UniqueConstraint("kpi_id", "measured_date"),)


class KpiReading(TenantScoped, Base):
    """A bound KPI's value for one period, as its metric source computed it (refreshed while the period
    runs; the last computation stays once it is over)."""

    __tablename__ = "kpi_reading"
    # Recomputed every hour: the refresh audits the values that changed (service.refresh_kpi), not each row.
    __audit__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    kpi_id: Mapped[int] = mapped_column(ForeignKey("kpi.id", ondelete="CASCADE"), index=True)
    source_key: Mapped[str] = mapped_column(String(80))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    value: Mapped[float | None] = mapped_column(Float)  # None: nothing to measure in the period
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)

    kpi: Mapped[Kpi] = relationship(back_populates="readings")

    __table_args__ = (UniqueConstraint("kpi_id", "source_key", "period_start"),
                      CheckConstraint("period_end >= period_start", name="period"))


class Milestone(TenantScoped, Base):
    __tablename__ = "milestone"

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("program.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    due_date: Mapped[date] = mapped_column(Date)
    done_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    program: Mapped[Program] = relationship(back_populates="milestones")


class User(TenantScoped, Base):
    """A staff member. Platform admins have no municipality; everyone else is bound to one."""

    __tablename__ = "app_user"
    __audit_exclude__ = ("password_hash", "last_login_at", "session_version")

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[str] = mapped_column(String(20))
    municipality_id: Mapped[int | None] = mapped_column(  # type: ignore[assignment]
        ForeignKey("municipality.id", ondelete="RESTRICT"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None] = mapped_column()
    # Bumped when the password or role changes or the user is deactivated: older staff tokens stop working
    # (and the user's sessions are deleted in the same step).
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    municipality: Mapped[Municipality | None] = relationship(lazy="joined")

    __table_args__ = (
        CheckConstraint("role IN ('platform_admin', 'municipal_admin', 'staff', 'viewer')", name="role"),
        CheckConstraint("role = 'platform_admin' OR municipality_id IS NOT NULL", name="municipality_bound"),
    )


class UserSession(Base):
    """A signed-in browser. The signed cookie carries a random id; only its digest is kept here, and
    signing out (or a password, role or activation change) deletes the row, so a copied cookie stops
    working at once. Rows live at most ``session_max_age_s``; sign-ins sweep the expired ones."""

    __tablename__ = "app_user_session"
    __audit__ = False  # sign-in and sign-out are audited as such

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie's session id
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ApiKey(TenantScoped, Base):
    __tablename__ = "api_key"
    __audit_exclude__ = ("secret_hash", "last_used_at")

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    municipality: Mapped[Municipality] = relationship(lazy="joined")


class _Chained:
    """Columns of an append-only table kept as a hash chain (see :mod:`app.platform.audit`): where the
    entry came from, and its place in the chain. ``municipality_id`` carries no foreign key: deleting a
    municipality must not rewrite its history."""

    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(40))
    municipality_id: Mapped[int | None] = mapped_column(Integer, index=True)  # type: ignore[assignment]
    # web, api, cli, job or system; then "GET /path", the command line or the job's name
    source: Mapped[str] = mapped_column(String(10), default="system", server_default="system")
    origin: Mapped[str] = mapped_column(String(200), default="", server_default="")
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)  # set when the transaction commits
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    entry_hash: Mapped[str | None] = mapped_column(String(64))


class AuditLog(_Chained, TenantScoped, Base):
    """One change to one object, by whom, when and from where, with the values before and after."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    object_type: Mapped[str] = mapped_column(String(60))
    object_id: Mapped[str] = mapped_column(String(60))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AccessLog(_Chained, TenantScoped, Base):
    """One read of personal data (접속기록): who, when, from where, what was done and whose data.

    Kept apart from the change trail: a GET that shows personal data writes here, the one sanctioned
    write of a GET, and tests of "a GET changes nothing" exclude this table by name."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(60))
    subject_id: Mapped[str] = mapped_column(String(60))
    data_subject: Mapped[str] = mapped_column(String(120), default="")  # whose data, masked
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AuditChain(Base):
    """The head of each hash chain (the lock row appends serialise on) and its genesis: after a purge,
    the sequence number and hash of the last purged entry."""

    __tablename__ = "audit_chain"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    head_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    head_hash: Mapped[str] = mapped_column(String(64))
    genesis_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    genesis_hash: Mapped[str] = mapped_column(String(64))
    purged_at: Mapped[datetime | None] = mapped_column()

