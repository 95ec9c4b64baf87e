"""A staff member signs in, registers a program through the form, finds it in the list and opens it."""

from __future__ import annotations

import os
import re

import pytest

from tests.conftest import PASSWORD

SHOTS = os.environ.get("DXHUB_SCREENSHOTS")  # a folder: save screenshots there for a human look

pytestmark = pytest.mark.e2e


def _shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def test_register_program_find_it_and_open_it(page, world):
    page.goto("/")
    assert "/login" in page.url
    _shot(page, "login")
    page.fill("#username", "cw.staff")
    page.fill("#password", PASSWORD)
    page.click("form.form button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))
    assert page.locator("h1").first.inner_text() == "홈"
    _shot(page, "home")

    page.click("text=사업 등록")
    page.wait_for_url(re.compile(r"/programs/new$"))
    # A mistake first: the end before the start. The form comes back with the values kept.
    page.fill("#f-title", "어르신 디지털 교육 연계")
    page.select_option("#f-municipality_code", "4812000000")
    page.check("input[name=partner_codes][value=skt]")
    page.fill("#f-start_date", "2026-06-01")
    page.fill("#f-end_date", "2026-05-01")
    page.fill("#f-budget_krw", "120000000")
    page.click("form.form button[type=submit]")
    assert page.locator("#end_date-error").inner_text() == "종료일은 시작일보다 빠를 수 없습니다."
    assert page.input_value("#f-title") == "어르신 디지털 교육 연계"
    assert page.is_checked("input[name=partner_codes][value=skt]")
    _shot(page, "program_form_error")

    page.fill("#f-end_date", "2027-05-31")
    page.click("form.form button[type=submit]")
    page.wait_for_url(re.compile(r"/programs/\d+$"))
    assert "사업을 등록했습니다." in page.inner_text(".flash")
    assert "어르신 디지털 교육 연계" in page.inner_text("h1")

    page.goto("/programs?q=디지털")
    row = page.locator("table tbody tr", has_text="어르신 디지털 교육 연계")
    assert row.count() == 1
    assert "120,000,000원" in row.inner_text()
    _shot(page, "program_list")
    row.locator("a").first.click()
    page.wait_for_url(re.compile(r"/programs/\d+$"))
    assert "창원시" in page.inner_text(".facts")

    # Record a KPI and a value; the progress bar shows it.
    page.click("text=+ KPI 추가")
    page.fill("#kpis #f-name", "수강 어르신")
    page.fill("#kpis #f-target", "200")
    page.click("#kpis form.form button[type=submit]")
    page.fill("#kpis input[name=value]", "50")
    page.click("#kpis .inline-form button[type=submit]")
    assert page.locator("#kpis .progress-label").first.inner_text() == "25%"
    _shot(page, "program_detail")
