from sqlalchemy import func, select

from app.core.tenancy import SYSTEM
from app.lguplus.merchants.models import MerchantStore, Outcome
from tests.conftest import api_headers, refused_rows, web_login
from tests.lguplus.merchants.conftest import API, WEB


def _count(database) -> int:
    with database.unit_of_work(write=False, principal=SYSTEM) as s:
        return s.scalar(select(func.count()).select_from(Outcome))


def _brns(database, municipality_id: int) -> list[str]:
    with database.unit_of_work(write=False, principal=SYSTEM) as s:
        return list(s.scalars(select(MerchantStore.brn).where(MerchantStore.municipality_id == municipality_id)
                              .order_by(MerchantStore.id)))


def test_json_batch_is_all_or_nothing_with_every_bad_row_named(client, database, program):
    h = api_headers(client, "cw.staff")
    before = _count(database)
    mine = program["cw"]["merchant_ids"]
    theirs = program["us"]["merchant_ids"][0]
    rows = [
        {"merchant_id": mine[0], "month": "2027-01", "sales_krw": 15_000_000, "orders": 900},
        {"merchant_id": mine[1], "month": "2025-13", "sales_krw": 1, "orders": 1},
        {"merchant_id": mine[2], "month": "2027-01", "sales_krw": -5, "orders": 1},
        {"merchant_id": theirs, "month": "2027-01", "sales_krw": 1, "orders": 1},
        {"merchant_id": mine[0], "month": "2027-01", "sales_krw": 1, "orders": 1},
        {"brn": "2208162518", "month": "2027-01", "sales_krw": 1, "orders": 1},
        {"merchant_id": mine[3], "month": "2027-01", "sales_krw": 1, "orders": 1, "no_show_rate": 1.5},
        "not an object",
    ]
    r = client.post(f"{API}/outcomes", json=rows, headers=h)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    named = {tuple(e["loc"][:2]) for e in r.json()["errors"]}
    assert named == {("rows", i) for i in range(1, 8)}
    locs = {tuple(e["loc"]) for e in r.json()["errors"]}
    assert ("rows", 1, "month") in locs and ("rows", 2, "sales_krw") in locs and ("rows", 3, "merchant_id") in locs
    assert ("rows", 4, "month") in locs and ("rows", 6, "no_show_rate") in locs
    assert _count(database) == before

    good = [{"merchant_id": mine[0], "month": "2027-01", "sales_krw": 15_000_000, "orders": 900,
             "no_show_rate": 0.05, "staff_hours": 300},
            {"brn": _brns(database, program["world"].changwon.id)[1], "month": "2027-01", "sales_krw": 9_000_000,
             "orders": 500}]
    r = client.post(f"{API}/outcomes", json=good, headers=h)
    assert r.status_code == 200 and r.json() == {"received": 2, "created": 2, "updated": 0}
    assert _count(database) == before + 2
    # sending the month again replaces it (a retry stores nothing twice)
    r = client.post(f"{API}/outcomes", json={"rows": [dict(good[0], sales_krw=16_000_000)]}, headers=h)
    assert r.json() == {"received": 1, "created": 0, "updated": 1}
    got = client.get(f"{API}/{mine[0]}/outcomes", headers=h).json()
    assert [o["sales_krw"] for o in got if o["month"] == "2027-01"] == [16_000_000]
    assert _count(database) == before + 2
    assert client.post(f"{API}/outcomes", json=[], headers=h).status_code == 422
    assert client.post(f"{API}/outcomes", content=b"{oops", headers={**h, "content-type": "application/json"}
                       ).status_code == 422


