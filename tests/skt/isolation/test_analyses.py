"""The analyses: Wilson interval, ranking order and change, divide, gradient, criteria, targets."""

from __future__ import annotations

import pytest

from app.skt.isolation.service import bands_from, previous_period, wilson_interval
from tests.conftest import api_headers
from tests.skt.isolation.conftest import cell, load_cells

API = "/api/v1/skt/isolation"


def test_wilson_interval_matches_known_values():
    low, high = wilson_interval(10, 100)
    assert low == pytest.approx(0.05522914, abs=1e-6) and high == pytest.approx(0.17436566, abs=1e-6)
    low, high = wilson_interval(0, 100)  # closed form: upper = z^2 / (n + z^2)
    z2 = 1.959963984540054 ** 2
    assert low == pytest.approx(0.0, abs=1e-12) and high == pytest.approx(z2 / (100 + z2))
    assert wilson_interval(0, 0) == (None, None)


def test_periods_and_bands():
    assert previous_period("2026-01") == "2025-12" and previous_period("2026-10") == "2026-09"
    assert bands_from(65) == ["65-69", "70-74", "75-79", "80+"] and bands_from(80) == ["80+"]


def test_ranking_orders_by_isolated_and_reports_the_change(client, iso):
    rows = []
    for period, a, b, c in (("2026-09", 40, 60, 10), ("2026-10", 50, 30, 35)):
        rows += [cell("4812151000", period=period, population=400, low_communication=a, low_outing=a, isolated=a),
                 cell("4812152000", period=period, population=300, low_communication=b, low_outing=b, isolated=b),
                 cell("4812351000", period=period, population=200, low_communication=c, low_outing=c, isolated=c)]
    # Younger people do not count at min_age=65.
    rows.append(cell("4812351000", period="2026-10", age="30-39", population=900, low_communication=300,
                     low_outing=300, isolated=300))
    load_cells(iso["database"], rows)
    h = api_headers(client, "cw.staff")
    body = client.get(f"{API}/ranking?period=2026-10&min_age=65", headers=h).json()
    assert body["previous_period"] == "2026-09" and body["total"] == 3
    got = [(i["dong_code"], i["isolated"], i["change"]) for i in body["items"]]
    assert got == [("4812151000", 50, 10), ("4812351000", 35, 25), ("4812152000", 30, -30)]
    first = body["items"][0]
    assert first["rate"] == pytest.approx(50 / 400)
    assert (first["ci_low"], first["ci_high"]) == pytest.approx(wilson_interval(50, 400))
    assert first["dong_name"] == "의창동"
    page = client.get(f"{API}/ranking?period=2026-10&limit=1&offset=1", headers=h).json()
    assert [i["dong_code"] for i in page["items"]] == ["4812351000"] and page["total"] == 3
    all_ages = client.get(f"{API}/ranking?period=2026-10&min_age=20", headers=h).json()["items"]
    assert all_ages[0]["dong_code"] == "4812351000" and all_ages[0]["isolated"] == 335
    assert all_ages[0]["change"] is None or all_ages[0]["change"] == 325


def test_divide_gradient_criteria_and_targets(client, iso):
    load_cells(iso["database"], [
        cell("4812151000", age="30-39", income="middle", population=100, app_minutes=300, outings=40),
        cell("4812151000", age="70-74", income="low", population=100, app_minutes=60, outings=20,
             low_communication=40, low_outing=30, isolated=20, messenger_minutes=10),
        cell("4812151000", age="70-74", income="high", population=50, app_minutes=150, outings=35,
             low_communication=10, low_outing=10, isolated=5, messenger_minutes=30),
        cell("4812152000", age="80+", income="low", population=100, app_minutes=30, outings=40,
             low_communication=50, low_outing=20, isolated=10, messenger_minutes=5),
    ])
    h = api_headers(client, "cw.staff")
    divide = client.get(f"{API}/divide", headers=h).json()
    assert divide["period"] == "2026-10" and divide["total_population"] == 350
    overall = (300 * 100 + 60 * 100 + 150 * 50 + 30 * 100) / 350
    assert divide["overall"]["app_minutes"] == pytest.approx(overall)
    bands = {i["age_band"]: i for i in divide["items"]}
    assert bands["30-39"]["relative"]["app_minutes"] == pytest.approx(300 / overall)
    assert bands["70-74"]["means"]["app_minutes"] == pytest.approx((60 * 100 + 150 * 50) / 150)

    gradient = client.get(f"{API}/gradient?min_age=65", headers=h).json()
    income = {i["income_band"]: i for i in gradient["items"]}
    assert set(income) == {"low", "high"}
    assert income["low"]["means"]["app_minutes"] == pytest.approx((60 * 100 + 30 * 100) / 200)
    assert income["low"]["isolated_rate"] == pytest.approx(30 / 200)
    assert gradient["gap_bands"] == ["low", "high"]
    assert gradient["gap"]["app_minutes"] == pytest.approx(150 / 45)

    crit = client.get(f"{API}/criteria", headers=h).json()
    assert "low_communication" in crit["definition"]
    assert [(r["group"], r["isolated"]) for r in crit["by_age"]] == [("30-39", 10), ("70-74", 25), ("80+", 10)]
    assert [(r["group"], r["population"]) for r in crit["by_income"]] == [("low", 200), ("high", 50)]

    targets = client.get(f"{API}/targets?uptake=0.5", headers=h).json()
    first, second = targets["items"]
    # 팔룡동's elderly go out more (40 vs 23.3) and use messenger+apps less (35 vs 86.7): the first target.
    assert first["dong_code"] == "4812152000" and first["score"] > second["score"]
    assert first["reachable"] == 40 and first["expected_reached"] == 20
    assert second["reachable"] == (40 - 20) + (10 - 5)


