"""Frigate events over MQTT (Mosquitto on loopback, ``dxhub worker`` running the kt.cctv.frigate bridge)
beside the same detections posted to the REST API one per request, as an analyser that sends each
detection when it happens does: the floor is the REST door, measured in the same run on the same database.

Each Frigate event is two messages (``new``, then ``end`` with its final score), stored as one event; the
figure is Frigate events stored per second, from the first message published to the last event visible in
the database. Needs a broker: ``DXHUB_BENCH_MQTT_URL`` (default mqtt://127.0.0.1:1883)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select

from bench.bench_kt_cctv import ROOT, _cameras, _server

EVENTS = int(os.environ.get("DXHUB_BENCH_FRIGATE_EVENTS", "2000"))
MQTT_URL = os.environ.get("DXHUB_BENCH_MQTT_URL", "mqtt://127.0.0.1:1883")
LABELS = ["fire", "smoke", "fall"]


def _stored(url: str, prefix: str) -> int:
    from app.core.db import Database
    from app.kt.cctv.models import CctvEvent

    db = Database(url)
    try:
        with db.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(CctvEvent.__table__).where(
                CctvEvent.__table__.c.event_id.like(f"{prefix}%"))).scalar_one()
    finally:
        db.dispose()


def _wait_stored(url: str, prefix: str, n: int, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while _stored(url, prefix) < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {_stored(url, prefix)} of {n} events stored within {within_s} s")
        time.sleep(0.1)


@contextmanager
def _worker(url: str, data_dir: str, topic_prefix: str):
    env = dict(os.environ, DXHUB_DATABASE_URL=url, DXHUB_ENV="development", DXHUB_DATA_DIR=data_dir,
               DXHUB_MQTT_URL=MQTT_URL, DXHUB_KT_CCTV_FRIGATE_TOPIC_PREFIX=topic_prefix, DXHUB_DEMO_SIMULATE="false")
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def _frigate(kind: str, event_id: str, camera: str, label: str, at: datetime, score: float) -> bytes:
    obj = {"id": event_id, "camera": camera, "frame_time": at.timestamp() + (5 if kind == "end" else 0),
           "label": label, "sub_label": None, "top_score": score, "false_positive": False,
           "start_time": at.timestamp(), "end_time": at.timestamp() + 5 if kind == "end" else None, "score": score,
           "box": [424, 500, 536, 712], "area": 23744, "ratio": 2.1, "region": [264, 450, 667, 853],
           "current_zones": [], "entered_zones": [], "thumbnail": None, "has_snapshot": False, "has_clip": False,
           "active": True, "stationary": False, "motionless_count": 0, "position_changes": 0, "attributes": {}}
    return json.dumps({"type": kind, "before": obj, "after": obj}).encode()


def _detections(n: int, seed: int) -> list[tuple[str, str, datetime, float]]:
    """(label, detection type, time, score): mostly below the thresholds, a tenth above (merged into
    incidents), as in bench_kt_cctv."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(hours=6)
    out = []
    for i in range(n):
        label = rng.choice(LABELS)
        score = round(rng.uniform(0.7, 0.95) if i % 10 == 0 else rng.uniform(0.05, 0.35), 3)
        out.append((label, label, start + timedelta(milliseconds=300 * i), score))
    return out


