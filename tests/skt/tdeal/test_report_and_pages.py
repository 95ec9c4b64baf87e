import re
from datetime import timedelta

from sqlalchemy import select

from app.core.i18n import SEOUL
from tests.conftest import api_headers, refused_rows, web_login

API = "/api/v1/skt/tdeal"
WEB = "/skt/tdeal"


def test_campaign_report_shows_uplift_coupons_and_sales(client, tdeal):
    h = api_headers(client, "cw.staff")
    cid = tdeal["cw"]["campaign_id"]
    r = client.get(f"{API}/campaigns/{cid}/report", headers=h)
    assert r.status_code == 200
    rep = r.json()
    assert rep["totals"]["participants"] == 18 and rep["totals"]["others"] == 12
    up = rep["uplift"]
    # the generator gives participants more sales during the campaign: the estimate and its interval say so
    assert up["estimate"] > 0 and up["ci_low"] is not None and up["ci_low"] < up["estimate"] < up["ci_high"]
    assert rep["totals"]["redeemed"] > 0 and rep["totals"]["redeemed"] <= rep["totals"]["issued"]
    assert sum(c["during_krw"] for c in rep["by_city"]) == sum(m["during_krw"] for m in rep["merchants"])
    assert {m["merchant_id"] for m in rep["merchants"]} == set(tdeal["cw"]["merchant_ids"])


