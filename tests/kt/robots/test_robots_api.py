from datetime import timedelta

import pytest

from app.core.db import utcnow
from app.core.i18n import SEOUL
from app.core.tenancy import SYSTEM, bind_principal
from app.kt.robots import service
from tests.kt.robots.conftest import PLACES, state

API = "/api/v1/kt/robots"


def _online(client, h, fleet, *, a=(2.0, 10.0, 80.0), b=(24.0, 3.0, 80.0), p=(15.0, 15.0, 90.0)):
    rows = [dict(state(x=x, y=y, battery=bat), robot_id=rid)
            for rid, (x, y, bat) in ((fleet.guide_a, a), (fleet.guide_b, b), (fleet.patrol, p))]
    r = client.post(f"{API}/states", json=rows, headers=h)
    assert r.status_code == 200, r.text
    return r.json()


def test_sites_and_robots_are_registered_and_refused_when_wrong(client, world, auth):
    h = auth("cw.staff")
    site = {"code": "cw-hall", "name": "창원시청 민원실", "municipality_code": "4812000000", "map_width_m": 30,
            "map_height_m": 20, "places": PLACES}
    r = client.post(f"{API}/sites", json=site, headers=h)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["offline_after_s"] == 30 and {p["name"] for p in body["places"]} >= {"정문", "충전 도크"}
    assert client.post(f"{API}/sites", json=site, headers=h).status_code == 409

    bad = dict(site, code="other", places=[{"name": "밖", "x": 31, "y": 1}, {"name": "밖", "x": 1, "y": 1}],
               offline_after_s=0, colour="red")
    r = client.post(f"{API}/sites", json=bad, headers=h)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    locs = {tuple(e["loc"]) for e in r.json()["errors"]}
    assert ("body", "places") in locs and ("body", "offline_after_s") in locs and ("body", "colour") in locs

    robot = {"external_id": "KT-G1", "name": "안내로봇", "vendor": "KT", "model": "GR-2", "type": "guide",
             "site_id": body["id"]}
    r = client.post(API, json=robot, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["capabilities"] == ["dock", "guide"] and r.json()["status"] == "offline"
    assert client.post(API, json=robot, headers=h).status_code == 409
    r = client.post(API, json=dict(robot, external_id="X", type="cleaner", site_id=999), headers=h)
    assert r.status_code == 422
    r = client.post(API, json=dict(robot, external_id="X", site_id=999), headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["site_id"]
    assert client.get(API, headers=h).json()["total"] == 1


def test_state_report_updates_the_robot_and_a_retry_is_stored_once(client, fleet, auth):
    h = auth("cw.staff")
    reported_at = utcnow()
    report = state(x=3.0, y=9.0, battery=77.5, at=reported_at)
    r = client.post(f"{API}/{fleet.guide_a}/state", json=report, headers=h)
    assert r.json() == {"accepted": 1, "duplicates": 0, "robots": 1}
    r = client.post(f"{API}/{fleet.guide_a}/state", json=report, headers=h)
    assert r.json() == {"accepted": 0, "duplicates": 1, "robots": 1}
    robot = client.get(f"{API}/{fleet.guide_a}", headers=h).json()
    assert robot["status"] == "idle" and robot["online"] is True
    assert robot["battery"] == {"charge_pct": 77.5, "charging": False}
    assert robot["position"]["x"] == 3.0
    assert client.get(f"{API}/{fleet.guide_a}/states", headers=h).json()["total"] == 1
    assert [r["id"] for r in client.get(f"{API}?status=idle", headers=h).json()["items"]] == [fleet.guide_a]
    assert client.get(f"{API}?status=offline", headers=h).json()["total"] == 2

    # A late report (older than the one the robot shows, however long the test took) is stored but does not
    # rewind the robot.
    late = state(x=9.0, y=9.0, battery=90.0, at=reported_at - timedelta(seconds=10))
    assert client.post(f"{API}/{fleet.guide_a}/state", json=late, headers=h).json()["accepted"] == 1
    assert client.get(f"{API}/{fleet.guide_a}", headers=h).json()["position"]["x"] == 3.0


def test_a_bad_report_rejects_the_whole_batch_with_every_bad_row_named(client, fleet, auth):
    h = auth("cw.staff")
    rows = [
        dict(state(x=2, y=2), robot_id=fleet.guide_a),
        dict(state(x=2, y=2), robot_external_id="NOBODY"),
        dict(state(x=2, y=2, at=utcnow() + timedelta(days=2)), robot_id=fleet.guide_b),
        dict(state(x=300, y=2), robot_id=fleet.patrol),
    ]
    r = client.post(f"{API}/states", json=rows, headers=h)
    assert r.status_code == 422, r.text
    assert [e["loc"] for e in r.json()["errors"]] == [["rows", 1, "robot_external_id"], ["rows", 2, "time"],
                                                      ["rows", 3, "position"]]
    garbage = [dict(state(x=2, y=2), robot_id=fleet.guide_a, battery={"charge_pct": 170}),
               {**state(x=2, y=2)}, dict(state(x=2, y=2), robot_id=fleet.guide_a, time="2026-01-01T00:00:00")]
    r = client.post(f"{API}/states", json=garbage, headers=h)
    assert r.status_code == 422
    locs = [tuple(e["loc"][:3]) for e in r.json()["errors"]]
    assert ("body", 0, "battery") in locs and ("body", 1) in [loc[:2] for loc in locs]
    assert ("body", 2, "time") in locs
    assert client.post(f"{API}/states", json=[], headers=h).status_code == 422
    big = b"[" + b" " * (3 * 1024 * 1024) + b"]"
    r = client.post(f"{API}/states", content=big, headers={**h, "content-type": "application/json"})
    assert r.status_code == 413 and r.headers["content-type"].startswith("application/problem+json")
    r = client.post(f"{API}/states", content=b"{nope", headers={**h, "content-type": "application/json"})
    assert r.status_code == 422
    for rid in (fleet.guide_a, fleet.guide_b, fleet.patrol):
        assert client.get(f"{API}/{rid}/states", headers=h).json()["total"] == 0
        assert client.get(f"{API}/{rid}", headers=h).json()["status"] == "offline"


def test_dispatch_picks_the_cheapest_capable_available_robot(client, fleet, auth):
    h = auth("cw.staff")
    _online(client, h, fleet)
    r = client.post(f"{API}/tasks", json={"site_id": fleet.site_id, "kind": "guide", "start": "여권 창구",
                                         "destination": "휴게실"}, headers=h)
    assert r.status_code == 201, r.text
    task = r.json()
    assert task["status"] == "assigned" and task["assigned_robot_id"] == fleet.guide_b
    assert [w["name"] for w in task["waypoints"]] == ["여권 창구", "휴게실"]
    assert client.get(f"{API}/{fleet.guide_b}", headers=h).json()["status"] == "working"

    # The other guide is the only one left; the patrol robot is never sent on a guide task.
    r = client.post(f"{API}/tasks", json={"site_id": fleet.site_id, "kind": "guide", "destination": "정문"}, headers=h)
    assert r.json()["assigned_robot_id"] == fleet.guide_a
    r = client.post(f"{API}/tasks", json={"site_id": fleet.site_id, "kind": "guide", "destination": "정문",
                                         "priority": 9}, headers=h)
    assert r.json()["status"] == "queued" and r.json()["assigned_robot_id"] is None


@pytest.mark.frozen_clock  # a slow machine must not let the robots fall silent (30 s) between two steps
def test_low_battery_or_fatal_error_robots_are_never_chosen(client, fleet, auth, clock):
    h = auth("cw.staff")
    # guide_a stands at the start but is under the battery floor (25 %); guide_b has a fatal error.
    _online(client, h, fleet, a=(25.0, 2.0, 20.0), b=(24.0, 3.0, 90.0))
    clock.shift(timedelta(seconds=1))
    client.post(f"{API}/states", headers=h, json=[dict(state(x=24, y=3, errors=[
        {"type": "lidar", "level": "fatal", "description": "라이다 고장"}]), robot_id=fleet.guide_b)])
    assert client.get(f"{API}/{fleet.guide_b}", headers=h).json()["status"] == "error"
    r = client.post(f"{API}/tasks", json={"site_id": fleet.site_id, "kind": "guide", "start": "여권 창구",
                                         "destination": "휴게실"}, headers=h)
    assert r.json()["status"] == "queued"
    kinds = {a["kind"] for a in client.get(f"{API}/alerts?open_only=true", headers=h).json()["items"]}
    assert kinds == {"fatal_error"}  # 20 % is above the alert level (15 %), below the dispatch floor

    # guide_a charges up: it becomes available and takes the queued task.
    clock.shift(timedelta(seconds=5))
    client.post(f"{API}/{fleet.guide_a}/state", json=state(x=25, y=2, battery=60, charging=True), headers=h)
    task = client.get(f"{API}/tasks?status=assigned", headers=h).json()["items"]
    assert [t["assigned_robot_id"] for t in task] == [fleet.guide_a]


def test_a_task_runs_to_completion_from_the_robots_reports(client, fleet, auth):
    h = auth("cw.staff")
    _online(client, h, fleet)
    task = client.post(f"{API}/tasks", json={"site_id": fleet.site_id, "kind": "patrol",
                                            "waypoints": ["정문", "여권 창구", "휴게실"]}, headers=h).json()
    assert task["assigned_robot_id"] == fleet.patrol
    orders = client.get(f"{API}/{fleet.patrol}/orders", headers=h).json()
    assert orders["orders"][0]["order_id"] == task["id"]
    assert [n["name"] for n in orders["orders"][0]["nodes"]] == ["정문", "여권 창구", "휴게실"]

    t0 = utcnow()
    client.post(f"{API}/{fleet.patrol}/state", headers=h, json=state(
        x=1, y=10, at=t0, task={"task_id": task["id"], "status": "underway", "progress": 33}))
    got = client.get(f"{API}/tasks/{task['id']}", headers=h).json()
    assert got["status"] == "underway" and got["progress"] == 33
    client.post(f"{API}/{fleet.patrol}/state", headers=h, json=state(
        x=28, y=18, at=t0 + timedelta(seconds=1), task={"task_id": task["id"], "status": "completed"}))
    got = client.get(f"{API}/tasks/{task['id']}", headers=h).json()
    assert got["status"] == "completed" and got["progress"] == 100 and got["finished_at"]
    assert client.get(f"{API}/{fleet.patrol}", headers=h).json()["status"] == "idle"
    assert client.get(f"{API}/{fleet.patrol}/orders", headers=h).json()["orders"] == []

    # A failed task raises an alert that an operator acknowledges.
    task = client.post(f"{API}/tasks", json={"site_id": fleet.site_id, "kind": "patrol",
                                            "destination": "휴게실"}, headers=h).json()
    client.post(f"{API}/{fleet.patrol}/state", headers=h, json=state(
        x=28, y=18, at=t0 + timedelta(seconds=2), task={"task_id": task["id"], "status": "failed",
                                                        "failure_reason": "문이 잠김"}))
    assert client.get(f"{API}/tasks/{task['id']}", headers=h).json()["status"] == "failed"
    alerts = client.get(f"{API}/alerts?kind=task_failed", headers=h).json()["items"]
    assert len(alerts) == 1 and "문이 잠김" in alerts[0]["message"]
    r = client.post(f"{API}/alerts/{alerts[0]['id']}/ack", headers=h)
    assert r.json()["acknowledged_by"] == "user:cw.staff"
    assert client.get(f"{API}/alerts?open_only=true", headers=h).json()["total"] == 0


def test_capabilities_are_checked_before_anything_is_sent(client, fleet, database, auth):
    h = auth("cw.staff")
    _online(client, h, fleet)
    r = client.post(f"{API}/tasks", json={"site_id": fleet.site_id, "kind": "care", "destination": "휴게실"},
                    headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["kind"]
    r = client.post(f"{API}/tasks", json={"site_id": fleet.site_id, "kind": "guide", "destination": "휴게실",
                                         "robot_id": fleet.patrol}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["robot_id"]
    r = client.post(f"{API}/tasks", json={"site_id": fleet.site_id, "kind": "guide", "destination": "화성",
                                         "waypoints": ["정문", "목성"]}, headers=h)
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["errors"]] == [["waypoints", 1], ["destination"]]
    client.patch(f"{API}/{fleet.guide_a}", json={"capabilities": ["guide"]}, headers=h)
    r = client.post(f"{API}/{fleet.guide_a}/commands", json={"kind": "dock"}, headers=h)
    assert r.status_code == 422
    assert client.get(f"{API}/tasks", headers=h).json()["total"] == 0
    assert client.get(f"{API}/{fleet.guide_a}/commands", headers=h).json() == []


def test_a_silent_robot_goes_offline_its_task_returns_to_the_queue(client, fleet, database, auth, clock_instant,
                                                                   clock):
    h = auth("cw.staff")
    _online(client, h, fleet, a=(2.0, 10.0, 80.0), b=(24.0, 3.0, 80.0))
    task = client.post(f"{API}/tasks", json={"site_id": fleet.site_id, "kind": "guide", "start": "정문",
                                            "destination": "휴게실"}, headers=h).json()
    assert task["assigned_robot_id"] == fleet.guide_a
    later = utcnow() + timedelta(seconds=45)
    # Only guide_b keeps reporting.
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        service.ingest_states(s, items=[(fleet.guide_b, None, _state_in(24, 3, later))], now=later)
        assert service.sweep_offline(s, now=later) == 2
    robot = client.get(f"{API}/{fleet.guide_a}", headers=h).json()
    assert robot["status"] == "offline" and robot["online"] is False
    got = client.get(f"{API}/tasks/{task['id']}", headers=h).json()
    assert got["assigned_robot_id"] == fleet.guide_b and got["attempts"] == 2
    offline = client.get(f"{API}/alerts?kind=offline", headers=h).json()["items"]
    assert {a["robot_id"] for a in offline} == {fleet.guide_a, fleet.patrol}
    # Back online a minute later: the offline alert clears.
    clock.move_to(later + timedelta(seconds=15))
    client.post(f"{API}/{fleet.guide_a}/state", json=state(x=2, y=10), headers=h)
    alerts = client.get(f"{API}/alerts?kind=offline", headers=h).json()["items"]
    cleared = {a["robot_id"]: a["cleared_at"] for a in alerts}
    assert cleared[fleet.guide_a] is not None and cleared[fleet.patrol] is None


def _state_in(x, y, at):
    from app.kt.robots.schemas import StateIn

    return StateIn.model_validate(state(x=x, y=y, at=at))


def test_commands_pause_resume_and_are_acknowledged(client, fleet, auth):
    h = auth("cw.staff")
    _online(client, h, fleet)
    r = client.post(f"{API}/{fleet.guide_a}/commands", json={"kind": "pause", "note": "점검"}, headers=h)
    assert r.status_code == 201 and r.json()["status"] == "pending"
    cid = r.json()["id"]
    assert client.get(f"{API}/{fleet.guide_a}", headers=h).json()["status"] == "paused"
    orders = client.get(f"{API}/{fleet.guide_a}/orders", headers=h).json()
    assert [(c["id"], c["status"]) for c in orders["commands"]] == [(cid, "delivered")]
    # A paused robot is not given work.
    task = client.post(f"{API}/tasks", json={"site_id": fleet.site_id, "kind": "guide", "start": "정문",
                                            "destination": "휴게실"}, headers=h).json()
    assert task["assigned_robot_id"] == fleet.guide_b
    r = client.post(f"{API}/{fleet.guide_a}/commands/{cid}/ack", json={"status": "completed"}, headers=h)
    assert r.json()["status"] == "completed" and r.json()["finished_at"]
    assert client.post(f"{API}/{fleet.guide_a}/commands/{cid}/ack", json={"status": "completed"},
                       headers=h).status_code == 200
    r = client.post(f"{API}/{fleet.guide_a}/commands/{cid}/ack", json={"status": "acknowledged"}, headers=h)
    assert r.status_code == 409
    assert client.post(f"{API}/{fleet.guide_b}/commands/{cid}/ack", json={"status": "failed"},
                       headers=h).status_code == 404
    client.post(f"{API}/{fleet.guide_a}/commands", json={"kind": "resume"}, headers=h)
    assert client.get(f"{API}/{fleet.guide_a}", headers=h).json()["status"] == "idle"
    # Resumed, it takes work again once it reports idle.
    client.post(f"{API}/{fleet.guide_a}/state", json=dict(state(x=2, y=10), idle=True), headers=h)
    # Sent to dock, a robot gives its task back to the queue.
    r = client.post(f"{API}/{fleet.guide_b}/commands", json={"kind": "dock"}, headers=h)
    got = client.get(f"{API}/tasks/{task['id']}", headers=h).json()
    assert got["assigned_robot_id"] == fleet.guide_a


def test_a_retried_task_is_created_once(client, fleet, auth):
    h = auth("cw.staff")
    body = {"site_id": fleet.site_id, "kind": "guide", "destination": "정문", "client_task_id": "kiosk-7-0001"}
    first = client.post(f"{API}/tasks", json=body, headers=h)
    again = client.post(f"{API}/tasks", json=body, headers=h)
    assert first.status_code == 201 and again.status_code == 200 and first.json()["id"] == again.json()["id"]
    assert client.get(f"{API}/tasks", headers=h).json()["total"] == 1
    r = client.post(f"{API}/tasks/{first.json()['id']}/cancel", headers=h)
    assert r.json()["status"] == "canceled"
    assert client.post(f"{API}/tasks/{first.json()['id']}/cancel", headers=h).status_code == 409


def test_another_municipality_sees_nothing_and_viewers_cannot_write(client, fleet, auth):
    us = auth("us.staff")
    assert client.get(f"{API}/{fleet.guide_a}", headers=us).status_code == 404
    assert client.get(f"{API}/sites/{fleet.site_id}", headers=us).status_code == 404
    assert client.get(f"{API}/sites/{fleet.site_id}/live", headers=us).status_code == 404
    assert client.post(f"{API}/{fleet.guide_a}/state", json=state(x=1, y=1), headers=us).status_code == 404
    r = client.post(f"{API}/states", json=[dict(state(x=1, y=1), robot_id=fleet.guide_a)], headers=us)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["rows", 0, "robot_id"]
    r = client.post(f"{API}/states", json=[dict(state(x=1, y=1), robot_external_id="KT-G1")], headers=us)
    assert r.status_code == 422
    r = client.post(f"{API}/tasks", json={"site_id": fleet.site_id, "kind": "guide", "destination": "정문"},
                    headers=us)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["site_id"]
    assert client.get(API, headers=us).json()["total"] == 0
    assert client.get(f"{API}/sites", headers=us).json()["total"] == 0
    r = client.post(f"{API}/sites", headers=us, json={"code": "x-site", "name": "남의 현장", "municipality_code":
                                                        "4812000000", "map_width_m": 5, "map_height_m": 5})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["municipality_code"]

    viewer = auth("cw.viewer")
    assert client.get(f"{API}/{fleet.guide_a}", headers=viewer).status_code == 200
    assert client.post(f"{API}/{fleet.guide_a}/commands", json={"kind": "pause"}, headers=viewer).status_code == 403
    assert client.post(f"{API}/{fleet.guide_a}/state", json=state(x=1, y=1), headers=viewer).status_code == 403


def test_statistics_come_from_the_reports(client, fleet, auth, clock_instant):
    h = auth("cw.staff")
    t0 = utcnow() - timedelta(seconds=20)
    rows = [dict(state(x=2, y=10, at=t0 + timedelta(seconds=i)), robot_id=fleet.guide_a) for i in range(11)]
    rows[5]["errors"] = [{"type": "bump", "level": "warning", "description": "충돌 감지"}]
    assert client.post(f"{API}/states", json=rows, headers=h).json()["accepted"] == 11
    body = client.get(f"{API}/stats", headers=h).json()
    robot = next(r for r in body["robots"] if r["robot_id"] == fleet.guide_a)
    assert round(robot["online_h"] * 3600) == 10 and robot["error_reports"] == 1
    assert robot["utilisation_pct"] == 0.0
    assert len(body["days"]) == 7
    today = clock_instant.astimezone(SEOUL).date()  # the week ends today in Seoul, with today's reports
    assert body["days"][-1]["day"] == today.isoformat() and round(body["days"][-1]["online_h"] * 3600) == 10
    csv = client.get(f"{API}/stats.csv?per=day", headers=h)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.lstrip("\ufeff").startswith("day,online_h")
    r = client.get(f"{API}/stats?date_from=2026-05-10&date_to=2026-05-01", headers=h)
    assert r.status_code == 422


def test_site_live_data_and_places(client, fleet, auth):
    h = auth("cw.staff")
    _online(client, h, fleet)
    live = client.get(f"{API}/sites/{fleet.site_id}/live", headers=h).json()
    assert live["site"]["code"] == "cw-hall" and len(live["robots"]) == 3
    assert {r["status"] for r in live["robots"]} == {"idle"}
    r = client.put(f"{API}/sites/{fleet.site_id}/places", headers=h,
                   json=[{"name": "새 데스크", "x": 3, "y": 3}, {"name": "새 데스크", "x": 40, "y": 3}])
    assert r.status_code == 422 and {tuple(e["loc"]) for e in r.json()["errors"]} == {("rows", 1, "name"),
                                                                                      ("rows", 1, "x")}
    r = client.put(f"{API}/sites/{fleet.site_id}/places", headers=h, json=[{"name": "새 데스크", "x": 3, "y": 3}])
    assert [p["name"] for p in r.json()["places"]] == ["새 데스크"]


def test_huge_ids_and_a_start_time_in_the_future(client, fleet, auth):
    h = auth("cw.staff")
    assert client.get(f"{API}/tasks?site_id=99999999999", headers=h).status_code == 422
    r = client.post(f"{API}/states", json=[dict(state(x=1, y=1), robot_id=99999999999)], headers=h)
    assert r.status_code == 422
    assert client.get(f"{API}/99999999999", headers=h).status_code == 422
    _online(client, h, fleet)
    later = (utcnow() + timedelta(seconds=20)).isoformat()
    r = client.post(f"{API}/tasks", json={"site_id": fleet.site_id, "kind": "guide", "destination": "정문",
                                         "not_before": later}, headers=h)
    assert r.json()["status"] == "queued"
    with client.app.state.db.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        site = service.get_site(s, site_id=fleet.site_id)
        assert service.dispatch(s, site=site, now=utcnow()) == []
        assert [t.kind for t in service.dispatch(s, site=site, now=utcnow() + timedelta(seconds=21))] == ["guide"]
