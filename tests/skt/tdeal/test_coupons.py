from concurrent.futures import ThreadPoolExecutor

from tests.conftest import api_headers

API = "/api/v1/skt/tdeal"


def _coupon(client, h, campaign_id, **over):
    body = {"campaign_id": campaign_id, "code": over.pop("code", "FESTA"), "name": "세일페스타 쿠폰",
            "discount_kind": "percent", "discount_value": 20, "max_discount_krw": 5000, "min_order_krw": 20000,
            "total_quantity": 3, "per_subscriber_limit": 1, "valid_from_at": "2026-01-01T00:00:00+09:00",
            "valid_until_at": "2099-01-01T00:00:00+09:00", **over}
    r = client.post(f"{API}/coupons", json=body, headers=h)
    assert r.status_code == 201, r.text
    return r.json()


def test_redemption_rules_and_reasons(client, tdeal):
    h = api_headers(client, "cw.staff")
    at = {"merchant_id": tdeal["cw"]["participant_ids"][0]}
    subs = tdeal["cw"]["subscriber_ids"]
    coupon = _coupon(client, h, tdeal["cw"]["campaign_id"])
    url = f"{API}/coupons/{coupon['id']}/redeem"

    r = client.post(url, json={"subscriber_id": subs[0], "order_amount": 19999, **at}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["type"] == "below_minimum"
    r = client.post(url, json={"subscriber_id": subs[0], "order_amount": 40000, "client_id": "pos-1", **at}, headers=h)
    assert r.status_code == 201 and r.json()["discount_krw"] == 5000 and r.json()["pay_krw"] == 35000
    first = r.json()["id"]
    r = client.post(url, json={"subscriber_id": subs[0], "order_amount": 40000, "client_id": "pos-1", **at}, headers=h)
    assert r.status_code == 200 and r.json()["id"] == first  # a retry, not a second redemption
    r = client.post(url, json={"subscriber_id": subs[0], "order_amount": 40000, **at}, headers=h)
    assert r.status_code == 409 and r.json()["errors"][0]["type"] == "limit_reached"
    for s in subs[1:3]:
        assert client.post(url, json={"subscriber_id": s, "order_amount": 21000, **at}, headers=h).status_code == 201
    r = client.post(url, json={"subscriber_id": subs[3], "order_amount": 21000, **at}, headers=h)
    assert r.status_code == 409 and r.json()["errors"][0]["type"] == "sold_out"
    got = client.get(f"{API}/coupons/{coupon['id']}", headers=h).json()
    assert got["redeemed_count"] == 3 and got["remaining"] == 0
    assert client.get(f"{API}/coupons/{coupon['id']}/redemptions", headers=h).json()["total"] == 3

    expired = _coupon(client, h, tdeal["cw"]["campaign_id"], code="OLD", valid_from_at="2025-01-01T00:00:00+09:00",
                      valid_until_at="2025-02-01T00:00:00+09:00")
    r = client.post(f"{API}/coupons/{expired['id']}/redeem",
                    json={"subscriber_id": subs[5], "order_amount": 50000, **at}, headers=h)
    assert r.status_code == 409 and r.json()["errors"][0]["type"] == "expired"
    r = client.post(f"{API}/coupons/{coupon['id']}/redeem", json={"subscriber_id": tdeal["us"]["subscriber_ids"][0],
                                                                  "order_amount": 50000, **at}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["subscriber_id"]

    us = api_headers(client, "us.staff")
    r = client.post(url, json={"subscriber_id": tdeal["us"]["subscriber_ids"][0], "order_amount": 50000,
                                  "merchant_id": tdeal["us"]["participant_ids"][0]}, headers=us)
    assert r.status_code == 404
    viewer = api_headers(client, "cw.viewer")
    assert client.post(url, json={"subscriber_id": subs[9], "order_amount": 50000, **at},
                       headers=viewer).status_code == 403
    r = client.post(f"{API}/coupons", headers=h, json={"code": "BAD", "name": "x", "discount_kind": "percent",
                                                       "discount_value": 150, "total_quantity": 1,
                                                       "valid_from_at": "2026-01-01T00:00:00+09:00",
                                                       "valid_until_at": "2025-01-01T00:00:00+09:00",
                                                       "campaign_id": tdeal["cw"]["campaign_id"]})
    assert r.status_code == 422


def test_concurrent_redemptions_never_exceed_quantity_or_limit(client, tdeal):
    h = api_headers(client, "cw.staff")
    at = {"merchant_id": tdeal["cw"]["participant_ids"][0]}
    subs = tdeal["cw"]["subscriber_ids"]
    coupon = _coupon(client, h, tdeal["cw"]["campaign_id"], code="RACE", total_quantity=5, per_subscriber_limit=1)
    url = f"{API}/coupons/{coupon['id']}/redeem"
    requests = [subs[i % 10] for i in range(24)]  # ten subscribers, each trying two or three times
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda s: client.post(url, json={"subscriber_id": s, "order_amount": 30000, **at},
                                                    headers=h).status_code, requests))
    assert codes.count(201) == 5 and set(codes) <= {201, 409}
    page = client.get(f"{API}/coupons/{coupon['id']}/redemptions?limit=200", headers=h).json()
    assert page["total"] == 5 and len({r["subscriber_id"] for r in page["items"]}) == 5
    assert client.get(f"{API}/coupons/{coupon['id']}", headers=h).json()["redeemed_count"] == 5

    limited = _coupon(client, h, tdeal["cw"]["campaign_id"], code="LIMIT2", total_quantity=100, per_subscriber_limit=2)
    url = f"{API}/coupons/{limited['id']}/redeem"
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda _i: client.post(url, json={"subscriber_id": subs[0], "order_amount": 30000, **at},
                                                     headers=h).status_code, range(10)))
    assert codes.count(201) == 2 and codes.count(409) == 8