def test_csv_upload_in_utf8_and_cp949_and_bad_files(client, database, program):
    h = api_headers(client, "cw.staff")
    brns = _brns(database, program["world"].changwon.id)
    before = _count(database)
    text = ("brn,month,sales_krw,orders,reservations,no_show_rate,staff_hours\n"
            f"{brns[0][:3]}-{brns[0][3:5]}-{brns[0][5:]},2027-02,12000000,800,40,0.1,320\n"
            f"{brns[1]},2027-02,8000000,500,,,\n")
    r = client.post(f"{API}/outcomes", content=("\ufeff" + text).encode(), headers={**h, "content-type": "text/csv"})
    assert r.status_code == 200 and r.json()["created"] == 2
    r = client.post(f"{API}/outcomes", content=text.replace("2027-02", "2027-03").encode("cp949"),
                    headers={**h, "content-type": "text/csv"})
    assert r.status_code == 200 and r.json()["created"] == 2
    bad = text.replace("2027-02,8000000", "2027-04,-3").replace("2027-02,12000000", "2027-04,12000000")
    r = client.post(f"{API}/outcomes", content=bad.encode(), headers={**h, "content-type": "text/csv"})
    assert r.status_code == 422 and [e["loc"] for e in r.json()["errors"]] == [["rows", 1, "sales_krw"]]
    missing = "brn,sales_krw,orders\n" + f"{brns[0]},1,1\n"
    r = client.post(f"{API}/outcomes", content=missing.encode(), headers={**h, "content-type": "text/csv"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["rows", 0, "month"]
    assert _count(database) == before + 4


def test_outcomes_upload_page_reports_rows_in_korean_and_saves_nothing(client, database, program):
    token = web_login(client, "cw.staff")
    brns = _brns(database, program["world"].changwon.id)
    before = _count(database)
    bad = f"brn,month,sales_krw,orders\n{brns[0]},2027-05,1000,1\n{brns[1]},2025-13,1000,1\n{brns[2]},2027-05,-1,1\n"
    r = client.post(f"{WEB}/outcomes", data={"csrf_token": token}, files={"file": ("o.csv", bad.encode(), "text/csv")})
    assert r.status_code == 400 and "아무것도 저장되지 않았습니다" in r.text
    # Each bad row is named by its line in the file (line 1 is the header): the 2nd and 3rd rows are lines 3 and 4.
    (line, field, msg), (line2, field2, msg2) = refused_rows(r.text)
    assert (line, field, line2, field2) == ("3", "month", "4", "sales_krw")
    assert "01~12월" in msg and "0 이상이어야 합니다" in msg2
    assert _count(database) == before
    good = bad.replace("2025-13", "2027-05").replace(f"{brns[0]},2027-05", f"{brns[0]},2027-06").replace(",-1,", ",5,")
    r = client.post(f"{WEB}/outcomes", data={"csrf_token": token},
                    files={"file": ("o.csv", good.encode(), "text/csv")}, follow_redirects=True)
    assert r.status_code == 200 and "3건 신규" in r.text
    assert _count(database) == before + 3


def test_a_file_beyond_the_size_limit_is_refused_without_storing_anything(client, database, program, monkeypatch):
    from app.lguplus.merchants import api

    monkeypatch.setattr(api, "MAX_UPLOAD_BYTES", 300)
    brns = _brns(database, program["world"].changwon.id)
    before = _count(database)
    big = "brn,month,sales_krw,orders\n" + "".join(f"{brns[i % 10]},2027-{i // 10 + 1:02d},1000,1\n"
                                                   for i in range(40))
    assert len(big) > 300
    h = api_headers(client, "cw.staff")
    r = client.post(f"{API}/outcomes", content=big.encode(), headers={**h, "content-type": "text/csv"})
    assert r.status_code == 413 and r.headers["content-type"].startswith("application/problem+json")
    token = web_login(client, "cw.staff")
    r = client.post(f"{WEB}/outcomes", data={"csrf_token": token}, files={"file": ("o.csv", big.encode(), "text/csv")})
    assert r.status_code == 413 and "더 작은 파일로 나눠" in r.text
    small = "brn,month,sales_krw,orders\n" + f"{brns[0]},2027-01,1000,1\n"
    r = client.post(f"{API}/outcomes", content=small.encode(), headers={**h, "content-type": "text/csv"})
    assert r.status_code == 200
    assert _count(database) == before + 1
