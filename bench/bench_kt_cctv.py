"""Event ingestion through the batch API (a real server on loopback), beside a bare executemany of the same
rows into the same table as the floor; then the incident list and statistics p99 over a stored history,
beside a bare endpoint. On SQLite and (when ``DXHUB_BENCH_PG_URL`` names a throwaway database, whose
schema is dropped) on PostgreSQL."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, insert, select, text

from bench.harness import server

ROOT = Path(__file__).resolve().parents[1]
BATCH = 1000
BATCHES = 10
EXTRA_EVENTS = int(os.environ.get("DXHUB_BENCH_CCTV_EVENTS", "100000"))  # the stored history
READS = 60
TYPES = ["smoke", "fall", "loitering", "fire", "crowd", "intrusion"]


def _reset_postgres(url: str) -> None:
    from app.core.db import Database

    db = Database(url)
    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    db.dispose()


@contextmanager
def _server(url: str, data_dir: str) -> Iterator[str]:
    env = dict(os.environ, DXHUB_DATABASE_URL=url, DXHUB_ENV="development", DXHUB_DATA_DIR=data_dir)
    dxhub = [sys.executable, "-m", "app.cli"]
    subprocess.run([*dxhub, "migrate"], env=env, cwd=ROOT, check=True, capture_output=True)
    subprocess.run([*dxhub, "demo"], env=env, cwd=ROOT, check=True, capture_output=True)
    with server(env) as base:
        yield base


def _events(camera_ids: list[int], prefix: str, n: int, seed: int) -> list[dict]:
    """Mostly low-confidence noise, a tenth above the thresholds (which merge into incidents)."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(hours=6)
    rows = []
    for i in range(n):
        rows.append({"camera_id": rng.choice(camera_ids), "event_id": f"{prefix}-{i:07d}", "type": rng.choice(TYPES),
                     "confidence": round(rng.uniform(0.7, 0.95) if i % 10 == 0 else rng.uniform(0.05, 0.35), 3),
                     "detected_at": (start + timedelta(milliseconds=300 * i)).isoformat(),
                     "bbox": [round(rng.uniform(0, 0.7), 3), round(rng.uniform(0, 0.7), 3), 0.2, 0.25],
                     "track_id": f"t{i % 97}", "attributes": {}})
    return rows


def _through_api(base: str, camera_ids: list[int]) -> tuple[float, int]:
    token = httpx.post(f"{base}/api/v1/auth/token", data={"username": "ulsan.staff", "password": "dxhub-demo-2026"},
                       timeout=10).json()["access_token"]
    events = _events(camera_ids, "api", BATCH * BATCHES, 1)
    bodies = [json.dumps(events[i:i + BATCH]).encode() for i in range(0, len(events), BATCH)]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(timeout=60) as client:
        client.post(f"{base}/api/v1/kt/cctv/events", headers=headers,
                    content=json.dumps(_events(camera_ids, "warm", 50, 2)).encode()).raise_for_status()
        started = time.perf_counter()
        accepted = 0
        for body in bodies:
            r = client.post(f"{base}/api/v1/kt/cctv/events", headers=headers, content=body)
            r.raise_for_status()
            accepted += r.json()["accepted"]
        elapsed = time.perf_counter() - started
    assert accepted == len(events), "the API did not accept every event"
    return accepted / elapsed, accepted


def _floor(url: str, camera_ids: list[int], municipality_id: int) -> float:
    """The same rows, as the API would store them, inserted with a bare executemany per batch."""
    from app.core.db import Database
    from app.kt.cctv.models import CctvEvent

    now = datetime.now(UTC)
    rows = []
    for e in _events(camera_ids, "floor", BATCH * BATCHES, 1):
        x, y, w, h = e["bbox"]
        rows.append(dict(municipality_id=municipality_id, event_id=e["event_id"], camera_id=e["camera_id"],
                         type=e["type"], confidence=e["confidence"],
                         detected_at=datetime.fromisoformat(e["detected_at"]), received_at=now, bbox_x=x, bbox_y=y,
                         bbox_w=w, bbox_h=h, track_id=e["track_id"], zone_id=None, attributes={}, incident_id=None))
    db = Database(url)
    try:
        table = CctvEvent.__table__
        started = time.perf_counter()
        for i in range(0, len(rows), BATCH):
            with db.engine.begin() as conn:
                conn.execute(insert(table), rows[i:i + BATCH])
        return len(rows) / (time.perf_counter() - started)
    finally:
        db.dispose()


def _cameras(url: str) -> tuple[list[int], int]:
    from app.core.db import Database
    from app.kt.cctv.models import CctvCamera
    from app.platform.models import Municipality

    db = Database(url)
    try:
        with db.engine.connect() as conn:
            muni = conn.execute(select(Municipality.__table__.c.id).where(
                Municipality.__table__.c.code == "3100000000")).scalar_one()
            cams = conn.execute(select(CctvCamera.__table__.c.id).where(
                CctvCamera.__table__.c.municipality_id == muni)).scalars().all()
        return list(cams), muni
    finally:
        db.dispose()


