"""``dxhub worker``: runs the jobs and duties declared by the modules on the Huey queue.

Each worker process runs Huey's consumer (threads taking tasks from the queue) and a clock thread. The
clock, every ``worker_tick_s``, computes each duty's current period (``floor(now / period)``) and tries
to claim it with one ``INSERT ... ON CONFLICT DO NOTHING`` into ``duty_run``: the one worker whose
insert lands queues the duty; the others see the row and do nothing. This holds across processes and
hosts, on SQLite and PostgreSQL, with the SQLite or the Redis queue.

Jobs are claimed the same way (``UPDATE job SET status='running' WHERE status='queued'``), so a task
delivered twice runs once. A running job holds a lease that a thread renews; when a worker dies, the
lease runs out and any worker's recovery round queues the job again (attempts left) or fails it.
Retries wait ``job_retry_delay_s`` doubled per attempt (Huey's scheduled tasks); the attempt count lives
in the job row, so it survives restarts and agrees across processes.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.core import metrics
from app.core.bulk import dialect_insert
from app.core.config import Settings
from app.core.db import Database, utcnow
from app.core.jobs import (
    OUTBOX,
    WORKER_ID,
    Duty,
    DutyContext,
    JobContext,
    JobKind,
    JobRefused,
    Queue,
    progress_key,
    queue_for,
    system_principal,
)
from app.core.jobs_models import DutyRun, Job
from app.core.logging import log_context
from app.core.origin import origin_scope
from app.core.tenancy import SYSTEM, bind_principal, principal_of

log = logging.getLogger("dxhub.worker")
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


# --- jobs -----------------------------------------------------------------------------------------

def _claim_job(database: Database, job_id: int, lease_s: int) -> Job | None:
    now = utcnow()
    with database.unit_of_work(principal=SYSTEM) as s:
        claimed = s.execute(update(Job).where(Job.id == job_id, Job.status == "queued").values(
            status="running", attempts=Job.attempts + 1, started_at=now, finished_at=None, worker=WORKER_ID,
            lease_until=now + timedelta(seconds=lease_s))).rowcount
        if claimed != 1:
            return None
        job = s.get(Job, job_id)
        s.expunge(job)
        return job


def _renew_lease(database: Database, job_id: int, lease_s: int, stop: threading.Event) -> None:
    while not stop.wait(max(0.2, lease_s / 3)):
        try:
            with database.unit_of_work(principal=SYSTEM) as s:
                s.execute(update(Job).where(Job.id == job_id, Job.status == "running", Job.worker == WORKER_ID)
                          .values(lease_until=utcnow() + timedelta(seconds=lease_s)))
        except Exception:  # the next renewal tries again; a lost lease only means a retry elsewhere
            log.warning("job %s: lease renewal failed", job_id, exc_info=True)


def execute_job(queue: Queue, job_id: int) -> None:
    """Run job ``job_id`` if it is still queued (a second delivery finds it taken and does nothing)."""
    job = _claim_job(queue.database, job_id, queue.settings.job_lease_s)
    if job is None:
        return
    # Every log line of the job carries its id; everything it audits names the job as its origin.
    with log_context(job_id=job.id, job_kind=job.kind), origin_scope("job", job.kind):
        _run_claimed(queue, job)


def _run_claimed(queue: Queue, job: Job) -> None:
    from app.core.manifest import job_kinds

    settings, database, job_id = queue.settings, queue.database, job.id
    spec = job_kinds().get(job.kind)
    if spec is None:
        _give_up(queue, job_id, f"unknown job kind {job.kind!r}")
        return
    ctx = JobContext(database=database, settings=settings, job_id=job.id, kind=job.kind, payload=job.payload or {},
                     municipality_id=job.municipality_id, attempt=job.attempts, principal=system_principal(job.kind))
    stop = threading.Event()
    if not database.is_sqlite:  # SQLite: one host, so a dead worker is seen by its process id instead
        threading.Thread(target=_renew_lease, args=(database, job_id, settings.job_lease_s, stop),
                         name=f"job-{job_id}-lease", daemon=True).start()
    log.info("job %s (%s) started, attempt %s", job_id, job.kind, job.attempts)
    try:
        result = spec.run(ctx)
    except JobRefused as exc:
        log.info("job %s (%s) refused: %s", job_id, job.kind, exc)
        _give_up(queue, job_id, str(exc)[:2000])
    except Exception as exc:
        log.exception("job %s (%s) failed on attempt %s", job_id, job.kind, job.attempts)
        _after_failure(queue, job, exc)
    else:
        with database.unit_of_work(principal=SYSTEM) as s:
            s.execute(update(Job).where(Job.id == job_id, Job.status == "running").values(
                status="succeeded", finished_at=utcnow(), result=result, lease_until=None,
                done=Job.total))
        log.info("job %s (%s) succeeded", job_id, job.kind)
    finally:
        stop.set()
        if database.is_sqlite:
            queue.huey.delete(progress_key(job_id))


def _error_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()[:2000]


def _after_failure(queue: Queue, job: Job, exc: BaseException) -> None:
    if job.attempts >= job.max_attempts:
        _give_up(queue, job.id, _error_text(exc))
        return
    delay = queue.settings.job_retry_delay_s * 2 ** (job.attempts - 1)
    with queue.database.unit_of_work(principal=SYSTEM) as s:
        s.execute(update(Job).where(Job.id == job.id, Job.status == "running").values(
            status="queued", error=_error_text(exc), worker="",
            lease_until=utcnow() + timedelta(seconds=delay + queue.settings.job_lease_s)))
    queue.run_job.schedule(args=(job.id,), delay=delay)
    log.info("job %s will be retried in %.1f s", job.id, delay)


def _give_up(queue: Queue, job_id: int, error: str) -> None:
    with queue.database.unit_of_work(principal=SYSTEM) as s:
        job = s.get(Job, job_id)
        if job is not None:
            _give_up_in(s, job, error)


def _give_up_in(db: Session, job: Job, error: str) -> None:
    """Fail ``job`` for good in ``db``'s transaction, and let its module mark its own record."""
    from app.core.manifest import job_kinds

    if job.status in ("succeeded", "failed"):
        return
    job.status, job.error, job.finished_at, job.lease_until = "failed", error, utcnow(), None
    spec = job_kinds().get(job.kind)
    if spec is not None and spec.on_give_up is not None:
        previous = principal_of(db)
        bind_principal(db, system_principal(job.kind))
        spec.on_give_up(db, job)
        if previous is not None:
            bind_principal(db, previous)
    log.warning("job %s failed for good: %s", job.id, error.splitlines()[-1] if error else "")


