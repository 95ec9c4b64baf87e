"""A camera whose heartbeats stop is announced to open boards once, when it crosses the offline threshold."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from app.core.live import broker
from app.core.tenancy import SYSTEM, bind_principal
from app.kt.cctv import service
from app.kt.cctv.live import ensure_listener
from tests.kt.cctv.conftest import make_camera


def test_a_camera_that_falls_silent_is_announced_once(cctv, ulsan, cctv_settings, database, world):
    now = datetime.now(UTC)
    window = cctv_settings.offline_after_s
    cams = {}
    for ext, age in [("US-A", window + 5), ("US-B", window + 60), ("US-C", 10)]:
        cams[ext] = make_camera(cctv, ulsan, ext)
        r = cctv.post("/api/v1/kt/cctv/heartbeats", headers=ulsan, json={
            "camera_id": cams[ext], "at": (now - timedelta(seconds=age)).isoformat()})
        assert r.status_code == 200, r.text

    def announce(since: datetime) -> list[int]:
        with database.unit_of_work() as s:
            bind_principal(s, SYSTEM)
            return service.announce_silent_cameras(s, since=since, settings=cctv_settings, now=now)

    ensure_listener(database.url, wait_s=10)  # PostgreSQL: the message travels through LISTEN/NOTIFY

    async def round_seen_by_a_board():
        async with broker.subscribe(service.topic_for(world.ulsan.id)) as queue:
            ids = await asyncio.to_thread(announce, now - timedelta(seconds=20))
            while True:  # the heartbeats' own "online" messages may still be on their way (PostgreSQL)
                message = await asyncio.wait_for(queue.get(), 10)
                if message["online"] is False:
                    return ids, message

    ids, message = asyncio.run(round_seen_by_a_board())
    # US-B was offline before the round's window; US-C still beats
    assert ids == [cams["US-A"]]
    assert message == {"event": "camera", "id": cams["US-A"], "online": False}
    assert announce(now) == []  # the next round does not repeat it
    assert cctv.get(f"/api/v1/kt/cctv/cameras/{cams['US-A']}", headers=ulsan).json()["online"] is False
