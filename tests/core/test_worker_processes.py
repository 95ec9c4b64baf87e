"""Two real `dxhub worker` processes on PostgreSQL with the Redis queue: each duty period runs once and
each job runs once, however the two race. Periods are shortened through ``DXHUB_DUTY_PERIOD_SCALE``;
the test waits on conditions (rows in the database), never on the clock."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.core.config import Settings
from app.core.jobs import queue_for, submit
from app.core.jobs_models import DutyRun, Job
from app.core.tenancy import SYSTEM, bind_principal

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("DXHUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RAN = re.compile(r"duty (\S+) period (\S+) (done|failed) by (\S+)")
STARTED = re.compile(r"job (\d+) \((\S+)\) started, attempt (\d+)")


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"Redis unreachable at {REDIS_URL}: {exc}")


def worker_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "DXHUB_DATABASE_URL": database_url,
            "DXHUB_DATA_DIR": str(data_dir), "DXHUB_ENV": "development", **extra}


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    out = log.open("w")
    return subprocess.Popen([sys.executable, "-m", "app.cli", "worker", "--threads", "3"], cwd=ROOT, env=env,
                            stdout=out, stderr=subprocess.STDOUT)


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wait_for(condition, *, within_s: float, what: str, procs: list[subprocess.Popen] = ()) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if condition():
            return
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            raise AssertionError(f"a worker exited ({dead[0].returncode}) before {what}")
        time.sleep(0.1)
    raise AssertionError(f"not within {within_s} s: {what}")


def test_two_workers_run_each_duty_period_once_and_each_job_once(database, tmp_path):
    if database.is_sqlite:
        pytest.skip("several hosts means PostgreSQL: SQLite serves one host")
    _redis_or_skip()
    name = f"dxhub-test-{uuid.uuid4().hex[:8]}"
    extra = {"DXHUB_REDIS_URL": REDIS_URL, "DXHUB_QUEUE_NAME": name, "DXHUB_DUTY_PERIOD_SCALE": "0.02",
             "DXHUB_WORKER_TICK_S": "0.02"}
    settings = Settings(database_url=database.url, data_dir=tmp_path, redis_url=REDIS_URL, queue_name=name)
    queue = queue_for(settings)
    queue.bind(database)
    queue.huey.flush()
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        job_ids = [submit(s, queue=queue, kind="core.noop").id for _ in range(40)]
    for job_id in job_ids:  # every job delivered twice: both workers may take a copy
        queue.run_job(job_id)

    env = worker_env(database.url, tmp_path, **extra)
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    procs = [start_worker(env, log) for log in logs]
    try:
        def settled() -> bool:
            with database.unit_of_work() as s:
                workers = s.scalar(select(func.count(func.distinct(DutyRun.worker))).where(
                    DutyRun.duty == "kt.robots.sweep_offline", DutyRun.status == "done"))
                sweeps = s.scalar(select(func.count()).select_from(DutyRun).where(
                    DutyRun.duty == "kt.robots.sweep_offline", DutyRun.status == "done"))
                open_jobs = s.scalar(select(func.count()).select_from(Job).where(Job.status != "succeeded"))
            return workers == 2 and sweeps >= 30 and open_jobs == 0

        wait_for(settled, within_s=240, what="both workers sweep and every job succeeds", procs=procs)
    finally:
        stop(procs)
        queue.huey.flush()
    text = "\n".join(log.read_text() for log in logs)
    runs = Counter((m[1], m[2]) for m in RAN.finditer(text))
    assert runs and max(runs.values()) == 1, [k for k, n in runs.items() if n > 1][:5]
    by_worker = Counter(m[4] for m in RAN.finditer(text))
    assert len(by_worker) == 2  # both raced for the same periods; each period ran in one of them
    starts = Counter(int(m[1]) for m in STARTED.finditer(text))
    assert set(starts) == set(job_ids) and max(starts.values()) == 1
    with database.unit_of_work() as s:
        assert set(s.scalars(select(Job.attempts))) == {1}
