"""Pages render in Korean with charts, tables and CSV; empty states; the demo reproduces the findings."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

from sqlalchemy import select

from app.core.tenancy import SYSTEM, bind_principal
from app.platform.models import Municipality
from app.skt.isolation import demo, service
from tests.conftest import web_login

PAGES = ["/skt/isolation/", "/skt/isolation/gradient", "/skt/isolation/ranking", "/skt/isolation/criteria",
         "/skt/isolation/targets", "/skt/isolation/import", "/skt/isolation/dongs"]
CSVS = ["divide", "gradient", "ranking", "criteria", "targets"]


def _load_demo_months(database, n_months: int = 2) -> None:
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        mid = s.scalar(select(Municipality.id).where(Municipality.code == "4812000000"))
        demo.load(s, municipality_id=mid, dongs=demo.dong_rows(), n_months=n_months, seed=4812,
                  until=date(2026, 10, 1))


def test_empty_pages_say_so_in_korean(client, world):
    web_login(client, "cw.staff")
    for path in PAGES[:5]:
        r = client.get(path)
        assert r.status_code == 200, path
        assert "아직 지표 자료가 없습니다" in r.text, path
    assert "등록된 행정동이 없습니다" in client.get("/skt/isolation/dongs").text
    for name in CSVS:
        assert client.get(f"/skt/isolation/{name}.csv").status_code == 200


def test_demo_pages_show_the_divide_gradient_ranking_and_targets(client, world):
    _load_demo_months(client.app.state.db)
    web_login(client, "cw.viewer")
    pages = {path: client.get(path) for path in PAGES}
    # the import form is for writers: a viewer is refused at once rather than after filling it in
    assert pages.pop("/skt/isolation/import").status_code == 403
    assert all(r.status_code == 200 for r in pages.values()), {p: r.status_code for p, r in pages.items()}
    assert "정보격차" in pages["/skt/isolation/"].text and "data-chart" in pages["/skt/isolation/"].text
    assert "윌슨" in pages["/skt/isolation/ranking"].text
    assert "예상 참여 인원" in pages["/skt/isolation/targets"].text
    assert "고소득" in pages["/skt/isolation/gradient"].text
    assert "현재 적용 중인 고립 정의" in pages["/skt/isolation/criteria"].text
    # A viewer is offered no import: no link to it, no upload form anywhere.
    assert all('type="file"' not in r.text and 'href="/skt/isolation/import"' not in r.text for r in pages.values())
    ranking = list(csv.DictReader(io.StringIO(client.get("/skt/isolation/ranking.csv").text.lstrip("\ufeff"))))
    assert len(ranking) == 57 and ranking[0]["period"] == "2026-10"
    shown = [int(r["isolated"]) for r in ranking if r["isolated"]]
    assert len(shown) >= 50 and shown == sorted(shown, reverse=True)
    assert all(r["isolated"] == "" for r in ranking[len(shown):])  # hidden dongs come last
    assert ranking[0]["dong_code"] in pages["/skt/isolation/ranking"].text
    page2 = client.get("/skt/isolation/ranking?page=2").text
    # Numbers as Koreans read them: whole people, shares by the percent filter, the interval as one range.
    html = pages["/skt/isolation/ranking"].text
    assert f"<strong>{int(ranking[0]['isolated']):,}</strong>" in html
    ranges = re.findall(r'<td class="num nowrap">(\d+(?:\.\d)?)%–(\d+(?:\.\d)?)%</td>', html)
    assert len(ranges) >= 25 and all(float(low) <= float(high) for low, high in ranges)
    gradient = pages["/skt/isolation/gradient"].text
    assert re.search(r'<span class="stat-value">\d+(\.\d{1,2})?×</span>', gradient)
    for text in (html, gradient, pages["/skt/isolation/criteria"].text, pages["/skt/isolation/targets"].text):
        assert not re.search(r"\d\.0(%|<)", text)  # no "1,900.0" and no "12.0%"
    assert ranking[30]["dong_code"] in page2 and ranking[0]["dong_code"] not in page2


def test_demo_reproduces_the_drop_after_65_and_the_income_gradient(database, world):
    _load_demo_months(database, n_months=2)
    with database.unit_of_work(write=False) as s:
        bind_principal(s, SYSTEM)
        divide = {i["age_band"]: i["relative"] for i in service.digital_divide(s, period=None, k=5)["items"]}
        gradient = service.income_gradient(s, period=None, min_age=65, k=5)
        ranking = service.isolation_ranking(s, period=None, min_age=65, k=5)
    for measure in ("app_minutes", "messenger_minutes", "smartphone_data_mb"):
        assert divide["60-64"][measure] > 0.8 and divide["65-69"][measure] < 0.65 * divide["60-64"][measure]
        assert divide["80+"][measure] < divide["75-79"][measure] < divide["70-74"][measure]
    means = [i["means"]["app_minutes"] for i in gradient["items"]]
    assert means == sorted(means) and gradient["gap"]["app_minutes"] > 1.5
    assert gradient["gap"]["outings"] > 1.1
    assert ranking["previous_period"] == "2026-09" and len(ranking["items"]) == 57
    assert sum(1 for i in ranking["items"] if i["change"] is not None) >= 50