def _worker_alive(worker_id: str, *, sqlite: bool, lease_ok: bool) -> bool:
    """Whether the worker running a job still lives: a worker of this host by its process id (at once
    after a crash), another host's by its lease (SQLite has no other hosts)."""
    host, _, pid = worker_id.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        if int(pid) == os.getpid():
            return True
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return not sqlite and lease_ok


def recover_jobs(queue: Queue, db: Session, *, now: datetime | None = None) -> dict[str, int]:
    """Jobs whose lease ran out: running ones (their worker died) are queued again or failed when out of
    attempts; queued ones never handed to the queue (it was down) are handed over again. Works in the
    caller's transaction; the queue receives the jobs after it commits."""
    now = now or utcnow()
    lease = timedelta(seconds=queue.settings.job_lease_s)
    counts = {"requeued": 0, "failed": 0, "handed_over": 0}
    sqlite = db.get_bind().dialect.name == "sqlite"
    candidates = db.scalars(select(Job).where(Job.status.in_(("queued", "running")))
                            .order_by(Job.id).with_for_update(skip_locked=True)).all()
    for job in candidates:
        lease_ok = job.lease_until is not None and job.lease_until >= now
        if lease_ok if job.status == "queued" else _worker_alive(job.worker, sqlite=sqlite, lease_ok=lease_ok):
            continue
        if job.status == "running" and job.attempts >= job.max_attempts:
            _give_up_in(db, job, "the worker stopped while running the last attempt")
            counts["failed"] += 1
            continue
        if job.status == "running":
            job.error = f"the worker running attempt {job.attempts} stopped"
            counts["requeued"] += 1
            log.warning("job %s: its worker stopped; queued again", job.id)
        else:
            counts["handed_over"] += 1
        job.status, job.worker, job.lease_until = "queued", "", now + lease
        db.info.setdefault(OUTBOX, []).append((queue, job.id))
    return counts


# --- duties ---------------------------------------------------------------------------------------

