import html
import json
import re

from sqlalchemy import select

from app.core.tenancy import SYSTEM, bind_principal
from app.lguplus.merchants.models import Application, MerchantStore
from tests.conftest import api_headers, web_login
from tests.lguplus.merchants.conftest import API, TODAY, WEB, merchant_body


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_pages_render_in_korean_and_mask_phones(client, database, program):
    web_login(client, "cw.staff")
    with database.unit_of_work(write=False) as s:
        bind_principal(s, SYSTEM)
        merchants = list(s.scalars(select(MerchantStore).where(MerchantStore.municipality_id == program["world"]
                                                               .changwon.id).order_by(MerchantStore.name)))
        theirs = s.scalar(select(MerchantStore.name).where(MerchantStore.id == program["us"]["merchant_ids"][0]))
    page = client.get(f"{WEB}/")
    assert page.status_code == 200 and "소상공인 디지털 전환: 가맹점" in page.text
    assert "<svg" in page.text and page.text.count("<circle") == 40 and "행정동" in page.text
    first = merchants[0]
    assert first.name in page.text and theirs not in page.text
    assert first.owner_phone not in page.text and f"010-****-{first.owner_phone[-4:]}" in page.text
    assert "2쪽 중 1쪽" in page.text and "page=2" in page.text
    found = client.get(f"{WEB}/?q={first.name}")
    assert found.status_code == 200 and first.name in found.text
    assert client.get(f"{WEB}/?dong_code={first.dong_code}").status_code == 200

    detail = client.get(f"{WEB}/merchants/{first.id}")
    assert detail.status_code == 200 and first.owner_phone not in detail.text and "010-****-" in detail.text
    assert client.get(f"{WEB}/merchants/{program['us']['merchant_ids'][0]}").status_code == 404

    queue = client.get(f"{WEB}/applications?year={TODAY.year}")
    assert queue.status_code == 200 and "신청 처리" in queue.text and "progressbar" in queue.text
    assert "U+서빙로봇" in queue.text and "도입 단계별 현황" in queue.text
    cal = client.get(f"{WEB}/consulting?month=2026-10")
    assert cal.status_code == 200 and "컨설팅 일정" in cal.text and cal.text.count("<tr>") >= 5
    assert client.get(f"{WEB}/consulting?month=2026-13").status_code in (400, 422)
    rep = client.get(f"{WEB}/report")
    assert rep.status_code == 200 and "효과 보고서" in rep.text and rep.text.count("data-chart") >= 2
    assert "js/chart.umd.min.js" in rep.text and "cdn" not in rep.text.lower()
    csv = client.get(f"{WEB}/report.csv")
    assert csv.status_code == 200 and csv.text.count("\n") == 12
    assert client.get(f"{WEB}/outcomes").status_code == 200
    english = client.get(f"{WEB}/report?lang=en")
    assert "Effect report" in english.text and "효과 보고서" not in english.text
    client.get(f"{WEB}/?lang=ko")
    home = client.get("/")
    assert home.status_code == 200


