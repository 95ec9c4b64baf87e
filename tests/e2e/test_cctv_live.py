"""A control-centre operator watches an incident arrive live, then acknowledges it — in a real browser."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e


def test_fire_appears_on_the_console_without_reload(page, live_server, world):
    with httpx.Client(base_url=live_server, timeout=30) as api:  # a loaded machine is slow
        token = api.post("/api/v1/auth/token", data={"username": "cw.staff", "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        camera = api.post("/api/v1/kt/cctv/cameras", headers=headers, json={
            "external_id": "e2e-cam-1", "name": "창원광장 CCTV", "municipality_code": "4812000000",
            "lat": 35.2279, "lon": 128.6811})
        assert camera.status_code == 201, camera.text

        sign_in(page, "cw.staff")
        page.goto("/kt/cctv/")
        page.wait_for_function("() => document.getElementById('live-state').textContent.includes('실시간')")
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

    # dispatch the fire to 119 with a note, then close it
    page.select_option("form[action$='/dispatch'] select[name=target]", "119")
    page.fill("form[action$='/dispatch'] textarea[name=note]", "소방서 출동 요청")
    with page.expect_navigation():
        page.click("form[action$='/dispatch'] button")
    assert "소방서 출동 요청" in page.inner_text("main")
    with page.expect_navigation():
        page.click("form[action$='/resolve'] button")
    assert page.locator("form[action$='/false_alarm']").count() == 0  # closed: no more actions

    # a fall that turns out to be a shadow: marked as a false alarm from the console
    with httpx.Client(base_url=live_server, timeout=30) as api:  # a loaded machine is slow
        sent = api.post("/api/v1/kt/cctv/events", headers=headers, json={
            "event_id": "e2e-fall-1", "camera_external_id": "e2e-cam-1", "type": "fall", "confidence": 0.9,
            "detected_at": datetime.now(UTC).isoformat(), "bbox": [0.1, 0.5, 0.2, 0.3]})
        assert sent.status_code in (200, 201), sent.text
    page.goto("/kt/cctv/")
    page.locator("#incident-rows tr[id^=incident-]", has_text="쓰러짐").first.locator("a").first.click()
    page.wait_for_url(re.compile(r"/kt/cctv/incidents/\d+$"))
    page.fill("form[action$='/false_alarm'] input[name=note]", "그림자 오탐")
    with page.expect_navigation():
        page.click("form[action$='/false_alarm'] button")

    # the statistics count both: a fire acknowledged and resolved, a fall that was a false alarm
    page.goto("/kt/cctv/stats")
    main = page.inner_text("main")
    false_alarm_row = page.locator("tr", has_text="창원광장 CCTV").filter(has_text="쓰러짐").first
    assert "100%" in false_alarm_row.inner_text(), main
    response = page.locator("section.card", has=page.locator("canvas#response"))
    cells = response.locator("tbody tr", has_text="화재").first.locator("td").all_inner_texts()
    assert (cells[1], cells[3]) == ("1", "1"), main  # acknowledged once, resolved once