def test_the_definition_in_force_follows_the_month(client, iso):
    load_cells(iso["database"], [cell("4812151000", period=p) for p in ("2026-08", "2026-10")])
    h = api_headers(client, "cw.staff")
    default = client.get(f"{API}/criteria?period=2026-10", headers=h).json()["definition"]
    assert default["custom"] is False and default["effective_from"] is None
    body = {"effective_from": "2026-09", "low_communication": "월 발신 10회 미만", "low_outing": "월 외출 4회 미만",
            "source": "창원시"}
    r = client.post(f"{API}/definitions", headers=h, json=body)
    assert r.status_code == 201 and r.json()["custom"] is True
    assert client.post(f"{API}/definitions", headers=h, json=body).status_code == 409
    now = client.get(f"{API}/criteria?period=2026-10", headers=h).json()["definition"]
    assert now["effective_from"] == "2026-09" and now["low_outing"] == "월 외출 4회 미만"
    before = client.get(f"{API}/criteria?period=2026-08", headers=h).json()["definition"]
    assert before["custom"] is False
    us = api_headers(client, "us.staff")
    assert client.get(f"{API}/definitions", headers=us).json()["items"] == []
    assert client.post(f"{API}/definitions", headers=api_headers(client, "cw.viewer"), json=body).status_code == 403


def test_recording_a_definition_through_the_criteria_page(client, iso):
    from tests.conftest import csrf_of, web_login

    web_login(client, "cw.staff")
    token = csrf_of(client, "/skt/isolation/criteria")
    r = client.post("/skt/isolation/criteria/definition", data={
        "csrf_token": token, "effective_from": "2026-13", "low_communication": "x", "low_outing": "y"})
    assert r.status_code == 400 and "형식" in r.text
    r = client.post("/skt/isolation/criteria/definition", data={
        "csrf_token": token, "effective_from": "2026-01", "low_communication": "월 발신 10회 미만",
        "low_outing": "월 외출 4회 미만"}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/skt/isolation/criteria").text
    assert "월 외출 4회 미만" in page and "2026-01부터 적용 중" in page


def test_trend_month_by_month(client, iso):
    load_cells(iso["database"], [
        cell("4812151000", period="2026-08", population=200, low_communication=50, low_outing=40, isolated=20),
        cell("4812151000", period="2026-09", population=200, low_communication=60, low_outing=50, isolated=30),
        cell("4812151000", period="2026-10", population=3, low_communication=1, low_outing=1, isolated=1),
        cell("4812151000", period="2026-10", age="30-39", population=500),  # not 65+
    ])
    h = api_headers(client, "cw.staff")
    items = client.get(f"{API}/trend?min_age=65", headers=h).json()["items"]
    assert [i["period"] for i in items] == ["2026-08", "2026-09", "2026-10"]
    assert items[0]["rate"] == pytest.approx(20 / 200) and items[1]["isolated"] == 30
    assert items[2]["suppressed"] and items[2]["population"] is None
    web = client.get(f"{API}/trend?min_age=65&months=2", headers=h).json()["items"]
    assert [i["period"] for i in web] == ["2026-09", "2026-10"]
