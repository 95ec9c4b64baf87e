"""Robot state ingestion through MQTT (VDA 5050) beside the REST API, with floors from the same run.

The same 200 robots (vendor = VDA 5050 manufacturer, external id = serial number) report 10 states each:

1. VDA 5050 ``state`` messages published to the machine's Mosquitto (QoS 0, as vehicles send them), taken
   by ``dxhub worker``'s bridge (one validated message, one transaction); the clock stops when the last
   report is stored. Floor: the same messages through the broker to a plain subscriber that only
   counts them (what the broker and one client can carry on this machine).
2. One report per request, ``POST /api/v1/kt/robots/{id}/state``, 4 clients, on ``dxhub serve`` (one
   worker): the REST door that matches one message per vehicle. Floor, for both: a bare one-row INSERT
   and commit per report into the same table (what one transaction per report costs by itself).
3. The batch API (``POST /states``, 200 reports a request) beside a bare executemany of the same rows
   (the figure bench_kt_robots.py measures at 1,000 robots).

SQLite always (a fresh file); PostgreSQL too when ``DXHUB_BENCH_PG_URL`` names a database that may be
emptied. Needs a broker (``DXHUB_BENCH_MQTT_URL``, default mqtt://127.0.0.1:1883). Loopback only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from bench.bench_kt_robots import ROOT, _prepare
from bench.harness import each_backend, print_rows, server

ROBOTS = 200
ROUNDS = 10
CLIENTS = 4
MQTT_URL = os.environ.get("DXHUB_BENCH_MQTT_URL", "mqtt://127.0.0.1:1883")


def _vda_state(serial: str, at: datetime, x: float) -> dict:
    from app.kt.robots import vda5050

    return {"headerId": 0, "timestamp": vda5050.timestamp(at), "version": "2.1.0", "manufacturer": "bench",
            "serialNumber": serial, "orderId": "", "orderUpdateId": 0, "lastNodeId": "", "lastNodeSequenceId": 0,
            "nodeStates": [], "edgeStates": [], "driving": False, "actionStates": [], "operatingMode": "AUTOMATIC",
            "agvPosition": {"x": x, "y": 5.0, "theta": 0.0, "mapId": "f1", "positionInitialized": True},
            "batteryState": {"batteryCharge": 80.0, "charging": False}, "errors": [],
            "safetyState": {"eStop": "NONE", "fieldViolation": False}}


def _stored(url: str) -> int:
    from sqlalchemy import func, select

    from app.core.db import Database
    from app.core.tenancy import SYSTEM
    from app.kt.robots.models import RobotState

    db = Database(url)
    try:
        with db.unit_of_work(principal=SYSTEM) as s:
            return s.scalar(select(func.count()).select_from(RobotState)) or 0
    finally:
        db.dispose()


def _wait_for(condition, *, within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"not within {within_s} s: {what}")
        time.sleep(0.05)


def _client(role: str):
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    from app.core.mqtt import parse_url

    address = parse_url(MQTT_URL)
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{role}-{uuid.uuid4().hex[:6]}")
    client.connect(address.host, address.port)
    client.loop_start()
    return client


def _messages(interface: str, start: datetime) -> list[tuple[str, bytes]]:
    return [(f"{interface}/v2/bench/B-{i:04d}/state",
             json.dumps(_vda_state(f"B-{i:04d}", start + timedelta(seconds=r), 1.0 + (i % 190))).encode())
            for r in range(ROUNDS) for i in range(ROBOTS)]


def _publish_all(client, messages: list[tuple[str, bytes]]) -> None:
    for topic, payload in messages:
        client.publish(topic, payload, qos=0)


def _broker_floor(interface: str) -> float:
    """Messages/s from one publisher through Mosquitto to a subscriber that only counts them."""
    received = threading.Event()
    count = [0]
    total = ROBOTS * ROUNDS
    sub = _client("sub")

    def on_message(c, u, m) -> None:  # noqa: ANN001
        count[0] += 1
        if count[0] == total:
            received.set()

    subscribed = threading.Event()
    sub.on_message = on_message
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.subscribe(f"{interface}-floor/v2/+/+/state", qos=0)
    subscribed.wait(5)
    pub = _client("pub")
    messages = [(t.replace(interface, f"{interface}-floor", 1), p) for t, p in _messages(interface, datetime.now(UTC))]
    started = time.perf_counter()
    _publish_all(pub, messages)
    received.wait(60)
    rate = count[0] / (time.perf_counter() - started)
    for c in (pub, sub):
        c.disconnect()
        c.loop_stop()
    return rate


def _one_row_floor(url: str, robot_ids: list[int]) -> float:
    """Rows/s of a bare one-row INSERT and commit per report into the state table."""
    from sqlalchemy import insert

    from app.core.db import Database
    from app.kt.robots.models import RobotState

    db = Database(url)
    at = datetime.now(UTC) - timedelta(hours=3)
    started = time.perf_counter()
    n = 0
    for r in range(ROUNDS):
        for rid in robot_ids:
            with db.engine.begin() as conn:
                conn.execute(insert(RobotState.__table__), {
                    "municipality_id": 1, "robot_id": rid, "reported_at": at + timedelta(seconds=r),
                    "received_at": at, "operating_mode": "automatic", "x": 1.0, "y": 5.0, "theta": 0.0,
                    "map_id": "f1", "battery_pct": 80.0, "charging": False, "errors": [], "task_id": None,
                    "task_progress": None})
            n += 1
    rate = n / (time.perf_counter() - started)
    db.dispose()
    return rate


def _rest_rates(base: str, robot_ids: list[int], start: datetime) -> tuple[float, float]:
    """(reports/s one per request with CLIENTS clients, rows/s through the batch API)."""
    token = httpx.post(f"{base}/api/v1/auth/token", data={"username": "bench", "password": "bench-password-1"},
                       timeout=10).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    def body(rid: int, at: datetime) -> dict:
        return {"time": at.isoformat(), "position": {"x": 1.0 + (rid % 190), "y": 5.0, "theta": 0, "map_id": "f1"},
                "battery": {"charge_pct": 80.0, "charging": False}}

    def client_loop(ids: list[int], failures: list[int]) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
            for r in range(ROUNDS):
                for rid in ids:
                    if c.post(f"/api/v1/kt/robots/{rid}/state", json=body(rid, start + timedelta(seconds=r))
                              ).status_code != 200:
                        failures.append(rid)

    failures: list[int] = []
    threads = [threading.Thread(target=client_loop, args=(robot_ids[i::CLIENTS], failures)) for i in range(CLIENTS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    single = ROBOTS * ROUNDS / (time.perf_counter() - started)
    if failures:
        raise RuntimeError(f"{len(failures)} single reports refused")
    later = start + timedelta(minutes=1)
    with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
        started = time.perf_counter()
        for r in range(ROUNDS):
            batch = [{"robot_id": rid, **body(rid, later + timedelta(seconds=r))} for rid in robot_ids]
            c.post("/api/v1/kt/robots/states", json=batch).raise_for_status()
        batch_rate = ROBOTS * ROUNDS / (time.perf_counter() - started)
    return single, batch_rate


def _measure_backend(label: str, url: str) -> list[dict]:
    from bench.bench_kt_robots import _floor_executemany

    _prepare(url)  # 1,000 robots B-0000.. of vendor "bench"; the first 200 report here
    from sqlalchemy import select

    from app.core.db import Database
    from app.core.tenancy import SYSTEM
    from app.kt.robots.models import Robot

    db = Database(url)
    with db.unit_of_work(principal=SYSTEM) as s:
        robot_ids = list(s.scalars(select(Robot.id).order_by(Robot.external_id).limit(ROBOTS)))
    db.dispose()
    interface = f"bench{uuid.uuid4().hex[:6]}"
    env = dict(os.environ, DXHUB_DATABASE_URL=url, DXHUB_ENV="development", DXHUB_MQTT_URL=MQTT_URL,
               DXHUB_MQTT_SHARED_GROUP="", DXHUB_KT_ROBOTS_VDA5050_INTERFACE=interface)

    # 1. MQTT: dxhub worker's bridge stores what the vehicles publish.
    worker = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        pub = _client("vehicles")
        start = datetime.now(UTC) - timedelta(minutes=30)
        probe = _messages(interface, start - timedelta(minutes=5))[:1]

        def probe_stored() -> bool:
            _publish_all(pub, probe)
            return _stored(url) >= 1

        _wait_for(probe_stored, within_s=180, what="the worker's bridge storing a first state")
        before = _stored(url)
        messages = _messages(interface, start)
        started = time.perf_counter()
        _publish_all(pub, messages)
        _wait_for(lambda: _stored(url) >= before + len(messages), within_s=600, what="every MQTT state stored")
        mqtt_rate = len(messages) / (time.perf_counter() - started)
        pub.disconnect()
        pub.loop_stop()
    finally:
        worker.terminate()
        worker.wait(timeout=20)
    broker_rate = _broker_floor(interface)

    # 2. and 3. REST on one served worker.
    with server(env) as base:
        single_rate, batch_rate = _rest_rates(base, robot_ids, datetime.now(UTC) - timedelta(minutes=10))
    one_row = _one_row_floor(url, robot_ids)
    executemany = _floor_executemany(url, robot_ids, ROUNDS)
    return [
        {"name": f"kt.robots VDA 5050 states via MQTT bridge ({label})", "value": mqtt_rate, "unit": "msg/s",
         "floor_name": f"bare one-row commit ({label})", "floor_value": one_row},
        {"name": f"kt.robots VDA 5050 states via MQTT bridge ({label})", "value": mqtt_rate, "unit": "msg/s",
         "floor_name": "Mosquitto to a counting subscriber", "floor_value": broker_rate},
        {"name": f"kt.robots one report per REST request ({label})", "value": single_rate, "unit": "rows/s",
         "floor_name": f"bare one-row commit ({label})", "floor_value": one_row},
        {"name": f"kt.robots batch API, {ROBOTS} a request ({label})", "value": batch_rate, "unit": "rows/s",
         "floor_name": f"bare executemany ({label})", "floor_value": executemany},
    ]


def measure() -> list[dict]:
    from app.core.mqtt import parse_url

    address = parse_url(MQTT_URL)
    import socket

    socket.create_connection((address.host, address.port), timeout=2).close()  # no broker: this bench fails
    return each_backend(_measure_backend, "bench-vda5050.db")


if __name__ == "__main__":
    print_rows(measure())
