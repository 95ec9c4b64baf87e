"""Robot state ingestion and the site screen under load, beside floors measured in the same run.

1. State reports/s through ``POST /api/v1/kt/robots/states`` (batches of 1,000, one per robot of a
   1,000-robot site), beside a bare executemany of the same rows into the same table.
2. 1,000 robots reporting every second, sustained (uvicorn with one worker on SQLite, whose live screens
   are in-process, and 2 on PostgreSQL, whose changes travel between workers; DXHUB_BENCH_WORKERS): one
   batch a second goes in while a site screen's event stream is open and 4 clients read the site
   screen's data call ``GET /sites/{id}/live``;
   its p99 beside ``GET /livez`` p99 under the same load. The figure named "kept up" is the share of
   seconds whose batch was stored within that second.

SQLite always (a fresh file); PostgreSQL too when ``DXHUB_BENCH_PG_URL`` names a database that may be
emptied. Loopback only; about a minute per backend (the sustained part lasts
``DXHUB_BENCH_ROBOTS_SUSTAIN_S``, default 30 s).
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.harness import each_backend, print_rows, server, world

ROOT = Path(__file__).resolve().parents[1]
ROBOTS = 1000
INGEST_BATCHES = 10
SUSTAIN_S = int(os.environ.get("DXHUB_BENCH_ROBOTS_SUSTAIN_S", "30"))
READERS = 4


def _prepare(url: str) -> int:
    """Migrate, then one municipality, an admin, a site and 1,000 robots; returns the site id."""
    sys.path.insert(0, str(ROOT))
    from app.core import security
    from app.kt.robots import service
    from app.kt.robots.models import Robot
    from app.kt.robots.schemas import SiteIn
    from app.platform.models import User

    def populate(s, m) -> int:
        s.add(User(username="bench", display_name="bench", role="platform_admin",
                   password_hash=security.hash_password("bench-password-1")))
        site = service.create_site(s, data=SiteIn(code="bench-hall", name="벤치 현장", municipality_code=m.code,
                                                  map_id="f1", map_width_m=200, map_height_m=200, places=[
                                                      {"name": "입구", "x": 1, "y": 1}]))
        s.add_all(Robot(municipality_id=m.id, site_id=site.id, external_id=f"B-{i:04d}", name=f"로봇 {i}",
                        vendor="bench", model="B", type="guide", capabilities=["guide", "dock"], status="offline",
                        online=False, errors=[]) for i in range(ROBOTS))
        s.flush()
        return site.id

    db, _mid, site_id = world(url, {"code": "4300000000", "name_ko": "충청북도", "name_en": "Chungbuk",
                                    "level": "metropolitan"}, populate)
    db.dispose()
    return site_id


def _batch(robot_ids: list[int], at: datetime) -> list[dict]:
    return [{"robot_id": rid, "time": at.isoformat(), "position": {"x": (rid % 190) + 1.0, "y": 5.0, "theta": 0,
                                                                  "map_id": "f1"},
             "battery": {"charge_pct": 80.0, "charging": False}, "errors": []} for rid in robot_ids]


def _floor_executemany(url: str, robot_ids: list[int], batches: int) -> float:
    """Rows/s of a bare executemany of the same state rows into the same table."""
    from sqlalchemy import insert

    from app.core.db import Database
    from app.kt.robots.models import RobotState

    db = Database(url)
    start_at = datetime.now(UTC) - timedelta(hours=2)
    rows_total = 0
    started = time.perf_counter()
    for b in range(batches):
        at = start_at + timedelta(seconds=b)
        rows = [{"municipality_id": 1, "robot_id": rid, "reported_at": at, "received_at": at,
                 "operating_mode": "automatic", "x": 1.0, "y": 5.0, "theta": 0.0, "map_id": "f1",
                 "battery_pct": 80.0, "charging": False, "errors": [], "task_id": None, "task_progress": None}
                for rid in robot_ids]
        with db.engine.begin() as conn:
            conn.execute(insert(RobotState.__table__), rows)
        rows_total += len(rows)
    elapsed = time.perf_counter() - started
    db.dispose()
    return rows_total / elapsed


def _p99(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * 0.99))] if values else 0.0


def _readers(url: str, headers: dict, stop: threading.Event, out: list[float]) -> list[threading.Thread]:
    def run() -> None:
        with httpx.Client(headers=headers, timeout=10) as client:
            while not stop.is_set():
                started = time.perf_counter()
                r = client.get(url)
                out.append((time.perf_counter() - started) * 1000)
                if r.status_code != 200:
                    raise RuntimeError(f"{url}: {r.status_code}")

    threads = [threading.Thread(target=run, daemon=True) for _ in range(READERS)]
    for t in threads:
        t.start()
    return threads


def _stream(url: str, headers: dict, stop: threading.Event, seen: list[str]) -> threading.Thread:
    """A site screen's event stream, open during the sustained part (ingestion then builds the live
    messages too); the names of the events it receives go to ``seen``."""
    def run() -> None:
        with httpx.Client(headers=headers, timeout=httpx.Timeout(10, read=None)) as client, \
                client.stream("GET", url) as response:
            for line in response.iter_lines():
                if line.startswith("event:"):
                    seen.append(line.split(":", 1)[1].strip())
                if stop.is_set():
                    return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _measure_backend(label: str, url: str) -> list[dict]:
    site_id = _prepare(url)
    workers = int(os.environ.get("DXHUB_BENCH_WORKERS", "2" if url.startswith("postgresql") else "1"))
    env = dict(os.environ, DXHUB_DATABASE_URL=url, DXHUB_ENV="development")
    with server(env, workers=workers) as base:
        token = httpx.post(f"{base}/api/v1/auth/token", data={"username": "bench", "password": "bench-password-1"},
                           timeout=10).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        client = httpx.Client(base_url=base, headers=headers, timeout=60)
        robot_ids = [r["id"] for offset in range(0, ROBOTS, 200)
                     for r in client.get("/api/v1/kt/robots", params={"limit": 200, "offset": offset}).json()["items"]]
        assert len(robot_ids) == ROBOTS

        # 1. Throughput: batches back to back.
        t0 = datetime.now(UTC)
        client.post("/api/v1/kt/robots/states", json=_batch(robot_ids, t0)).raise_for_status()  # warm up
        bodies = [_batch(robot_ids, t0 + timedelta(seconds=i + 1)) for i in range(INGEST_BATCHES)]
        started = time.perf_counter()
        for body in bodies:
            r = client.post("/api/v1/kt/robots/states", json=body)
            r.raise_for_status()
            assert r.json()["accepted"] == ROBOTS
        api_rate = ROBOTS * INGEST_BATCHES / (time.perf_counter() - started)
        floor_rate = _floor_executemany(url, robot_ids, INGEST_BATCHES)

        # 2. Sustained: one batch a second while readers poll the site screen's data call.
        latencies: list[float] = []
        stop = threading.Event()
        events: list[str] = []
        threads = _readers(f"{base}/api/v1/kt/robots/sites/{site_id}/live", headers, stop, latencies)
        threads.append(_stream(f"{base}/api/v1/kt/robots/sites/{site_id}/stream", headers, stop, events))
        kept = 0
        for _ in range(SUSTAIN_S):
            tick = time.perf_counter()
            r = client.post("/api/v1/kt/robots/states", json=_batch(robot_ids, datetime.now(UTC)))
            r.raise_for_status()
            took = time.perf_counter() - tick
            kept += took <= 1.0
            time.sleep(max(0.0, 1.0 - took))
        stop.set()
        for t in threads:
            t.join(10)
        if events.count("robots") < SUSTAIN_S // 2:
            raise RuntimeError(f"the site stream carried {events.count('robots')} robot updates in {SUSTAIN_S} s")
        live_p99 = _p99(latencies)
        live_p50 = statistics.median(latencies) if latencies else 0.0
        floor_lat: list[float] = []
        stop = threading.Event()
        threads = _readers(f"{base}/livez", {}, stop, floor_lat)
        time.sleep(2)
        stop.set()
        for t in threads:
            t.join(10)
        client.close()
    return [
        {"name": f"kt.robots state reports via batch API ({label})", "value": api_rate, "unit": "rows/s",
         "floor_name": f"bare executemany ({label})", "floor_value": floor_rate},
        {"name": f"kt.robots site live p99, 1000 robots/s ({label})", "value": live_p99, "unit": "ms",
         "floor_name": f"GET /livez p99 ({label})", "floor_value": _p99(floor_lat)},
        {"name": f"kt.robots site live p50, 1000 robots/s ({label})", "value": live_p50, "unit": "ms",
         "floor_name": f"GET /livez p50 ({label})", "floor_value": statistics.median(floor_lat)},
        {"name": f"kt.robots seconds kept up, 1000 robots/s ({label})", "value": 100.0 * kept / SUSTAIN_S,
         "unit": "%", "floor_name": "every second", "floor_value": 100.0},
    ]


def measure() -> list[dict]:
    return each_backend(_measure_backend, "bench-robots.db")


if __name__ == "__main__":
    print_rows(measure())
