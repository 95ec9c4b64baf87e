"""Pages render in Korean with the county's data; the report prints; viewers cannot upload."""

from __future__ import annotations

import re

from tests.conftest import csrf_of, refused_rows, web_login

PAGES = ["/lguplus/citydata/", "/lguplus/citydata/imports", "/lguplus/citydata/festivals?year=2026",
         "/lguplus/citydata/market", "/lguplus/citydata/surveys", "/lguplus/citydata/report?year=2026",
         "/lguplus/citydata/market.csv"]


def test_pages_render_and_show_the_analyses(client, county_data):
    web_login(client, "hwasun.staff")
    for path in PAGES:
        r = client.get(path)
        assert r.status_code == 200, (path, r.text[:300])
        if path.endswith(".csv"):
            assert "의류" in r.text and "대형마트" not in r.text  # a hypermarket does not fit the market
        else:
            assert "화순읍" in r.text or "대형마트" in r.text or "설문" in r.text, path
    heat = client.get("/lguplus/citydata/", params={"visitor_type": "visitor"}).text
    assert "생활인구 히트맵" in heat
    # A quantile scale: the cells spread over all five shades (not one red for nearly all), named in a legend.
    shades = [len(re.findall(rf'<td class="q{k}">', heat)) for k in range(1, 6)]
    assert all(shades) and max(shades) < 2 * (sum(shades) / 5) + 7, shades
    assert 'class="cd-legend"' in heat and heat.count('class="cd-swatch q') == 5
    cal = client.get("/lguplus/citydata/festivals", params={"year": 2026, "days": 3}).text
    assert "rank1" in cal and "추석" in cal and "지난 축제" in cal
    # visitors are counted whole; the interval is one range; "so many times" is written against the figure
    assert re.search(r'<td class="num nowrap">\d{1,3}(,\d{3})* ~ \d{1,3}(,\d{3})*</td>', cal)
    assert re.search(r'<td class="num">\d+(\.\d{1,2})?×</td>', cal) and not re.search(r"\d\.\d+ ~", cal)
    assert not re.search(r'<td class="q\d">[^<]*\.', heat)  # heat-map cells: whole people
    report = client.get("/lguplus/citydata/report", params={"year": 2026}).text
    assert "css/citydata.css" in report and "도시데이터 컨설팅 보고서" in report and "관외" in report
    assert "@media print" in client.get("/static/css/citydata.css").text
    survey_list = client.get("/lguplus/citydata/surveys").text
    assert "2026 화순군 소비·축제 주민 설문" in survey_list


def test_a_picked_window_becomes_the_countys_festival_in_the_report(client, county_data):
    token = web_login(client, "hwasun.staff")
    cal = client.get("/lguplus/citydata/festivals", params={"year": 2027, "days": 3}).text
    link = re.search(r'data-pick="1" href="([^"]+)"', cal).group(1).replace("&amp;", "&")
    start, end = re.search(r"pick_start=([\d-]+)&pick_end=([\d-]+)", link).groups()
    form = client.get(link).text
    assert f'value="{start}"' in form and f'value="{end}"' in form and 'value="4679000000"' in form
    assert '<details id="register" open' in form
    r = client.post("/lguplus/citydata/festivals", follow_redirects=False, data={
        "csrf_token": token, "name": "2027 화순 봄꽃축제", "host_code": "4679000000", "host_name": "화순군",
        "zone_code": "4679025000", "start_date": start, "end_date": end})
    assert r.status_code == 303, r.text[:400]
    report = client.get("/lguplus/citydata/report", params={"year": 2027}).text
    assert "개최 예정" in report and "2027 화순 봄꽃축제" in report


def test_survey_explorer_breaks_down_by_age(client, county_data):
    web_login(client, "hwasun.staff")
    listing = client.get("/lguplus/citydata/surveys").text
    assert "/lguplus/citydata/surveys/" in listing
    sid = re.search(r"/lguplus/citydata/surveys/(\d+)", listing).group(1)
    page = client.get(f"/lguplus/citydata/surveys/{sid}", params={"by": "age_band"})
    assert page.status_code == 200 and "60-69" in page.text and "±" in page.text


def test_pages_render_empty_for_a_county_without_data(client, county):
    web_login(client, "hwasun.staff")
    for path in PAGES:
        assert client.get(path).status_code == 200, path


