"""Several hosts in one machine: two real `dxhub serve` web processes and two real `dxhub worker` processes on
PostgreSQL with the Redis queue. Each duty period runs once and each job runs once, however the workers
race; a live screen served by one web process sees a change posted through the other one. Periods are
shortened through ``DXHUB_DUTY_PERIOD_SCALE``; the test waits on conditions (rows in the database, events
on a stream) with deadlines, never on the clock."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from app.core.config import Settings
from app.core.db import utcnow
from app.core.jobs import queue_for, submit
from app.core.jobs_models import DutyRun, Job
from app.core.tenancy import SYSTEM, bind_principal
from app.kt.robots import service as robots_service
from app.kt.robots.schemas import RobotIn, SiteIn
from tests.conftest import PASSWORD

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


# Each process runs on the test's clock (a subprocess does not travel along by itself), ticking from there:
# argv[1] is the test's instant when the test's monotonic clock read argv[2] (one clock for the machine).
LAUNCH = """
import sys
import time
from datetime import datetime, timedelta
import time_machine
at = datetime.fromisoformat(sys.argv[1]) + timedelta(seconds=time.monotonic() - float(sys.argv[2]))
time_machine.travel(at, tick=True).start()
from app.cli import main
sys.exit(main(sys.argv[3:]))
"""


def worker_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "DXHUB_DATABASE_URL": database_url,
            "DXHUB_DATA_DIR": str(data_dir), "DXHUB_ENV": "development", **extra}


def dxhub(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen:
    """``dxhub <args>`` in a process of its own, on the test's clock, its output in ``log``."""
    out = log.open("w")
    argv = [sys.executable, "-c", LAUNCH, utcnow().isoformat(), repr(time.monotonic()), *args]
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    return dxhub(env, log, "worker", "--threads", "3")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_web(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    """``dxhub serve`` on a free port; returns the process and its base URL."""
    port = free_port()
    return dxhub(env, log, "serve", "--host", "127.0.0.1", "--port", str(port)), f"http://127.0.0.1:{port}"


def ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


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


def make_site(database) -> tuple[int, int]:
    """A robot site of 창원시 whose robots fall silent after 5 s, and one robot; returns their ids."""
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        site = robots_service.create_site(s, data=SiteIn(
            code="cw-hall", name="창원시청 민원실", municipality_code="4812000000", map_id="f1", map_width_m=30,
            map_height_m=20, offline_after_s=5, places=[{"name": "정문", "kind": "door", "x": 1.0, "y": 10.0}]))
        robot = robots_service.register_robot(s, data=RobotIn(external_id="KT-G1", name="안내로봇 1호", vendor="KT",
                                                              model="M1", type="guide", site_id=site.id))
        return site.id, robot.id


def next_event(lines, wanted, *, within_s: float, what: str) -> dict:
    """The data of the first server-sent event for which ``wanted(name, data)`` holds."""
    name, deadline = None, time.monotonic() + within_s
    for line in lines:
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data = json.loads(line.split(":", 1)[1])
            if wanted(name, data):
                return data
        if time.monotonic() > deadline:  # keep-alives would otherwise keep the loop waiting forever
            break
    raise AssertionError(f"not within {within_s} s: {what}")


def test_two_webs_and_two_workers_behave_as_one(database, world, tmp_path):
    """Two `dxhub serve` and two `dxhub worker` on PostgreSQL + Redis: each duty period runs once, each job
    once (even delivered twice), and a screen on web A hears a state posted through web B and the offline
    alert a worker raises when the robot then falls silent."""
    if database.is_sqlite:
        pytest.skip("several hosts means PostgreSQL: SQLite serves one host")
    _redis_or_skip()
    name = f"dxhub-test-{uuid.uuid4().hex[:8]}"
    extra = {"DXHUB_REDIS_URL": REDIS_URL, "DXHUB_QUEUE_NAME": name, "DXHUB_DUTY_PERIOD_SCALE": "0.02",
             "DXHUB_WORKER_TICK_S": "0.02", "DXHUB_SECRET_KEY": "test-secret-key-0123456789"}
    settings = Settings(database_url=database.url, data_dir=tmp_path, redis_url=REDIS_URL, queue_name=name)
    queue = queue_for(settings)
    queue.bind(database)
    queue.huey.flush()
    site_id, robot_id = make_site(database)
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        job_ids = [submit(s, queue=queue, kind="core.noop").id for _ in range(40)]
    for job_id in job_ids:  # every job delivered twice: both workers may take a copy
        queue.run_job(job_id)

    env = worker_env(database.url, tmp_path, **extra)
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    procs = [start_worker(env, log) for log in logs]
    webs = [start_web(env, tmp_path / f"web-{i}.log") for i in (1, 2)]
    procs += [proc for proc, _base in webs]
    (_a, web_a), (_b, web_b) = webs
    try:
        wait_for(lambda: ready(web_a) and ready(web_b), within_s=120, what="both web processes ready", procs=procs)
        r = httpx.post(f"{web_b}/api/v1/auth/token", data={"username": "cw.staff", "password": PASSWORD}, timeout=30)
        assert r.status_code == 200, r.text
        auth = {"Authorization": f"Bearer {r.json()['access_token']}"}  # minted by web B, honoured by web A
        with httpx.Client(timeout=httpx.Timeout(30.0)) as screen, screen.stream(
                "GET", f"{web_a}/api/v1/kt/robots/sites/{site_id}/stream", headers=auth) as stream:
            assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            assert next(lines).startswith("retry:")  # subscribed, and web A listens to the other processes
            state = {"robot_id": robot_id, "time": utcnow().isoformat(), "operating_mode": "automatic",
                     "position": {"x": 1.0, "y": 10.0, "theta": 0.0, "map_id": "f1"},
                     "battery": {"charge_pct": 64.0, "charging": False}, "errors": []}
            r = httpx.post(f"{web_b}/api/v1/kt/robots/states", json=[state], headers=auth, timeout=30)
            assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
            heard = next_event(lines, lambda n, d: n == "robots" and d.get("robot_ids") == [robot_id], within_s=30,
                               what="web A's screen hears the state posted through web B")
            assert heard["robot_ids"] == [robot_id]
            # Nobody reports again: a worker's sweep marks the robot offline and web A's screen hears the alert.
            alert = next_event(lines, lambda n, d: n == "alert" and d.get("robot_id") == robot_id, within_s=60,
                               what="web A's screen hears the offline alert of a worker's sweep")
            assert alert["kind"] == "offline"

        def settled() -> bool:
            # The claim row names the worker whose claim landed (one clock may win nearly every race); which
            # worker ran a period shows in the logs, so "both workers work" is read there.
            ran_by = {m[4] for m in RAN.finditer("\n".join(log.read_text() for log in logs))}
            with database.unit_of_work(principal=SYSTEM) as s:
                sweeps = s.scalar(select(func.count()).select_from(DutyRun).where(
                    DutyRun.duty == "kt.robots.sweep_offline", DutyRun.status == "done"))
                open_jobs = s.scalar(select(func.count()).select_from(Job).where(Job.status != "succeeded"))
            return len(ran_by) == 2 and sweeps >= 10 and open_jobs == 0

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
    with database.unit_of_work(principal=SYSTEM) as s:
        assert set(s.scalars(select(Job.attempts))) == {1}
        assert s.scalar(select(func.count()).select_from(DutyRun).where(DutyRun.status == "failed")) == 0
