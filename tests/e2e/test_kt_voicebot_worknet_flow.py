"""In Chromium: a 창원시 official plays a bulky-waste caller in the voicebot console, opens the request the
call created and moves it on; then assigns a 5G router and gives it a fixed IP from a pool."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import insert

from app.core.db import utcnow
from app.core.i18n import SEOUL
from app.core.tenancy import SYSTEM, bind_principal
from app.kt.voicebot import classifier
from app.kt.voicebot.demo import _fee_rows
from app.kt.voicebot.models import VoicebotFeeItem
from tests.e2e.conftest import sign_in
from tests.kt.worknet.conftest import router_body

pytestmark = pytest.mark.e2e


def _say(page, text: str) -> None:
    turns = page.locator("ol.transcript li").count()
    page.fill("#f-text", text)
    page.press("#f-text", "Enter")
    page.wait_for_function(f"() => document.querySelectorAll('ol.transcript li').length > {turns}")


def test_console_call_becomes_a_request_staff_work_and_a_router_gets_a_fixed_ip(page, database, world):
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        s.execute(insert(VoicebotFeeItem.__table__), _fee_rows(world.changwon.id, world.changwon.code))
    classifier.get_model()  # as `dxhub voicebot train` leaves it for a server: trained before the first call
    page.set_default_timeout(30_000)  # a loaded 2-core CI machine: a dozen page loads, some of them slow
    sign_in(page, "cw.staff")

    page.goto("/kt/voicebot/console")
    page.select_option("select[name=municipality_code]", "4812000000")
    page.fill("input[name=caller_number]", "010-1234-5678")
    page.click("form:has(input[name=caller_number]) button[type=submit]")
    page.wait_for_url(re.compile(r"/kt/voicebot/console/\d+$"))
    day = utcnow().astimezone(SEOUL).date() + timedelta(days=2)
    day += timedelta(days=1) if day.weekday() == 6 else timedelta(0)
    for text in ("어 저기 쇼파 3인용 하나 버릴라카는데예", "창전동 123-4번지요", f"{day.month}월 {day.day}일 오전에요"):
        _say(page, text)
    assert "12,000원" in page.locator("ol.transcript li").last.inner_text()
    _say(page, "네 맞아요")
    assert "접수되었습니다" in page.locator("ol.transcript").inner_text()
    assert page.locator("#f-text").count() == 0  # the call has ended: nothing more to say

    page.click("a[href*='/kt/voicebot/requests/']")
    page.wait_for_url(re.compile(r"/kt/voicebot/requests/\d+$"))
    assert "자원순환과" in page.content() and "BW" in page.content()
    page.select_option("select[name=status]", "assigned")
    page.click("form:has(select[name=status]) button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("h1 .badge").first.inner_text().startswith("배정")

    # The work network: a pool, a router lent to an official, then its fixed IP.
    page.goto("/kt/worknet/pools")
    page.click("details summary")
    page.fill("input[name=name]", "창원시 본청")
    page.fill("input[name=cidr]", "10.77.0.0/29")
    page.click("form:has(input[name=cidr]) button[type=submit]")
    page.wait_for_load_state()
    page.goto("/kt/worknet/routers/new")
    body = router_body("CW5G-0100")
    for field in ("serial", "model", "imei", "iccid"):
        page.fill(f"input[name={field}]", body[field])
    page.click("form:has(input[name=serial]) button[type=submit]")
    page.wait_for_url(re.compile(r"/kt/worknet/routers/\d+$"))
    assert body["iccid"] not in page.content()  # the ICCID is shown masked
    page.fill("input[name=assignee_username]", "cw1001")
    page.fill("input[name=assignee_name]", "김주무")
    page.fill("input[name=department]", "정보통신과")
    page.click("form:has(input[name=assignee_username]) button[type=submit]")
    page.wait_for_load_state()
    page.click("form:has(select[name=pool_id]) button[type=submit]")
    page.wait_for_load_state()
    assert "10.77.0.2" in page.locator("dl").first.inner_text()
