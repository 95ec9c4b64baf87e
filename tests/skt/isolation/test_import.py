"""Indicator import: validation naming every bad row, all-or-nothing, replacement, rollups, tenancy."""

from __future__ import annotations

from sqlalchemy import func, select

from app.core.tenancy import SYSTEM, bind_principal
from app.skt.isolation.models import IsoBandRollup, IsoCell, IsoDongRollup
from tests.conftest import api_headers, csrf_of, web_login
from tests.skt.isolation.conftest import cell, load_cells

URL = "/api/v1/skt/isolation/indicators"


def _counts(database) -> tuple[int, int, int]:
    with database.unit_of_work(write=False) as s:
        bind_principal(s, SYSTEM)
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in (IsoCell, IsoDongRollup, IsoBandRollup))


def test_import_stores_cells_and_rollups(client, iso):
    h = api_headers(client, "cw.staff")
    rows = [cell("4812151000", age=a, sex=s, population=50) for a in ("65-69", "70-74") for s in ("M", "F")]
    r = client.post(URL, headers=h, json=rows)
    assert r.status_code == 200, r.text
    assert r.json() == {"received": 4, "created": 4, "replaced": 0, "periods": ["2026-10"], "dongs": 1}
    # 4 cells -> 2 (dong x age band) rollup rows and 4 (age x sex x income) rollup rows
    assert _counts(iso["database"]) == (4, 2, 4)
    body = client.get("/api/v1/skt/isolation/criteria?period=2026-10", headers=h).json()
    assert [(x["group"], x["population"]) for x in body["by_age"]] == [("65-69", 100), ("70-74", 100)]


def test_a_batch_with_bad_rows_is_refused_whole_and_names_each_row(client, iso):
    h = api_headers(client, "cw.staff")
    rows = [
        cell("4812151000"),                                       # 0 good
        cell("4812151000", period="2026-13", age="65-69"),        # 1 bad month
        cell("4812151000", age="75-79", low_communication=101),   # 2 count over population
        cell("9999999999", age="80+"),                            # 3 unknown dong
        cell("4812151000", age="60-64", app_minutes=-1.0),        # 4 negative mean
        cell("4812151000", age="65-69", sex="X"),                 # 5 unknown sex
        cell("4812151000"),                                       # 6 duplicate of row 0
        cell("4812151000", age="50-59", isolated=25),             # 7 isolated above low_outing (20)
        {**cell("4812152000", age="80+"), "colour": "red"},       # 8 unknown field
    ]
    r = client.post(URL, headers=h, json=rows)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    errors = r.json()["errors"]
    named = {(e["loc"][1], e["loc"][2]) for e in errors}
    assert named == {(1, "period"), (2, "low_communication"), (3, "dong_code"), (4, "app_minutes"), (5, "sex"),
                     (6, "period"), (7, "isolated"), (8, "colour")}
    assert "8 rows" in r.json()["detail"]
    assert _counts(iso["database"]) == (0, 0, 0)


def test_reimporting_a_cell_replaces_it_and_its_rollups(client, iso):
    h = api_headers(client, "cw.staff")
    first = [cell("4812151000", population=100, isolated=10), cell("4812152000", population=80, isolated=5)]
    assert client.post(URL, headers=h, json=first).json()["created"] == 2
    again = [cell("4812151000", population=200, low_communication=60, low_outing=50, isolated=40)]
    r = client.post(URL, headers=h, json=again)
    assert r.json() == {"received": 1, "created": 0, "replaced": 1, "periods": ["2026-10"], "dongs": 1}
    assert _counts(iso["database"])[0] == 2
    ranking = client.get("/api/v1/skt/isolation/ranking?period=2026-10&min_age=65", headers=h).json()
    assert [(i["dong_code"], i["population"], i["isolated"]) for i in ranking["items"]] == [
        ("4812151000", 200, 40), ("4812152000", 80, 5)]
    # The same batch sent twice (an integrator's retry) changes nothing.
    client.post(URL, headers=h, json=again)
    assert _counts(iso["database"]) == (2, 2, 1)


def test_csv_through_the_api_and_the_upload_page(client, iso):
    header = list(cell("4812151000").keys())
    good = [cell("4812151000", age="80+"), cell("4812152000", age="80+")]
    text = ",".join(header) + "\n" + "\n".join(",".join(str(row[c]) for c in header) for row in good)
    h = api_headers(client, "cw.staff")
    r = client.post(URL, headers={**h, "Content-Type": "text/csv"}, content=text.encode())
    assert r.status_code == 200 and r.json()["created"] == 2

    web_login(client, "cw.staff")
    token = csrf_of(client, "/skt/isolation/import")
    bad = text.replace("80+", "90+", 1)
    r = client.post("/skt/isolation/import", data={"csrf_token": token},
                    files={"file": ("cells.csv", bad.encode(), "text/csv")})
    assert r.status_code == 400
    assert "아무것도 저장되지 않았습니다" in r.text and "age_band" in r.text
    assert "제시된 값 중에서 고르세요" in r.text  # the schema error in Korean
    assert "<td class=\"num\">2</td>" in r.text  # the bad row is line 2 of the file (after the header)
    replaced = text.replace("2026-10", "2026-09")
    r = client.post("/skt/isolation/import", data={"csrf_token": token},
                    files={"file": ("cells.csv", replaced.encode(), "text/csv")}, follow_redirects=False)
    assert r.status_code == 303
    assert _counts(iso["database"])[0] == 4


