"""Jobs and duties: what modules declare, the queue (Huey) and the shared job table.

A *job* is long work somebody asked for (a city-data import, a model training): a row of the ``job``
table carries its state and progress for every process to read, and a Huey task carries its id to a
worker. A *duty* is work on a clock (marking silent robots offline): each worker's clock claims the
duty's current period in ``duty_run`` (one row per period, so one worker wins) and queues it.
``app.core.worker`` runs both; a web process only submits jobs and reads the table.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import Database, utcnow
from app.core.errors import NotFound
from app.core.jobs_models import DutyRun, InstanceMark, Job
from app.core.tenancy import SYSTEM, Principal, principal_of

log = logging.getLogger("dxhub.jobs")
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"

__all__ = ["Duty", "DutyContext", "DutyRun", "Job", "JobContext", "JobKind", "JobRefused", "Queue", "get_job",
           "queue_for", "submit"]


def system_principal(name: str) -> Principal:
    """The actor of background work, recognisable in the audit trail as ``system:worker:<name>``."""
    return Principal(kind="system", id=None, name=f"worker:{name}", role="platform_admin")


# --- what modules declare -------------------------------------------------------------------------

@dataclass
class JobContext:
    """What a job's code receives: its row's values, the database, and a way to report progress."""

    database: Database
    settings: Settings
    job_id: int
    kind: str
    payload: dict[str, Any]
    municipality_id: int | None
    attempt: int
    principal: Principal
    _last_report: float = field(default=0.0, repr=False)

    def progress(self, done: int, total: int, *, force: bool = False) -> None:
        """Report progress for every process to read (at most a few times a second). On PostgreSQL it
        goes to the job row. On SQLite the job's own transaction usually holds the database's one write
        lock, so it goes to the queue's store (a file of its own) until the job ends."""
        import time

        now = time.monotonic()
        if not force and now - self._last_report < 0.25:
            return
        self._last_report = now
        if self.database.is_sqlite:
            queue_for(self.settings).huey.put(progress_key(self.job_id), (int(done), int(total)))
            return
        with self.database.unit_of_work(principal=SYSTEM) as s:
            s.execute(update(Job).where(Job.id == self.job_id, Job.status == "running")
                      .values(done=int(done), total=int(total)))


def progress_key(job_id: int) -> str:
    return f"dxhub:job-progress:{job_id}"


class JobRefused(Exception):  # noqa: N818 - a refusal, not a bug
    """A job that cannot succeed however often it is tried (e.g. a file with bad rows): failed at once."""


@dataclass(frozen=True)
class JobKind:
    key: str  # e.g. "lguplus.citydata.import"
    run: Callable[[JobContext], dict[str, Any] | None]  # returns a small result summary
    max_attempts: int = 3
    # What the job does, as people read it in histories (English msgid), e.g. "City data import".
    title: str = ""
    # Called in the transaction that gives the job up (failed for good), to mark the module's own record.
    on_give_up: Callable[[Session, Job], None] | None = None


@dataclass(frozen=True)
class DutyContext:
    session: Session  # bound to the duty's system principal; committed when the duty returns
    database: Database
    settings: Settings
    period_start: datetime
    since: datetime  # the start of the previous period that ran, so a round covers what happened since


@dataclass(frozen=True)
class Duty:
    key: str  # e.g. "kt.robots.sweep_offline"
    period_s: float
    run: Callable[[DutyContext], Any]
    # Periods start at multiples of period_s after 2000-01-01 00:00 UTC plus this offset (daily duties:
    # 18 h puts them at 03:00 Seoul time).
    offset_s: float = 0.0
    # Whether the duty applies to this database (checked by the worker now and then), e.g. demo only.
    enabled: Callable[[Session, Settings], bool] | None = None
    # What the duty does, as people read it in histories (English msgid): the actor "자동 처리 · <title>",
    # and what its changes did, e.g. "Alert escalated automatically" (else the change's own action).
    title: str = ""
    verb: str = ""


