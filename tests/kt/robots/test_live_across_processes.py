"""Live screens across processes: on PostgreSQL a state written by another process reaches a site stream
served by this one (LISTEN/NOTIFY); concurrent task requests never give one robot two tasks."""

import json
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from app.core.db import utcnow
from app.core.live import broker
from app.kt.robots import service

ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_state_written_by_another_process_reaches_the_site_stream_served_by_this_one(app, database, fleet,
                                                                                       auth):
    if database.is_sqlite:
        pytest.skip("one process serves SQLite; LISTEN/NOTIFY is PostgreSQL's")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/api/v1/kt/robots/sites/{fleet.site_id}/stream"
        with httpx.Client(timeout=httpx.Timeout(15.0)) as screen, \
                screen.stream("GET", url, headers=auth("cw.staff")) as stream:
            assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            assert next(lines).startswith("retry:")
            deadline = time.monotonic() + 10
            while broker.subscriber_count(service.topic(fleet.site_id)) == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            writer = textwrap.dedent(f"""
                import time_machine
                from app.core.db import Database, utcnow
                from app.core.tenancy import SYSTEM, bind_principal
                from app.kt.robots import service
                from app.kt.robots.schemas import StateIn
                time_machine.travel({utcnow().isoformat()!r}, tick=True).start()  # on the test's clock
                db = Database({database.url!r})
                state = StateIn.model_validate({{"time": utcnow().isoformat(), "battery": {{"charge_pct": 64}},
                                                 "position": {{"x": 4, "y": 4, "map_id": "f1"}}}})
                with db.unit_of_work() as s:
                    bind_principal(s, SYSTEM)
                    service.ingest_states(s, items=[({fleet.guide_a}, None, state)])
                db.dispose()
            """)
            proc = subprocess.run([sys.executable, "-c", writer], cwd=ROOT, capture_output=True, text=True,
                                  timeout=60)
            assert proc.returncode == 0, proc.stderr
            received, name, deadline = None, None, time.monotonic() + 20
            for line in lines:
                if line.startswith("event:"):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and name == "robots":
                    received = json.loads(line.split(":", 1)[1])
                    break
                if time.monotonic() > deadline:  # keep-alives would keep the loop waiting forever
                    break
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert received is not None, "the other process's state never reached this process's stream"
    assert received["robot_ids"] == [fleet.guide_a]


@pytest.mark.frozen_clock  # a slow machine must not let the robot fall silent (30 s) before the requests
def test_concurrent_task_requests_never_give_one_robot_two_tasks(client, fleet, auth):
    from concurrent.futures import ThreadPoolExecutor

    from tests.kt.robots.conftest import state

    h = auth("cw.staff")
    client.post("/api/v1/kt/robots/states", headers=h, json=[dict(state(x=2, y=10), robot_id=fleet.guide_a)])
    body = {"site_id": fleet.site_id, "kind": "guide", "destination": "정문"}
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: client.post("/api/v1/kt/robots/tasks", json=body, headers=h), range(4)))
    assert [a.status_code for a in answers] == [201] * 4
    assigned = [a.json()["assigned_robot_id"] for a in answers if a.json()["assigned_robot_id"]]
    assert assigned == [fleet.guide_a]
    assert client.get("/api/v1/kt/robots/tasks?status=queued", headers=h).json()["total"] == 3
