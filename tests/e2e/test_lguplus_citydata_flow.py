"""A 화순군 official uploads the three data sets from the imports page (a living-population file large
enough to run in the background with its progress bar, card spending in CP949, a questionnaire and its
responses), picks the best festival window and registers it, reads the market items, and prints the
consulting report (print stylesheet, then a PDF)."""

from __future__ import annotations

import json
import math
import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.e2e.conftest import sign_in
from tests.lguplus.citydata.conftest import HWASUN, HWASUN_EUP, county  # noqa: F401 (the fixture)

pytestmark = pytest.mark.e2e

EUP = HWASUN_EUP
WEEK = (0.8, 0.75, 0.8, 0.85, 1.0, 1.7, 1.5)


def _living_csv(tmp_path) -> str:
    """420 days of hourly people in 화순읍 with a weekly rhythm: over the 2 MB of an import in the request."""
    lines = ["date,hour,zone_code,sex,age_band,visitor_type,origin_code,count"]
    start = date(2025, 1, 1)
    for i in range(420):
        d = start + timedelta(days=i)
        season = 1 + 0.3 * math.sin((d.timetuple().tm_yday - 80) / 58)
        for h in range(24):
            day_curve = 0.2 + math.sin(math.pi * max(0, h - 6) / 16) if 6 <= h <= 22 else 0.2
            visitors = 40 * WEEK[d.weekday()] * season * day_curve
            lines += [f"{d},{h},{EUP},all,all,visitor,2900000000,{visitors * 0.6:.1f}",
                      f"{d},{h},{EUP},all,all,visitor,,{visitors * 0.4:.1f}",
                      f"{d},{h},{EUP},all,all,resident,,{30000 - 3000 * day_curve:.1f}",
                      f"{d},{h},{EUP},all,all,worker,,{(2500 if d.weekday() < 5 else 800) * day_curve:.1f}"]
    path = tmp_path / "생활인구.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert path.stat().st_size > 2_000_000
    return str(path)


def _card_csv(tmp_path) -> str:
    lines = ["month,merchant_zone_code,category_large,category_middle,customer_home_code,sex,age_band,amount_krw,count"]
    for m in range(1, 13):
        month = f"2025-{m:02d}"
        for middle, large, inside, leak in (("수산물", "식료품", 20_000_000, 90_000_000), ("정육", "식료품", 15_000_000,
                                                                                    12_000_000),
                                            ("한식", "음식", 60_000_000, 8_000_000)):
            lines += [f"{month},{EUP},{large},{middle},{HWASUN},all,all,{inside},{inside // 20_000}",
                      f"{month},2914000000,{large},{middle},{HWASUN},all,all,{leak},{leak // 25_000}",
                      f"{month},{EUP},{large},{middle},2900000000,all,all,{inside // 5},{inside // 100_000}",
                      f"{month},4617000000,{large},{middle},4617000000,all,all,{inside * 3},{inside * 3 // 20_000}"]
    path = tmp_path / "카드소비.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("cp949"))
    return str(path)


def _survey_files(tmp_path) -> tuple[str, str]:
    questionnaire = {"name": "2025 화순군 주민 소비 설문", "provider": "티브릿지코퍼레이션", "questions": [
        {"code": "elsewhere", "text": "군 밖에서 주로 사는 품목", "kind": "multi", "topic": "buy_elsewhere",
         "choices": ["수산물", "정육", "한식"]},
        {"code": "satisfaction", "text": "전통시장 만족도", "kind": "scale", "scale_min": 1, "scale_max": 5}]}
    q_path = tmp_path / "설문지.json"
    q_path.write_text(json.dumps(questionnaire, ensure_ascii=False), encoding="utf-8")
    lines = ["respondent_key,weight,sex,age_band,zone_code,elsewhere,satisfaction"]
    for i in range(60):
        picks = ["수산물"] + (["정육"] if i % 3 == 0 else [])
        lines.append(f"R{i:03d},{1 + (i % 4) * 0.25},{'MF'[i % 2]},{['30-39', '50-59', '70+'][i % 3]},{EUP},"
                     f"{';'.join(picks)},{1 + i % 5}")
    r_path = tmp_path / "설문응답.csv"
    r_path.write_bytes(("\n".join(lines) + "\n").encode("cp949"))
    return str(q_path), str(r_path)


