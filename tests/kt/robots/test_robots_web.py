import asyncio
import re
import threading

from app.core.live import broker
from app.kt.robots import service
from tests.conftest import web_login
from tests.kt.robots.conftest import state

API = "/api/v1/kt/robots"


def test_pages_render_in_korean(client, fleet, auth):
    h = auth("cw.staff")
    client.post(f"{API}/{fleet.guide_a}/state", json=state(x=3, y=9, battery=12), headers=h)
    web_login(client, "cw.staff")
    pages = {
        "/kt/robots/": "로봇 현황",
        f"/kt/robots/sites/{fleet.site_id}": "실시간 지도",
        f"/kt/robots/sites/{fleet.site_id}/panels": "작업 현황판",
        f"/kt/robots/robots/{fleet.guide_a}": "상태 이력",
        "/kt/robots/tasks": "로봇 작업",
        "/kt/robots/alerts": "배터리 부족",
        "/kt/robots/stats": "가동률",
        "/kt/robots/robots/new": "로봇 등록",
        "/kt/robots/sites/new": "현장 등록",
        "/": "로봇",
    }
    for path, text in pages.items():
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code)
        assert text in r.text, path
    # The map is drawn from positions: the robot that reported stands where it said.
    html = client.get(f"/kt/robots/sites/{fleet.site_id}").text
    assert re.search(r'<circle cx="3.0" cy="9.0"', html)
    assert "여권 창구" in html  # a named place
    assert client.get(f"/kt/robots/sites/{fleet.site_id}?lang=en").text.count("Live map") == 1
    # A figure never wraps apart from its unit; a whole figure shows no ".0".
    robot = client.get(f"/kt/robots/robots/{fleet.guide_a}?lang=ko").text
    assert '<span class="nowrap">(3, 9)&nbsp;m</span>' in robot and "<td>12%" in robot and "12.0%" not in robot
    csv = client.get("/kt/robots/stats.csv?per=robot")
    assert csv.status_code == 200 and "안내로봇 1호" in csv.text


