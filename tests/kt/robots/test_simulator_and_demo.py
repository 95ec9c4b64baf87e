from sqlalchemy import func, select

from app.kt.robots.models import Robot, RobotDaily, RobotSite, RobotState
from app.kt.robots.simulator import Simulator
from app.platform.demo import DEMO_PASSWORD
from tests.conftest import api_headers, web_login

API = "/api/v1/kt/robots"


def test_simulated_robots_take_a_guide_task_to_the_end(client, fleet, auth):
    client.headers.update(auth("cw.staff"))
    sim = Simulator(client, site_code="cw-hall", robots=4, speed_m_s=15, failure_rate=0, fatal_rate=0)
    assert len(sim.robots) == 4  # the site's three robots and one registered by the simulator
    assert sim.tick()["accepted"] == 4
    assert {r["status"] for r in client.get(f"{API}?site_id={fleet.site_id}").json()["items"]} == {"idle"}
    task = client.post(f"{API}/tasks", json={"site_id": fleet.site_id, "kind": "guide", "start": "정문",
                                            "destination": "휴게실"}).json()
    assert task["status"] == "assigned"
    for _ in range(8):
        sim.tick()
        if client.get(f"{API}/tasks/{task['id']}").json()["status"] == "completed":
            break
    done = client.get(f"{API}/tasks/{task['id']}").json()
    assert done["status"] == "completed" and done["started_at"] is not None
    robot = client.get(f"{API}/{task['assigned_robot_id']}").json()
    assert robot["status"] == "idle" and robot["position"]["x"] == 28.0


def test_demo_has_both_chungbuk_sites_with_a_mixed_fleet(client, demo_loaded):
    with demo_loaded.session() as s:
        sites = {site.code: site.name for site in s.scalars(select(RobotSite))}
        assert sites == {"cb-minwon": "충북도청 민원실", "cheongnamdae": "청남대"}
        vendors = {r.vendor for r in s.scalars(select(Robot))}
        assert vendors == {"KT", "LG전자"}
        assert {r.type for r in s.scalars(select(Robot))} == {"guide", "patrol", "care"}
        assert s.scalar(select(func.count()).select_from(RobotState)) > 10000
        assert s.scalar(select(func.count()).select_from(RobotDaily)) == 7 * 7
    h = api_headers(client, "chungbuk.staff", DEMO_PASSWORD)
    stats = client.get(f"{API}/stats", headers=h).json()
    assert all(r["online_h"] > 0 for r in stats["robots"])
    assert sum(r["tasks_completed"] for r in stats["robots"]) > 50
    web_login(client, "chungbuk.staff", DEMO_PASSWORD)
    assert "청남대" in client.get("/kt/robots/").text
