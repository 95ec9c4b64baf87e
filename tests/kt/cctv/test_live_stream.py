"""The control-centre stream over real HTTP: a detection posted to the API shows up on a signed-in screen."""

from __future__ import annotations

import re
import socket
import threading
import time
from datetime import UTC, datetime

import httpx
import uvicorn

from app.core.live import broker
from app.kt.cctv import live, service
from tests.conftest import PASSWORD
from tests.kt.cctv.conftest import event, make_camera


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_board_stream_announces_a_new_incident(app, cctv, ulsan, world, database):
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
        with httpx.Client(base_url=base, timeout=httpx.Timeout(10.0)) as browser:
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
                r = httpx.post(f"{base}/api/v1/kt/cctv/events", headers=ulsan, timeout=10,
                               json=event(cam, "stream-1", "fire", datetime.now(UTC)))
                assert r.status_code == 200, r.text
                received = []
                for line in lines:
                    received.append(line)
                    if line.startswith("data:"):
                        break
        assert "event: incident" in received
        assert '"type": "fire"' in received[-1] and '"urgent": true' in received[-1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
