"""창원시 staff read the isolation analyses and 경상북도 staff run their festival's coupons, in Chromium: the
pages answer in Korean, every chart is drawn by the vendored Chart.js, and no script fails."""

from __future__ import annotations

from datetime import date

import pytest

from app.core.tenancy import SYSTEM, bind_principal
from app.platform.models import Municipality, User
from app.skt.isolation import demo as iso_demo
from app.skt.tdeal import demo as tdeal_demo
from tests.conftest import PASSWORD_HASH, run_every_module, seoul_now
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e

ISOLATION = {"/skt/isolation/": "정보격차", "/skt/isolation/gradient": "소득별 격차",
             "/skt/isolation/ranking": "고립 순위", "/skt/isolation/criteria": "고립 기준",
             "/skt/isolation/targets": "정보교육 대상"}


def _charts_drawn(page, attribute: str) -> int:
    charts = page.locator(f"canvas[{attribute}]").count()
    page.wait_for_function(f"() => document.querySelectorAll('canvas[{attribute}][data-drawn]').length == {charts}")
    return charts


def test_isolation_pages_and_the_festival_report_in_chromium(request, database):
    if database.url.startswith("postgresql"):
        pytest.skip("the pages render the same on both backends; their SQL is tested on both without a browser")
    world = request.getfixturevalue("world")
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        iso_demo.load(s, municipality_id=world.changwon.id, dongs=iso_demo.dong_rows()[:8], n_months=2, seed=4812,
                      until=date(2026, 10, 1))
        gyeongbuk = Municipality(code="4700000000", name_ko="경상북도", name_en="Gyeongbuk", level="metropolitan")
        s.add(gyeongbuk)
        s.flush()
        pohang = Municipality(code="4711000000", name_ko="포항시", name_en="Pohang", level="basic",
                              parent_id=gyeongbuk.id)
        s.add(pohang)
        s.flush()
        run_every_module(s, gyeongbuk)
        s.add(User(username="gb.staff", display_name="경상북도 담당자", role="staff", password_hash=PASSWORD_HASH,
                   municipality_id=gyeongbuk.id))
        s.flush()
        made = tdeal_demo.generate(s, region_id=gyeongbuk.id, city_ids={pohang.id: 1.0}, n_merchants=24,
                                   n_participants=14, n_subscribers=80, events_per_user=8, days=90, seed=3,
                                   today=seoul_now().date(), campaign_name="경북세일페스타")
    page = request.getfixturevalue("page")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    sign_in(page, "cw.staff", then="/skt/isolation/")
    for path, heading in ISOLATION.items():
        page.goto(f"{path}?period=2026-10")
        assert page.locator("h1").first.inner_text() == heading, path
        assert _charts_drawn(page, "data-chart") >= 1, path
        assert page.locator("table tbody tr").count() >= 2, path
    assert page.locator("table tbody tr td code").first.inner_text().startswith("4812")  # a 창원시 행정동
    page.click("form[action$='/logout'] button")

    sign_in(page, "gb.staff", then=f"/skt/tdeal/campaigns/{made['campaign_id']}")
    assert page.locator("h1").first.inner_text() == "경북세일페스타"
    page.click("summary:has-text('쿠폰 추가')")
    page.fill("#f-code", "GBFESTA10")
    page.fill("#f-name", "경북세일페스타 10% 할인")
    page.fill("#f-discount_value", "10")
    page.fill("#f-total_quantity", "500")
    today = seoul_now().date()
    page.fill("#f-valid_from_date", today.isoformat())
    page.fill("#f-valid_until_date", date(today.year + 1, 1, 31).isoformat())
    page.click("form[action$='/coupons'] button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("td code:text-is('GBFESTA10')").count() == 1
    assert _charts_drawn(page, "data-chart") >= 3  # daily sales, coupons, cities
    uplift = page.locator("section", has=page.locator("h2:has-text('이중차분')"))
    assert "95%" in uplift.inner_text()
    assert errors == []
