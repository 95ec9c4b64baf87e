from sqlalchemy import func, select

from app.core.tenancy import SYSTEM
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
    with demo_loaded.session(principal=SYSTEM) as s:
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


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_simulate_and_sweep_commands(app, client, fleet, auth, database, monkeypatch, capsys):
    """`dxhub robots simulate` drives robots through a served API; `dxhub robots sweep` marks a silent one
    offline with an alert."""
    import threading
    import time

    import uvicorn

    from app.cli import main
    from app.core.config import get_settings
    from app.core.tenancy import SYSTEM, bind_principal
    from app.kt.robots import service
    from app.kt.robots.schemas import StateIn
    from tests.kt.robots.conftest import seconds_ago, state

    h = auth("cw.staff")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        token = h["Authorization"].removeprefix("Bearer ")
        assert main(["robots", "simulate", "--site", "cw-hall", "--robots", "2", "--url", f"http://127.0.0.1:{port}",
                     "--token", token, "--duration", "0.4", "--interval", "0.4"]) == 0
        assert main(["robots", "simulate", "--site", "nowhere", "--robots", "2", "--url",
                     f"http://127.0.0.1:{port}", "--token", token, "--duration", "1"]) == 2
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    out = capsys.readouterr()
    assert "Simulating 2 robots at 창원시청 민원실" in out.out and "tick 1: 2 states" in out.out
    assert "no site with code 'nowhere'" in out.err
    assert main(["robots", "simulate", "--site", "cw-hall", "--token", ""]) == 2  # no key: a clear error
    driven = [r for r in client.get(f"{API}?site_id={fleet.site_id}", headers=h).json()["items"] if r["online"]]
    assert {r["id"] for r in driven} == {fleet.patrol, fleet.guide_a}  # the site's first robots by name

    # guide_b was last heard a minute ago (stored without the sweep that follows an API report)
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        old = StateIn.model_validate(state(x=5, y=10, at=seconds_ago(60)))
        service.ingest_states(s, items=[(fleet.guide_b, None, old)])
    monkeypatch.setenv("DXHUB_DATABASE_URL", database.url)
    get_settings.cache_clear()
    try:
        assert main(["robots", "sweep"]) == 0
    finally:
        get_settings.cache_clear()
    assert "1 robots marked offline" in capsys.readouterr().out
    alerts = client.get(f"{API}/alerts?kind=offline", headers=h).json()["items"]
    assert [a["robot_id"] for a in alerts] == [fleet.guide_b]
