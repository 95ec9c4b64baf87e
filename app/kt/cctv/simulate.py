"""A virtual edge analyser for demos and load tests: heartbeats and detections through the public API.

Most detections are low-confidence noise; now and then smoke, loitering or crowds; a car parks in a
no-parking zone and stays (an incident once the dwell time has passed); rarely a fire or a fall, whose
frames are uploaded as snapshots (a generated picture) so that the board shows them with their boxes.
"""

from __future__ import annotations

import random
import struct
import time
import zlib
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import httpx

from app.kt.cctv.demo import box_in, random_box

NOISE = ["smoke", "fall", "loitering", "fire", "crowd"]
URGENT = ("fire", "fall")


@lru_cache(maxsize=64)
def frame_png(seed: int, width: int = 320, height: int = 180) -> bytes:
    """A plain generated camera frame (road-grey gradient with a faint grid) as a PNG, for snapshots."""
    rng = random.Random(seed)
    base = rng.randint(50, 110)
    rows = []
    for y in range(height):
        shade = base + 70 * y // height
        line = bytearray(b"\x00")  # PNG filter type 0 for the row
        for x in range(width):
            v = min(255, shade + (10 if (x // 20 + y // 20) % 2 else 0))
            line += bytes((v, v, min(255, v + 12)))
        rows.append(bytes(line))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows), 6))
            + chunk(b"IEND", b""))


class Analyser:
    def __init__(self, client: httpx.Client, cameras: list[dict[str, Any]], seed: int | None = None) -> None:
        self.client, self.cameras = client, cameras
        self.rng = random.Random(seed)
        self.seq = 0
        self.run_id = f"sim{int(time.time())}"
        self.parked: dict[int, tuple[str, list[float], float]] = {}  # camera -> (track, box, since)
        self.burst: tuple[dict, str, list[float], int] | None = None

    def _event(self, cam: dict, type_: str, confidence: float, bbox: list[float], **extra) -> dict:
        self.seq += 1
        return {"camera_id": cam["id"], "event_id": f"{self.run_id}-{self.seq}", "type": type_,
                "confidence": round(confidence, 3), "detected_at": datetime.now(UTC).isoformat(),
                "bbox": [round(v, 4) for v in bbox], **extra}

    def tick(self, now: float) -> list[dict]:
        rng, events = self.rng, []
        for _ in range(rng.randint(2, 8)):
            cam = rng.choice(self.cameras)
            events.append(self._event(cam, rng.choice(NOISE), rng.uniform(0.05, 0.38), random_box(rng)))
        if rng.random() < 0.08:
            cam = rng.choice(self.cameras)
            events.append(self._event(cam, rng.choice(["smoke", "loitering", "crowd"]), rng.uniform(0.5, 0.75),
                                      random_box(rng)))
        for cam in self.cameras:
            zone = next((z for z in cam["zones"] if z["type"] in ("no_parking", "no_stopping")), None)
            if zone is None:
                continue
            if cam["id"] not in self.parked and rng.random() < 0.01:
                self.parked[cam["id"]] = (f"car-{self.seq}", box_in(zone["polygon"], rng), now)
            if cam["id"] in self.parked:
                track, box, since = self.parked[cam["id"]]
                if now - since > 900:
                    del self.parked[cam["id"]]
                elif rng.random() < 0.3:
                    events.append(self._event(cam, "illegal_parking", rng.uniform(0.7, 0.95), box, track_id=track,
                                              attributes={"plate": rng.choice(["12가3456", "34나5678", "123다4567"])}))
        if self.burst is None and rng.random() < 0.01:
            self.burst = (rng.choice(self.cameras), rng.choice(["fire", "fall"]), random_box(rng), rng.randint(3, 8))
        if self.burst is not None:
            cam, type_, box, left = self.burst
            events.append(self._event(cam, type_, rng.uniform(0.75, 0.97), box))
            self.burst = (cam, type_, box, left - 1) if left > 1 else None
        return events


def simulate(*, url: str, username: str, password: str, seconds: float, interval: float,
             seed: int | None = None) -> int:
    with httpx.Client(base_url=url.rstrip("/"), timeout=30) as client:
        r = client.post("/api/v1/auth/token", data={"username": username, "password": password})
        r.raise_for_status()
        client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        cameras = client.get("/api/v1/kt/cctv/cameras", params={"limit": 200}).json()["items"]
        if not cameras:
            print("No cameras visible to this user: register cameras first (or load the demo).")
            return 1
        analyser = Analyser(client, cameras, seed)
        print(f"Simulating an analyser for {len(cameras)} cameras; Ctrl+C stops.")
        started = time.monotonic()
        sent = 0
        backlog: list[dict] = []
        try:
            while not seconds or time.monotonic() - started < seconds:
                tick = time.monotonic()
                events = (backlog + analyser.tick(tick))[-1000:]
                try:
                    client.post("/api/v1/kt/cctv/heartbeats", json=[{"camera_id": c["id"]} for c in cameras])
                    r = client.post("/api/v1/kt/cctv/events", json=events)
                    r.raise_for_status()
                except httpx.HTTPError as exc:  # the server restarts: keep trying, as a real analyser would
                    print(f"send failed ({exc}); the batch is sent again (stored once)")
                    backlog = events
                    time.sleep(interval)
                    continue
                backlog = []
                body = r.json()
                sent += body["accepted"]
                for e in events:  # the frames of fires and falls, as an analyser uploads them
                    if e["type"] in URGENT and e["confidence"] >= 0.6:
                        client.post("/api/v1/kt/cctv/snapshots", data={"event_id": e["event_id"],
                                                                       "camera_id": str(e["camera_id"])},
                                    files={"file": ("frame.png", frame_png(e["camera_id"]), "image/png")})
                for inc in body["incidents_opened"]:
                    print(f"opened incident {inc['id']}: {inc['type']} ({inc['severity']}) "
                          f"on camera {inc['camera_id']}")
                time.sleep(max(0.0, interval - (time.monotonic() - tick)))
        except KeyboardInterrupt:
            pass
        print(f"{sent} events sent.")
    return 0
