import re

from sqlalchemy import func, select

from app.core.tenancy import SYSTEM, bind_principal
from app.kt.worknet.demo import sample_data
from app.kt.worknet.models import Alert, Lease, Router
from tests.conftest import web_login
from tests.kt.worknet.conftest import iccid, imei

WEB = "/kt/worknet"


def _seed(database, world):
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        sample_data(s, world.changwon.id)


def test_pages_render_in_korean(client, world, database):
    _seed(database, world)
    web_login(client, "cw.staff")
    pages = {"/": "5G 업무망", "": "풀 사용률", "/routers": "라우터", "/routers/new": "라우터 등록",
             "/pools": "IP 풀", "/leases": "임대", "/policies": "보안 정책", "/policies/new": "새 정책",
             "/access": "접속 기록", "/alerts": "경보", "/usage": "일별 접속"}
    for path, korean in pages.items():
        url = path if path == "/" else f"{WEB}{path or '/'}"
        r = client.get(url)
        assert r.status_code == 200, (url, r.text[:500])
        assert korean in r.text, (url, korean)
    routers = client.get(f"{WEB}/routers").text
    rid = re.search(r'href="[^"]*/kt/worknet/routers/(\d+)"', routers).group(1)
    assert client.get(f"{WEB}/routers/{rid}").status_code == 200
    pools = client.get(f"{WEB}/pools").text
    pid = re.search(r'/kt/worknet/pools/(\d+)"', pools).group(1)
    assert "10.99.0.2" in client.get(f"{WEB}/pools/{pid}").text
    assert client.get(f"{WEB}/pools/{pid}/radius-users").text.count("Framed-IP-Address") == 1
    assert client.get(f"{WEB}/usage.csv").text.startswith("\ufeffdate,successes")
    assert "Off-hours use" in client.get(f"{WEB}/alerts?lang=en").text
    assert client.get(f"{WEB}/access?flagged=1&date_from=bad&result=x&page=1").status_code == 200
    # Another municipality sees none of it.
    client.post("/logout")
    web_login(client, "us.staff")
    assert client.get(f"{WEB}/routers/{rid}").status_code == 404
    assert client.get(f"{WEB}/pools/{pid}").status_code == 404
    assert "S4812" not in client.get(f"{WEB}/routers").text


def test_register_assign_allocate_and_release_through_forms(client, world):
    csrf = web_login(client, "cw.staff")
    r = client.post(f"{WEB}/routers/new", data={"csrf_token": csrf, "serial": "CW5G-0001", "model": "5G 에그",
                                                "imei": "123", "iccid": iccid()})
    assert r.status_code == 400 and 'value="CW5G-0001"' in r.text and "IMEI" in r.text
    secret = iccid()
    r = client.post(f"{WEB}/routers/new", data={"csrf_token": csrf, "serial": "CW5G-0001", "model": "5G 에그",
                                                "imei": imei(), "iccid": secret}, follow_redirects=False)
    assert r.status_code == 303
    detail_url = r.headers["location"]
    page = client.get(detail_url).text
    assert "CW5G-0001" in page and secret not in page and secret[-4:] in page
    rid = detail_url.rstrip("/").rsplit("/", 1)[1]
    r = client.post(f"{WEB}/routers/{rid}/assign", data={"csrf_token": csrf, "assignee_username": "",
                                                         "assignee_name": "김민준", "department": "건설과"})
    assert r.status_code == 400 and 'value="김민준"' in r.text
    r = client.post(f"{WEB}/routers/{rid}/assign", data={"csrf_token": csrf, "assignee_username": "cw2001",
                                                         "assignee_name": "김민준", "department": "건설과"},
                    follow_redirects=False)
    assert r.status_code == 303
    r = client.post(f"{WEB}/pools", data={"csrf_token": csrf, "name": "본청", "cidr": "10.1.2.3/24",
                                          "reserved_low": "1"})
    assert r.status_code == 400 and 'value="10.1.2.3/24"' in r.text
    r = client.post(f"{WEB}/pools", data={"csrf_token": csrf, "name": "본청", "cidr": "10.1.2.0/24",
                                          "reserved_low": "1"}, follow_redirects=False)
    assert r.status_code == 303
    pool_url = r.headers["location"]
    pid = pool_url.rsplit("/", 1)[1]
    r = client.post(f"{WEB}/pools/{pid}/allocate", data={"csrf_token": csrf, "router_id": rid})
    assert r.status_code == 200 and "10.1.2.2" in r.text
    lease_id = re.search(r'/kt/worknet/leases/(\d+)/release', r.text).group(1)
    r = client.post(f"{WEB}/leases/{lease_id}/release", data={"csrf_token": csrf, "reason": "반납"})
    assert r.status_code == 200 and "격리" in r.text
    r = client.post(f"{WEB}/routers/{rid}/allocate", data={"csrf_token": csrf, "pool_id": pid})
    assert "10.1.2.3" in r.text
    r = client.post(f"{WEB}/routers/{rid}/status", data={"csrf_token": csrf, "status": "lost"})
    assert r.status_code == 200 and "분실" in r.text and "10.1.2.3</strong>" not in r.text
    # Without the CSRF token nothing happens.
    assert client.post(f"{WEB}/routers/{rid}/status", data={"status": "in_stock"}).status_code == 403