def test_operator_queues_a_task_and_sends_commands_from_the_site_screen(client, fleet, auth):
    h = auth("cw.staff")
    client.post(f"{API}/states", headers=h, json=[dict(state(x=2, y=10), robot_id=fleet.guide_a)])
    csrf = web_login(client, "cw.staff")
    r = client.post(f"/kt/robots/sites/{fleet.site_id}/tasks", follow_redirects=False,
                    data={"csrf_token": csrf, "kind": "guide", "start": "정문", "destination": "휴게실",
                          "priority": "5"})
    assert r.status_code == 303
    page = client.get(r.headers["location"]).text
    assert "안내로봇 1호에 배정" in page
    # Bad input re-renders with the values kept and nothing saved.
    r = client.post(f"/kt/robots/sites/{fleet.site_id}/tasks",
                    data={"csrf_token": csrf, "kind": "care", "destination": "휴게실", "priority": "12"})
    assert r.status_code == 400 and "has-error" in r.text
    r = client.post(f"/kt/robots/sites/{fleet.site_id}/tasks",
                    data={"csrf_token": csrf, "kind": "care", "destination": "휴게실"})
    assert r.status_code == 400 and "작업을 할 수 있는 로봇이 없습니다" in r.text
    assert client.get(f"{API}/tasks", headers=h).json()["total"] == 1
    r = client.post(f"/kt/robots/sites/{fleet.site_id}/tasks", follow_redirects=False,
                    data={"csrf_token": csrf, "kind": "patrol", "waypoints": ["정문", "휴게실"],
                          "robot_id": str(fleet.patrol), "not_before": "2030-01-01T09:00"})
    assert r.status_code == 303
    task = client.get(f"{API}/tasks?kind=patrol", headers=h).json()["items"][0]
    assert task["pinned_robot_id"] == fleet.patrol and task["status"] == "queued"
    assert task["not_before_at"] == "2030-01-01T00:00:00+00:00"

    r = client.post(f"/kt/robots/robots/{fleet.guide_a}/commands", data={"csrf_token": csrf, "kind": "pause"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert client.get(f"{API}/{fleet.guide_a}", headers=h).json()["status"] == "paused"
    r = client.post(f"/kt/robots/robots/{fleet.guide_a}/commands", data={"kind": "resume"})
    assert r.status_code == 403  # no CSRF token


def test_a_viewer_and_another_municipality_cannot_act(client, fleet):
    csrf = web_login(client, "cw.viewer")
    assert client.get(f"/kt/robots/sites/{fleet.site_id}").status_code == 200
    r = client.post(f"/kt/robots/robots/{fleet.guide_a}/commands", data={"csrf_token": csrf, "kind": "pause"})
    assert r.status_code == 403
    client.post("/logout", data={"csrf_token": csrf})
    csrf = web_login(client, "us.staff")
    assert client.get(f"/kt/robots/sites/{fleet.site_id}").status_code == 404
    assert client.get(f"/kt/robots/sites/{fleet.site_id}/stream").status_code == 404
    assert client.get(f"/kt/robots/robots/{fleet.guide_a}").status_code == 404
    r = client.post(f"/kt/robots/robots/{fleet.guide_a}/commands", data={"csrf_token": csrf, "kind": "pause"})
    assert r.status_code == 404
    assert "창원시청 민원실" not in client.get("/kt/robots/").text


def test_changes_reach_the_live_stream_only_after_commit(client, fleet, auth):
    h = auth("cw.staff")
    received: list[dict] = []

    async def listen(ready: threading.Event, done: threading.Event):
        async with broker.subscribe(service.topic(fleet.site_id)) as queue:
            ready.set()
            while len(received) < 2:
                received.append(await asyncio.wait_for(queue.get(), timeout=30))  # a loaded machine is slow
        done.set()

    ready, done = threading.Event(), threading.Event()
    thread = threading.Thread(target=lambda: asyncio.run(listen(ready, done)))
    thread.start()
    assert ready.wait(5)
    bad = client.post(f"{API}/states", headers=h, json=[dict(state(x=2, y=10), robot_id=fleet.guide_a),
                                                         dict(state(x=99, y=10), robot_id=fleet.guide_b)])
    assert bad.status_code == 422
    client.post(f"{API}/states", headers=h, json=[dict(state(x=2, y=10), robot_id=fleet.guide_a)])
    client.post(f"{API}/tasks", headers=h, json={"site_id": fleet.site_id, "kind": "guide", "destination": "정문"})
    thread.join(40)
    assert done.is_set()
    assert received[0]["event"] == "robots" and received[0]["robots"][0]["id"] == fleet.guide_a
    assert received[1]["event"] == "task"


def test_sites_and_robots_are_registered_through_forms(client, world):
    csrf = web_login(client, "cw.staff")
    bad = {"csrf_token": csrf, "code": "BAD CODE", "name": "", "municipality_code": "4812000000",
           "map_id": "f1", "map_width_m": "30", "map_height_m": "-2", "places_text": "정문, door, 1"}
    r = client.post("/kt/robots/sites/new", data=bad)
    assert r.status_code == 400 and "BAD CODE" in r.text and "이름, 종류, x, y" in r.text
    good = dict(bad, code="cw-hall", name="창원시청 민원실", map_height_m="20",
                places_text="정문, door, 1, 10\n안내 데스크, desk, 5, 10\n충전 도크, dock, 2, 18")
    r = client.post("/kt/robots/sites/new", data=good, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"]).text
    assert "현장을 등록했습니다" in page and "안내 데스크" in page
    site_id = int(r.headers["location"].rstrip("/").split("/")[-1])

    robot = {"csrf_token": csrf, "external_id": "KT-G1", "name": "안내로봇", "vendor": "KT", "model": "GR-2",
             "type": "guide", "site_id": str(site_id), "capabilities": ["guide", "voice"]}
    r = client.post("/kt/robots/robots/new", data=dict(robot, type="cleaner"))
    assert r.status_code == 400 and "KT-G1" in r.text
    r = client.post("/kt/robots/robots/new", data=robot, follow_redirects=False)
    assert r.status_code == 303
    page = client.get(r.headers["location"]).text
    assert "로봇을 등록했습니다" in page and "voice" in page
    r = client.post("/kt/robots/robots/new", data=robot)
    assert r.status_code == 400 and "이미 있습니다" in r.text


def test_site_settings_are_edited(client, fleet, auth):
    csrf = web_login(client, "cw.staff")
    page = client.get(f"/kt/robots/sites/{fleet.site_id}/edit")
    assert page.status_code == 200 and "정문, door, 1, 10" in page.text
    r = client.post(f"/kt/robots/sites/{fleet.site_id}/edit", data={
        "csrf_token": csrf, "name": "창원시청 민원실", "offline_after_s": "3", "places_text": "정문, door, 1, 10"})
    assert r.status_code == 400 and "has-error" in r.text
    r = client.post(f"/kt/robots/sites/{fleet.site_id}/edit", data={
        "csrf_token": csrf, "name": "창원시청 민원실", "offline_after_s": "60", "places_text": "먼 곳, poi, 99, 1"})
    assert r.status_code == 400 and "지도 밖" in r.text
    r = client.post(f"/kt/robots/sites/{fleet.site_id}/edit", follow_redirects=False, data={
        "csrf_token": csrf, "name": "창원시청 종합민원실", "offline_after_s": "60",
        "places_text": "정문, door, 1, 10\n새 데스크, desk, 6, 6"})
    assert r.status_code == 303
    h = auth("cw.staff")
    site = client.get(f"{API}/sites/{fleet.site_id}", headers=h).json()
    assert site["name"] == "창원시청 종합민원실" and site["offline_after_s"] == 60
    assert [p["name"] for p in site["places"]] == ["새 데스크", "정문"]
