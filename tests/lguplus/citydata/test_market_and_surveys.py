"""Market items (leakage, visitors, location quotient, survey), survey margins of error, suppression."""

from __future__ import annotations

import math

import pytest

from tests.conftest import api_headers
from tests.lguplus.citydata.conftest import GWANGJU_DONG, HANCHEON, HWASUN, HWASUN_EUP, NAJU

API = "/api/v1/lguplus/citydata"


def card(month, zone, large, middle, home, amount, count):
    return {"month": month, "merchant_zone_code": zone, "category_large": large, "category_middle": middle,
            "customer_home_code": home, "sex": "all", "age_band": "all", "amount_krw": amount, "count": count}


def test_market_items_measure_leakage_visitors_and_location_quotient(client, county):
    h = api_headers(client, "hwasun.staff")
    rows = [
        # 정육: residents 400k inside, 600k in 광주; visitors 100k inside; 나주 (province) sells 500k
        card("2025-09", HWASUN_EUP, "식료품", "정육", HWASUN, 400_000, 20),
        card("2025-09", GWANGJU_DONG, "식료품", "정육", HWASUN, 600_000, 30),
        card("2025-09", HWASUN_EUP, "식료품", "정육", "2900000000", 100_000, 10),
        card("2025-09", NAJU, "식료품", "정육", NAJU, 500_000, 25),
        # 한식: residents 900k inside, 100k in 광주; visitors 300k; 나주 sells 1,500k
        card("2025-09", HANCHEON, "음식", "한식", HWASUN, 900_000, 60),
        card("2025-09", GWANGJU_DONG, "음식", "한식", HWASUN, 100_000, 8),
        card("2025-09", HWASUN_EUP, "음식", "한식", "1100000000", 300_000, 15),
        card("2025-09", NAJU, "음식", "한식", NAJU, 1_500_000, 70),
    ]
    assert client.post(f"{API}/imports/card-spending", headers=h, json=rows).status_code == 201
    out = client.get(f"{API}/market-items", headers=h, params={"municipality_code": HWASUN}).json()
    items = {it["category_middle"]: it for it in out["items"]}
    meat, hansik = items["정육"], items["한식"]
    assert meat["leakage_krw"] == 600_000 and meat["leakage_share"] == pytest.approx(0.6)
    assert meat["visitor_krw"] == 100_000 and hansik["visitor_krw"] == 300_000
    # county sales: 정육 500k, 한식 1,200k of 1,700k; province (county + 나주): 정육 1,000k, 한식 2,700k of 3,700k
    assert meat["location_quotient"] == pytest.approx((500 / 1700) / (1000 / 3700), abs=1e-3)
    assert hansik["location_quotient"] == pytest.approx((1200 / 1700) / (2700 / 3700), abs=1e-3)
    assert out["items"][0]["category_middle"] == "정육"  # more leakage, lower LQ
    assert out["totals"]["leakage_krw"] == 700_000 and out["period"] == {"from": "2024-10", "to": "2025-09"}


def test_market_items_hide_figures_resting_on_few_people(client, county):
    h = api_headers(client, "hwasun.staff")
    rows = [card("2025-09", GWANGJU_DONG, "패션·잡화", "생활잡화", HWASUN, 5_000_000, 200),
            card("2025-09", GWANGJU_DONG, "패션·잡화", "의류", HWASUN, 3_000_000, 90),
            card("2025-09", GWANGJU_DONG, "서비스", "미용", HWASUN, 80_000, 3)]
    client.post(f"{API}/imports/card-spending", headers=h, json=rows)
    items = {it["category_middle"]: it for it in client.get(f"{API}/market-items", headers=h).json()["items"]}
    assert items["미용"]["leakage_krw"] is None  # 3 purchases: under k
    assert items["의류"]["leakage_krw"] is None  # complementary: the total would reveal 미용
    assert items["생활잡화"]["leakage_krw"] == 5_000_000


def test_location_quotient_is_hidden_when_few_purchases_make_it(client, county):
    h = api_headers(client, "hwasun.staff")
    rows = [card("2025-09", HWASUN_EUP, "식료품", "수산물", HWASUN, 90_000, 3),  # 3 purchases in the county
            card("2025-09", NAJU, "식료품", "수산물", NAJU, 2_000_000, 80),
            card("2025-09", HWASUN_EUP, "음식", "한식", HWASUN, 900_000, 60),
            card("2025-09", NAJU, "음식", "한식", NAJU, 1_500_000, 70),
            card("2025-09", HWASUN_EUP, "음식", "카페", HWASUN, 700_000, 50),
            card("2025-09", NAJU, "음식", "카페", NAJU, 300_000, 2)]  # 2 purchases in the rest of the province
    assert client.post(f"{API}/imports/card-spending", headers=h, json=rows).status_code == 201
    items = {it["category_middle"]: it for it in client.get(f"{API}/market-items", headers=h).json()["items"]}
    assert items["수산물"]["location_quotient"] is None
    assert items["카페"]["location_quotient"] is None
    assert items["한식"]["location_quotient"] == pytest.approx((900 / 1690) / (2400 / 5490), abs=1e-3)