# --- the queue ------------------------------------------------------------------------------------

def queue_file(settings: Settings) -> Path:
    """Huey's SQLite storage: beside the SQLite database file, else in the data directory."""
    if settings.queue_path:
        return Path(settings.queue_path)
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        db_file = Path(url.database)
        return db_file.with_name(f"{db_file.stem}-queue.db")
    return Path(settings.data_dir) / "dxhub-queue.db"


class Queue:
    """One Huey instance (SQLite storage by default, Redis with ``DXHUB_REDIS_URL``) and the two tasks
    every worker knows: run a job by id, run a claimed duty period."""

    def __init__(self, settings: Settings) -> None:
        from huey import RedisHuey, SqliteHuey

        self.settings = settings
        if settings.redis_url:
            self.huey = RedisHuey(settings.queue_name, url=settings.redis_url, results=False)
            self.where = settings.redis_url
        else:
            path = queue_file(settings)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.huey = SqliteHuey(settings.queue_name, filename=str(path), results=False)
            self.where = str(path)
        self._database: Database | None = None
        self.run_job = self.huey.task(name="dxhub.run_job")(self._run_job)
        self.run_duty = self.huey.task(name="dxhub.run_duty")(self._run_duty)
        self.noop = self.huey.task(name="dxhub.noop")(_noop)  # the bench's unit of queue throughput

    @property
    def database(self) -> Database:
        if self._database is None:
            self._database = Database(self.settings.database_url)
        return self._database

    def bind(self, database: Database) -> None:
        """Use ``database`` (the caller's engine) to run what this queue hands out."""
        self._database = database

    def _run_job(self, job_id: int) -> None:
        from app.core import worker

        worker.execute_job(self, job_id)

    def _run_duty(self, key: str, period_start: str) -> None:
        from app.core import worker

        worker.execute_duty(self, key, datetime.fromisoformat(period_start))

    def drain(self, *, limit: int = 1000) -> int:
        """Run what is queued now in this thread (tests, and ``dxhub worker --once``); returns how many."""
        ran = 0
        while ran < limit:
            for due in self.huey.read_schedule():  # retries whose delay has passed
                self.huey.enqueue(due)
            task = self.huey.dequeue()
            if task is None:
                break
            if not self.huey.ready_to_run(task):  # a retry's delayed copy: it waits in the schedule
                self.huey.add_schedule(task)
                continue
            self.huey.execute(task)
            ran += 1
        return ran

    def pending(self) -> int:
        return self.huey.pending_count()


def _noop() -> None:
    return None


_queues: dict[tuple[str, str, str, str], Queue] = {}


def queue_for(settings: Settings) -> Queue:
    """This process's queue for ``settings`` (one Huey instance per storage)."""
    key = (f"{settings.redis_url}#{settings.queue_name}", str(queue_file(settings)), settings.database_url,
           settings.model_dump_json())  # the same settings, the same queue (data_dir, lease... included)
    found = _queues.get(key)
    if found is None:
        found = _queues[key] = Queue(settings)
    return found


# --- the job table --------------------------------------------------------------------------------

OUTBOX = "jobs_outbox"


def submit(db: Session, *, queue: Queue, kind: str, payload: dict[str, Any] | None = None,
           municipality_id: int | None = None, ref: str = "", max_attempts: int | None = None) -> Job:
    """Record a queued job in the caller's transaction; it is handed to the queue once that commits."""
    from app.core.manifest import job_kinds

    spec = job_kinds().get(kind)
    if spec is None:
        raise ValueError(f"unknown job kind {kind!r}")
    principal = principal_of(db)
    job = Job(kind=kind, ref=ref[:120], municipality_id=municipality_id, payload=payload or {}, status="queued",
              owner=(principal.label if principal else "")[:120],
              owner_user_id=principal.id if principal and principal.kind == "user" else None,
              max_attempts=max_attempts or spec.max_attempts,
              lease_until=utcnow() + timedelta(seconds=queue.settings.job_lease_s))
    db.add(job)
    db.flush()
    db.info.setdefault(OUTBOX, []).append((queue, job.id))
    return job