def test_forms_validate_in_korean_and_run_the_workflow(client, database, program):
    token = web_login(client, "cw.staff")
    bad = {**merchant_body(), "brn": "220-81-62518", "csrf_token": token}
    r = client.post(f"{WEB}/", data=bad)
    assert r.status_code == 400 and "검증 숫자" in r.text and 'value="빛고을 분식 1호"' in r.text
    r = client.post(f"{WEB}/", data={**merchant_body(), "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    detail_url = r.headers["location"]
    mid = int(detail_url.rstrip("/").split("/")[-1])
    page = client.get(detail_url)
    assert "010-****-6789" in page.text and "010-2345-6789" not in page.text and "01023456789" not in page.text
    r = client.post(detail_url, data={"csrf_token": token, "name": "빛고을 분식 본점", "lat": "12"})
    assert r.status_code == 400 and "이상이어야 합니다" in r.text and 'value="빛고을 분식 본점"' in r.text
    r = client.post(detail_url, data={"csrf_token": token, "name": "빛고을 분식 본점", "owner_phone": ""},
                    follow_redirects=True)
    assert r.status_code == 200 and "빛고을 분식 본점" in r.text and "010-****-6789" in r.text

    r = client.post(f"{WEB}/merchants/{mid}/applications", data={"csrf_token": token, "solution": "order",
                                                                  "requested_subsidy_krw": "99999999", "year": "2027"})
    assert r.status_code == 400 and "최대" in r.text
    r = client.post(f"{WEB}/merchants/{mid}/applications", data={"csrf_token": token, "solution": "order",
                                                                  "requested_subsidy_krw": "abc", "year": "2027"})
    assert r.status_code == 400 and ("정수" in r.text or "숫자" in r.text)
    r = client.post(f"{WEB}/merchants/{mid}/applications", data={"csrf_token": token, "solution": "order",
                                                                  "requested_subsidy_krw": "300000", "year": "2027"},
                    follow_redirects=False)
    assert r.status_code == 303
    with database.unit_of_work(write=False) as s:
        bind_principal(s, SYSTEM)
        app_id = s.scalar(select(Application.id).where(Application.merchant_id == mid))

    r = client.post(f"{WEB}/budget", data={"csrf_token": token, "year": "2027", "amount": "-5"})
    assert r.status_code == 400
    r = client.post(f"{WEB}/budget", data={"csrf_token": token, "year": "2027", "amount": "200000"},
                    follow_redirects=False)
    assert r.status_code == 303
    for to in ("reviewed", "approved"):
        r = client.post(f"{WEB}/applications/{app_id}/transition", data={"csrf_token": token, "to": to},
                        follow_redirects=True)
        assert r.status_code == 200
    assert "예산 잔액" in r.text  # 300,000 won does not fit in 200,000: refused, in Korean
    h = api_headers(client, "cw.staff")
    assert client.get(f"{API}/applications/{app_id}", headers=h).json()["state"] == "reviewed"
    r = client.post(f"{WEB}/applications/{app_id}/transition", data={"csrf_token": token, "to": "installed"},
                    follow_redirects=True)
    assert "가능한 단계" in r.text
    client.post(f"{WEB}/budget", data={"csrf_token": token, "year": "2027", "amount": "1000000"})
    r = client.post(f"{WEB}/applications/{app_id}/transition", data={"csrf_token": token, "to": "approved"},
                    follow_redirects=True)
    assert client.get(f"{API}/applications/{app_id}", headers=h).json()["state"] == "approved"
    assert client.get(f"{API}/budget?year=2027", headers=h).json()["committed_krw"] == 300_000

    r = client.post(f"{WEB}/consulting", data={"csrf_token": token, "merchant_id": str(mid),
                                                "session_date": "2026-11-20", "topic": "메뉴 구성",
                                                "action": "사진 교체"})
    assert r.status_code == 400 and "기한" in r.text and 'value="메뉴 구성"' in r.text
    r = client.post(f"{WEB}/consulting", data={"csrf_token": token, "merchant_id": str(mid),
                                                "session_date": "2026-11-20", "topic": "메뉴 구성",
                                                "action": "사진 교체", "due_date": "2026-12-01"},
                    follow_redirects=True)
    assert r.status_code == 200 and "메뉴 구성" in r.text and "사진 교체" in r.text
    sessions = client.get(f"{API}/consulting?merchant_id={mid}", headers=h).json()
    assert sessions["total"] == 1 and sessions["items"][0]["actions"][0]["due_date"] == "2026-12-01"
    fid = sessions["items"][0]["actions"][0]["id"]
    r = client.post(f"{WEB}/followups/{fid}/done", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get(f"{API}/consulting/{sessions['items'][0]['id']}", headers=h).json()["actions"][0]["done"]


def test_viewer_sees_pages_but_cannot_change_anything(client, program):
    token = web_login(client, "cw.viewer")
    assert client.get(f"{WEB}/applications").status_code == 200
    r = client.post(f"{WEB}/budget", data={"csrf_token": token, "year": "2027", "amount": "1000"})
    assert r.status_code == 403


def test_administrator_changes_a_subsidy_rule(client, program):
    token = web_login(client, "cw.admin")
    page = client.get(f"{WEB}/applications")
    assert "지원 기준 바꾸기" in page.text
    rule = {"csrf_token": token, "code": "pos", "monthly_fee_krw": "20000", "one_off_krw": "1000000",
            "subsidy_pct": "150", "subsidy_cap_krw": "700000"}
    r = client.post(f"{WEB}/solutions", data=rule)
    assert r.status_code == 400 and "100 이하" in r.text and 'value="1000000"' in r.text
    r = client.post(f"{WEB}/solutions", data={**rule, "subsidy_pct": "50"}, follow_redirects=False)
    assert r.status_code == 303
    h = api_headers(client, "cw.admin")
    pos = next(s for s in client.get(f"{API}/solutions", headers=h).json() if s["code"] == "pos")
    assert pos["max_subsidy_krw"] == 620_000 and pos["subsidy_cap_krw"] == 700_000
    other = next(s for s in client.get(f"{API}/solutions", headers=api_headers(client, "us.staff")).json()
                 if s["code"] == "pos")
    assert other["subsidy_pct"] != 50 or other["one_off_krw"] != 1_000_000  # 울산's rule is its own


def test_staff_cannot_change_subsidy_rules_on_the_page(client, program):
    token = web_login(client, "cw.staff")
    assert "지원 기준 바꾸기" not in client.get(f"{WEB}/applications").text
    r = client.post(f"{WEB}/solutions", data={"csrf_token": token, "code": "pos", "monthly_fee_krw": "1",
                                              "one_off_krw": "1", "subsidy_pct": "1", "subsidy_cap_krw": "1"})
    assert r.status_code == 403


def test_the_effect_chart_draws_each_interval_as_one_range_around_its_estimate(client, demo_loaded):
    """Not three bars (low, estimate, high): a point for the estimate inside one floating range."""
    from app.platform.demo import DEMO_PASSWORD

    web_login(client, "seogu.staff", DEMO_PASSWORD)
    rep = client.get(f"{WEB}/report")
    assert rep.status_code == 200
    charts = [json.loads(html.unescape(d)) for d in re.findall(r"data-datasets='([^']*)'", rep.text)]
    effect = [sets for sets in charts if any(d.get("interval") for d in sets)]
    assert len(effect) == 1 and len(effect[0]) == 2, charts
    point, interval = effect[0]
    assert point["type"] == "point" and len(interval["data"]) == len(point["data"]) > 0
    assert all(low <= estimate <= high for (low, high), estimate in zip(interval["data"], point["data"], strict=True))
    assert not re.search(r"\d\.0(%|<)", rep.text)  # counts whole, shares by the percent filter
