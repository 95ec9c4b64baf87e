"""Tables of city-data consulting: zones, raw living population and card spending, their rollups,
surveys, registered festivals and import jobs.

Raw rows are kept as received; pages and rankings read only the rollups, which every import updates in
the same transaction as the raw rows it stores.
"""

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
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.agebands import FIVE_YEAR, TEN_YEAR
from app.core.db import Base, TenantScoped, utcnow

SEXES = ("M", "F", "all")
# Delivered age bands: 10-year (0-9 … 70+) or 5-year (0-4 … 85+); other views derive from the 5-year ones.
AGE_BANDS = (*TEN_YEAR, *FIVE_YEAR, "all")
VISITOR_TYPES = ("resident", "worker", "visitor")
ORIGIN_CLASSES = ("resident", "province", "other")  # card customers: the county, the rest of its province, elsewhere
JOB_KINDS = ("living_population", "card_spending")
JOB_STATUSES = ("queued", "running", "done", "failed")
QUESTION_KINDS = ("choice", "multi", "scale")

BigId = BigInteger().with_variant(Integer, "sqlite")


class CitydataZone(TenantScoped, Base):
    """An area data are reported for: the county's 읍면동, and outside areas (e.g. 광주's 구) where
    residents spend. ``area_code`` is the municipality the zone lies in."""

    __tablename__ = "citydata_zone"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(10))
    name_ko: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    area_code: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("municipality_id", "code"),)


class CitydataImportJob(TenantScoped, Base):
    """One file or batch being imported: progress, outcome and the row-level error report."""

    __tablename__ = "citydata_import_job"
    __audit__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    client_id: Mapped[str | None] = mapped_column(String(80))
    filename: Mapped[str] = mapped_column(String(200), default="")
    encoding: Mapped[str | None] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default="queued")
    bytes_total: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    digest: Mapped[str | None] = mapped_column(String(64))  # sha256 of the file or JSON body as received
    coverage: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # summary: first/last period, zones
    message: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        UniqueConstraint("municipality_id", "client_id"),
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
        Index("ix_citydata_import_job_digest", "municipality_id", "kind", "digest"),
    )


class CitydataImportCoverage(TenantScoped, Base):
    """What one import holds: one row per kind × period (a date, or a month for card data) × zone. The
    unique key makes two imports covering the same cell impossible, whatever the door."""

    __tablename__ = "citydata_import_coverage"
    __audit__ = False

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("citydata_import_job.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    period: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD (living population) or YYYY-MM (card)
    zone_id: Mapped[int] = mapped_column(ForeignKey("citydata_zone.id", ondelete="CASCADE"))

    __table_args__ = (UniqueConstraint("municipality_id", "kind", "zone_id", "period"),)


class CitydataCategoryFit(TenantScoped, Base):
    """Whether a card category is something the traditional market could sell; a municipality's own
    setting overrides the shipped default (:data:`app.lguplus.citydata.analysis.DEFAULT_UNFIT`)."""

    __tablename__ = "citydata_category_fit"

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(60))
    fits: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("municipality_id", "category"),)


class CitydataLivingPopulation(TenantScoped, Base):
    """Raw living population (생활인구) as delivered: an estimate of people present per hour."""

    __tablename__ = "citydata_living_population"
    __audit__ = False

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("citydata_import_job.id", ondelete="SET NULL"))
    obs_date: Mapped[date] = mapped_column(Date)
    hour: Mapped[int] = mapped_column(SmallInteger)
    zone_id: Mapped[int] = mapped_column(ForeignKey("citydata_zone.id", ondelete="CASCADE"))
    sex: Mapped[str] = mapped_column(String(3))
    age_band: Mapped[str] = mapped_column(String(5))
    visitor_type: Mapped[str] = mapped_column(String(8))
    origin_code: Mapped[str | None] = mapped_column(String(10))
    count: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_citydata_living_population_zone_date", "zone_id", "obs_date"),)


class CitydataCardSpending(TenantScoped, Base):
    """Raw card consumption as delivered: monthly amounts by merchant zone, category and customer."""

    __tablename__ = "citydata_card_spending"
    __audit__ = False

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("citydata_import_job.id", ondelete="SET NULL"))
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    merchant_zone_id: Mapped[int] = mapped_column(ForeignKey("citydata_zone.id", ondelete="CASCADE"))
    category_large: Mapped[str] = mapped_column(String(40))
    category_middle: Mapped[str] = mapped_column(String(60))
    customer_home_code: Mapped[str] = mapped_column(String(10))
    sex: Mapped[str] = mapped_column(String(3))
    age_band: Mapped[str] = mapped_column(String(5))
    amount_krw: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_citydata_card_spending_zone_month", "merchant_zone_id", "month"),)


