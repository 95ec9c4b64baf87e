import asyncio
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from app.core.live import broker
from app.kt.robots import service
from app.kt.robots.relay import Relay

ROOT = Path(__file__).resolve().parents[3]


def test_an_event_written_by_another_process_reaches_this_ones_stream(database, fleet):
    if database.is_sqlite:
        pytest.skip("one process serves SQLite; LISTEN/NOTIFY is PostgreSQL's")
    received: list[dict] = []
    ready, done = threading.Event(), threading.Event()

    async def listen():
        async with broker.subscribe(service.topic(fleet.site_id)) as queue:
            ready.set()
            received.append(await asyncio.wait_for(queue.get(), timeout=15))
        done.set()

    Relay.watch(database)
    try:
        thread = threading.Thread(target=lambda: asyncio.run(listen()))
        thread.start()
        assert ready.wait(5)
        writer = textwrap.dedent(f"""
            from app.core.db import Database, utcnow
            from app.core.tenancy import SYSTEM, bind_principal
            from app.kt.robots import service
            from app.kt.robots.schemas import StateIn
            db = Database({database.url!r})
            state = StateIn.model_validate({{"time": utcnow().isoformat(), "battery": {{"charge_pct": 64}},
                                             "position": {{"x": 4, "y": 4, "map_id": "f1"}}}})
            with db.unit_of_work() as s:
                bind_principal(s, SYSTEM)
                service.ingest_states(s, items=[({fleet.guide_a}, None, state)])
            db.dispose()
        """)
        proc = subprocess.run([sys.executable, "-c", writer], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        thread.join(20)
    finally:
        Relay.unwatch(database)
    assert done.is_set(), "the other process's event never arrived"
    assert received[0]["event"] == "robots" and received[0]["robot_ids"] == [fleet.guide_a]


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
