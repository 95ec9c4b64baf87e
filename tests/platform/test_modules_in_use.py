"""Only what a municipality runs: menus, home widgets, module pages and API, Open311, the admin switch.

A module is on for a municipality with a program of it, or switched on by a platform administrator (or
off despite a program); its users see the modules on for the municipalities they reach."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import delete, select

from app.core import security
from app.core.manifest import installed
from app.core.tenancy import SYSTEM, bind_principal
from app.platform.models import ApiKey, AuditLog, MunicipalityModule, Program
from tests.conftest import api_headers, csrf_of, web_login

ISOLATION, CCTV, VOICEBOT = "skt.isolation", "kt.cctv", "kt.voicebot"


@pytest.fixture
def changwon_runs_isolation(database, world):
    """창원 as the demo has it: one program (elderly isolation) and no administrator's switch."""
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        s.execute(delete(MunicipalityModule).where(MunicipalityModule.municipality_id == world.changwon.id))
        s.add(Program(title="어르신 정보격차·고립 분석", municipality_id=world.changwon.id, module=ISOLATION,
                      status="active"))
    return world


def _sidebar(html: str) -> str:
    found = re.search(r'<nav class="sidebar".*?</nav>', html, re.S)
    assert found, "no sidebar on the page"
    return found.group(0)


def _menu_modules(html: str) -> set[str]:
    """The modules whose group the sidebar shows, by key."""
    sidebar = _sidebar(html)
    return {key for key, m in installed().items() if f">{m.name_ko}</div>" in sidebar}


def _switch(client, code: str, module_key: str, state: str):
    token = csrf_of(client, f"/admin/modules/{code}")
    return client.post(f"/admin/modules/{code}", data={"csrf_token": token, "module_key": module_key,
                                                       "state": state}, follow_redirects=False)


def test_staff_see_only_their_municipalitys_modules_in_menu_home_and_pages(client, changwon_runs_isolation):
    web_login(client, "cw.staff")
    home = client.get("/")
    assert home.status_code == 200
    assert _menu_modules(home.text) == {ISOLATION}
    assert not re.search(r'href="/(kt|lguplus)/', _sidebar(home.text)), "a link to a module 창원 does not run"
    for key, manifest in installed().items():  # no other module's card on the home dashboard
        if key != ISOLATION:
            for widget in manifest.widgets:
                assert f"<h2>{widget.title}</h2>" not in home.text
    assert client.get("/skt/isolation/").status_code == 200

    page = client.get("/kt/cctv/")
    assert page.status_code == 404 and "소속 지자체에서 운영하지 않는 사업입니다" in page.text
    assert client.get("/lguplus/merchants/").status_code == 404


def test_a_module_off_answers_404_to_the_api_for_tokens_and_keys(client, database, changwon_runs_isolation):
    world = changwon_runs_isolation
    staff = api_headers(client, "cw.staff")
    r = client.get("/api/v1/kt/cctv/cameras", headers=staff)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert client.post("/api/v1/kt/cctv/cameras", headers=staff, json={}).status_code == 404  # before the body
    assert client.get("/api/v1/skt/isolation/dongs", headers=staff).status_code != 404

    secret, prefix, secret_hash = security.new_api_key()
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        s.add(ApiKey(name="창원 연동", prefix=prefix, secret_hash=secret_hash, municipality_id=world.changwon.id,
                     scopes=["kt.cctv:read", "skt.isolation:read"]))
    key = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/kt/cctv/cameras", headers=key).status_code == 404
    assert client.get("/api/v1/skt/isolation/dongs", headers=key).status_code == 200

    # 울산 runs every module in this world: its staff reach the cameras.
    assert client.get("/api/v1/kt/cctv/cameras", headers=api_headers(client, "us.staff")).status_code == 200


def test_an_administrator_switches_a_module_on_and_off_audited(client, database, changwon_runs_isolation):
    world = changwon_runs_isolation
    web_login(client, "root")
    listing = client.get("/admin/modules")
    assert listing.status_code == 200 and "창원시" in listing.text and "운영 모듈" in listing.text
    page = client.get("/admin/modules/4812000000")
    rows = {key: re.search(rf'<tr data-module="{re.escape(key)}">.*?</tr>', page.text, re.S).group(0)
            for key in installed()}
    assert len(rows) == 8
    assert "켜짐" in rows[ISOLATION] and "사업 등록됨" in rows[ISOLATION]
    assert "꺼짐" in rows[CCTV] and "등록된 사업 없음" in rows[CCTV]

    assert _switch(client, "4812000000", CCTV, "on").status_code == 303
    assert "관리자가 켬" in client.get("/admin/modules/4812000000").text
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        entry = s.scalars(select(AuditLog).where(AuditLog.object_type == "municipality_module")
                          .order_by(AuditLog.id.desc())).first()
        assert entry.actor == "user:root" and entry.municipality_id == world.changwon.id
        assert entry.after["module_key"] == CCTV and entry.after["enabled"] is True

    staff = client.__class__(client.app)
    with staff:
        web_login(staff, "cw.staff")
        assert _menu_modules(staff.get("/").text) == {ISOLATION, CCTV}
        assert staff.get("/kt/cctv/").status_code == 200

        # Off despite its program; back to its programs again.
        assert _switch(client, "4812000000", ISOLATION, "off").status_code == 303
        assert _menu_modules(staff.get("/").text) == {CCTV}
        assert staff.get("/skt/isolation/").status_code == 404
        assert _switch(client, "4812000000", ISOLATION, "programs").status_code == 303
        assert staff.get("/skt/isolation/").status_code == 200

    bad = _switch(client, "4812000000", "kt.nothing", "on")
    assert bad.status_code == 400 and "kt.nothing" in bad.text
    assert _switch(client, "4812000000", CCTV, "maybe").status_code == 400