SURVEY = {
    "name": "시장 이용 조사", "provider": "티브릿지코퍼레이션",
    "questions": [
        {"code": "q1", "text": "전통시장을 이용하십니까?", "kind": "choice", "choices": ["예", "아니오"]},
        {"code": "q2", "text": "만족도", "kind": "scale", "scale_min": 1, "scale_max": 5},
        {"code": "elsewhere", "text": "관외 구매 품목", "kind": "multi", "topic": "buy_elsewhere",
         "choices": ["정육", "의류"]},
    ],
}
WEIGHTS = [1, 1, 1, 1, 1, 2, 2, 2, 3, 3]


def _responses():
    out = []
    for i, w in enumerate(WEIGHTS):
        out.append({"respondent_key": f"R{i}", "weight": w, "sex": "F" if i < 7 else "M", "age_band": "60-69",
                    "answers": {"q1": "예" if i < 5 else "아니오", "q2": 1 + i % 5,
                                "elsewhere": ["정육"] if i % 2 else ["정육", "의류"]}})
    return out


def test_weighted_share_and_margin_of_error_match_a_hand_computation(client, county):
    h = api_headers(client, "hwasun.staff")
    r = client.post(f"{API}/surveys", headers=h, json={**SURVEY, "responses": _responses()})
    assert r.status_code == 201, r.text
    res = client.get(f"{API}/surveys/{r.json()['id']}/results", headers=h).json()
    q1 = res["questions"][0]["groups"][0]
    yes = next(c for c in q1["choices"] if c["choice"] == "예")
    # by hand: sum w = 17, yes = 5/17 = 0.2941; sum w^2 = 35, n_eff = 289/35 = 8.257;
    # MOE = 1.96 * sqrt(0.2941 * 0.7059 / 8.257) = 0.3108
    assert yes["share"] == pytest.approx(0.2941, abs=1e-4)
    assert q1["n_eff"] == pytest.approx(8.3, abs=0.05)
    assert yes["moe"] == pytest.approx(0.3108, abs=1e-3)
    q2 = res["questions"][1]["groups"][0]
    mean = sum(w * (1 + i % 5) for i, w in enumerate(WEIGHTS)) / 17
    assert q2["mean"] == pytest.approx(mean, abs=1e-3)
    var = sum(w * ((1 + i % 5) - mean) ** 2 for i, w in enumerate(WEIGHTS)) / 17
    assert q2["moe"] == pytest.approx(1.959964 * math.sqrt(var / (289 / 35)), abs=1e-3)


def test_small_groups_and_cells_are_suppressed(client, county):
    h = api_headers(client, "hwasun.staff")
    sid = client.post(f"{API}/surveys", headers=h, json={**SURVEY, "responses": _responses()}).json()["id"]
    res = client.get(f"{API}/surveys/{sid}/results", headers=h, params={"by": "sex"}).json()
    groups = {g["group"]: g for g in res["questions"][0]["groups"]}
    assert groups["all"]["n"] == 10
    assert groups["M"]["n"] is None and all(c["share"] is None for c in groups["M"]["choices"])  # 3 men
    # 7 women beside the 10 of the whole survey would give the 3 men away: hidden too
    assert groups["F"]["n"] is None and all(c["share"] is None for c in groups["F"]["choices"])
    overall = {c["choice"]: c for c in groups["all"]["choices"]}
    assert overall["예"]["respondents"] == 5 and overall["아니오"]["respondents"] == 5
    # by age band everyone is 60-69: one group of 10, shown
    res = client.get(f"{API}/surveys/{sid}/results", headers=h, params={"by": "age_band"}).json()
    ages = {g["group"]: g for g in res["questions"][0]["groups"]}
    assert ages["60-69"]["n"] == 10 and ages["60-69"]["choices"][0]["share"] == pytest.approx(0.2941, abs=1e-4)