def hand_over(session: Session) -> None:
    """After commit: give the session's submitted jobs to their queues. A job whose hand-over fails
    (Redis down) stays queued and is handed over again when its lease runs out."""
    for queue, job_id in session.info.pop(OUTBOX, []):
        try:
            queue.run_job(job_id)
        except Exception:
            log.warning("job %s could not be queued now; a worker will pick it up later", job_id, exc_info=True)


def forget(session: Session) -> None:
    session.info.pop(OUTBOX, None)


def queue_of(db: Session) -> Queue:
    """The queue of the database ``db`` is bound to, configured from the environment (a reader that
    has no settings at hand, e.g. a progress bar)."""
    from app.core.config import get_settings

    url = db.get_bind().engine.url.render_as_string(hide_password=False)
    found = next((q for (_r, _p, u, _s), q in _queues.items() if u == url), None)
    return found or queue_for(get_settings().model_copy(update={"database_url": url}))


def fraction(db: Session, job: Job) -> float:
    """How far ``job`` has come: from the job row, or, while it runs on SQLite, from the queue's store."""
    if job.status == "running" and db.get_bind().dialect.name == "sqlite":
        live = queue_of(db).huey.get(progress_key(job.id), peek=True)
        if live:
            done, total = live
            return min(0.99, done / total) if total else 0.0
    return job.fraction


def get_job(db: Session, *, job_id: int) -> Job:
    """A job the caller may see (its municipality's, or its own), else NotFound."""
    job = db.get(Job, job_id)
    principal = principal_of(db)
    if job is None or (principal is not None and principal.municipality_ids is not None
                       and job.municipality_id not in principal.municipality_ids):
        raise NotFound("Job {id} not found", id=job_id)
    return job


def latest_for(db: Session, *, ref: str) -> Job | None:
    """The newest job working on ``ref``; the caller has already checked it may see the referred object."""
    return db.scalar(select(Job).where(Job.ref == ref).order_by(Job.id.desc()).limit(1))


def list_jobs(db: Session, *, limit: int = 50) -> list[Job]:
    stmt = select(Job).order_by(Job.id.desc()).limit(limit)
    principal = principal_of(db)
    if principal is not None and principal.municipality_ids is not None:
        stmt = stmt.where(Job.municipality_id.in_(sorted(principal.municipality_ids) or [-1]))
    return list(db.scalars(stmt))


def job_out(job: Job) -> dict[str, Any]:
    return {"id": job.id, "kind": job.kind, "status": job.status, "fraction": round(job.fraction, 3),
            "done": job.done, "total": job.total, "attempts": job.attempts, "error": job.error,
            "created_at": job.created_at, "started_at": job.started_at, "finished_at": job.finished_at,
            "result": job.result}


# --- marks ----------------------------------------------------------------------------------------

def set_mark(db: Session, key: str, value: str = "") -> None:
    mark = db.get(InstanceMark, key)
    if mark is None:
        db.add(InstanceMark(key=key, value=value))
    else:
        mark.value, mark.set_at = value, utcnow()


def has_mark(db: Session, key: str) -> bool:
    return db.scalar(select(InstanceMark.key).where(InstanceMark.key == key)) is not None


def demo_simulation_on(db: Session, settings: Settings) -> bool:
    """``DXHUB_DEMO_SIMULATE`` when set, else whether this database holds the demo data."""
    if settings.demo_simulate is not None:
        return settings.demo_simulate
    return has_mark(db, "demo_data")


@event.listens_for(Session, "after_commit")
def _hand_over_after_commit(session: Session) -> None:
    if session.info.get(OUTBOX):
        hand_over(session)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    forget(session)