def _through_mqtt(url: str, data_dir: str, cameras: list[str]) -> float:
    from app.core.config import Settings
    from app.core.mqtt import MqttLink

    topic_prefix = f"bench-{uuid.uuid4().hex[:8]}"
    prefix = f"mq{uuid.uuid4().hex[:6]}-"
    link = MqttLink(Settings(mqtt_url=MQTT_URL), role="bench-frigate")
    if not link.start():
        raise RuntimeError(f"no MQTT broker at {MQTT_URL}")
    rng = random.Random(7)
    try:
        with _worker(url, data_dir, topic_prefix):
            probe_at = datetime.now(UTC) - timedelta(hours=7)
            deadline = time.monotonic() + 120
            while _stored(url, prefix + "probe") == 0:  # until the worker's bridge has subscribed
                link.publish(f"{topic_prefix}/events", _frigate("new", f"{prefix}probe", cameras[0], "fire", probe_at,
                                                                0.9), qos=1)
                if time.monotonic() > deadline:
                    raise RuntimeError("the worker's Frigate bridge did not start")
                time.sleep(0.5)
            detections = _detections(EVENTS, 1)
            started = time.perf_counter()
            for i, (label, _type, at, score) in enumerate(detections):
                camera = rng.choice(cameras)
                event_id = f"{prefix}{i:07d}"
                link.publish(f"{topic_prefix}/events", _frigate("new", event_id, camera, label, at, score), qos=1)
                link.publish(f"{topic_prefix}/events", _frigate("end", event_id, camera, label, at, score), qos=1)
            _wait_stored(url, prefix, EVENTS + 1, within_s=600)
            # the last "end" revises an event already counted: wait for the broker's queue to drain too
            last = f"{prefix}{EVENTS - 1:07d}"
            while _ended(url, last) is False:
                time.sleep(0.05)
            return EVENTS / (time.perf_counter() - started)
    finally:
        link.stop()


def _ended(url: str, event_id: str) -> bool:
    from app.core.db import Database
    from app.kt.cctv.models import CctvEvent

    db = Database(url)
    try:
        with db.engine.connect() as conn:
            attributes = conn.execute(select(CctvEvent.__table__.c.attributes).where(
                CctvEvent.__table__.c.event_id == event_id)).scalar_one()
        return "ended_at" in (attributes or {})
    finally:
        db.dispose()


def _through_rest(base: str, cameras: list[str]) -> float:
    token = httpx.post(f"{base}/api/v1/auth/token", data={"username": "ulsan.staff", "password": "dxhub-demo-2026"},
                       timeout=10).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    rng = random.Random(7)
    prefix = f"rest{uuid.uuid4().hex[:6]}-"
    bodies = [json.dumps({"camera_external_id": rng.choice(cameras), "event_id": f"{prefix}{i:07d}",
                          "type": event_type, "confidence": score, "detected_at": at.isoformat(),
                          "bbox": [0.0, 0.0, 1.0, 1.0], "track_id": f"{prefix}{i:07d}"}).encode()
              for i, (_label, event_type, at, score) in enumerate(_detections(EVENTS, 1))]
    with httpx.Client(base_url=base, timeout=60, headers=headers) as client:
        client.post("/api/v1/kt/cctv/events", content=bodies[0].replace(prefix.encode(), b"warm-")).raise_for_status()
        started = time.perf_counter()
        for body in bodies:
            client.post("/api/v1/kt/cctv/events", content=body).raise_for_status()
        return EVENTS / (time.perf_counter() - started)


def _camera_names(url: str, ids: list[int]) -> list[str]:
    from app.core.db import Database
    from app.kt.cctv.models import CctvCamera

    db = Database(url)
    try:
        with db.engine.connect() as conn:
            return list(conn.execute(select(CctvCamera.__table__.c.external_id).where(
                CctvCamera.__table__.c.id.in_(ids))).scalars())
    finally:
        db.dispose()


def measure() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench-frigate.db"
        with _server(url, tmp) as base:
            ids, _muni = _cameras(url)
            cameras = _camera_names(url, ids)
            rest = _through_rest(base, cameras)
            mqtt = _through_mqtt(url, tmp, cameras)
    return [{"name": "kt.cctv Frigate over MQTT (new+end per event) (SQLite)", "value": mqtt, "unit": "events/s",
             "floor_name": "POST /events, 1/request (SQLite)", "floor_value": rest}]


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    for row in measure():
        print(f"{row['name']:<56} {row['value']:>10.0f} {row['unit']}  floor {row['floor_name']:<34} "
              f"{row['floor_value']:>10.0f}  ratio {row['value'] / row['floor_value']:.2f}")
