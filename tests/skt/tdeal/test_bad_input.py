"""Odd input from integrators never answers 500: each is refused with a problem+json naming the field."""

from tests.conftest import api_headers

API = "/api/v1/skt/tdeal"
HUGE = 2**70


def test_odd_input_is_refused_not_crashing(client, tdeal):
    h = api_headers(client, "cw.staff")
    sub, product = tdeal["cw"]["subscriber_ids"][0], tdeal["cw"]["product_ids"][0]
    cid = tdeal["cw"]["campaign_id"]
    event = {"client_id": "odd-1", "subscriber_id": sub, "product_id": product, "kind": "view",
             "occurred_at": "2026-11-20T10:00:00+09:00"}
    coupon = {"campaign_id": cid, "code": "ODD", "name": "x", "discount_kind": "fixed", "discount_value": 1000,
              "total_quantity": 5, "valid_from_at": "2026-01-01T00:00:00+09:00",
              "valid_until_at": "2027-01-01T00:00:00+09:00"}
    cases = [
        ("POST", "/events", [1, "x", None]),
        ("POST", "/events", [dict(event, occurred_at="0001-01-01T00:00:00+09:00")]),
        ("POST", "/events", [dict(event, subscriber_id=HUGE)]),
        ("POST", "/events", [dict(event, kind="like")]),
        ("POST", "/events", [dict(event, client_id="has space")]),
        ("POST", "/coupons", dict(coupon, valid_from_at="0001-01-01T00:00:00+09:00")),
        ("POST", "/coupons", dict(coupon, discount_value=HUGE)),
        ("POST", "/coupons", dict(coupon, campaign_id=HUGE)),
        ("POST", f"/coupons/{HUGE}/redeem", {"subscriber_id": sub, "order_amount": 1}),
        ("POST", "/coupons/1/redeem", {"subscriber_id": HUGE, "order_amount": 1}),
        ("POST", "/coupons/1/redeem", {"subscriber_id": sub, "order_amount": -1}),
        ("POST", "/coupons/1/redeem", {"subscriber_id": sub, "merchant_id": HUGE, "order_amount": 1}),
        ("POST", "/coupons/1/redeem", {"subscriber_id": sub, "merchant_id": 1, "order_amount": 1,
                                       "order_ref": "x" * 81}),
        ("POST", f"/coupons/{HUGE}/issues", {"subscriber_id": sub}),
        ("POST", "/coupons/1/issues", {"subscriber_id": HUGE}),
        ("POST", f"/redemptions/{HUGE}/cancel", {"cancel_reason": "x"}),
        ("POST", "/redemptions/1/cancel", {"cancel_reason": ""}),
        ("POST", "/campaigns", {"name": "x", "start_date": "0001-01-01", "end_date": "0001-01-02"}),
        ("POST", f"/campaigns/{cid}/merchants", {"merchant_ids": [HUGE]}),
        ("POST", "/products", {"merchant_id": HUGE, "sku": "a", "name": "b", "category": "c", "price_krw": 1}),
        ("POST", "/products", {"sku": "a", "name": "b", "category": "c", "price_krw": 1}),
        ("POST", "/subscribers", {"pseudonym": "ab", "age_band": "5-9", "sex": "X"}),
        ("POST", "/subscribers/batch", [{"pseudonym": "abcd", "age_band": "20-29", "sex": "M",
                                         "home_municipality_code": "3100000000"}]),
        ("POST", "/models", {"municipality_code": "3100000000"}),
        ("GET", f"/merchants/{HUGE}", None),
        ("GET", f"/recommendations?subscriber_id={HUGE}", None),
        ("GET", "/campaigns?active_on=not-a-date", None),
        ("GET", "/events?kind=like", None),
    ]
    for method, path, body in cases:
        r = client.request(method, API + path, json=body, headers=h)
        assert r.status_code in (404, 409, 422), (path, body, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json"), (path, r.text)
    csv_h = {**h, "content-type": "text/csv"}
    r = client.post(f"{API}/events", content=b"client_id,subscriber_id\n\xff\xfe", headers=csv_h)
    assert r.status_code == 422
    r = client.post(f"{API}/events", content=b"a,b\n1,2,3\n", headers=csv_h)
    assert r.status_code == 422
    assert client.get(f"{API}/coupons", headers=h).json()["total"] == 3  # only the demo coupons
