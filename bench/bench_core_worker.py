"""The worker: job throughput through Huey (bare no-op tasks, and no-op jobs of the job table with their
claim and outcome writes) on the SQLite queue and on Redis, beside a loop of direct calls; and duty lag
(a period's start to its duty starting) of a real `dxhub worker`, beside a bare timer thread's lag."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.harness import ROOT

TASKS = 2000
JOBS = 300
THREADS = 4


def _settings(tmp: str, *, redis: bool):
    from app.core.config import Settings

    return Settings(database_url=f"sqlite:///{tmp}/bench.db", data_dir=Path(tmp),
                    redis_url="redis://127.0.0.1:6379/0" if redis else None, queue_name=f"dxhub-bench-{os.getpid()}")


def _migrated(tmp: str) -> None:
    env = dict(os.environ, DXHUB_DATABASE_URL=f"sqlite:///{tmp}/bench.db", DXHUB_ENV="development")
    subprocess.run([sys.executable, "-m", "app.cli", "migrate"], env=env, cwd=ROOT, check=True, capture_output=True)


def _consume(queue, until) -> float:
    """Run Huey's consumer (threads) until ``until()``; seconds taken."""
    consumer = queue.huey.create_consumer(workers=THREADS, worker_type="thread", periodic=False,
                                          initial_delay=0.001, backoff=1.1, max_delay=0.05)
    started = time.perf_counter()
    consumer.start()
    try:
        while not until():
            time.sleep(0.005)
    finally:
        elapsed = time.perf_counter() - started
        consumer.stop(graceful=True)
    return elapsed


def _task_rate(queue) -> float:
    queue.huey.flush()
    for _ in range(TASKS):
        queue.noop()
    return TASKS / _consume(queue, lambda: queue.pending() == 0)


def _job_rate(queue) -> float:
    from sqlalchemy import func, select

    from app.core.jobs import submit
    from app.core.jobs_models import Job
    from app.core.tenancy import SYSTEM, bind_principal

    queue.huey.flush()
    with queue.database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        for _ in range(JOBS):
            submit(s, queue=queue, kind="core.noop")

    def done() -> bool:
        with queue.database.unit_of_work(write=False) as s:
            return not s.scalar(select(func.count()).select_from(Job).where(Job.status != "succeeded"))

    return JOBS / _consume(queue, done)


def _floor_rate() -> float:
    from app.core.jobs import _noop

    n, started = 200_000, time.perf_counter()
    for _ in range(n):
        _noop()
    return n / (time.perf_counter() - started)


def _redis_up() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=1).ping())
    except Exception:
        return False


def _timer_lag(period_s: float, rounds: int) -> list[float]:
    """A bare thread waiting for each period's start, as the worker's clock does: how late it wakes."""
    lags, stop = [], threading.Event()
    for _ in range(rounds):
        now = time.time()
        boundary = (now // period_s + 1) * period_s
        stop.wait(boundary - now)
        lags.append(time.time() - boundary)
    return lags


def _duty_lag(tmp: str, seconds: float) -> list[float]:
    """Run `dxhub worker` with every period scaled by 0.2 (the offline sweep every second) and read each
    duty's lag from its claims: the period's start to the duty starting."""
    from sqlalchemy import select

    from app.core.db import Database
    from app.core.jobs_models import DutyRun

    env = dict(os.environ, DXHUB_DATABASE_URL=f"sqlite:///{tmp}/bench.db", DXHUB_ENV="development",
               DXHUB_DATA_DIR=tmp, DXHUB_DUTY_PERIOD_SCALE="0.2", DXHUB_QUEUE_NAME=f"dxhub-lag-{os.getpid()}")
    env.pop("DXHUB_REDIS_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = Database(env["DXHUB_DATABASE_URL"])
    try:
        deadline = time.monotonic() + 120
        first = None
        while time.monotonic() < deadline:
            with db.unit_of_work(write=False) as s:
                first = s.scalar(select(DutyRun.claimed_at).order_by(DutyRun.claimed_at).limit(1))
            if first is not None:
                break
            time.sleep(0.2)
        time.sleep(seconds)
    finally:
        proc.terminate()
        proc.wait(30)
    with db.unit_of_work(write=False) as s:
        rows = s.execute(select(DutyRun.period_start, DutyRun.started_at).where(
            DutyRun.started_at.is_not(None), DutyRun.period_start > datetime.now(UTC) - timedelta(hours=1),
            DutyRun.period_start >= first + timedelta(seconds=2))).all()
    db.dispose()
    return [(started - start).total_seconds() for start, started in rows]


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def measure() -> list[dict]:
    from app.core.db import Database
    from app.core.jobs import Queue
    from app.core.manifest import install
    from app.modules import load_manifests

    install(load_manifests())
    results = []
    floor = _floor_rate()
    backends = [("SQLite queue", False)] + ([("Redis queue", True)] if _redis_up() else [])
    for label, redis in backends:
        with tempfile.TemporaryDirectory() as tmp:
            _migrated(tmp)
            queue = Queue(_settings(tmp, redis=redis))
            queue.bind(Database(queue.settings.database_url))
            tasks = _task_rate(queue)
            jobs = _job_rate(queue)
            queue.huey.flush()
            queue.database.dispose()
        results += [
            {"name": f"worker: no-op Huey tasks/s, {label}, {THREADS} threads", "value": tasks, "unit": "task/s",
             "floor_name": "direct calls of the same function", "floor_value": floor},
            {"name": f"worker: no-op jobs/s (job table, SQLite db), {label}", "value": jobs, "unit": "job/s",
             "floor_name": "direct calls of the same function", "floor_value": floor},
        ]
    with tempfile.TemporaryDirectory() as tmp:
        _migrated(tmp)
        lags = _duty_lag(tmp, seconds=15)
    timer = _timer_lag(0.2, 50)
    results += [
        {"name": f"worker: duty lag p50 ({len(lags)} periods)", "value": statistics.median(lags) * 1000,
         "unit": "ms", "floor_name": "bare timer thread lag p50", "floor_value": statistics.median(timer) * 1000},
        {"name": "worker: duty lag p99", "value": _pct(lags, 0.99) * 1000, "unit": "ms",
         "floor_name": "bare timer thread lag p99", "floor_value": _pct(timer, 0.99) * 1000},
    ]
    return results