@pytest.mark.parametrize("username", ["cw.staff", "cw.viewer", "cw.admin", "gn.admin"])
def test_only_platform_administrators_open_the_switches(client, changwon_runs_isolation, username):
    web_login(client, username)
    assert client.get("/admin/modules").status_code == 403
    assert client.get("/admin/modules/4812000000").status_code == 403
    refused = client.post("/admin/modules/4812000000", data={"csrf_token": csrf_of(client, "/"),
                                                             "module_key": CCTV, "state": "on"})
    assert refused.status_code == 403
    assert client.get("/kt/cctv/").status_code == 404  # nothing was switched
    assert "/admin/modules" not in _sidebar(client.get("/").text)


def test_a_province_sees_its_cities_modules_and_administrators_see_all(client, changwon_runs_isolation):
    web_login(client, "gn.admin")  # 경상남도: 창원's program is under it
    assert _menu_modules(client.get("/").text) == {ISOLATION}
    assert client.get("/skt/isolation/").status_code == 200
    assert client.get("/kt/robots/").status_code == 404

    web_login(client, "root")
    home = client.get("/")
    assert _menu_modules(home.text) == set(installed())
    assert "/admin/modules" in _sidebar(home.text)
    assert _switch(client, "4812000000", CCTV, "on").status_code == 303
    web_login(client, "gn.admin")
    assert _menu_modules(client.get("/").text) == {ISOLATION, CCTV}


def test_open311_follows_the_jurisdictions_voicebot(client, changwon_runs_isolation):
    off = client.get("/open311/v2/services.json?jurisdiction_id=4812000000")
    assert off.status_code == 404
    assert off.json() == [{"code": 404, "description": "kt.voicebot is not in use in this jurisdiction"}]
    filed = client.post("/open311/v2/requests.json", data={"jurisdiction_id": "4812000000",
                                                           "service_code": "bulky_waste", "api_key": "x"})
    assert filed.status_code == 404 and filed.json()[0]["code"] == 404
    # 울산 runs the voicebot: its answer is the route's own, whatever it is.
    on = client.get("/open311/v2/services.json?jurisdiction_id=3100000000")
    assert "not in use" not in on.text
    assert client.get("/open311/v2/discovery.json").status_code == 200  # names no jurisdiction

    # No jurisdiction named: the caller's own municipality decides (a bearer token, or an api_key).
    mine = client.get("/open311/v2/requests.json", headers=api_headers(client, "cw.staff"))
    assert mine.status_code == 404 and mine.json()[0]["description"].endswith("not in use in this jurisdiction")
    theirs = client.get("/open311/v2/requests.json", headers=api_headers(client, "us.staff"))
    assert theirs.status_code == 200


DEMO_MODULES = {
    "changwon.staff": {ISOLATION}, "gyeongbuk.staff": {"skt.tdeal"}, "geoje.staff": {"kt.worknet", VOICEBOT},
    "icheon.staff": {VOICEBOT, CCTV, "kt.worknet"}, "chungbuk.staff": {"kt.robots"}, "ulsan.staff": {CCTV},
    "seogu.staff": {"lguplus.merchants"}, "hwasun.staff": {"lguplus.citydata"},
}


def test_each_demo_municipality_runs_what_its_programs_say(client, demo_loaded):
    """Every demo user's menu holds its municipality's programs, and each menu link opens."""
    from app.platform.demo import DEMO_PASSWORD

    for username, expected in DEMO_MODULES.items():
        web_login(client, username, DEMO_PASSWORD)
        home = client.get("/")
        assert _menu_modules(home.text) == expected, username
        for href in re.findall(r'<a href="(/(?:skt|kt|lguplus)/[^"]*)"', _sidebar(home.text)):
            assert client.get(href).status_code == 200, (username, href)
