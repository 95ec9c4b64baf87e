"""A 서구 official sets the year's budget, approves an application from the queue with its button, sees the
budget bar move, and opens the effect report whose charts are drawn from the vendored Chart.js."""

from __future__ import annotations

import re

import pytest

from app.core.tenancy import SYSTEM, bind_principal
from app.lguplus.merchants import demo, service
from app.lguplus.merchants.schemas import ApplicationIn, TransitionIn
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e


def test_official_approves_against_the_budget_and_opens_the_report(page, database, world):
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        made = demo.generate(s, municipality_id=world.changwon.id, n_merchants=40, n_participants=14, months=12,
                             seed=3, n_consulting=4)
        free = [m for m in made["merchant_ids"] if m not in made["participants"]][-1]
        app = service.create_application(s, data=ApplicationIn(merchant_id=free, solution="serving_robot",
                                                               requested_subsidy_krw=1_500_000, year=2031))
        service.transition(s, application_id=app.id, data=TransitionIn(to="reviewed"))
        app_id = app.id

    sign_in(page, "cw.staff")

    page.goto("/lguplus/merchants/applications?year=2031")
    page.fill("#f-amount", "1000000")
    page.click("form[action$='/budget'] button[type=submit]")
    page.wait_for_url(re.compile(r"/applications\?year=2031$"))
    row = page.locator("tr", has=page.locator(f"td:text-is('{app_id}')"))
    row.locator("form:has(input[value=approved]) button").click()
    page.wait_for_load_state()
    assert "예산 잔액" in page.locator(".flash").first.inner_text()  # 1,500,000 won does not fit

    page.fill("#f-amount", "2000000")
    page.click("form[action$='/budget'] button[type=submit]")
    page.wait_for_url(re.compile(r"/applications\?year=2031$"))
    row = page.locator("tr", has=page.locator(f"td:text-is('{app_id}')"))
    row.locator("form:has(input[value=approved]) button").click()
    page.wait_for_load_state()
    assert page.locator(".progress").first.get_attribute("aria-valuenow") == "75"
    row = page.locator("tr", has=page.locator(f"td:text-is('{app_id}')"))
    assert row.locator(".badge").inner_text() == "승인"

    page.goto("/lguplus/merchants/report")
    charts = page.locator("canvas[data-chart]").count()
    assert charts >= 2
    page.wait_for_function(f"() => document.querySelectorAll('canvas[data-chart][data-drawn]').length == {charts}")
    assert page.locator("h1").first.inner_text() == "효과 보고서"

    page.goto("/lguplus/merchants/")
    assert page.locator("svg.lgum-map circle").count() == 40