def period_start(now: datetime, period_s: float, offset_s: float = 0.0) -> datetime:
    """The start of the period of ``period_s`` seconds that holds ``now`` (periods counted from 2000)."""
    origin = EPOCH + timedelta(seconds=offset_s)
    n = int((now - origin).total_seconds() // period_s)
    return origin + timedelta(seconds=n * period_s)


def claim_period(database: Database, duty: str, start: datetime) -> bool:
    """Claim ``duty``'s period starting at ``start``; True for the one caller whose claim landed."""
    with database.unit_of_work(principal=SYSTEM) as s:
        stmt = dialect_insert(s, DutyRun.__table__).values(
            duty=duty, period_start=start, claimed_at=utcnow(), worker=WORKER_ID, status="claimed",
            error="").on_conflict_do_nothing().returning(DutyRun.duty)
        return s.execute(stmt).first() is not None


def execute_duty(queue: Queue, key: str, start: datetime) -> None:
    from app.core.manifest import duties

    duty = duties().get(key)
    database = queue.database
    with database.unit_of_work(principal=SYSTEM) as s:
        taken = s.execute(update(DutyRun).where(DutyRun.duty == key, DutyRun.period_start == start,
                                                DutyRun.status == "claimed")
                          .values(status="running", started_at=utcnow())).rowcount
        previous = s.scalar(select(func.max(DutyRun.period_start)).where(
            DutyRun.duty == key, DutyRun.period_start < start, DutyRun.status == "done"))
    if taken != 1 or duty is None:
        return
    metrics.observe_duty_lag(key, (utcnow() - start).total_seconds())
    with log_context(duty=key), origin_scope("job", key):
        _run_duty(queue, duty, start, previous)


def _run_duty(queue: Queue, duty: Duty, start: datetime, previous: datetime | None) -> None:
    database, settings, key = queue.database, queue.settings, duty.key
    status, error = "done", ""
    began = time.perf_counter()
    try:
        with database.unit_of_work(principal=SYSTEM) as session:
            bind_principal(session, system_principal(key))
            since = previous or start - timedelta(seconds=duty.period_s * settings.duty_period_scale)
            duty.run(DutyContext(session=session, database=database, settings=settings, period_start=start,
                                 since=since))
    except Exception as exc:
        log.exception("duty %s (period %s) failed", key, start.isoformat())
        status, error = "failed", _error_text(exc)
    with database.unit_of_work(principal=SYSTEM) as s:
        s.execute(update(DutyRun).where(DutyRun.duty == key, DutyRun.period_start == start)
                  .values(status=status, error=error, finished_at=utcnow()))
    log.info("duty %s period %s %s by %s in %.3f s", key, start.isoformat(), status, WORKER_ID,
             time.perf_counter() - began)


def run_duty_now(queue: Queue, key: str, *, now: datetime | None = None) -> bool:
    """Claim ``key``'s current period and run it in this thread (``dxhub worker --once``, tests); False
    when another worker already claimed the period."""
    from app.core.manifest import duties

    duty = duties()[key]
    start = period_start(now or utcnow(), duty.period_s * queue.settings.duty_period_scale, duty.offset_s)
    if not claim_period(queue.database, key, start):
        return False
    execute_duty(queue, key, start)
    return True


class Clock:
    """Claims and queues the duties that are due; one per worker process."""

    ENABLED_TTL_S = 30.0

    def __init__(self, queue: Queue, duty_list: list[Duty]) -> None:
        self.queue, self.duties = queue, duty_list
        self._last: dict[str, datetime] = {}
        self._enabled: dict[str, tuple[float, bool]] = {}

    def _is_enabled(self, duty: Duty) -> bool:
        if duty.enabled is None:
            return True
        checked = self._enabled.get(duty.key)
        if checked is None or time.monotonic() - checked[0] > self.ENABLED_TTL_S:
            with self.queue.database.unit_of_work(write=False, principal=SYSTEM) as s:
                checked = (time.monotonic(), bool(duty.enabled(s, self.queue.settings)))
            self._enabled[duty.key] = checked
        return checked[1]

    def tick(self, now: datetime | None = None) -> list[str]:
        """Claim every due period; returns the duties this process queued."""
        now = now or utcnow()
        queued = []
        for duty in self.duties:
            start = period_start(now, duty.period_s * self.queue.settings.duty_period_scale, duty.offset_s)
            if self._last.get(duty.key) == start:
                continue
            self._last[duty.key] = start
            try:
                if self._is_enabled(duty) and claim_period(self.queue.database, duty.key, start):
                    self.queue.run_duty(duty.key, start.isoformat())
                    queued.append(duty.key)
            except Exception:
                log.exception("duty %s: could not claim its period", duty.key)
                self._last.pop(duty.key, None)
        return queued

    def report_depth(self) -> None:
        """The queue's depth for ``/metrics`` (a cheap count on Redis and on Huey's SQLite store)."""
        try:
            metrics.set_queue_depth(self.queue.pending())
        except Exception:  # the queue is down: the consumer says so; the gauge keeps its last value
            log.debug("queue depth unavailable", exc_info=True)

    def next_due_in(self, now: datetime) -> float:
        """Seconds until the next period of any duty starts."""
        scale = self.queue.settings.duty_period_scale
        return min((period_start(now, d.period_s * scale, d.offset_s) + timedelta(seconds=d.period_s * scale)
                    - now).total_seconds() for d in self.duties) if self.duties else 60.0

    def run(self, stop: threading.Event) -> None:
        """Tick at each period's start (and at least every ``worker_tick_s``, to see enabled duties)."""
        while not stop.is_set():
            self.tick()
            self.report_depth()
            stop.wait(max(0.0, min(self.queue.settings.worker_tick_s, self.next_due_in(utcnow()) + 0.001)))


# --- the core's own duties ------------------------------------------------------------------------

def _recover_duty(ctx: DutyContext) -> None:
    recover_jobs(queue_for(ctx.settings), ctx.session)


def _audit_retention(ctx: DutyContext) -> None:
    """Audit trail and access records past their retention (DXHUB_AUDIT/ACCESS_RETENTION_DAYS) go; the
    chains keep verifying from the last purged entry's hash."""
    from app.platform.auditchain import purge_expired

    purge_expired(ctx.session)


def _forget_old_duty_runs(ctx: DutyContext) -> None:
    """Duty claims are kept a week (lag figures, the last run of each duty), then deleted."""
    ctx.session.execute(DutyRun.__table__.delete().where(DutyRun.period_start < utcnow() - timedelta(days=7)))


def _refresh_kpis(ctx: DutyContext) -> None:
    """Program KPIs bound to a module's metric source are recomputed for the current month and the one
    before, each period's value kept with the time it was computed (kpi_reading)."""
    from app.platform.service import refresh_bound_kpis

    refresh_bound_kpis(ctx.session)


def _noop_job(ctx: JobContext) -> dict[str, Any]:
    """A job that does nothing: the unit of the bench's throughput and of the worker's own tests."""
    ctx.progress(1, 1, force=True)
    return {"ok": True}


def _rotate_keys(ctx: JobContext) -> dict[str, Any]:
    from app.core import rotation

    return rotation.run_job(ctx)


CORE_JOBS = (JobKind("core.noop", _noop_job, max_attempts=1),
             JobKind("core.keys.rotate", _rotate_keys, title="Key rotation"))

CORE_DUTIES = (
    Duty("core.jobs.recover", 10.0, _recover_duty, title="Recovery of stalled jobs"),
    Duty("core.audit.retention", 24 * 3600.0, _audit_retention, title="Audit record retention"),
    Duty("core.duty_runs.cleanup", 24 * 3600.0, _forget_old_duty_runs),
    Duty("platform.kpis.refresh", 3600.0, _refresh_kpis),
)


# --- the process ----------------------------------------------------------------------------------

def run_worker(settings: Settings, *, threads: int | None = None) -> int:
    """Run the consumer and the clock until SIGINT/SIGTERM."""
    from app.core.manifest import duties, install
    from app.modules import load_manifests

    install(load_manifests())
    queue = queue_for(settings)
    duty_list = list(duties().values())
    log.info("worker %s: queue %s, %s duties", WORKER_ID, queue.where, len(duty_list))
    print(f"DX Hub worker {WORKER_ID}: queue {queue.where}; duties: "
          + ", ".join(f"{d.key} ({d.period_s * settings.duty_period_scale:g} s)" for d in duty_list), flush=True)
    try:
        with queue.database.unit_of_work(principal=SYSTEM) as s:
            recover_jobs(queue, s)
    except Exception:
        log.exception("job recovery at start failed")
    stop = threading.Event()
    clock = threading.Thread(target=Clock(queue, duty_list).run, args=(stop,), name="dxhub-clock", daemon=True)
    consumer = queue.huey.create_consumer(workers=threads or settings.worker_threads, worker_type="thread",
                                          periodic=False, initial_delay=0.02, backoff=1.3, max_delay=0.1,
                                          check_worker_health=True)
    clock.start()
    from app.core.mqtt import start_bridges

    link = start_bridges(settings, queue.database)
    try:
        consumer.run()
    finally:
        stop.set()
        clock.join(5)
        if link is not None:
            link.stop()
        queue.database.dispose()
    return 0


def describe(settings: Settings) -> dict[str, Any]:
    """The queue and the duties, for ``dxhub worker --list``."""
    from app.core.manifest import bridges, duties, job_kinds

    return {"queue": queue_for(settings).where,
            "duties": {k: d.period_s * settings.duty_period_scale for k, d in duties().items()},
            "jobs": sorted(job_kinds()),
            "bridges": {k: b.topics(settings) for k, b in bridges().items()} if settings.mqtt_url else {}}
