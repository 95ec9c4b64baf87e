"""The control-centre stream over real HTTP: a detection shows up on a signed-in screen; on PostgreSQL the
detection is written by another process; an alert nobody acknowledges escalates on the open board."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn

from app.core.jobs import queue_for
from app.core.live import broker
from app.core.worker import run_duty_now
from app.kt.cctv import duties, live, service
from tests.conftest import PASSWORD
from tests.kt.cctv.conftest import event, make_camera

ROOT = Path(__file__).resolve().parents[3]

# Another process (another uvicorn worker or host in production) writes a detection to the database, on
# the test's clock (argv[3]): a subprocess does not travel along by itself.
SENDER = """
import sys
from datetime import UTC, datetime
import time_machine
from app.core.db import Database
from app.core.tenancy import SYSTEM, bind_principal
from app.kt.cctv import service
from app.kt.cctv.config import CctvSettings
from app.kt.cctv.schemas import EventIn

db = Database(sys.argv[1])
with time_machine.travel(datetime.fromisoformat(sys.argv[3]), tick=True), db.unit_of_work() as s:
    bind_principal(s, SYSTEM)
    row = EventIn(camera_id=int(sys.argv[2]), event_id="other-process", type="fire", confidence=0.9,
                  detected_at=datetime.now(UTC), bbox=[0.1, 0.1, 0.2, 0.2])
    service.ingest_events(s, events=[row], settings=CctvSettings())
db.dispose()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _next_message(lines, kind: str, *, within_s: float = 20.0) -> dict:
    """The data of the next server-sent event named ``kind`` (keep-alives and other events skipped)."""
    name = None
    deadline = time.monotonic() + within_s
    for line in lines:
        if time.monotonic() > deadline:  # keep-alives would otherwise keep the stream waiting forever
            break
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and name == kind:
            return json.loads(line.split(":", 1)[1])
    raise AssertionError(f"no {kind} event within {within_s} s")


def test_the_board_stream_shows_new_incidents_and_escalates_unacknowledged_alerts(
        app, cctv, ulsan, world, database, cctv_settings, monkeypatch):
    monkeypatch.setattr(duties, "get_cctv_settings", lambda: cctv_settings)  # the worker's settings
    cam = make_camera(cctv, ulsan)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        with httpx.Client(base_url=base, timeout=httpx.Timeout(15.0)) as browser:
            token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/login").text).group(1)
            browser.post("/login", data={"username": "us.staff", "password": PASSWORD, "csrf_token": token,
                                         "next": "/"})
            topic = service.topic_for(world.ulsan.id)
            live.ensure_listener(database.url, wait_s=10)  # PostgreSQL: changes arrive through LISTEN
            with browser.stream("GET", "/kt/cctv/live") as stream:
                assert stream.status_code == 200
                assert stream.headers["content-type"].startswith("text/event-stream")
                lines = stream.iter_lines()
                assert next(lines).startswith("retry:")
                deadline = time.monotonic() + 10
                while broker.subscriber_count(topic) == 0 and time.monotonic() < deadline:
                    time.sleep(0.02)
                if database.is_sqlite:  # one process serves SQLite: the analyser posts to this server
                    r = httpx.post(f"{base}/api/v1/kt/cctv/events", headers=ulsan, timeout=10,
                                   json=event(cam, "stream-1", "fire", datetime.now(UTC)))
                    assert r.status_code == 200, r.text
                else:  # PostgreSQL: written by another process, it reaches this process's stream
                    done = subprocess.run([sys.executable, "-c", SENDER, database.url, str(cam),
                                           datetime.now(UTC).isoformat()], cwd=ROOT,
                                          capture_output=True, text=True, timeout=60,
                                          env={**os.environ, "PYTHONPATH": str(ROOT)})
                    assert done.returncode == 0, done.stderr
                opened = _next_message(lines, "incident")
                assert opened["change"] == "opened" and opened["type"] == "fire" and opened["urgent"] is True

                # Nobody acknowledges it: once overdue, the worker's duty escalates it and the board hears.
                cctv_settings.escalate_after_min = 0
                assert run_duty_now(queue_for(app.state.settings), "kt.cctv.escalate")
                escalated = _next_message(lines, "incident")
        assert escalated["change"] == "escalated" and escalated["id"] == opened["id"]
        assert escalated["urgent"] is True
        incident = cctv.get(f"/api/v1/kt/cctv/incidents/{opened['id']}", headers=ulsan).json()
        assert incident["escalated_at"] is not None and incident["status"] == "new"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
