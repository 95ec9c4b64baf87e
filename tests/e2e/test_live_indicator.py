"""Every live screen shows the same indicator: its dot turns green once the server-sent event stream is open."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e
GREEN = "rgb(46, 157, 91)"


def test_the_live_dot_turns_green_on_every_live_screen(page, live_server, world):
    with httpx.Client(base_url=live_server, timeout=30) as api:  # a loaded machine is slow
        token = api.post("/api/v1/auth/token", data={"username": "cw.staff", "password": PASSWORD}).json()
        api.headers["Authorization"] = f"Bearer {token['access_token']}"
        site = api.post("/api/v1/kt/robots/sites", json={
            "code": "cw-live", "name": "창원시청 로비", "municipality_code": "4812000000",
            "map_width_m": 30, "map_height_m": 20, "places": []})
        assert site.status_code == 201, site.text

    sign_in(page, "cw.staff")
    for path in ("/kt/cctv/", f"/kt/robots/sites/{site.json()['id']}", "/kt/voicebot/calls", "/kt/worknet/alerts"):
        page.goto(path)
        assert page.locator(".live-indicator").count() == 1, path
        page.wait_for_function("() => document.querySelector('.live-indicator .live-dot').classList.contains('on')")
        dot = page.locator(".live-indicator .live-dot")
        assert dot.evaluate("el => getComputedStyle(el).backgroundColor") == GREEN, path
        assert "실시간" in page.inner_text(".live-indicator"), path