def test_policy_editor_versions_and_alert_handling(client, world, database):
    _seed(database, world)
    csrf = web_login(client, "cw.staff")
    r = client.post(f"{WEB}/policies/new", data={"csrf_token": csrf, "department": "건설과", "weekdays": ["0", "1"],
                                                 "start": "09:00", "end": "08:00", "failure_threshold": "5",
                                                 "failure_window_minutes": "10", "user_routers_text": "oops"})
    assert r.status_code == 400 and 'value="09:00"' in r.text
    r = client.post(f"{WEB}/policies/new", data={"csrf_token": csrf, "department": "건설과", "weekdays": ["0", "1"],
                                                 "start": "09:00", "end": "18:00", "bind_routers": "1",
                                                 "failure_threshold": "5", "failure_window_minutes": "10",
                                                 "user_routers_text": "cw2001: S4812-001, S4812-002"},
                    follow_redirects=False)
    assert r.status_code == 303
    url = r.headers["location"]
    page = client.get(url).text
    assert "cw2001: S4812-001, S4812-002" in page and "v1" in page
    r = client.post(url, data={"csrf_token": csrf, "department": "건설과", "weekdays": ["0", "1", "2"],
                               "start": "09:00", "end": "18:00", "failure_threshold": "5",
                               "failure_window_minutes": "10", "user_routers_text": ""}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get(url).text
    assert "v2" in page and "v1" in page
    alerts = client.get(f"{WEB}/alerts?status=open").text
    aid = re.search(r'/kt/worknet/alerts/(\d+)"', alerts).group(1)
    r = client.post(f"{WEB}/alerts/{aid}", data={"csrf_token": csrf, "status": "acknowledged", "note": "확인"})
    assert r.status_code == 200 and "확인함" in r.text
    r = client.post(f"{WEB}/alerts/{aid}", data={"csrf_token": csrf, "status": "bogus"})
    assert r.status_code == 200
    client.post("/logout")
    csrf = web_login(client, "cw.viewer")
    assert client.post(f"{WEB}/alerts/{aid}", data={"csrf_token": csrf, "status": "resolved"}).status_code == 403
    assert client.post(f"{WEB}/pools", data={"csrf_token": csrf, "name": "x", "cidr": "10.9.9.0/24"}).status_code == 403


def test_home_widget_shows_the_network(client, world, database):
    _seed(database, world)
    web_login(client, "cw.staff")
    home = client.get("/").text
    assert "5G 업무망" in home and "샘플 4812" in home
    client.post("/logout")
    web_login(client, "us.staff")
    assert "샘플 4812" not in client.get("/").text


def test_demo_data_for_geoje_and_icheon(demo_loaded, client):
    with demo_loaded.session(principal=SYSTEM) as s:
        assert s.scalar(select(func.count()).select_from(Router)) == 126
        assert s.scalar(select(func.count()).select_from(Lease).where(Lease.released_at.is_(None))) == 80 + 25
        kinds = set(s.scalars(select(Alert.kind)))
    assert kinds == {"off_hours", "wrong_router", "unknown_router", "inactive_router", "failure_burst"}
    web_login(client, "geoje.staff", "dxhub-demo-2026")
    page = client.get(f"{WEB}/").text
    assert "거제시 본청" in page and "이천시 본청" not in page
