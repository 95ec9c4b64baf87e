"""Robots obey their operators: a robot sent to its dock, paused or sent to charge is given no task until
it reports idle again; and each site says which task kinds it takes."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.conftest import web_login
from tests.kt.robots.conftest import state

API = "/api/v1/kt/robots"


def _report(client, h, robot_id, *, x, y, at=None, idle=False, **extra):
    body = dict(state(x=x, y=y, at=at, **extra), idle=idle)
    r = client.post(f"{API}/{robot_id}/state", json=body, headers=h)
    assert r.status_code in (200, 201), r.text


def _online(client, h, fleet, *, a=(2.0, 10.0), b=(24.0, 3.0)):
    rows = [dict(state(x=x, y=y), robot_id=rid) for rid, (x, y) in ((fleet.guide_a, a), (fleet.guide_b, b))]
    rows.append(dict(state(x=15, y=15), robot_id=fleet.patrol))
    assert client.post(f"{API}/states", json=rows, headers=h).status_code == 200


def _task(client, h, fleet, **extra):
    r = client.post(f"{API}/tasks", json={"site_id": fleet.site_id, "kind": "guide", "start": "정문",
                                         "destination": "휴게실", **extra}, headers=h)
    assert r.status_code == 201, r.text
    return r.json()


def test_a_docked_robot_does_not_get_its_task_back_it_goes_to_another(client, fleet, auth):
    h = auth("cw.staff")
    _online(client, h, fleet)
    task = _task(client, h, fleet)
    assert task["assigned_robot_id"] == fleet.guide_a  # the nearest
    r = client.post(f"{API}/{fleet.guide_a}/commands", json={"kind": "dock"}, headers=h)
    assert r.status_code == 201
    got = client.get(f"{API}/tasks/{task['id']}", headers=h).json()
    assert got["assigned_robot_id"] == fleet.guide_b and got["status"] == "assigned"
    robot = client.get(f"{API}/{fleet.guide_a}", headers=h).json()
    assert robot["hold"] == "dock" and robot["current_task_id"] is None
    orders = client.get(f"{API}/{fleet.guide_a}/orders", headers=h).json()
    assert orders["orders"] == [] and [c["kind"] for c in orders["commands"]] == ["dock"]
    assert [o["order_id"] for o in client.get(f"{API}/{fleet.guide_b}/orders", headers=h).json()["orders"]] == [
        task["id"]]


def test_a_docked_robot_alone_leaves_the_task_waiting_until_it_reports_idle(client, fleet, auth, clock):
    h = auth("cw.staff")
    _online(client, h, fleet)
    client.patch(f"{API}/{fleet.guide_b}", json={"capabilities": ["patrol"]}, headers=h)  # guide_a is alone
    task = _task(client, h, fleet)
    assert task["assigned_robot_id"] == fleet.guide_a
    client.post(f"{API}/{fleet.guide_a}/commands", json={"kind": "dock"}, headers=h)
    assert client.get(f"{API}/tasks/{task['id']}", headers=h).json()["status"] == "queued"
    # Before it fetched the command, an "idle" report does not count.
    clock.shift(timedelta(seconds=1))
    _report(client, h, fleet.guide_a, x=2, y=12, idle=True)
    assert client.get(f"{API}/tasks/{task['id']}", headers=h).json()["status"] == "queued"
    client.get(f"{API}/{fleet.guide_a}/orders", headers=h)  # the robot learns of the dock command
    # Driving to the dock, then charging: still not idle, still no task.
    clock.shift(timedelta(seconds=1))
    _report(client, h, fleet.guide_a, x=2, y=18, charging=True)
    assert client.get(f"{API}/tasks/{task['id']}", headers=h).json()["status"] == "queued"
    clock.shift(timedelta(seconds=1))
    _report(client, h, fleet.guide_a, x=2, y=18, idle=True)
    got = client.get(f"{API}/tasks/{task['id']}", headers=h).json()
    assert got["status"] == "assigned" and got["assigned_robot_id"] == fleet.guide_a
    assert client.get(f"{API}/{fleet.guide_a}", headers=h).json()["hold"] is None


def test_a_paused_robot_gets_no_task_until_it_reports_idle(client, fleet, auth, clock):
    h = auth("cw.staff")
    _online(client, h, fleet)
    client.patch(f"{API}/{fleet.guide_b}", json={"capabilities": ["patrol"]}, headers=h)
    task = _task(client, h, fleet)
    assert task["assigned_robot_id"] == fleet.guide_a
    client.post(f"{API}/{fleet.guide_a}/commands", json={"kind": "pause"}, headers=h)
    got = client.get(f"{API}/tasks/{task['id']}", headers=h).json()
    assert got["status"] == "queued" and got["failure_reason"] == "robot paused by an operator"
    client.get(f"{API}/{fleet.guide_a}/orders", headers=h)
    clock.shift(timedelta(seconds=1))
    _report(client, h, fleet.guide_a, x=2, y=10, idle=True)  # idle but paused: nothing
    assert client.get(f"{API}/tasks/{task['id']}", headers=h).json()["status"] == "queued"
    client.post(f"{API}/{fleet.guide_a}/commands", json={"kind": "resume"}, headers=h)
    robot = client.get(f"{API}/{fleet.guide_a}", headers=h).json()
    assert robot["paused"] is False and robot["hold"] == "pause"
    assert client.get(f"{API}/tasks/{task['id']}", headers=h).json()["status"] == "queued"  # resumed, not idle
    clock.shift(timedelta(seconds=1))
    _report(client, h, fleet.guide_a, x=2, y=10, idle=True)
    got = client.get(f"{API}/tasks/{task['id']}", headers=h).json()
    assert got["status"] == "assigned" and got["assigned_robot_id"] == fleet.guide_a


def test_sent_to_charge_the_task_goes_elsewhere(client, fleet, auth):
    h = auth("cw.staff")
    _online(client, h, fleet)
    task = _task(client, h, fleet)
    client.post(f"{API}/{fleet.guide_a}/commands", json={"kind": "charge"}, headers=h)
    assert client.get(f"{API}/tasks/{task['id']}", headers=h).json()["assigned_robot_id"] == fleet.guide_b
    assert client.get(f"{API}/{fleet.guide_a}", headers=h).json()["hold"] == "charge"
    client.patch(f"{API}/{fleet.patrol}", json={"capabilities": ["patrol"]}, headers=h)
    r = client.post(f"{API}/{fleet.patrol}/commands", json={"kind": "charge"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["kind"]


def test_task_kinds_are_set_per_site(client, fleet, auth):
    h = auth("cw.staff")
    _online(client, h, fleet)
    site = client.get(f"{API}/sites/{fleet.site_id}", headers=h).json()
    assert site["task_kinds"] == ["guide", "patrol", "care"]
    body = {"site_id": fleet.site_id, "kind": "delivery", "start": "정문", "destination": "여권 창구"}
    r = client.post(f"{API}/tasks", json=body, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["kind"]
    assert "guide, patrol, care" in r.json()["errors"][0]["msg"]

    r = client.patch(f"{API}/sites/{fleet.site_id}", json={"task_kinds": ["guide", "patrol", "delivery"]},
                     headers=h)
    assert r.status_code == 200 and r.json()["task_kinds"] == ["guide", "patrol", "delivery"]
    client.patch(f"{API}/{fleet.guide_b}", json={"capabilities": ["guide", "delivery", "dock"]}, headers=h)
    r = client.post(f"{API}/tasks", json=body, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "delivery" and r.json()["assigned_robot_id"] == fleet.guide_b
    r = client.post(f"{API}/tasks", json=dict(body, kind="care"), headers=h)  # no longer taken here
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["kind"]
    for bad in ([], ["Delivery!"]):
        assert client.patch(f"{API}/sites/{fleet.site_id}", json={"task_kinds": bad}, headers=h).status_code == 422

    made = client.post(f"{API}/sites", headers=h, json={
        "code": "cw-lib", "name": "창원도서관", "municipality_code": "4812000000", "map_width_m": 10,
        "map_height_m": 10, "task_kinds": ["delivery"]}).json()
    assert made["task_kinds"] == ["delivery"]


def test_admins_edit_task_kinds_on_the_site_form(client, fleet, auth):
    h = auth("cw.staff")
    web_login(client, "cw.staff")
    page = client.get(f"/kt/robots/sites/{fleet.site_id}/edit")
    assert page.status_code == 200 and 'value="guide, patrol, care"' in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    form = {"csrf_token": token, "name": "창원시청 민원실", "offline_after_s": "30", "battery_floor_pct": "25",
            "low_battery_pct": "15", "places_text": "정문, door, 1, 10\n휴게실, room, 28, 18"}
    r = client.post(f"/kt/robots/sites/{fleet.site_id}/edit", data={**form, "task_kinds": "guide, 배송"})
    assert r.status_code == 400 and "형식" in r.text and "guide, 배송" in r.text
    r = client.post(f"/kt/robots/sites/{fleet.site_id}/edit", data={**form, "task_kinds": "guide, delivery"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert client.get(f"{API}/sites/{fleet.site_id}", headers=h).json()["task_kinds"] == ["guide", "delivery"]
    site_page = client.get(f"/kt/robots/sites/{fleet.site_id}")
    assert '<option value="delivery"' in site_page.text and '<option value="patrol"' not in site_page.text
