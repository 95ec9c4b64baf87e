"""An operator sees a robot move on the site map, sends it a guide task and watches it finish, live."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e
ROBOTS = "/api/v1/kt/robots"


def _state(x: float, y: float, task: dict | None = None) -> dict:
    state = {"time": datetime.now(UTC).isoformat(), "position": {"x": x, "y": y, "map_id": "floor-1"},
             "battery": {"charge_pct": 80}}
    if task:
        state["task"] = task
    return state


def test_robot_moves_on_the_map_and_finishes_a_guide_task(page, live_server, world):
    with httpx.Client(base_url=live_server, timeout=30) as api:  # a loaded machine is slow
        token = api.post("/api/v1/auth/token", data={"username": "cw.staff", "password": PASSWORD}).json()
        api.headers["Authorization"] = f"Bearer {token['access_token']}"
        site = api.post(f"{ROBOTS}/sites", json={
            "code": "cw-hall", "name": "창원시청 민원실", "municipality_code": "4812000000",
            "map_width_m": 40, "map_height_m": 20,
            "places": [{"name": "안내데스크", "kind": "desk", "x": 5, "y": 5},
                       {"name": "여권창구", "kind": "desk", "x": 30, "y": 12}]})
        assert site.status_code == 201, site.text
        site_id = site.json()["id"]
        robot = api.post(ROBOTS, json={"external_id": "guide-1", "name": "안내로봇 1", "vendor": "KT",
                                       "model": "GR-1", "type": "guide", "site_id": site_id})
        assert robot.status_code == 201, robot.text
        robot_id = robot.json()["id"]
        assert api.post(f"{ROBOTS}/{robot_id}/state", json=_state(5, 5)).status_code == 200

        sign_in(page, "cw.staff")
        page.goto(f"/kt/robots/sites/{site_id}")
        page.wait_for_function("() => document.getElementById('live-dot').classList.contains('on')")
        marker = f"g.robot[data-robot='{robot_id}'] circle"
        assert page.get_attribute(marker, "cx") == "5.0"

        # The robot reports a new position: the map follows without a reload.
        assert api.post(f"{ROBOTS}/{robot_id}/state", json=_state(12, 8)).status_code == 200
        page.wait_for_function(f"() => document.querySelector(\"{marker}\").getAttribute('cx') === '12.0'")

        # The operator queues a guide task from the page; dispatch assigns it to the robot.
        page.select_option("#f-kind", "guide")
        page.select_option("#f-destination", "여권창구")
        with page.expect_navigation():
            page.click("#new-task button[type=submit]")
        tasks = api.get(f"{ROBOTS}/tasks", params={"site_id": site_id}).json()["items"]
        assert len(tasks) == 1 and tasks[0]["assigned_robot_id"] == robot_id, tasks
        task_id = tasks[0]["id"]
        assert "안내로봇 1" in page.inner_text("#panels")

        # The robot walks there and reports the task completed: the board shows it done, live.
        done = {"task_id": task_id, "status": "completed", "progress": 100}
        assert api.post(f"{ROBOTS}/{robot_id}/state", json=_state(30, 12, done)).status_code == 200
        page.wait_for_function(f"() => document.querySelector(\"{marker}\").getAttribute('cx') === '30.0'")
        assert api.get(f"{ROBOTS}/tasks/{task_id}").json()["status"] == "completed"
        page.wait_for_selector("#panels >> text=완료")
