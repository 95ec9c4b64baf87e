"""A viewer and a staff member of the same city open the same screens in Chromium: the staff member's sidebar
and pages offer the imports and registrations, the viewer's offer none of them, and a form page the viewer
reaches by its address answers the Korean 403 page instead of a form they could not submit."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e

WRITE_ENTRIES = ["CSV 가져오기", "지표 가져오기", "성과 업로드", "발신자 콘솔"]


def _sidebar(page) -> list[str]:
    return [t.strip() for t in page.locator("nav.sidebar a").all_inner_texts()]


def test_a_viewers_sidebar_and_pages_offer_no_write_links(browser, live_server, world):
    staff = browser.new_context(base_url=live_server, locale="ko-KR").new_page()
    viewer = browser.new_context(base_url=live_server, locale="ko-KR").new_page()
    try:
        sign_in(staff, "cw.staff")
        sign_in(viewer, "cw.viewer")

        staff_links, viewer_links = _sidebar(staff), _sidebar(viewer)
        assert all(entry in staff_links for entry in WRITE_ENTRIES), staff_links
        assert not [entry for entry in WRITE_ENTRIES if entry in viewer_links], viewer_links
        # everything else is the same menu: the viewer reads all the staff member reads
        assert viewer_links == [link for link in staff_links if link not in WRITE_ENTRIES]

        for path, button in [("/kt/robots/", "현장 등록"), ("/skt/tdeal/", "가맹점 등록"), ("/programs", "사업 등록")]:
            staff.goto(path)
            viewer.goto(path)
            assert staff.locator("main a", has_text=button).count() >= 1, (path, button)
            assert viewer.locator("main a", has_text=button).count() == 0, (path, button)
            assert viewer.locator("main form[method=post]").count() == 0, path

        response = viewer.goto("/kt/robots/sites/new")
        assert response.status == 403
        assert "이 작업을 할 권한이 없습니다." in viewer.inner_text("main")
        assert viewer.locator("main form").count() == 0
        assert staff.goto("/kt/robots/sites/new").status == 200
        assert staff.locator("main form[method=post]").count() == 1
    finally:
        staff.context.close()
        viewer.context.close()
