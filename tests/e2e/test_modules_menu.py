"""창원 staff see in the sidebar only the modules 창원 runs; a platform administrator switches one on in the
browser and it appears in their menu."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import delete

from app.core.manifest import installed
from app.core.tenancy import SYSTEM, bind_principal
from app.platform.models import MunicipalityModule, Program
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e


def _menu(page) -> list[str]:
    return [t.strip() for t in page.locator("nav.sidebar .nav-title").all_inner_texts()]


def test_changwon_staff_sidebar_shows_only_the_modules_changwon_runs(page, database, world):
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        s.execute(delete(MunicipalityModule).where(MunicipalityModule.municipality_id == world.changwon.id))
        s.add(Program(title="어르신 정보격차·고립 분석", municipality_id=world.changwon.id, module="skt.isolation",
                      status="active"))
    isolation, cctv = installed()["skt.isolation"].name_ko, installed()["kt.cctv"].name_ko

    sign_in(page, "cw.staff")
    assert _menu(page) == [isolation]
    assert page.locator("nav.sidebar a[href^='/kt/'], nav.sidebar a[href^='/lguplus/']").count() == 0
    response = page.goto("/kt/cctv/")
    assert response.status == 404 and "소속 지자체에서 운영하지 않는 사업입니다" in page.inner_text("main")

    sign_in(page, "root")
    assert len(_menu(page)) == len(installed()) + 1  # every module, then the administration
    page.click("nav.sidebar >> text=운영 모듈")
    page.locator("tr", has_text="창원시").locator("a").click()
    page.wait_for_url(re.compile(r"/admin/modules/4812000000$"))
    page.locator("tr[data-module='kt.cctv'] button", has_text="켜기").click()
    assert "창원시의 모듈 설정을 저장했습니다." in page.inner_text(".flash")
    assert "관리자가 켬" in page.inner_text("tr[data-module='kt.cctv']")

    sign_in(page, "cw.staff")
    assert _menu(page) == [isolation, cctv]  # in the installed order
    page.locator("nav.sidebar a[href^='/kt/cctv']").first.click()
    page.wait_for_url(re.compile(r"/kt/cctv/"))
    assert page.locator("h1").count() >= 1
