"""Fixtures of the CCTV tests: module settings pointing snapshots at a temporary folder, and helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.kt.cctv.config import CctvSettings, get_cctv_settings
from tests.conftest import api_headers

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
NO_PARKING = [[0.0, 0.5], [0.5, 0.5], [0.5, 1.0], [0.0, 1.0]]
RESTRICTED = [[0.5, 0.0], [1.0, 0.0], [1.0, 0.5], [0.5, 0.5]]


@pytest.fixture
def cctv_settings(tmp_path) -> CctvSettings:
    return CctvSettings(snapshot_dir=tmp_path / "snapshots", snapshot_max_bytes=4096, max_body_bytes=512 * 1024)


@pytest.fixture
def cctv(app, client, world, cctv_settings):
    """The test client with the module's settings; the world's users exist."""
    app.dependency_overrides[get_cctv_settings] = lambda: cctv_settings
    yield client
    app.dependency_overrides.pop(get_cctv_settings, None)


@pytest.fixture
def ulsan(cctv) -> dict[str, str]:
    return api_headers(cctv, "us.staff")


def t0() -> datetime:
    return (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)


def make_camera(client, headers, external_id: str = "US-001", zones: list | None = None) -> int:
    r = client.post("/api/v1/kt/cctv/cameras", headers=headers, json={
        "external_id": external_id, "name": f"카메라 {external_id}", "lat": 35.54, "lon": 129.31,
        "address": "울산광역시 남구", "control_centre": "울산 관제센터"})
    assert r.status_code == 201, r.text
    cam_id = r.json()["id"]
    if zones is not None:
        r = client.put(f"/api/v1/kt/cctv/cameras/{cam_id}/zones", headers=headers, json={"zones": zones})
        assert r.status_code == 200, r.text
    return cam_id


def event(cam: int | str, eid: str, type_: str, at: datetime, confidence: float = 0.9,
          bbox: list[float] | None = None, **extra) -> dict:
    ref = {"camera_id": cam} if isinstance(cam, int) else {"camera_external_id": cam}
    return {**ref, "event_id": eid, "type": type_, "confidence": confidence, "detected_at": at.isoformat(),
            "bbox": bbox or [0.6, 0.1, 0.1, 0.2], **extra}
