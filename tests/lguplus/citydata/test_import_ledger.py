"""Imports never double-count: the same file is refused, overlaps are refused unless replaced, and an import
taken out leaves the rollups exactly as they were."""

from __future__ import annotations

from sqlalchemy import select

from app.core import agebands
from app.lguplus.citydata.models import CitydataCardMonthly, CitydataImportCoverage, CitydataPopDaily, CitydataPopHourly
from app.platform.models import AuditLog
from tests.conftest import api_headers
from tests.lguplus.citydata.conftest import HANCHEON, HWASUN, HWASUN_EUP, NAJU, count_rows

API = "/api/v1/lguplus/citydata"
LIVING_HEADER = "date,hour,zone_code,sex,age_band,visitor_type,origin_code,count"
CARD_HEADER = "month,merchant_zone_code,category_large,category_middle,customer_home_code,sex,age_band,amount_krw,count"
CSV = {"Content-Type": "text/csv"}


def _csv(header: str, lines: list[str]) -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode()


def _rollups(database) -> dict:
    with database.unit_of_work(write=False) as s:
        from app.core.tenancy import SYSTEM, bind_principal

        bind_principal(s, SYSTEM)
        daily = {(z, d, v): c for z, d, v, c in s.execute(select(
            CitydataPopDaily.zone_id, CitydataPopDaily.obs_date, CitydataPopDaily.visitor_type,
            CitydataPopDaily.count))}
        hourly = {(z, w, h, v): c for z, w, h, v, c in s.execute(select(
            CitydataPopHourly.zone_id, CitydataPopHourly.weekday, CitydataPopHourly.hour,
            CitydataPopHourly.visitor_type, CitydataPopHourly.count))}
        card = {tuple(r[:5]): tuple(r[5:]) for r in s.execute(select(
            CitydataCardMonthly.zone_id, CitydataCardMonthly.month, CitydataCardMonthly.category_large,
            CitydataCardMonthly.category_middle, CitydataCardMonthly.origin_class, CitydataCardMonthly.amount_krw,
            CitydataCardMonthly.count))}
    return {"daily": daily, "hourly": hourly, "card": card}


BASE = [f"2025-10-06,10,{HWASUN_EUP},all,all,visitor,,100", f"2025-10-07,10,{HWASUN_EUP},all,all,visitor,,40",
        f"2025-10-06,10,{HANCHEON},all,all,resident,,7"]
EXTRA = [f"2025-10-08,10,{HWASUN_EUP},all,all,visitor,,30", f"2025-10-13,10,{HWASUN_EUP},M,20-24,visitor,,5",
         f"2025-10-13,10,{HWASUN_EUP},F,20-24,visitor,,6", f"2025-10-09,11,{HANCHEON},all,all,worker,,3"]


def test_same_file_twice_is_409_naming_the_earlier_import(client, county, database):
    h = {**api_headers(client, "hwasun.staff"), **CSV}
    first = client.post(f"{API}/imports/living-population", headers=h, content=_csv(LIVING_HEADER, BASE))
    assert first.status_code == 201, first.text
    assert len(first.json()["digest"]) == 64 and first.json()["coverage"]["cells"] == 3
    before = _rollups(database)
    again = client.post(f"{API}/imports/living-population", headers=h, content=_csv(LIVING_HEADER, BASE))
    assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")
    assert f"#{first.json()['id']}" in again.json()["detail"]
    assert _rollups(database) == before  # a 100 stays a 100
    # the same rows as a JSON batch are the same data: refused as an overlap
    rows = [dict(zip(LIVING_HEADER.split(","), line.split(","), strict=True)) for line in BASE]
    overlap = client.post(f"{API}/imports/living-population", headers=api_headers(client, "hwasun.staff"), json=rows)
    assert overlap.status_code == 409 and f"#{first.json()['id']}" in overlap.json()["detail"]
    assert _rollups(database) == before


def test_delete_restores_the_rollups_exactly(client, county, database):
    h = {**api_headers(client, "hwasun.staff"), **CSV}
    base = client.post(f"{API}/imports/living-population", headers=h, content=_csv(LIVING_HEADER, BASE))
    assert base.status_code == 201
    before = _rollups(database)
    extra = client.post(f"{API}/imports/living-population", headers=h, content=_csv(LIVING_HEADER, EXTRA))
    assert extra.status_code == 201, extra.text
    assert _rollups(database) != before
    viewer = api_headers(client, "hwasun.viewer")
    assert client.delete(f"{API}/imports/{extra.json()['id']}", headers=viewer).status_code == 403
    gone = client.delete(f"{API}/imports/{extra.json()['id']}", headers=api_headers(client, "hwasun.staff"))
    assert gone.status_code == 200 and gone.json()["rows_removed"] == 4
    assert _rollups(database) == before
    assert count_rows(database, CitydataImportCoverage, job_id=extra.json()["id"]) == 0
    assert count_rows(database, AuditLog, object_type="citydata_import_job", action="delete") == 1
    assert client.get(f"{API}/imports/{extra.json()['id']}", headers=viewer).status_code == 404
    # once out, the same file can come in again
    again = client.post(f"{API}/imports/living-population", headers=h, content=_csv(LIVING_HEADER, EXTRA))
    assert again.status_code == 201, again.text


