"""The worker in one process: jobs run once, fail with retries and backoff, are recovered when their
worker dies; duties claim each period once; a silent robot is marked offline by the worker's duty.
The queue is Huey's real SQLite storage (drained in the test's thread, as a consumer thread would)."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from app.core.db import utcnow
from app.core.jobs import submit
from app.core.jobs_models import DutyRun, Job
from app.core.manifest import duties
from app.core.tenancy import SYSTEM, bind_principal
from app.core.worker import Clock, period_start, recover_jobs, run_duty_now


@pytest.fixture
def queue(job_queue):
    return job_queue


def _submit(database, queue, kind: str = "core.noop", **kwargs) -> int:
    with database.unit_of_work(principal=SYSTEM) as s:
        bind_principal(s, SYSTEM)
        return submit(s, queue=queue, kind=kind, **kwargs).id


def _job(database, job_id: int) -> Job:
    with database.unit_of_work(principal=SYSTEM) as s:
        return s.get(Job, job_id)


def test_a_job_is_handed_over_at_commit_and_runs_once_however_often_delivered(database, queue):
    with database.unit_of_work(principal=SYSTEM) as s:
        bind_principal(s, SYSTEM)
        submit(s, queue=queue, kind="core.noop")
        s.rollback()  # a job of a rolled-back transaction never reaches the queue
    assert queue.pending() == 0
    job_id = _submit(database, queue)
    assert queue.pending() == 1 and _job(database, job_id).status == "queued"
    queue.run_job(job_id)  # delivered a second time (a retry of the hand-over, a recovery round)
    assert queue.drain() == 2
    job = _job(database, job_id)
    assert job.status == "succeeded" and job.attempts == 1 and job.result == {"ok": True}
    assert job.finished_at is not None and job.fraction == 1.0 and job.owner == "system:system"


def test_a_failing_job_is_retried_with_backoff_then_given_up(database, queue, settings, tmp_path):
    """A city-data import whose file has gone: each attempt fails, the retries wait longer each time, the
    last failure marks the job and the import failed."""
    from app.lguplus.citydata.jobs import IMPORT
    from app.lguplus.citydata.models import CitydataImportJob
    from tests.conftest import make_world

    with database.unit_of_work(principal=SYSTEM) as s:
        bind_principal(s, SYSTEM)
        world = make_world(s)
        imp = CitydataImportJob(municipality_id=world.changwon.id, kind="living_population", filename="x.csv",
                                bytes_total=10, status="queued", created_by="t", errors=[])
        s.add(imp)
        s.flush()
        job_id = submit(s, queue=queue, kind=IMPORT, municipality_id=world.changwon.id,
                        payload={"import_job_id": imp.id, "path": str(tmp_path / "gone.csv")}).id
        imp_id = imp.id
    start = utcnow()
    with time_machine.travel(start, tick=False) as clock:
        queue.drain()
        job = _job(database, job_id)
        assert job.status == "queued" and job.attempts == 1 and "FileNotFoundError" in job.error
        assert queue.huey.scheduled_count() == 1
        clock.shift(settings.job_retry_delay_s - 1)
        assert queue.drain() == 0  # not yet: the first retry waits job_retry_delay_s
        clock.shift(2)
        assert queue.drain() == 1 and _job(database, job_id).attempts == 2
        clock.shift(settings.job_retry_delay_s + 1)
        assert queue.drain() == 0  # the second retry waits twice as long
        clock.shift(settings.job_retry_delay_s)
        assert queue.drain() == 1
    job = _job(database, job_id)
    assert job.status == "failed" and job.attempts == 3 and job.finished_at is not None
    with database.unit_of_work(principal=SYSTEM) as s:
        imp = s.get(CitydataImportJob, imp_id)
        assert imp.status == "failed" and imp.finished_at is not None


def test_a_job_whose_worker_died_is_queued_again_then_failed_when_out_of_attempts(database, queue, settings):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket

    here_dead = f"{socket.gethostname()}:{int(dead.stdout)}"
    first, second, elsewhere = (_submit(database, queue, max_attempts=3) for _ in range(3))
    queue.huey.flush()
    with database.unit_of_work(principal=SYSTEM) as s:
        bind_principal(s, SYSTEM)
        now = utcnow()
        for job_id, worker, attempts, lease in ((first, here_dead, 1, now + timedelta(hours=1)),
                                                (second, here_dead, 1, now + timedelta(hours=1)),
                                                (elsewhere, "another-host:42", 1, now + timedelta(seconds=30))):
            job = s.get(Job, job_id)
            job.status, job.worker, job.attempts, job.lease_until = "running", worker, attempts, lease
        s.get(Job, second).max_attempts = 1
    with database.unit_of_work(principal=SYSTEM) as s:
        counts = recover_jobs(queue, s)
    assert _job(database, first).status == "queued" and "stopped" in _job(database, first).error
    assert _job(database, second).status == "failed"
    if database.is_sqlite:  # one host only: a worker not of this host cannot be running anything
        assert counts == {"requeued": 2, "failed": 1, "handed_over": 0}
    else:  # this host's dead worker is seen at once; another host's is trusted until its lease ends
        assert counts == {"requeued": 1, "failed": 1, "handed_over": 0}
        assert _job(database, elsewhere).status == "running"
        with time_machine.travel(utcnow() + timedelta(seconds=31), tick=False), \
                database.unit_of_work(principal=SYSTEM) as s:
            assert recover_jobs(queue, s)["requeued"] == 1
    queue.drain()
    assert _job(database, first).status == "succeeded" and _job(database, first).attempts == 2
    assert _job(database, elsewhere).status == "succeeded"


def test_a_duty_period_is_claimed_once_by_however_many_clocks(database, queue, settings):
    clocks = [Clock(queue, list(duties().values())) for _ in range(3)]
    at = period_start(utcnow(), 60) + timedelta(seconds=0.5)
    with time_machine.travel(at, tick=False):
        queued = [c.tick() for c in clocks]
        assert clocks[0].tick() == []  # the same period again: nothing
    assert queued[0] and queued[1] == [] and queued[2] == []
    assert "kt.robots.sweep_offline" in queued[0] and "core.jobs.recover" in queued[0]
    queue.drain()
    with database.unit_of_work(principal=SYSTEM) as s:
        rows = s.execute(select(DutyRun.duty, DutyRun.status, DutyRun.started_at, DutyRun.period_start)).all()
    assert {r.duty for r in rows} == set(queued[0])
    assert all(r.status == "done" and r.started_at >= r.period_start for r in rows)


def test_jobs_are_read_by_their_municipality_only(database, queue):
    from app.core.errors import NotFound
    from app.core.jobs import get_job, list_jobs
    from app.core.tenancy import Principal
    from tests.conftest import make_world

    with database.unit_of_work(principal=SYSTEM) as s:
        bind_principal(s, SYSTEM)
        world = make_world(s)
        mine = submit(s, queue=queue, kind="core.noop", municipality_id=world.changwon.id).id
        theirs = submit(s, queue=queue, kind="core.noop", municipality_id=world.ulsan.id).id
    staff = Principal(kind="user", id=1, name="cw", role="staff", municipality_id=world.changwon.id,
                      municipality_ids=frozenset({world.changwon.id}))
    with database.unit_of_work(principal=SYSTEM) as s:
        bind_principal(s, staff)
        assert get_job(s, job_id=mine).id == mine
        with pytest.raises(NotFound):
            get_job(s, job_id=theirs)
        assert [j.id for j in list_jobs(s)] == [mine]
        # On PostgreSQL the database's row-level security hides the other tenant's job from a raw count too.
        assert s.scalar(select(func.count()).select_from(Job)) == (2 if database.is_sqlite else 1)


def test_job_lines_carry_the_job_id_and_a_late_duty_reports_its_lag(database, queue, caplog):
    """Every log line of a job names it (JSON logs: ``job_id``); a duty that starts late shows by how much on
    ``/metrics`` (``dxhub_duty_lag_seconds``), and the queue's depth is reported."""
    from prometheus_client import REGISTRY

    from app.core.logging import ContextFilter

    caplog.handler.addFilter(ContextFilter())
    job_id = _submit(database, queue)
    with caplog.at_level("INFO", logger="dxhub.worker"):
        assert queue.drain() == 1
    lines = [r for r in caplog.records if r.name == "dxhub.worker" and f"job {job_id} " in r.getMessage()]
    assert lines and all(r.context == {"job_id": job_id, "job_kind": "core.noop"} for r in lines)

    key = "core.duty_runs.cleanup"
    assert run_duty_now(queue, key, now=utcnow() - timedelta(seconds=90))  # its period began 90 s ago at least
    assert REGISTRY.get_sample_value("dxhub_duty_lag_seconds", {"duty": key}) >= 90
    _submit(database, queue)
    Clock(queue, []).report_depth()
    assert REGISTRY.get_sample_value("dxhub_job_queue_depth") == 1
    queue.drain()
