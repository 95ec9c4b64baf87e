"""A control-centre operator watches an incident arrive live, then acknowledges it — in a real browser."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.e2e


def test_fire_appears_on_the_console_without_reload(page, live_server, world):
    with httpx.Client(base_url=live_server, timeout=10) as api:
        token = api.post("/api/v1/auth/token", data={"username": "cw.staff", "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        camera = api.post("/api/v1/kt/cctv/cameras", headers=headers, json={
            "external_id": "e2e-cam-1", "name": "창원광장 CCTV", "municipality_code": "4812000000",
            "lat": 35.2279, "lon": 128.6811})
        assert camera.status_code == 201, camera.text

        page.goto("/login")
        page.fill("#username", "cw.staff")
        page.fill("#password", PASSWORD)
        page.click("form.form button[type=submit]")
        page.wait_for_url(re.compile(r"/$"))
        page.goto("/kt/cctv/")
        page.wait_for_function("document.getElementById('live-state').textContent.includes('실시간')")
        assert page.locator("#incident-rows tr[id^=incident-]").count() == 0

        event = {"event_id": "e2e-fire-1", "camera_external_id": "e2e-cam-1", "type": "fire",
                 "confidence": 0.97, "detected_at": datetime.now(UTC).isoformat(), "bbox": [0.4, 0.4, 0.2, 0.2]}
        sent = api.post("/api/v1/kt/cctv/events", headers=headers, json=event)
        assert sent.status_code in (200, 201), sent.text

    row = page.locator("#incident-rows tr[id^=incident-]").first
    row.wait_for()  # arrives through server-sent events: the page was never reloaded
    assert "cctv-urgent" in (row.get_attribute("class") or "")
    assert "화재" in row.inner_text()

    row.locator("a").first.click()
    page.wait_for_url(re.compile(r"/kt/cctv/incidents/\d+$"))
    with page.expect_navigation():
        page.click("form[action$='/acknowledge'] button")
    assert page.locator("form[action$='/acknowledge']").count() == 0
    assert "cw.staff" in page.inner_text("main")  # who acknowledged, and when, is on record