def test_pages_render_in_korean_with_charts_tables_and_csv(client, tdeal):
    web_login(client, "cw.staff")
    cid = tdeal["cw"]["campaign_id"]
    page = client.get(f"{WEB}/")
    assert page.status_code == 200 and "티딜 카탈로그" in page.text and "data-chart" in page.text
    assert "울산" not in page.text
    page = client.get(f"{WEB}/campaigns")
    assert page.status_code == 200 and "창원 소상공인 기획전" in page.text and "울산 기획전" not in page.text
    page = client.get(f"{WEB}/campaigns/{cid}")
    assert page.status_code == 200 and "매출 증대 효과" in page.text and "쿠폰" in page.text
    assert page.text.count("data-chart") >= 3
    # coupons: whole counts, and the redemption rate as a share ("12.5%", never "12.0%")
    coupons = client.get(f"{API}/campaigns/{cid}/report", headers=api_headers(client, "cw.staff")).json()["coupons"]
    for c in coupons:
        shown = re.search(rf'<td class="num">{c["issued"]:,}</td><td class="num">{c["redeemed"]:,} '
                          r'\((\d+(?:\.\d)?)%\)</td>', page.text)
        assert shown and abs(float(shown.group(1)) - c["rate"] * 100) <= 0.05, c
    assert not re.search(r"\d\.0%", page.text)
    english = client.get(f"{WEB}/campaigns/{cid}?lang=en")
    assert "Sales uplift (difference in differences)" in english.text and "매출 증대 효과" not in english.text
    client.get(f"{WEB}/?lang=ko")
    csv = client.get(f"{WEB}/campaigns/{cid}/report.csv?part=merchants")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert len(csv.text.strip().splitlines()) == 31
    for part in ("cities", "coupons", "daily"):
        assert client.get(f"{WEB}/campaigns/{cid}/report.csv?part={part}").status_code == 200
    assert client.get(f"{WEB}/campaigns/{tdeal['us']['campaign_id']}").status_code == 404
    assert len(client.get(f"{WEB}/merchants.csv").text.strip().splitlines()) == 31

    page = client.get(f"{WEB}/recommendations")
    assert page.status_code == 200 and "추천 모델 평가" in page.text and "아직 학습된 모델이 없습니다" in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post(f"{WEB}/recommendations/train", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and "?job=" in r.headers["location"]
    queued = client.get(r.headers["location"])
    assert "학습을 대기열에 넣었습니다" in queued.text and 'id="training-progress"' in queued.text
    assert 'hx-trigger="every 1s"' in queued.text  # the bar polls while the worker trains
    from app.core.jobs import queue_for

    queue = queue_for(client.app.state.settings)
    queue.bind(client.app.state.db)
    assert queue.drain() >= 1
    done = client.get(r.headers["location"])
    assert 'hx-trigger="every 1s"' not in done.text and "완료" in done.text
    page = client.get(f"{WEB}/recommendations")
    assert "인기 상품 기준선" in page.text and "NDCG@10" in page.text and "data-chart" in page.text
    assert client.get(f"{WEB}/recommendations.csv").text.count("\n") == 5
    home = client.get("/")
    assert "창원 소상공인 기획전" in home.text


def test_coupon_form_and_csv_import_page(client, tdeal):
    token = web_login(client, "cw.staff")
    cid = tdeal["cw"]["campaign_id"]
    form = {"csrf_token": token, "code": "WEB10", "name": "웹 쿠폰", "discount_kind": "fixed", "discount_value": "3000",
            "min_order_krw": "10000", "total_quantity": "50", "per_subscriber_limit": "1",
            "valid_from_date": "2026-11-01", "valid_until_date": "2026-10-01"}
    r = client.post(f"{WEB}/campaigns/{cid}/coupons", data=form, follow_redirects=False)
    assert r.status_code == 400 and 'value="WEB10"' in r.text
    r = client.post(f"{WEB}/campaigns/{cid}/coupons", data=dict(form, valid_until_date="2026-12-31"),
                    follow_redirects=False)
    assert r.status_code == 303
    assert "WEB10" in client.get(f"{WEB}/campaigns/{cid}").text

    bad = "brn,name,category\n2208162517,네이버 상점,공예품\n2208162518,틀린 번호,공예품\n"
    r = client.post(f"{WEB}/import", data={"csrf_token": token, "kind": "merchants"},
                    files={"file": ("m.csv", bad.encode(), "text/csv")})
    assert r.status_code == 400 and "저장되지 않았습니다" in r.text
    [(line, field, _msg)] = refused_rows(r.text)  # the file's 2nd row, under the header: line 3
    assert (line, field) == ("3", "brn")
    r = client.post(f"{WEB}/import", data={"csrf_token": token, "kind": "merchants"},
                    files={"file": ("m.csv", "brn,name,category\n2208162517,,공예품\n".encode(), "text/csv")})
    assert r.status_code == 400 and "필수 항목입니다." in r.text and "Field required" not in r.text
    good = bad.splitlines()[0] + "\n" + bad.splitlines()[1] + "\n"
    r = client.post(f"{WEB}/import", data={"csrf_token": token, "kind": "merchants"},
                    files={"file": ("m.csv", good.encode(), "text/csv")}, follow_redirects=True)
    assert r.status_code == 200 and "1건 신규" in r.text


def test_viewer_cannot_write_through_pages(client, tdeal):
    token = web_login(client, "cw.viewer")
    cid = tdeal["cw"]["campaign_id"]
    page = client.get(f"{WEB}/campaigns/{cid}")
    assert page.status_code == 200 and "쿠폰 추가" not in page.text
    r = client.post(f"{WEB}/campaigns/{cid}/coupons", data={"csrf_token": token, "code": "NOPE"})
    assert r.status_code == 403
    r = client.post(f"{WEB}/import", data={"csrf_token": token, "kind": "merchants"},
                    files={"file": ("m.csv", b"brn,name,category\n2208162517,x,y\n", "text/csv")})
    assert r.status_code == 403


def test_a_campaign_runs_through_today_in_seoul(client, world, clock_instant):
    """A campaign that began yesterday in Seoul has run two days, even where UTC still says yesterday."""
    h = api_headers(client, "cw.staff")
    today = clock_instant.astimezone(SEOUL).date()
    body = {"name": "새해 기획전", "start_date": str(today - timedelta(days=1)),
            "end_date": str(today + timedelta(days=6))}
    r = client.post(f"{API}/campaigns", json=body, headers=h)
    assert r.status_code == 201, r.text
    assert [c["id"] for c in client.get(f"{API}/campaigns", headers=h, params={"active_on": str(today)}).json()[
        "items"]] == [r.json()["id"]]
    report = client.get(f"{API}/campaigns/{r.json()['id']}/report", headers=h)
    assert report.status_code == 200, report.text
    assert report.json()["through_date"] == today.isoformat() and report.json()["days"] == 2


def test_home_widget_figures_equal_the_campaign_report(client, database, tdeal):
    """The home dashboard's widget sums in SQL what the report sums per merchant: the same figures."""
    from app.core.tenancy import SYSTEM, bind_principal
    from app.skt.tdeal import report, web
    from app.skt.tdeal.models import TdealCampaign, TdealRedemption

    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        # a cancelled redemption is a refund: both must leave it out alike
        live = s.scalars(select(TdealRedemption).where(TdealRedemption.cancelled_at.is_(None))
                         .order_by(TdealRedemption.id)).first()
        assert live is not None
        live.cancelled_at = live.redeemed_at
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        widget = web.widget(s, SYSTEM)
        assert widget is not None
        full = report.campaign_report(s, campaign=widget["campaign"])
        assert widget["totals"] == full["totals"] and widget["uplift"] == full["uplift"]
        for key in ("cw", "us"):
            campaign = s.get(TdealCampaign, tdeal[key]["campaign_id"])
            start = campaign.start_date
            for day in (None, start, start + timedelta(days=3)):  # early in the campaign: a shorter window
                full = report.campaign_report(s, campaign=campaign, today=day)
                assert report.campaign_summary(s, campaign=campaign, today=day) == {
                    "totals": full["totals"], "uplift": full["uplift"]}
                if key == "cw" and day is None:
                    assert full["totals"]["during_krw"] > 0 and full["totals"]["redeemed"] > 0
                    assert full["uplift"]["ci_low"] is not None
    web_login(client, "cw.staff")
    assert "창원 소상공인 기획전" in client.get("/").text