class CitydataPopDaily(TenantScoped, Base):
    """Rollup: people-hours per zone, day and visitor type (sum of the hourly estimates)."""

    __tablename__ = "citydata_pop_daily"
    __audit__ = False

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("citydata_zone.id", ondelete="CASCADE"))
    obs_date: Mapped[date] = mapped_column(Date)
    visitor_type: Mapped[str] = mapped_column(String(8))
    count: Mapped[float] = mapped_column(Float)

    __table_args__ = (UniqueConstraint("zone_id", "obs_date", "visitor_type"),)


class CitydataPopHourly(TenantScoped, Base):
    """Rollup: the sum per zone, weekday (0 = Monday), hour and visitor type, for the heat map."""

    __tablename__ = "citydata_pop_hourly"
    __audit__ = False

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("citydata_zone.id", ondelete="CASCADE"))
    weekday: Mapped[int] = mapped_column(SmallInteger)
    hour: Mapped[int] = mapped_column(SmallInteger)
    visitor_type: Mapped[str] = mapped_column(String(8))
    count: Mapped[float] = mapped_column(Float)

    __table_args__ = (UniqueConstraint("zone_id", "weekday", "hour", "visitor_type"),)


class CitydataCardMonthly(TenantScoped, Base):
    """Rollup: card amount and count per merchant zone, month, category and customer origin class."""

    __tablename__ = "citydata_card_monthly"
    __audit__ = False

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("citydata_zone.id", ondelete="CASCADE"))
    month: Mapped[str] = mapped_column(String(7))
    category_large: Mapped[str] = mapped_column(String(40))
    category_middle: Mapped[str] = mapped_column(String(60))
    origin_class: Mapped[str] = mapped_column(String(10))
    amount_krw: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (UniqueConstraint("zone_id", "month", "category_large", "category_middle", "origin_class"),)


class CitydataFestival(TenantScoped, Base):
    """A festival the county knows of: its own, or a neighbour's (``host_code`` is who holds it)."""

    __tablename__ = "citydata_festival"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    host_code: Mapped[str] = mapped_column(String(10))
    host_name: Mapped[str] = mapped_column(String(100), default="")
    zone_code: Mapped[str | None] = mapped_column(String(10))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("municipality_id", "name", "start_date"),
        CheckConstraint("end_date >= start_date", name="dates"),
    )


class CitydataSurvey(TenantScoped, Base):
    __tablename__ = "citydata_survey"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str] = mapped_column(String(100), default="")
    fielded_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("municipality_id", "name"),)


class CitydataQuestion(TenantScoped, Base):
    """A question: one choice, several choices (``multi``) or a scale; ``topic`` marks questions other
    analyses read (``buy_elsewhere``: what people buy outside the county, choices named as categories)."""

    __tablename__ = "citydata_question"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("citydata_survey.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    code: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(10))
    choices: Mapped[list[str]] = mapped_column(JSON, default=list)
    scale_min: Mapped[int | None] = mapped_column(Integer)
    scale_max: Mapped[int | None] = mapped_column(Integer)
    topic: Mapped[str] = mapped_column(String(40), default="")

    __table_args__ = (
        UniqueConstraint("survey_id", "code"),
        CheckConstraint("kind IN ('choice', 'multi', 'scale')", name="kind"),
    )


class CitydataResponse(TenantScoped, Base):
    __tablename__ = "citydata_response"
    __audit__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("citydata_survey.id", ondelete="CASCADE"), index=True)
    respondent_key: Mapped[str] = mapped_column(String(80))
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    sex: Mapped[str] = mapped_column(String(3))
    age_band: Mapped[str] = mapped_column(String(5))
    zone_code: Mapped[str | None] = mapped_column(String(10))

    __table_args__ = (
        UniqueConstraint("survey_id", "respondent_key"),
        CheckConstraint("weight > 0", name="weight_positive"),
    )


class CitydataAnswer(TenantScoped, Base):
    __tablename__ = "citydata_answer"
    __audit__ = False

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("citydata_response.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("citydata_question.id", ondelete="CASCADE"), index=True)
    value: Mapped[str] = mapped_column(String(100))