def test_upload_page_reports_bad_rows_in_korean_and_viewers_cannot_upload(client, county):
    web_login(client, "hwasun.staff")
    token = csrf_of(client, "/lguplus/citydata/imports")
    header = "date,hour,zone_code,sex,age_band,visitor_type,origin_code,count\n"
    bad = header + "2025-10-06,10,4679099999,all,all,visitor,,5\n"
    r = client.post("/lguplus/citydata/imports", data={"kind": "living_population", "csrf_token": token},
                    files={"file": ("bad.csv", bad.encode(), "text/csv")})
    assert r.status_code == 400 and "알 수 없는 구역 코드 4679099999" in r.text and "아무것도 저장되지" in r.text
    good = header + "2025-10-06,10,4679025000,all,all,visitor,,5\n"
    r = client.post("/lguplus/citydata/imports", data={"kind": "living_population", "csrf_token": token},
                    files={"file": ("good.csv", good.encode("cp949"), "text/csv")}, follow_redirects=False)
    assert r.status_code == 303 and "/lguplus/citydata/imports/" in r.headers["location"]
    client.get("/logout")
    viewer = client
    web_login(viewer, "hwasun.viewer")
    token = csrf_of(viewer, "/lguplus/citydata/imports")
    r = viewer.post("/lguplus/citydata/imports", data={"kind": "living_population", "csrf_token": token},
                    files={"file": ("good.csv", good.encode(), "text/csv")})
    assert r.status_code == 403


def test_zones_and_a_questionnaire_are_uploaded_from_the_page(client, county):
    import json

    web_login(client, "hwasun.staff")
    token = csrf_of(client, "/lguplus/citydata/imports")
    zones = ("code,name_ko,name_en,area_code\n4679039500,북면,Buk-myeon,\n"
             "2920000000,광주 광산구,Gwangsan-gu,2920000000\n")
    r = client.post("/lguplus/citydata/imports", data={"kind": "zones", "csrf_token": token},
                    files={"file": ("zones.csv", zones.encode("cp949"), "text/csv")}, follow_redirects=False)
    assert r.status_code == 303
    listed = client.get("/api/v1/lguplus/citydata/zones", headers={"X-CSRF-Token": token}).json()["items"]
    by_code = {z["code"]: z for z in listed}
    assert by_code["4679039500"]["inside"] is True and by_code["2920000000"]["inside"] is False
    bad = "code,name_ko,name_en,area_code\n12345,북면,,\n"
    r = client.post("/lguplus/citydata/imports", data={"kind": "zones", "csrf_token": token},
                    files={"file": ("zones.csv", bad.encode(), "text/csv")})
    assert r.status_code == 400 and [line for line, _field, _msg in refused_rows(r.text)] == ["2"]
    questionnaire = {"name": "장보기 설문", "questions": [
        {"code": "q1", "text": "어디서 장을 보십니까?", "kind": "choice", "choices": ["화순", "광주"]}]}
    r = client.post("/lguplus/citydata/imports", data={"kind": "questionnaire", "csrf_token": token},
                    files={"file": ("q.json", json.dumps(questionnaire, ensure_ascii=False).encode(),
                                    "application/json")},
                    follow_redirects=False)
    assert r.status_code == 303 and "/lguplus/citydata/surveys/" in r.headers["location"]
    responses = "respondent_key,weight,sex,age_band,q1\n" + "".join(f"R{i},1,F,50-59,화순\n" for i in range(6))
    sid = r.headers["location"].rsplit("/", 1)[1]
    r = client.post("/lguplus/citydata/imports", data={"kind": "survey_responses", "survey_id": sid,
                                                        "csrf_token": token},
                    files={"file": ("r.csv", responses.encode(), "text/csv")}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get(f"/lguplus/citydata/surveys/{sid}")
    assert "100%" in page.text and "100.0%" not in page.text
    bad = "respondent_key,weight,sex,age_band,q1\nS1,1,F,50-59,화순\nS2,1,F,50-59,부산\n"
    r = client.post("/lguplus/citydata/imports", data={"kind": "survey_responses", "survey_id": sid,
                                                        "csrf_token": token},
                    files={"file": ("r.csv", bad.encode(), "text/csv")})
    [(line, _field, msg)] = refused_rows(r.text)
    assert r.status_code == 400 and line == "3" and "보기에 없는 답" in msg


def test_home_dashboard_shows_the_county_card(client, county_data):
    web_login(client, "hwasun.staff")
    home = client.get("/")
    assert home.status_code == 200 and "도시데이터 컨설팅" in home.text and "최적 축제 기간" in home.text
    assert "대형마트" in home.text or "의류" in home.text


def test_pages_speak_english_on_request(client, county):
    web_login(client, "hwasun.staff")
    page = client.get("/lguplus/citydata/imports", params={"lang": "en"})
    assert page.status_code == 200 and "Data imports" in page.text and "데이터 가져오기" not in page.text