def _upload(page, kind: str, path: str, survey: str | None = None) -> None:
    try:
        page.goto("/lguplus/citydata/imports")
    except PlaywrightError as exc:  # a finished job's page reloads itself once: that reload won the race
        if "ERR_ABORTED" not in str(exc):
            raise
        page.wait_for_load_state()
        page.goto("/lguplus/citydata/imports")
    page.select_option("#f-kind", kind)
    if survey:
        page.select_option("#f-survey_id", label=survey)
    page.set_input_files("#f-file", path)
    page.click("form.form button[type=submit]")
    page.wait_for_load_state()


@pytest.mark.usefixtures("county")
def test_official_uploads_picks_a_window_and_prints_the_report(page, tmp_path):
    living, cards = _living_csv(tmp_path), _card_csv(tmp_path)
    questionnaire, responses = _survey_files(tmp_path)

    sign_in(page, "hwasun.staff")

    # a bad file first: refused whole, the rows named in Korean, nothing stored
    bad = tmp_path / "bad.csv"
    bad.write_text("month,merchant_zone_code,category_large,category_middle,customer_home_code,sex,age_band,"
                   f"amount_krw,count\n2025-13,{EUP},유통,대형마트,{HWASUN},all,all,1000,1\n", encoding="utf-8")
    _upload(page, "card_spending", str(bad))
    assert "아무것도 저장되지" in page.locator(".flash-error").inner_text()

    # the large living-population file runs in the background: the job page shows the bar until it is done
    _upload(page, "living_population", living)
    assert re.search(r"/lguplus/citydata/imports/\d+$", page.url)
    assert page.locator("#job-progress .progress").count() == 1
    page.wait_for_function("() => document.querySelector('#job-progress strong')?.textContent.trim() === '완료'",
                           timeout=120_000)
    assert "40,320" in page.locator("#job-progress").inner_text()

    _upload(page, "card_spending", cards)
    assert "144행을 가져왔습니다" in page.locator(".flash").first.inner_text()
    _upload(page, "questionnaire", questionnaire)
    _upload(page, "survey_responses", responses, survey="2025 화순군 주민 소비 설문")
    assert "60" in page.locator(".flash").first.inner_text()

    # festival timing: pick the best window and register the county's festival on it
    page.goto(f"/lguplus/citydata/festivals?zone_code={EUP}&days=3&year=2026")
    best = page.locator("table.table tbody tr").first
    dates = best.locator("td").nth(1).inner_text()
    assert any(r in best.inner_text() for r in ("주말", "weekend"))
    best.locator("a[data-pick='1']").click()
    page.wait_for_load_state()
    assert page.locator("#register").get_attribute("open") is not None
    start = page.input_value("#f-start_date")
    assert start and page.input_value("#f-host_code") == HWASUN
    page.fill("#f-name", "2026 화순 봄꽃축제")
    page.click("#register button[type=submit]")
    page.wait_for_load_state()
    assert "2026 화순 봄꽃축제" in page.locator("main").inner_text()

    # market items: 수산물 leaks most to 광주 and tops the list, drawn as a chart with the table beside it
    page.goto("/lguplus/citydata/market")
    page.wait_for_function("() => document.querySelector('canvas[data-chart][data-drawn]') !== null")
    first = page.locator("table.table tbody tr").first.inner_text()
    assert "수산물" in first  # 대형마트 would not fit a traditional market

    # the printable report: what the official chose, navigation and forms hidden in print, a real PDF
    page.goto(f"/lguplus/citydata/report?zone_code={EUP}&days=3&year=2026")
    report = page.locator(".cd-report").inner_text()
    assert "2026 화순 봄꽃축제" in report and "수산물" in report and "전통시장 만족도" in report
    assert dates.split("~")[0].strip()[:4] == "2026"
    page.emulate_media(media="print")
    assert not page.locator("nav.sidebar").is_visible()
    assert not page.locator(".cd-report form.filters").is_visible()
    assert not page.locator(".cd-report button", has_text="인쇄").is_visible()
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 20_000