def test_overlap_is_refused_unless_replaced_and_replace_counts_once(client, county, database):
    h = {**api_headers(client, "hwasun.staff"), **CSV}
    first = client.post(f"{API}/imports/living-population", headers=h, content=_csv(LIVING_HEADER, BASE))
    assert first.status_code == 201
    before = _rollups(database)
    corrected = [f"2025-10-06,10,{HWASUN_EUP},all,all,visitor,,110", f"2025-10-06,12,{HWASUN_EUP},all,all,visitor,,5"]
    refused = client.post(f"{API}/imports/living-population", headers=h, content=_csv(LIVING_HEADER, corrected))
    assert refused.status_code == 409 and f"#{first.json()['id']}" in refused.json()["detail"]
    assert _rollups(database) == before
    replaced = client.post(f"{API}/imports/living-population", headers=h, params={"mode": "replace"},
                           content=_csv(LIVING_HEADER, corrected))
    assert replaced.status_code == 201, replaced.text
    after = _rollups(database)
    eup = [k for k in after["daily"] if k[2] == "visitor" and k[1].isoformat() == "2025-10-06"]
    assert len(eup) == 1 and after["daily"][eup[0]] == 115  # 110 + 5 once; the earlier 100 is gone
    assert sorted(after["daily"].values()) == sorted([115.0, 40.0, 7.0])
    # 2025-10-06 is a Monday: hour 10 holds the new 110, not 100 + 110
    assert sorted(v for (z, w, hr, t), v in after["hourly"].items() if t == "visitor") == [5.0, 40.0, 110.0]
    # the earlier import keeps what was not replaced; deleting it takes only that
    assert client.delete(f"{API}/imports/{first.json()['id']}", headers=h).json()["rows_removed"] == 2
    assert sorted(_rollups(database)["daily"].values()) == [115.0]


def test_card_delete_restores_monthly_rollup(client, county, database):
    h = {**api_headers(client, "hwasun.staff"), **CSV}
    base = [f"2025-09,{HWASUN_EUP},식료품,정육,{HWASUN},all,all,1000000,40"]
    assert client.post(f"{API}/imports/card-spending", headers=h, content=_csv(CARD_HEADER, base)).status_code == 201
    before = _rollups(database)
    more = [f"2025-10,{HWASUN_EUP},식료품,정육,{HWASUN},all,all,500,4",
            f"2025-10,{HWASUN_EUP},식료품,정육,{NAJU},all,all,70,1"]
    r = client.post(f"{API}/imports/card-spending", headers=h, content=_csv(CARD_HEADER, more))
    assert r.status_code == 201
    assert client.delete(f"{API}/imports/{r.json()['id']}", headers=h).status_code == 200
    assert _rollups(database) == before


def test_total_beside_breakdown_is_refused_per_row(client, county, database):
    h = {**api_headers(client, "hwasun.staff"), **CSV}
    mixed = [f"2025-10-06,10,{HWASUN_EUP},all,all,visitor,,100", f"2025-10-06,10,{HWASUN_EUP},M,all,visitor,,60",
             f"2025-10-06,10,{HWASUN_EUP},all,all,resident,,9", f"2025-10-06,10,{HWASUN_EUP},all,20-29,resident,,4",
             f"2025-10-06,11,{HWASUN_EUP},F,20-24,worker,,4", f"2025-10-06,11,{HWASUN_EUP},F,20-29,worker,,4",
             f"2025-10-06,12,{HWASUN_EUP},F,20-24,worker,,4", f"2025-10-06,12,{HWASUN_EUP},F,20-24,worker,,4"]
    r = client.post(f"{API}/imports/living-population", headers=h, content=_csv(LIVING_HEADER, mixed))
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["errors"]] == [["line", 3, "sex"], ["line", 5, "age_band"],
                                                      ["line", 7, "age_band"], ["line", 9, ""]]
    assert "line 2" in r.json()["errors"][0]["msg"].lower() or "row 2" in r.json()["errors"][0]["msg"].lower()
    assert count_rows(database, CitydataPopDaily) == 0


def test_five_year_bands_are_accepted_and_views_derive_from_them():
    assert agebands.FIVE_YEAR[0] == "0-4" and agebands.FIVE_YEAR[-1] == "85+" and len(agebands.FIVE_YEAR) == 18
    assert [agebands.coarsen(b, agebands.TEN_YEAR) for b in ("0-4", "5-9", "65-69", "75-79", "85+")] == [
        "0-9", "0-9", "60-69", "70+", "70+"]
    assert agebands.from_age(agebands.FIVE_YEAR, agebands.OLDER_AGE) == [
        "65-69", "70-74", "75-79", "80-84", "85+"]
    assert [agebands.is_older(b) for b in ("60-64", "65-69", "60-69", "70+")] == [False, True, None, True]
    from app.skt.isolation.service import bands_from

    assert bands_from(65) == ["65-69", "70-74", "75-79", "80+"]