def _assert_nothing_derivable(question: dict, k: int = 5) -> None:
    """No shown count under k, and no published total with exactly one hidden part."""
    overall, *groups = question["groups"]
    hidden_groups = [g for g in groups if g["n"] is None]
    assert len(hidden_groups) != 1 or overall["n"] is None, question["code"]
    for g in groups:
        assert g["n"] is None or g["n"] >= k
    if question["kind"] == "scale":
        return
    for i, choice in enumerate(question["groups"][0]["choices"]):
        column = [g["choices"][i] for g in groups]
        for cell in column:
            assert cell["respondents"] is None or cell["respondents"] == 0 or cell["respondents"] >= k
        hidden = [c for c in column if c["respondents"] is None]
        if overall["choices"][i]["respondents"] is not None:
            assert len(hidden) != 1, (question["code"], choice["choice"])
    if question["kind"] == "choice":
        for g in question["groups"]:
            if g["n"] is not None:
                assert sum(c["respondents"] is None for c in g["choices"]) != 1, (question["code"], g["group"])


def test_no_hidden_survey_figure_can_be_recovered_by_subtraction(client, county_data):
    h = api_headers(client, "hwasun.staff")
    sid = client.get(f"{API}/surveys", headers=h).json()["items"][0]["id"]
    hidden = 0
    for by in ("sex", "age_band", "zone_code"):
        res = client.get(f"{API}/surveys/{sid}/results", headers=h, params={"by": by}).json()
        for q in res["questions"]:
            _assert_nothing_derivable(q)
            hidden += sum(c["share"] is None for g in q["groups"] for c in g.get("choices", []))
    assert hidden > 0  # 80 responses over six age bands leave small cells to hide


def test_survey_answers_are_checked_against_the_questionnaire(client, county):
    h = api_headers(client, "hwasun.staff")
    sid = client.post(f"{API}/surveys", headers=h, json=SURVEY).json()["id"]
    bad = [{"respondent_key": "A", "sex": "F", "age_band": "20-29", "answers": {"q1": "모름"}},
           {"respondent_key": "B", "sex": "F", "age_band": "20-29", "answers": {"q2": 9}},
           {"respondent_key": "C", "sex": "X", "age_band": "20-29", "answers": {}},
           {"respondent_key": "D", "sex": "F", "age_band": "20-29", "answers": {"q9": "예"}}]
    r = client.post(f"{API}/surveys/{sid}/responses", headers=h, json=bad)
    assert r.status_code == 422
    locs = [e["loc"] for e in r.json()["errors"]]
    assert ["rows", 0, "answers", "q1"] in locs and ["rows", 1, "answers", "q2"] in locs
    assert ["rows", 2, "sex"] in locs and ["rows", 3, "answers", "q9"] in locs
    assert client.get(f"{API}/surveys/{sid}", headers=h).json()["responses"] == 0
    csv_text = ("respondent_key,weight,sex,age_band,q1,q2,elsewhere\n"
                "R1,1.5,F,30-39,예,4,정육;의류\nR2,1,M,40-49,아니오,,\n")
    r = client.post(f"{API}/surveys/{sid}/responses", headers={**h, "Content-Type": "text/csv"},
                    content=csv_text.encode("cp949"))
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 2 and r.json()["answers"] == 5
    # a retry of the same file stores nothing twice
    r = client.post(f"{API}/surveys/{sid}/responses", headers={**h, "Content-Type": "text/csv"},
                    content=csv_text.encode("cp949"))
    assert r.status_code == 200 and r.json()["created"] == 0 and r.json()["unchanged"] == 2
    assert client.get(f"{API}/surveys/{sid}", headers=h).json()["responses"] == 2


def test_market_items_cross_the_survey(client, county_data):
    h = api_headers(client, "hwasun.staff")
    out = client.get(f"{API}/market-items", headers=h).json()
    assert out["survey"]["question_code"] == "buy_elsewhere"
    items = {it["category_middle"]: it for it in out["items"]}
    assert items["의류"]["survey_share"] > items["반찬·떡"]["survey_share"]
    assert items["의류"]["leakage_share"] > 0.7
    top3 = [it["category_middle"] for it in out["items"][:3]]
    assert "의류" in top3
    # a hypermarket is not something a traditional market sells: left out by default, and said so
    assert "대형마트" not in items and "대형마트" in out["not_fitting"] and "주유" in out["not_fitting"]


def test_market_fit_is_edited_per_municipality(client, county_data):
    h = api_headers(client, "hwasun.staff")
    fit = {c["category"]: c for c in client.get(f"{API}/category-fit", headers=h).json()["items"]}
    assert fit["대형마트"]["fits"] is False and fit["백화점"]["fits"] is False and fit["정육"]["fits"] is True
    r = client.put(f"{API}/category-fit", headers=h, json={"category": "정육", "fits": False, "note": "축협 매장"})
    assert r.status_code == 200 and r.json()["fits"] is False and r.json()["own"] is True
    assert client.put(f"{API}/category-fit", headers=h, json={"category": "대형마트", "fits": True}).status_code == 200
    out = client.get(f"{API}/market-items", headers=h).json()
    ranked = {it["category_middle"] for it in out["items"]}
    assert "정육" not in ranked and "대형마트" in ranked and "정육" in out["not_fitting"]
    viewer = api_headers(client, "hwasun.viewer")
    assert client.put(f"{API}/category-fit", headers=viewer, json={"category": "정육", "fits": True}).status_code == 403
    assert client.put(f"{API}/category-fit", headers=h, json={"category": "", "fits": True}).status_code == 422


