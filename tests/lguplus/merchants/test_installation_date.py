"""An installation cannot be recorded for a day that has not come yet (in Seoul)."""

import re
from datetime import timedelta

from sqlalchemy import select

from app.core.tenancy import SYSTEM, bind_principal
from app.lguplus.merchants.models import Application
from tests.conftest import SEOUL, api_headers, web_login
from tests.lguplus.merchants.conftest import API, WEB, merchant_body


def _approved_application(client, h) -> int:
    r = client.post(API, json=merchant_body("220816251"), headers=h)
    assert r.status_code == 201, r.text
    r = client.post(f"{API}/applications", json={"merchant_id": r.json()["id"], "solution": "serving_robot",
                                                  "requested_subsidy_krw": 300_000, "year": 2027}, headers=h)
    app_id = r.json()["id"]
    assert client.put(f"{API}/budget", json={"year": 2027, "amount": 1_000_000}, headers=h).status_code == 200
    for to in ("reviewed", "approved"):
        assert client.post(f"{API}/applications/{app_id}/transitions", json={"to": to}, headers=h).status_code == 200
    return app_id


def test_future_installation_date_is_refused_on_the_seoul_calendar(client, world, clock_instant):
    h = api_headers(client, "cw.staff")
    app_id = _approved_application(client, h)
    today = clock_instant.astimezone(SEOUL).date()  # Seoul's day, which UTC does not yet have at 00:30 KST
    tomorrow = today + timedelta(days=1)
    r = client.post(f"{API}/applications/{app_id}/transitions", json={"to": "installed", "on": tomorrow.isoformat()},
                    headers=h)
    assert r.status_code == 422, r.text
    body = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert body["errors"][0]["loc"] == ["on"] and tomorrow.isoformat() in body["errors"][0]["msg"]
    assert client.get(f"{API}/applications/{app_id}", headers=h).json()["state"] == "approved"

    r = client.post(f"{API}/applications/{app_id}/transitions", json={"to": "installed", "on": today.isoformat()},
                    headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["installed_date"] == today.isoformat()


def test_future_installation_date_is_refused_in_korean_on_the_page(client, world, database, clock_instant):
    h = api_headers(client, "cw.staff")
    app_id = _approved_application(client, h)
    web_login(client, "cw.staff")
    page = client.get(f"{WEB}/applications?year=2027")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    tomorrow = clock_instant.astimezone(SEOUL).date() + timedelta(days=1)
    r = client.post(f"{WEB}/applications/{app_id}/transition",
                    data={"csrf_token": token, "to": "installed", "on": tomorrow.isoformat()}, follow_redirects=True)
    assert r.status_code == 200
    assert f"설치일 {tomorrow.isoformat()}은(는) 아직 오지 않은 날짜입니다" in r.text
    with database.unit_of_work(write=False) as s:
        bind_principal(s, SYSTEM)
        assert s.scalar(select(Application.state).where(Application.id == app_id)) == "approved"
