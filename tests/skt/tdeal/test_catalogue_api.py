from app.skt.tdeal.schemas import brn_is_valid
from tests.conftest import api_headers

API = "/api/v1/skt/tdeal"
GOOD_BRN = "220-81-62517"  # check digit holds
OTHER_BRN = "1018156000"


def _valid(prefix: str) -> str:
    return next(prefix + str(d) for d in range(10) if brn_is_valid(prefix + str(d)))


def test_business_registration_number_check_digit():
    assert brn_is_valid("2208162517")
    assert not brn_is_valid("2208162518")
    assert not brn_is_valid("12345")


def test_merchant_crud_bad_brn_duplicate_and_tenancy(client, world):
    h = api_headers(client, "cw.staff")
    body = {"brn": GOOD_BRN, "name": "구룡포 과메기 수산", "category": "수산물", "is_small": True}
    r = client.post(f"{API}/merchants", json=body, headers=h)
    assert r.status_code == 201, r.text
    merchant = r.json()
    assert merchant["brn"] == "2208162517" and merchant["municipality_id"] == world.changwon.id

    r = client.post(f"{API}/merchants", json=dict(body, brn="220-81-62518"), headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "brn"]
    assert client.post(f"{API}/merchants", json=body, headers=h).status_code == 409
    r = client.post(f"{API}/merchants", json=dict(body, brn=_valid("101815600"), extra=1), headers=h)
    assert r.status_code == 422

    r = client.patch(f"{API}/merchants/{merchant['id']}", json={"is_small": False}, headers=h)
    assert r.status_code == 200 and r.json()["is_small"] is False
    assert client.get(f"{API}/merchants", headers=h).json()["total"] == 1

    us = api_headers(client, "us.staff")
    assert client.get(f"{API}/merchants/{merchant['id']}", headers=us).status_code == 404
    assert client.patch(f"{API}/merchants/{merchant['id']}", json={"name": "x"}, headers=us).status_code == 404
    assert client.get(f"{API}/merchants", headers=us).json()["total"] == 0
    viewer = api_headers(client, "cw.viewer")
    assert client.post(f"{API}/merchants", json=dict(body, brn=_valid("101815601")), headers=viewer).status_code == 403

    r = client.post(f"{API}/products", headers=h, json={"merchant_brn": GOOD_BRN, "sku": "GM-10", "name": "과메기 10미",
                                                       "category": "수산물", "price_krw": 25000, "stock": 10})
    assert r.status_code == 201, r.text
    assert r.json()["merchant_id"] == merchant["id"]
    r = client.post(f"{API}/products", headers=us, json={"merchant_id": merchant["id"], "sku": "X", "name": "x",
                                                        "category": "수산물", "price_krw": 1})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["merchant_id"]


def test_batch_refused_whole_with_every_bad_row_named(client, world):
    h = api_headers(client, "cw.staff")
    rows = [{"brn": _valid("220816251"), "name": "가게 1", "category": "과일"},
            {"brn": "2208162518", "name": "가게 2", "category": "과일"},
            {"brn": _valid("220816252"), "name": "", "category": "과일"},
            {"brn": _valid("220816253"), "name": "가게 4", "category": "과일", "municipality_code": "3100000000"},
            {"brn": _valid("220816251"), "name": "가게 5", "category": "과일"}]
    r = client.post(f"{API}/merchants/batch", json=rows, headers=h)
    assert r.status_code == 422
    locs = {tuple(e["loc"][:3]) for e in r.json()["errors"]}
    assert locs == {("rows", 1, "brn"), ("rows", 2, "name"), ("rows", 3, "municipality_code"), ("rows", 4, "brn")}
    assert client.get(f"{API}/merchants", headers=h).json()["total"] == 0

    good = [rows[0], dict(rows[2], name="가게 3")]
    r = client.post(f"{API}/merchants/batch", json=good, headers=h)
    assert r.status_code == 200 and r.json()["created"] == 2
    r = client.post(f"{API}/merchants/batch", json=[dict(good[0], name="새 이름"), good[1]], headers=h)
    assert r.json() == {"received": 2, "created": 0, "updated": 1, "unchanged": 1}

    csv_body = ("merchant_brn,sku,name,category,price_krw,stock\n"
                f"{good[0]['brn']},A-1,사과 5kg,과일,30000,5\n"
                f"{good[1]['brn']},B-1,배 5kg,과일,-1,5\n")
    r = client.post(f"{API}/products/batch", content=csv_body.encode(), headers={**h, "content-type": "text/csv"})
    assert r.status_code == 422 and [e["loc"] for e in r.json()["errors"]] == [["rows", 1, "price_krw"]]
    r = client.post(f"{API}/products/batch", content=csv_body.replace("-1", "28000").encode(),
                    headers={**h, "content-type": "text/csv"})
    assert r.status_code == 200 and r.json()["created"] == 2
    assert client.get(f"{API}/products", headers=h).json()["total"] == 2

    for bad in (b"{nope", b'{"a": 1}', b"[]"):
        r = client.post(f"{API}/merchants/batch", content=bad, headers={**h, "content-type": "application/json"})
        assert r.status_code == 422, bad