def test_market_fit_form(client, county_data):
    from tests.conftest import web_login

    web_login(client, "hwasun.staff")
    page = client.get("/lguplus/citydata/market")
    assert page.status_code == 200 and "대형마트" in page.text
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    bad = client.post("/lguplus/citydata/market/fit", data={"csrf_token": token, "category": "", "fits": "true"})
    assert bad.status_code == 400
    ok = client.post("/lguplus/citydata/market/fit", data={"csrf_token": token, "category": "의류", "fits": "false"},
                     follow_redirects=False)
    assert ok.status_code == 303
    items = {it["category_middle"] for it in client.get(f"{API}/market-items",
                                                        headers=api_headers(client, "hwasun.staff")).json()["items"]}
    assert "의류" not in items


def test_heat_map_hides_small_cells(client, county):
    h = api_headers(client, "hwasun.staff")
    rows = [{"date": "2025-03-03", "hour": hr, "zone_code": HANCHEON, "sex": "all", "age_band": "all",
             "visitor_type": "visitor", "count": 3.0 if hr < 6 else 40.0} for hr in range(24)]
    client.post(f"{API}/imports/living-population", headers=h, json=rows)
    heat = client.get(f"{API}/heatmap", headers=h, params={"zone_code": HANCHEON}).json()
    monday = heat["grid"][0]
    assert monday[:6] == [None] * 6 and monday[12] == 40.0
    assert heat["grid"][1] == [0.0] * 24  # no Tuesday data: empty cells reveal no one and stay visible


def test_heat_map_of_all_types_cannot_reveal_a_hidden_type_by_subtraction(client, county):
    h = api_headers(client, "hwasun.staff")
    counts = {"visitor": 3.0, "worker": 20.0, "resident": 500.0}  # 3 visitors at every hour: hidden
    rows = [{"date": "2025-03-03", "hour": hr, "zone_code": HANCHEON, "sex": "all", "age_band": "all",
             "visitor_type": v, "count": c} for hr in range(24) for v, c in counts.items()]
    assert client.post(f"{API}/imports/living-population", headers=h, json=rows).status_code == 201

    def monday(visitor_type=None):
        params = {"zone_code": HANCHEON, **({"visitor_type": visitor_type} if visitor_type else {})}
        return client.get(f"{API}/heatmap", headers=h, params=params).json()["grid"][0]

    assert monday("visitor") == [None] * 24
    assert monday() == [523.0] * 24
    # with the total published, the smallest other type of each cell is hidden as well
    assert monday("worker") == [None] * 24 and monday("resident") == [500.0] * 24


def test_market_items_follow_new_imports(client, county):
    h = api_headers(client, "hwasun.staff")
    client.post(f"{API}/imports/card-spending", headers=h,
                json=[card("2025-09", GWANGJU_DONG, "유통", "대형마트", HWASUN, 5_000_000, 200)])
    first = client.get(f"{API}/market-items", headers=h).json()
    assert first["totals"]["leakage_krw"] == 5_000_000
    assert client.get(f"{API}/market-items", headers=h).json() == first
    client.post(f"{API}/imports/card-spending", headers=h,
                json=[card("2025-08", GWANGJU_DONG, "유통", "대형마트", HWASUN, 1_000_000, 40)])
    assert client.get(f"{API}/market-items", headers=h).json()["totals"]["leakage_krw"] == 6_000_000


def test_a_survey_can_be_removed_with_its_answers(client, county, database):
    from app.lguplus.citydata.models import CitydataAnswer, CitydataResponse
    from tests.lguplus.citydata.conftest import count_rows

    h = api_headers(client, "hwasun.staff")
    sid = client.post(f"{API}/surveys", headers=h, json={**SURVEY, "responses": _responses()}).json()["id"]
    assert count_rows(database, CitydataAnswer) > 0
    assert client.delete(f"{API}/surveys/{sid}", headers=api_headers(client, "cw.staff")).status_code == 404
    assert client.delete(f"{API}/surveys/{sid}", headers=h).status_code == 204
    assert client.get(f"{API}/surveys/{sid}", headers=h).status_code == 404
    assert count_rows(database, CitydataAnswer) == 0 and count_rows(database, CitydataResponse) == 0
