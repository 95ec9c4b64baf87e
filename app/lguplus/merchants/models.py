"""Tables of the small-merchant DX program: merchants, the solution catalogue, subsidy applications and
their history, the yearly budget, consulting sessions with follow-ups, and monthly outcomes."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, TenantScoped, utcnow

STATES = ("submitted", "reviewed", "approved", "installed", "active", "cancelled", "rejected")
# Where each state may go next. Cancelling is possible until the end; rejecting only before approval.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "submitted": ("reviewed", "rejected", "cancelled"),
    "reviewed": ("approved", "rejected", "cancelled"),
    "approved": ("installed", "cancelled"),
    "installed": ("active", "cancelled"),
    "active": ("cancelled",),
    "cancelled": (),
    "rejected": (),
}
OPEN_STATES = ("submitted", "reviewed", "approved", "installed", "active")
# States whose subsidy is held against the year's budget.
COMMITTED_STATES = ("approved", "installed", "active")

# code: (name, monthly fee, one-off cost, subsidy percent, subsidy cap) - the program's default rule
SOLUTIONS: dict[str, tuple[str, int, int, int, int]] = {
    "ai_call": ("U+AI전화", 11_000, 0, 70, 100_000),
    "ai_booking": ("U+AI예약", 22_000, 50_000, 70, 250_000),
    "waiting": ("U+웨이팅", 33_000, 150_000, 70, 400_000),
    "order": ("U+오더", 27_500, 300_000, 60, 500_000),
    "pos": ("U+포스", 19_800, 800_000, 50, 600_000),
    "serving_robot": ("U+서빙로봇", 550_000, 0, 30, 2_000_000),
}


class MerchantStore(TenantScoped, Base):
    """A local store taking part (or eligible) in the program."""

    __tablename__ = "lgum_merchant"

    id: Mapped[int] = mapped_column(primary_key=True)
    brn: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="")
    dong_code: Mapped[str] = mapped_column(String(10), index=True)  # 행정동 code
    dong_name: Mapped[str] = mapped_column(String(40))
    category: Mapped[str] = mapped_column(String(40), index=True)
    owner_phone: Mapped[str | None] = mapped_column(String(20))  # shown masked only
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("municipality_id", "brn"),
        CheckConstraint("lat IS NULL OR (lat >= 33 AND lat <= 39)", name="lat_korea"),
        CheckConstraint("lon IS NULL OR (lon >= 124 AND lon <= 132)", name="lon_korea"),
    )


class Solution(TenantScoped, Base):
    """One product of the catalogue with this municipality's subsidy rule (share and cap)."""

    __tablename__ = "lgum_solution"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(60))
    monthly_fee_krw: Mapped[int] = mapped_column(BigInteger)
    one_off_krw: Mapped[int] = mapped_column(BigInteger)
    subsidy_pct: Mapped[int] = mapped_column(Integer)
    subsidy_cap_krw: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        UniqueConstraint("municipality_id", "code"),
        CheckConstraint("subsidy_pct >= 0 AND subsidy_pct <= 100", name="pct"),
        CheckConstraint("monthly_fee_krw >= 0 AND one_off_krw >= 0 AND subsidy_cap_krw >= 0", name="money"),
    )

    @property
    def max_subsidy_krw(self) -> int:
        """The most the program pays: its share of the one-off cost and a first year of fees, up to the cap."""
        return min(self.subsidy_cap_krw, (self.one_off_krw + 12 * self.monthly_fee_krw) * self.subsidy_pct // 100)


class Application(TenantScoped, Base):
    __tablename__ = "lgum_application"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("lgum_merchant.id", ondelete="RESTRICT"), index=True)
    solution_id: Mapped[int] = mapped_column(ForeignKey("lgum_solution.id", ondelete="RESTRICT"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    requested_subsidy_krw: Mapped[int] = mapped_column(BigInteger)
    committed_krw: Mapped[int] = mapped_column(BigInteger, default=0)  # held against the budget
    state: Mapped[str] = mapped_column(String(12), default="submitted")
    reason: Mapped[str | None] = mapped_column(String(500))
    installed_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    merchant: Mapped[MerchantStore] = relationship(lazy="joined")
    solution: Mapped[Solution] = relationship(lazy="joined")

    __table_args__ = (
        CheckConstraint("state IN ('submitted', 'reviewed', 'approved', 'installed', 'active', 'cancelled', "
                        "'rejected')", name="state"),
        CheckConstraint("requested_subsidy_krw >= 0 AND committed_krw >= 0", name="money"),
        Index("ix_lgum_application_state_year", "state", "year"),
    )


class ApplicationStep(TenantScoped, Base):
    """One transition of an application: who moved it, when, from where to where, and why."""

    __tablename__ = "lgum_application_step"
    __audit__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("lgum_application.id", ondelete="CASCADE"),
                                                index=True)
    from_state: Mapped[str | None] = mapped_column(String(12))
    to_state: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Budget(TenantScoped, Base):
    """The program's subsidy budget of one year; ``committed_krw`` is held by approved applications."""

    __tablename__ = "lgum_budget"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    amount_krw: Mapped[int] = mapped_column(BigInteger)
    committed_krw: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("municipality_id", "year"),
        CheckConstraint("committed_krw >= 0 AND committed_krw <= amount_krw", name="within"),
    )


class ConsultingSession(TenantScoped, Base):
    __tablename__ = "lgum_consulting"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("lgum_merchant.id", ondelete="CASCADE"), index=True)
    session_date: Mapped[date] = mapped_column(Date, index=True)
    topic: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(Text, default="")
    consultant: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    merchant: Mapped[MerchantStore] = relationship(lazy="joined")
    actions: Mapped[list[FollowUp]] = relationship(back_populates="consulting", lazy="selectin",
                                                   order_by="FollowUp.due_date", cascade="all, delete-orphan")


class FollowUp(TenantScoped, Base):
    __tablename__ = "lgum_followup"

    id: Mapped[int] = mapped_column(primary_key=True)
    consulting_id: Mapped[int] = mapped_column(ForeignKey("lgum_consulting.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(300))
    due_date: Mapped[date] = mapped_column(Date)
    done: Mapped[bool] = mapped_column(Boolean, default=False)

    consulting: Mapped[ConsultingSession] = relationship(back_populates="actions")


class Outcome(TenantScoped, Base):
    """One merchant's figures of one month (``month_date`` is the first day of the month)."""

    __tablename__ = "lgum_outcome"
    __audit__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("lgum_merchant.id", ondelete="CASCADE"))
    month_date: Mapped[date] = mapped_column(Date)
    sales_krw: Mapped[int] = mapped_column(BigInteger)
    orders: Mapped[int] = mapped_column(Integer)
    reservations: Mapped[int] = mapped_column(Integer, default=0)
    no_show_rate: Mapped[float | None] = mapped_column(Float)  # waiting/reservation no-shows, 0..1
    staff_hours: Mapped[float] = mapped_column(Float, default=0)

    __table_args__ = (
        UniqueConstraint("merchant_id", "month_date"),
        CheckConstraint("sales_krw >= 0 AND orders >= 0 AND reservations >= 0 AND staff_hours >= 0",
                        name="nonnegative"),
        CheckConstraint("no_show_rate IS NULL OR (no_show_rate >= 0 AND no_show_rate <= 1)", name="rate"),
    )
