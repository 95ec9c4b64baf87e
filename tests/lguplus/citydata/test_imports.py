"""Imports: JSON and CSV (UTF-8, CP949), background jobs, idempotency, and bad input refused whole."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date

import pytest
from sqlalchemy import select

from app.core.jobs import queue_for
from app.core.tenancy import SYSTEM, bind_principal
from app.lguplus.citydata.config import CitydataSettings
from app.lguplus.citydata.models import (
    CitydataCardMonthly,
    CitydataCardSpending,
    CitydataImportJob,
    CitydataLivingPopulation,
    CitydataPopDaily,
    CitydataPopHourly,
    CitydataZone,
)
from tests.conftest import api_headers, web_login
from tests.lguplus.citydata.conftest import GWANGJU_DONG, HANCHEON, HWASUN, HWASUN_EUP, NAJU, ZONES, count_rows

API = "/api/v1/lguplus/citydata"
LIVING_HEADER = "date,hour,zone_code,sex,age_band,visitor_type,origin_code,count"
CARD_HEADER = "month,merchant_zone_code,category_large,category_middle,customer_home_code,sex,age_band,amount_krw,count"


def living_csv(lines: list[str], header: str = LIVING_HEADER) -> str:
    return "\n".join([header, *lines]) + "\n"


GOOD_LIVING = [
    f"2025-10-06,10,{HWASUN_EUP},all,all,visitor,2900000000,120.5",
    f"2025-10-06,10,{HWASUN_EUP},all,all,visitor,,30.25",
    f"2025-10-06,11,{HWASUN_EUP},M,20-29,resident,,40",
    f"2025-10-07,10,{HANCHEON},F,70+,worker,,12.5",
    f"2025-10-13,10,{HWASUN_EUP},all,all,visitor,2900000000,99",
]


def _raw_and_rollups(database, municipality_id: int):
    with database.unit_of_work(write=False) as s:
        bind_principal(s, SYSTEM)
        raw_daily, raw_hourly = defaultdict(float), defaultdict(float)
        for d, h, z, v, c in s.execute(select(CitydataLivingPopulation.obs_date, CitydataLivingPopulation.hour,
                                              CitydataLivingPopulation.zone_id, CitydataLivingPopulation.visitor_type,
                                              CitydataLivingPopulation.count)
                                       .where(CitydataLivingPopulation.municipality_id == municipality_id)):
            raw_daily[(z, d, v)] += c
            raw_hourly[(z, d.weekday(), h, v)] += c
        daily = {(z, d, v): c for z, d, v, c in s.execute(select(
            CitydataPopDaily.zone_id, CitydataPopDaily.obs_date, CitydataPopDaily.visitor_type,
            CitydataPopDaily.count))}
        hourly = {(z, w, h, v): c for z, w, h, v, c in s.execute(select(
            CitydataPopHourly.zone_id, CitydataPopHourly.weekday, CitydataPopHourly.hour,
            CitydataPopHourly.visitor_type, CitydataPopHourly.count))}
    return raw_daily, raw_hourly, daily, hourly


def test_zones_are_listed_for_the_county(client, county):
    h = api_headers(client, "hwasun.staff")
    r = client.get(f"{API}/zones", headers=h, params={"municipality_code": HWASUN})
    assert r.status_code == 200
    by_code = {z["code"]: z for z in r.json()["items"]}
    assert by_code[HWASUN_EUP]["name_ko"] == "화순읍" and by_code[HWASUN_EUP]["inside"] is True
    assert by_code[GWANGJU_DONG]["inside"] is False and by_code[GWANGJU_DONG]["area_code"] == GWANGJU_DONG
    inside = client.get(f"{API}/zones", headers=h, params={"inside": "true"}).json()["items"]
    assert [z["name_ko"] for z in inside] == ["화순읍", "한천면", "춘양면"]
    # another county's list is not reachable
    assert client.get(f"{API}/zones", headers=h, params={"municipality_code": "3100000000"}).status_code == 422


def test_csv_import_keeps_rollups_equal_to_raw_sums(client, county, database):
    h = api_headers(client, "hwasun.staff")
    r = client.post(f"{API}/imports/living-population", headers={**h, "Content-Type": "text/csv"},
                    content=living_csv(GOOD_LIVING).encode())
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "done" and r.json()["rows_done"] == 5 and r.json()["encoding"] == "utf-8-sig"
    second = [f"2025-10-09,10,{HWASUN_EUP},all,all,visitor,,9.5", f"2025-10-08,23,{HANCHEON},all,all,resident,,7"]
    r = client.post(f"{API}/imports/living-population", headers=h,
                    json=[dict(zip(LIVING_HEADER.split(","), line.split(","), strict=True)) for line in second])
    assert r.status_code == 201, r.text
    raw_daily, raw_hourly, daily, hourly = _raw_and_rollups(database, county.id)
    assert set(daily) == set(raw_daily) and set(hourly) == set(raw_hourly)
    for key, value in raw_daily.items():
        assert daily[key] == pytest.approx(value)
    for key, value in raw_hourly.items():
        assert hourly[key] == pytest.approx(value)
    with database.unit_of_work(write=False, principal=SYSTEM) as s:
        zone_id = s.scalar(select(CitydataZone.id).where(CitydataZone.code == HWASUN_EUP))
    assert daily[(zone_id, date(2025, 10, 6), "visitor")] == pytest.approx(120.5 + 30.25)


def test_card_import_in_cp949_with_origin_classes(client, county, database):
    h = api_headers(client, "hwasun.staff")
    text = "\n".join([CARD_HEADER,
                      f"2025-09,{HWASUN_EUP},식료품,정육,{HWASUN},all,all,1000000,40",
                      f"2025-09,{GWANGJU_DONG},식료품,정육,{HWASUN},F,40-49,3000000,90",
                      f"2025-09,{HWASUN_EUP},식료품,정육,{NAJU},all,all,200000,8",
                      f"2025-09,{HWASUN_EUP},식료품,정육,1100000000,all,all,100000,5",
                      f"2025-09,{HWASUN_EUP},식료품,정육,{ZONES[2][0]},M,30-39,500000,20",
                      f"2025-09,{HWASUN_EUP},식료품,정육,{HANCHEON},F,30-39,70000,3"]) + "\n"
    raw = text.encode("cp949")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    r = client.post(f"{API}/imports/card-spending", headers=h, files={"file": ("카드.csv", raw, "text/csv")})
    assert r.status_code == 201, r.text
    assert r.json()["encoding"] == "cp949" and r.json()["rows_done"] == 6
    with database.unit_of_work(write=False) as s:
        bind_principal(s, SYSTEM)
        assert set(s.scalars(select(CitydataCardSpending.category_middle))) == {"정육"}
        monthly = {(oc, z): (a, n) for oc, z, a, n in s.execute(select(
            CitydataCardMonthly.origin_class, CitydataCardMonthly.zone_id, CitydataCardMonthly.amount_krw,
            CitydataCardMonthly.count))}
        zones = dict(s.execute(select(CitydataZone.code, CitydataZone.id)).all())
    assert monthly[("resident", zones[HWASUN_EUP])] == (1_570_000, 63)  # a 읍면 home code is a resident too
    assert monthly[("resident", zones[GWANGJU_DONG])] == (3_000_000, 90)
    assert monthly[("province", zones[HWASUN_EUP])] == (200_000, 8)
    assert monthly[("other", zones[HWASUN_EUP])] == (100_000, 5)


BAD_FILES = {
    "missing column": (LIVING_HEADER.replace(",count", ""),
                       [f"2025-10-06,10,{HWASUN_EUP},all,all,visitor,"], 1, "count", "열이 없습니다"),
    "negative count": (LIVING_HEADER, [GOOD_LIVING[0], f"2025-10-06,11,{HWASUN_EUP},all,all,visitor,,-3"], 3,
                       "count", "0 이상"),
    "unknown zone": (LIVING_HEADER, [GOOD_LIVING[0], "2025-10-06,11,4679099999,all,all,visitor,,3"], 3,
                     "zone_code", "4679099999"),
    "hour 24": (LIVING_HEADER, [GOOD_LIVING[0], f"2025-10-06,24,{HWASUN_EUP},all,all,visitor,,3"], 3, "hour",
                "0부터 23"),
    "bad date": (LIVING_HEADER, [f"2025-02-30,1,{HWASUN_EUP},all,all,visitor,,3"], 2, "date", "YYYY-MM-DD"),
    "bad visitor type": (LIVING_HEADER, [f"2025-02-03,1,{HWASUN_EUP},all,all,tourist,,3"], 2, "visitor_type",
                         "resident"),
    "duplicate column": (LIVING_HEADER + ",count", [f"2025-10-06,10,{HWASUN_EUP},all,all,visitor,,1,2"], 1, "count",
                         "두 번 이상"),
    "month 2025-13": (CARD_HEADER, [f"2025-13,{HWASUN_EUP},식료품,정육,{HWASUN},all,all,1000,4"], 2, "month",
                      "YYYY-MM"),
}


def test_bad_rows_refuse_the_whole_file(client, county, database):
    h = api_headers(client, "hwasun.staff")
    web_login(client, "hwasun.staff")  # the bearer token wins for API calls; the cookie serves the pages
    for case, (header, lines, line_no, column, korean) in BAD_FILES.items():
        kind = "card-spending" if header == CARD_HEADER else "living-population"
        r = client.post(f"{API}/imports/{kind}", headers={**h, "Content-Type": "text/csv"},
                        content=living_csv(lines, header).encode())
        assert r.status_code == 422, (case, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        locs = [e["loc"] for e in r.json()["errors"]]
        assert ["line", line_no, column] in locs, (case, locs)
        for model in (CitydataLivingPopulation, CitydataPopDaily, CitydataPopHourly, CitydataCardSpending,
                      CitydataCardMonthly):
            assert count_rows(database, model) == 0, f"{case}: {model.__tablename__} got rows from a refused file"
        failed = client.get(f"{API}/imports", headers=h).json()["items"][0]
        assert failed["status"] == "failed" and failed["error_count"] >= 1, case
        # the same report on the page, in Korean
        page = client.get(f"/lguplus/citydata/imports/{failed['id']}")
        assert page.status_code == 200 and korean in page.text, case


def test_wrong_encoding_and_empty_file_are_refused(client, county, database):
    h = api_headers(client, "hwasun.staff")
    utf16 = living_csv(GOOD_LIVING).encode("utf-16")
    r = client.post(f"{API}/imports/living-population", headers={**h, "Content-Type": "text/csv"}, content=utf16)
    assert r.status_code == 422 and "UTF-8" in r.json()["detail"]
    r = client.post(f"{API}/imports/living-population", headers={**h, "Content-Type": "text/csv"}, content=b"")
    assert r.status_code == 422
    r = client.post(f"{API}/imports/living-population", headers={**h, "Content-Type": "text/csv"},
                    content=(LIVING_HEADER + "\n").encode())
    assert r.status_code == 422
    assert count_rows(database, CitydataLivingPopulation) == 0


def test_json_batch_names_every_bad_row_and_refuses_unknown_fields(client, county, database):
    h = api_headers(client, "hwasun.staff")
    good = {"date": "2025-10-06", "hour": 10, "zone_code": HWASUN_EUP, "sex": "all", "age_band": "all",
            "visitor_type": "visitor", "origin_code": None, "count": 12.5}
    rows = [good, {**good, "count": -1}, {**good, "hour": 24, "colour": "red"}]
    r = client.post(f"{API}/imports/living-population", headers=h, json=rows)
    assert r.status_code == 422
    locs = [e["loc"] for e in r.json()["errors"]]
    assert ["rows", 1, "count"] in locs and ["rows", 2, "hour"] in locs and ["rows", 2, "colour"] in locs
    assert count_rows(database, CitydataLivingPopulation) == 0
    r = client.post(f"{API}/imports/living-population", headers=h, json=[good])
    assert r.status_code == 201 and count_rows(database, CitydataLivingPopulation) == 1


def test_a_file_over_the_size_limit_is_refused(app, client, county, database):
    app.state.citydata_settings = CitydataSettings(max_upload_bytes=2_000, sync_max_bytes=1_000)
    h = api_headers(client, "hwasun.staff")
    big = living_csv(GOOD_LIVING * 40).encode()
    assert len(big) > 2_000
    r = client.post(f"{API}/imports/living-population", headers={**h, "Content-Type": "text/csv"}, content=big)
    assert r.status_code == 413 and "MB" in r.json()["detail"]
    r = client.post(f"{API}/imports/living-population", headers=h, files={"file": ("big.csv", big, "text/csv")})
    assert r.status_code == 413
    # bodies read into memory (JSON rows, survey responses) are cut off too when they come without a length
    rows = json.dumps([{"date": "2025-10-06", "hour": 1, "zone_code": HWASUN_EUP, "sex": "all", "age_band": "all",
                        "visitor_type": "visitor", "count": 1}] * 40).encode()
    for path, content_type in ((f"{API}/imports/living-population", "application/json"),
                               (f"{API}/zones", "application/json")):
        r = client.post(path, headers={**h, "Content-Type": content_type},
                        content=iter([rows[i:i + 500] for i in range(0, len(rows), 500)]))
        assert r.status_code == 413 and "MB" in r.json()["detail"], path
    assert count_rows(database, CitydataLivingPopulation) == 0
    web_login(client, "hwasun.staff")
    page = client.post("/lguplus/citydata/imports", files={"file": ("big.csv", big, "text/csv")},
                       data={"kind": "living_population"}, headers={"X-CSRF-Token": _csrf(client)})
    assert page.status_code == 413 and "MB" in page.text and "초과" in page.text


def _csrf(client) -> str:
    from tests.conftest import csrf_of

    return csrf_of(client, "/lguplus/citydata/imports")


def test_large_file_runs_in_the_background_with_progress(app, client, county, database):
    app.state.citydata_settings = CitydataSettings(max_upload_bytes=10_000_000, sync_max_bytes=500)
    h = api_headers(client, "hwasun.staff")
    lines = [f"2025-{m:02d}-{d:02d},{hr},{HWASUN_EUP},all,all,visitor,,{d + hr}" for m in (1, 2) for d in range(1, 29)
             for hr in range(24)]
    r = client.post(f"{API}/imports/living-population", headers={**h, "Content-Type": "text/csv"},
                    content=living_csv(lines).encode(), params={"client_id": "lp-2025-q1"})
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    assert r.headers["location"].endswith(f"/imports/{job_id}")
    queued = client.get(f"{API}/imports/{job_id}", headers=h).json()
    assert queued["status"] == "queued" and queued["fraction"] == 0.0  # the worker has not run it yet
    assert queue_for(app.state.settings).drain() >= 1  # what `dxhub worker` does
    status = client.get(f"{API}/imports/{job_id}", headers=h).json()
    assert status["status"] == "done" and status["rows_done"] == len(lines) and status["fraction"] == 1.0
    assert count_rows(database, CitydataLivingPopulation) == len(lines)
    assert count_rows(database, CitydataPopDaily) == 56
    # a retry under the same client_id answers the same job and stores nothing twice
    again = client.post(f"{API}/imports/living-population", headers={**h, "Content-Type": "text/csv"},
                        content=living_csv(lines).encode(), params={"client_id": "lp-2025-q1"})
    assert again.status_code == 200 and again.json()["id"] == job_id
    assert count_rows(database, CitydataLivingPopulation) == len(lines)
    # a large bad file fails in the background with a report, and nothing of it is kept
    bad = [*lines, f"2025-03-01,7,{HWASUN_EUP},all,all,visitor,,-1"]
    r = client.post(f"{API}/imports/living-population", headers={**h, "Content-Type": "text/csv"},
                    content=living_csv(bad).encode())
    assert r.status_code == 202
    queue_for(app.state.settings).drain()
    failed = client.get(f"{API}/imports/{r.json()['id']}", headers=h).json()
    assert failed["status"] == "failed" and failed["errors"][0]["loc"] == ["line", len(bad) + 1, "count"]
    assert count_rows(database, CitydataLivingPopulation) == len(lines)
    # the job page polls a progress fragment
    web_login(client, "hwasun.staff")
    page = client.get(f"/lguplus/citydata/imports/{job_id}/progress", headers={"HX-Request": "true"})
    assert page.status_code == 200 and "progress" in page.text


def test_viewer_cannot_import_and_other_county_jobs_are_hidden(client, county, database):
    viewer = api_headers(client, "hwasun.viewer")
    r = client.post(f"{API}/imports/living-population", headers=viewer, json=[{}])
    assert r.status_code == 403
    staff = api_headers(client, "hwasun.staff")
    client.post(f"{API}/imports/living-population", headers=staff, json=[{"date": "x"}])
    with database.unit_of_work(write=False, principal=SYSTEM) as s:
        job_id = s.scalar(select(CitydataImportJob.id))
    assert client.get(f"{API}/imports/{job_id}", headers=api_headers(client, "cw.staff")).status_code == 404


def test_generated_data_keep_rollups_equal_to_raw_sums(database, county):
    from sqlalchemy import func

    from app.lguplus.citydata import demo
    from tests.lguplus.citydata.conftest import ZONES

    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        demo.generate(s, municipality_id=county.id, county_code=HWASUN, zones=ZONES[:2], living_days=21,
                      card_months=2, responses=0, seed=7)
    raw_daily, raw_hourly, daily, hourly = _raw_and_rollups(database, county.id)
    assert len(daily) == len(raw_daily) > 0 and len(hourly) == len(raw_hourly)
    assert max(abs(daily[key] - value) / max(1.0, value) for key, value in raw_daily.items()) < 1e-9
    assert max(abs(hourly[key] - value) / max(1.0, value) for key, value in raw_hourly.items()) < 1e-9
    with database.unit_of_work(write=False, principal=SYSTEM) as s:
        raw = s.execute(select(func.sum(CitydataCardSpending.amount_krw), func.sum(CitydataCardSpending.count))).one()
        rolled = s.execute(select(func.sum(CitydataCardMonthly.amount_krw), func.sum(CitydataCardMonthly.count))).one()
    assert tuple(raw) == tuple(rolled) and raw[0] > 0


def test_rows_already_written_in_chunks_are_rolled_back_when_a_later_row_is_bad(client, county, database,
                                                                                 monkeypatch):
    from app.lguplus.citydata import importers

    monkeypatch.setattr(importers, "CHUNK", 2)  # good rows reach the table (COPY/executemany) before the bad one
    h = api_headers(client, "hwasun.staff")
    lines = [*GOOD_LIVING, f"2025-10-20,5,{HWASUN_EUP},all,all,visitor,,-7"]
    r = client.post(f"{API}/imports/living-population", headers={**h, "Content-Type": "text/csv"},
                    content=living_csv(lines).encode())
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["line", 7, "count"]
    assert count_rows(database, CitydataLivingPopulation) == 0 and count_rows(database, CitydataPopDaily) == 0
    r = client.post(f"{API}/imports/living-population", headers={**h, "Content-Type": "text/csv"},
                    content=living_csv(GOOD_LIVING).encode())
    assert r.status_code == 201 and count_rows(database, CitydataLivingPopulation) == len(GOOD_LIVING)