def _history(url: str, camera_ids: list[int], municipality_id: int) -> int:
    """A stored history: EXTRA_EVENTS detections over 30 days, one incident per 20 of them."""
    from app.core.db import Database
    from app.kt.cctv import rollup
    from app.kt.cctv.models import CctvEvent, CctvIncident

    rng = random.Random(3)
    now = datetime.now(UTC)
    db = Database(url)
    try:
        inc_table, ev_table = CctvIncident.__table__, CctvEvent.__table__
        with db.engine.begin() as conn:
            incidents = []
            for _ in range(EXTRA_EVENTS // 20):
                start = now - timedelta(seconds=rng.uniform(600, 30 * 86400))
                status = rng.choice(["resolved", "false_alarm", "false_alarm", "acknowledged"])
                incidents.append(dict(
                    municipality_id=municipality_id, camera_id=rng.choice(camera_ids), type=rng.choice(TYPES),
                    severity=rng.choice(["alert", "detection"]), status=status, open_key=None,
                    started_at=start, last_detected_at=start + timedelta(seconds=60), opened_at=start,
                    event_count=20, max_confidence=0.8, acknowledged_at=start + timedelta(seconds=90),
                    closed_at=start + timedelta(seconds=900) if status != "acknowledged" else None,
                    dispatch_note="", close_note=""))
            ids = conn.execute(insert(inc_table).returning(inc_table.c.id, sort_by_parameter_order=True),
                               incidents).scalars().all()
            rows = []
            for n in range(EXTRA_EVENTS):
                inc = incidents[n // 20]
                rows.append(dict(municipality_id=municipality_id, event_id=f"hist-{n}", camera_id=inc["camera_id"],
                                 type=inc["type"], confidence=0.8, detected_at=inc["started_at"], received_at=now,
                                 bbox_x=0.1, bbox_y=0.1, bbox_w=0.2, bbox_h=0.2, track_id=None, zone_id=None,
                                 attributes={}, incident_id=ids[n // 20]))
                if len(rows) == 10_000:
                    conn.execute(insert(ev_table), rows)
                    rows = []
            if rows:
                conn.execute(insert(ev_table), rows)
            rollup.rebuild(conn)  # as the platform keeps it for incidents it writes itself
        if url.startswith("postgresql"):  # what autovacuum does after a bulk load: statistics, visibility map
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        with db.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(ev_table)).scalar_one()
    finally:
        db.dispose()


def _p99(client: httpx.Client, url: str, headers: dict[str, str], n: int = READS) -> float:
    """p99 of ``n`` reads once the first 5 have warmed the caches (a freshly loaded history is cold)."""
    for _ in range(5):
        client.get(url, headers=headers).raise_for_status()
    times = []
    for _ in range(n):
        started = time.perf_counter()
        client.get(url, headers=headers).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return times[min(len(times) - 1, int(len(times) * 0.99))]


def _reads(base: str) -> dict[str, float]:
    token = httpx.post(f"{base}/api/v1/auth/token", data={"username": "ulsan.staff", "password": "dxhub-demo-2026"},
                       timeout=10).json()["access_token"]
    h = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=30) as client:
        _p99(client, "/livez", {}, 20)
        return {"livez": _p99(client, "/livez", {}),
                "incidents": _p99(client, "/api/v1/kt/cctv/incidents?limit=50&status=false_alarm", h),
                "stats": _p99(client, "/api/v1/kt/cctv/stats", h)}


def _run(url: str, label: str, data_dir: str) -> list[dict]:
    with _server(url, data_dir) as base:
        cameras, muni = _cameras(url)
        rate, _n = _through_api(base, cameras)
        stored = _history(url, cameras, muni)
        reads = _reads(base)
    floor = _floor(url, cameras, muni)
    return [{"name": f"kt.cctv POST /events, {BATCH}/batch ({label})", "value": rate, "unit": "events/s",
             "floor_name": f"bare executemany ({label})", "floor_value": floor},
            {"name": f"kt.cctv GET /incidents p99 at {stored // 1000}k events ({label})", "value": reads["incidents"],
             "unit": "ms", "floor_name": f"GET /livez p99 ({label})", "floor_value": reads["livez"]},
            {"name": f"kt.cctv GET /stats (30 days) p99 at {stored // 1000}k events ({label})",
             "value": reads["stats"], "unit": "ms", "floor_name": f"GET /livez p99 ({label})",
             "floor_value": reads["livez"]}]


def measure() -> list[dict]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results += _run(f"sqlite:///{tmp}/bench-cctv.db", "SQLite", tmp)
        pg = os.environ.get("DXHUB_BENCH_PG_URL")
        if pg:
            _reset_postgres(pg)
            results += _run(pg, "PostgreSQL", tmp)
    return results


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    for row in measure():
        ratio = row["value"] / row["floor_value"] if row["floor_value"] else float("nan")
        print(f"{row['name']:<52} {row['value']:>10.0f} {row['unit']}  floor {row['floor_name']:<30} "
              f"{row['floor_value']:>10.0f}  ratio {ratio:.2f}")