def test_other_municipality_cannot_write_or_read_dongs(client, iso):
    us = api_headers(client, "us.staff")
    r = client.post(URL, headers=us, json=[cell("4812151000")])
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["rows", 0, "dong_code"]
    assert client.get("/api/v1/skt/isolation/dongs/4812151000", headers=us).status_code == 404
    codes = [d["code"] for d in client.get("/api/v1/skt/isolation/dongs", headers=us).json()["items"]]
    assert codes == ["3111051000"]
    viewer = api_headers(client, "cw.viewer")
    assert client.post(URL, headers=viewer, json=[cell("4812151000")]).status_code == 403
    load_cells(iso["database"], [cell("4812151000", population=500, isolated=15)])
    ranking = client.get("/api/v1/skt/isolation/ranking", headers=us).json()
    assert ranking["items"] == [] and ranking["period"] is None
    assert client.get("/api/v1/skt/isolation/ranking", headers=api_headers(client, "gn.admin")).json()["total"] == 1


def test_dong_registration(client, iso):
    h = api_headers(client, "cw.staff")
    r = client.post("/api/v1/skt/isolation/dongs", headers=h, json={"code": "4812951000", "name": "충무동",
                                                                      "district": "진해구"})
    assert r.status_code == 201 and r.json()["code"] == "4812951000"
    assert client.post("/api/v1/skt/isolation/dongs", headers=h,
                       json={"code": "4812951000", "name": "충무동"}).status_code == 409
    r = client.post("/api/v1/skt/isolation/dongs", headers=h, json={"code": "48129", "name": "짧은코드"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "code"]
    r = client.post("/api/v1/skt/isolation/dongs", headers=h,
                    json={"code": "4812952000", "name": "여좌동", "municipality_code": "3100000000"})
    assert r.status_code == 422  # a municipality the caller does not reach is unknown to it
    r = client.post("/api/v1/skt/isolation/dongs/batch", headers=h,
                    json=[{"code": "4812952000", "name": "여좌동"}, {"code": "4812951000", "name": "충무동 (개칭)"},
                          {"code": "3111051000", "name": "남의 동"}])
    assert r.status_code == 422 and [e["loc"] for e in r.json()["errors"]] == [["rows", 2, "code"]]

    web_login(client, "cw.staff")
    token = csrf_of(client, "/skt/isolation/dongs")
    r = client.post("/skt/isolation/dongs", data={"csrf_token": token, "code": "12", "name": "오류동"})
    assert r.status_code == 400 and "형식" in r.text
    r = client.post("/skt/isolation/dongs", data={"csrf_token": token, "code": "4812953000", "name": "태백동"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert "태백동" in client.get("/skt/isolation/dongs").text


def test_concurrent_imports_into_one_month_keep_the_rollups_whole(iso):
    """Two integrators import different dongs of the same month at once: both land, and the city-wide rollup
    holds both. On PostgreSQL the second import is caught while the first is still open (it waits, seen in
    pg_stat_activity) and must then succeed; SQLite serialises writers by itself."""
    import threading
    import time

    from sqlalchemy import text

    from app.core.tenancy import Principal, bind_principal
    from app.skt.isolation import service

    database = iso["database"]
    cw = iso["world"].changwon.id
    principal = Principal(kind="api_key", id=1, name="t", role="staff", municipality_id=cw,
                          municipality_ids=frozenset({cw}), scopes=frozenset({"skt.isolation:write"}))

    def rows(dong: str) -> list[dict]:
        return [cell(dong, age=a, sex=x, income=i, population=40) for a in ("65-69", "80+")
                for x in ("M", "F") for i in ("low", "high")]

    errors: list[Exception] = []

    def second() -> None:
        try:
            with database.unit_of_work() as s:
                bind_principal(s, principal)
                service.import_cells(s, rows=rows("4812152000"))
        except Exception as exc:  # reported below
            errors.append(exc)

    first = database.session(write=True)
    bind_principal(first, principal)
    service.import_cells(first, rows=rows("4812151000"))  # open, not yet committed
    thread = threading.Thread(target=second)
    thread.start()
    if not database.is_sqlite:
        deadline = time.monotonic() + 20
        with database.engine.connect() as watcher:
            while time.monotonic() < deadline:
                waiting = watcher.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")).scalar()
                watcher.rollback()
                if waiting:
                    break
            assert waiting, "the second import never overlapped the first"
    first.commit()
    first.close()
    thread.join(timeout=60)
    assert errors == []
    with database.unit_of_work(write=False) as s:
        bind_principal(s, SYSTEM)
        assert s.scalar(select(func.sum(IsoBandRollup.population))) == 2 * 8 * 40
        assert s.scalar(select(func.count()).select_from(IsoDongRollup)) == 4
