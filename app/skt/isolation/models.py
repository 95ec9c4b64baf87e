"""Tables of the elderly digital-isolation analytics: 행정동, indicator cells and their rollups.

The platform receives aggregated cells only (period x 행정동 x age band x sex x income band), never
people. Two rollups are kept in step with every import so that the analysis pages read a few hundred
rows whatever the history: per municipality x period x age band x sex x income band (the dongs summed)
and per period x dong x age band (sex and income summed). Means are stored in the rollups as sums of
``mean x population`` so that any grouping can be re-weighted exactly.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core import agebands
from app.core.db import Base, TenantScoped, utcnow

AGE_BANDS = ("20-29", "30-39", "40-49", "50-59", "60-64", "65-69", "70-74", "75-79", "80+")
AGE_LOWER = {band: agebands.lower(band) for band in AGE_BANDS}
SEXES = ("M", "F")
INCOME_BANDS = ("none", "low", "middle", "high")
COUNTS = ("low_communication", "low_outing", "isolated")
MEANS = ("smartphone_data_mb", "app_minutes", "messenger_minutes", "sns_minutes", "calls", "call_partners",
         "outings", "travel_km", "home_hours")
SUMS = tuple(f"sum_{m}" for m in MEANS)

_BigId = BigInteger().with_variant(Integer, "sqlite")


class IsoDong(TenantScoped, Base):
    """A 행정동 (administrative dong) of a municipality; ``district`` keeps the 구 name where there is one."""

    __tablename__ = "iso_dong"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)  # 10-digit 행정동 code
    name: Mapped[str] = mapped_column(String(60))
    district: Mapped[str] = mapped_column(String(60), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IsoCell(TenantScoped, Base):
    """One indicator cell as computed in the operator's secure zone (municipality: the dong's)."""

    __tablename__ = "iso_cell"
    __audit__ = False

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    dong_id: Mapped[int] = mapped_column(ForeignKey("iso_dong.id", ondelete="CASCADE"))
    age_band: Mapped[str] = mapped_column(String(5))
    sex: Mapped[str] = mapped_column(String(1))
    income_band: Mapped[str] = mapped_column(String(6))
    population: Mapped[int] = mapped_column(Integer)
    low_communication: Mapped[int] = mapped_column(Integer)
    low_outing: Mapped[int] = mapped_column(Integer)
    isolated: Mapped[int] = mapped_column(Integer)
    smartphone_data_mb: Mapped[float] = mapped_column(Float)
    app_minutes: Mapped[float] = mapped_column(Float)
    messenger_minutes: Mapped[float] = mapped_column(Float)
    sns_minutes: Mapped[float] = mapped_column(Float)
    calls: Mapped[float] = mapped_column(Float)
    call_partners: Mapped[float] = mapped_column(Float)
    outings: Mapped[float] = mapped_column(Float)
    travel_km: Mapped[float] = mapped_column(Float)
    home_hours: Mapped[float] = mapped_column(Float)
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("dong_id", "period", "age_band", "sex", "income_band", name="uq_iso_cell_key"),
        Index("ix_iso_cell_municipality_period", "municipality_id", "period"),
        CheckConstraint("population >= 0", name="population_nonnegative"),
        CheckConstraint("low_communication >= 0 AND low_communication <= population", name="low_communication"),
        CheckConstraint("low_outing >= 0 AND low_outing <= population", name="low_outing"),
        CheckConstraint("isolated >= 0 AND isolated <= low_communication AND isolated <= low_outing",
                        name="isolated"),
    )


class IsoBandRollup(TenantScoped, Base):
    """Cells summed over the dongs of a municipality: period x age band x sex x income band."""

    __tablename__ = "iso_band_rollup"
    __audit__ = False

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    period: Mapped[str] = mapped_column(String(7))
    age_band: Mapped[str] = mapped_column(String(5))
    sex: Mapped[str] = mapped_column(String(1))
    income_band: Mapped[str] = mapped_column(String(6))
    cells: Mapped[int] = mapped_column(Integer)
    population: Mapped[int] = mapped_column(BigInteger)
    low_communication: Mapped[int] = mapped_column(BigInteger)
    low_outing: Mapped[int] = mapped_column(BigInteger)
    isolated: Mapped[int] = mapped_column(BigInteger)
    sum_smartphone_data_mb: Mapped[float] = mapped_column(Float)
    sum_app_minutes: Mapped[float] = mapped_column(Float)
    sum_messenger_minutes: Mapped[float] = mapped_column(Float)
    sum_sns_minutes: Mapped[float] = mapped_column(Float)
    sum_calls: Mapped[float] = mapped_column(Float)
    sum_call_partners: Mapped[float] = mapped_column(Float)
    sum_outings: Mapped[float] = mapped_column(Float)
    sum_travel_km: Mapped[float] = mapped_column(Float)
    sum_home_hours: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        UniqueConstraint("municipality_id", "period", "age_band", "sex", "income_band",
                         name="uq_iso_band_rollup_key"),
    )


class IsoDongRollup(TenantScoped, Base):
    """Cells summed over sex and income band: period x dong x age band."""

    __tablename__ = "iso_dong_rollup"
    __audit__ = False

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    period: Mapped[str] = mapped_column(String(7))
    dong_id: Mapped[int] = mapped_column(ForeignKey("iso_dong.id", ondelete="CASCADE"))
    age_band: Mapped[str] = mapped_column(String(5))
    cells: Mapped[int] = mapped_column(Integer)
    population: Mapped[int] = mapped_column(BigInteger)
    low_communication: Mapped[int] = mapped_column(BigInteger)
    low_outing: Mapped[int] = mapped_column(BigInteger)
    isolated: Mapped[int] = mapped_column(BigInteger)
    sum_smartphone_data_mb: Mapped[float] = mapped_column(Float)
    sum_app_minutes: Mapped[float] = mapped_column(Float)
    sum_messenger_minutes: Mapped[float] = mapped_column(Float)
    sum_sns_minutes: Mapped[float] = mapped_column(Float)
    sum_calls: Mapped[float] = mapped_column(Float)
    sum_call_partners: Mapped[float] = mapped_column(Float)
    sum_outings: Mapped[float] = mapped_column(Float)
    sum_travel_km: Mapped[float] = mapped_column(Float)
    sum_home_hours: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        UniqueConstraint("dong_id", "period", "age_band", name="uq_iso_dong_rollup_key"),
        Index("ix_iso_dong_rollup_municipality_period", "municipality_id", "period", "dong_id"),
        # Callers who reach every municipality (platform admins: the home ranking) read whole periods.
        Index("ix_iso_dong_rollup_period", "period", "dong_id"),
    )


class IsoDefinition(TenantScoped, Base):
    """The definition of isolation a municipality applies from a month on (the floors the operator uses)."""

    __tablename__ = "iso_definition"

    id: Mapped[int] = mapped_column(primary_key=True)
    effective_from: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    low_communication: Mapped[str] = mapped_column(String(500))
    low_outing: Mapped[str] = mapped_column(String(500))
    isolated: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("municipality_id", "effective_from"),)


class IsoEducationSession(TenantScoped, Base):
    """A digital-education session the municipality held in a 행정동, with how many came (65+ and in all)."""

    __tablename__ = "iso_education_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    dong_id: Mapped[int] = mapped_column(ForeignKey("iso_dong.id", ondelete="CASCADE"))
    held_date: Mapped[date]
    title: Mapped[str] = mapped_column(String(80))
    attendees_65plus: Mapped[int] = mapped_column(Integer)
    attendees_total: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    dong: Mapped[IsoDong] = relationship(lazy="joined")

    __table_args__ = (
        Index("ix_iso_education_session_municipality_held", "municipality_id", "held_date"),
        CheckConstraint("attendees_65plus >= 0", name="attendees_65plus_nonnegative"),
        CheckConstraint("attendees_total >= attendees_65plus", name="attendees_total_covers_65plus"),
    )
