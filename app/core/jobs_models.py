"""Tables of the worker: the shared job table, the duty claims, and marks the data carries about itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, utcnow

JOB_STATUSES = ("queued", "running", "succeeded", "failed")


class Job(Base):
    """One piece of long work (an import, a training run), its state and progress, readable by every
    process. Not tenant-scoped by the ORM hook: duties' jobs belong to no municipality; readers scope
    by ``municipality_id`` themselves (``app.core.jobs.get_job``)."""

    __tablename__ = "job"
    __audit__ = False  # progress ticks are machine writes; the job row is its own record

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(80))
    # What the job works on (e.g. "lguplus.citydata.import:12"), for the page that shows its progress.
    ref: Mapped[str] = mapped_column(String(120), default="", index=True)
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipality.id", ondelete="RESTRICT"),
                                                        index=True)
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    owner: Mapped[str] = mapped_column(String(120), default="")  # the principal that asked, as audited
    status: Mapped[str] = mapped_column(String(12), default="queued")
    done: Mapped[int] = mapped_column(Integer, default=0)  # progress: done of total (any unit)
    total: Mapped[int] = mapped_column(Integer, default=0)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    worker: Mapped[str] = mapped_column(String(120), default="")  # host:pid of the worker running it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    lease_until: Mapped[datetime | None] = mapped_column()  # renewed while running; past it, the worker died

    __table_args__ = (Index("ix_job_status_lease_until", "status", "lease_until"),)

    @property
    def fraction(self) -> float:
        if self.status in ("succeeded", "failed"):
            return 1.0
        return min(0.99, self.done / self.total) if self.total else 0.0


class DutyRun(Base):
    """A duty's claim on one period: inserted once (the primary key refuses a second claim), so a duty
    runs once per period however many workers, on however many hosts, look at the clock."""

    __tablename__ = "duty_run"
    __audit__ = False

    duty: Mapped[str] = mapped_column(String(80), primary_key=True)
    period_start: Mapped[datetime] = mapped_column(primary_key=True)
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    worker: Mapped[str] = mapped_column(String(120), default="")
    status: Mapped[str] = mapped_column(String(12), default="claimed")  # claimed, running, done, failed
    error: Mapped[str] = mapped_column(Text, default="")


class InstanceMark(Base):
    """Facts the data carries about itself, e.g. ``demo_data`` once ``dxhub demo`` has loaded the demo."""

    __tablename__ = "instance_mark"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), default="")
    set_at: Mapped[datetime] = mapped_column(default=utcnow)