def test_events_are_idempotent_and_foreign_objects_refused(client, tdeal):
    h = api_headers(client, "cw.staff")
    sub, product = tdeal["cw"]["subscriber_ids"][0], tdeal["cw"]["product_ids"][0]
    before = client.get(f"{API}/events?subscriber_id={sub}", headers=h).json()["total"]
    rows = [{"client_id": f"tdeal-app-{i}", "subscriber_id": sub, "product_id": product, "kind": kind,
             "amount_krw": 30000 if kind == "purchase" else 0, "occurred_at": "2026-11-20T10:00:00+09:00"}
            for i, kind in enumerate(["view", "click", "purchase"])]
    r = client.post(f"{API}/events", json=rows, headers=h)
    assert r.status_code == 200 and r.json()["created"] == 3
    r = client.post(f"{API}/events", json=rows, headers=h)
    assert r.json() == {"received": 3, "created": 0, "updated": 0, "unchanged": 3}
    assert client.get(f"{API}/events?subscriber_id={sub}", headers=h).json()["total"] == before + 3

    foreign = tdeal["us"]["product_ids"][0]
    bad = [dict(rows[0], client_id="n-1", product_id=foreign),
           dict(rows[0], client_id="n-2", kind="purchase", amount_krw=0),
           dict(rows[0], client_id="n-3", occurred_at="2026-11-20T10:00:00"),
           dict(rows[0], client_id="n-4")]
    r = client.post(f"{API}/events", json=bad, headers=h)
    assert r.status_code == 422
    assert {e["loc"][1] for e in r.json()["errors"]} == {0, 1, 2}
    assert client.get(f"{API}/events?subscriber_id={sub}", headers=h).json()["total"] == before + 3


def test_campaign_participants_must_be_in_region(client, tdeal):
    h = api_headers(client, "cw.staff")
    mine, foreign = tdeal["cw"]["merchant_ids"][:2], tdeal["us"]["merchant_ids"][0]
    body = {"name": "창원 가을 기획전", "start_date": "2026-10-01", "end_date": "2026-10-31", "merchant_ids": mine}
    r = client.post(f"{API}/campaigns", json=body, headers=h)
    assert r.status_code == 201 and r.json()["merchant_count"] == 2
    cid = r.json()["id"]
    r = client.post(f"{API}/campaigns/{cid}/merchants", json={"merchant_ids": [mine[0], foreign]}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["merchant_ids", 1]
    r = client.post(f"{API}/campaigns/{cid}/merchants", json={"merchant_ids": tdeal["cw"]["merchant_ids"][:5]},
                    headers=h)
    assert r.status_code == 200 and r.json()["merchant_count"] == 5
    r = client.post(f"{API}/campaigns", json=dict(body, name="x", end_date="2026-09-01"), headers=h)
    assert r.status_code == 422
    us = api_headers(client, "us.staff")
    assert client.get(f"{API}/campaigns/{cid}", headers=us).status_code == 404
    assert client.get(f"{API}/campaigns/{cid}/report", headers=us).status_code == 404
