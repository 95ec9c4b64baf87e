"""Coupons issued to subscribers, redemptions that name their merchant, and cancelled redemptions."""

from sqlalchemy import select

from app.core.tenancy import SYSTEM, bind_principal
from app.platform.models import AuditLog
from tests.conftest import api_headers, web_login
from tests.skt.tdeal.test_coupons import API, _coupon


def _redeem(client, h, coupon_id, subscriber_id, merchant_id, amount=30000, **extra):
    return client.post(f"{API}/coupons/{coupon_id}/redeem", headers=h,
                       json={"subscriber_id": subscriber_id, "merchant_id": merchant_id, "order_amount": amount,
                             **extra})


def _report_row(client, h, campaign_id, coupon_id):
    report = client.get(f"{API}/campaigns/{campaign_id}/report", headers=h).json()
    return next(c for c in report["coupons"] if c["coupon_id"] == coupon_id), report["totals"]


def test_report_counts_coupons_issued_to_subscribers_not_the_quantity(client, tdeal):
    h = api_headers(client, "cw.staff")
    subs, shop = tdeal["cw"]["subscriber_ids"], tdeal["cw"]["participant_ids"][0]
    campaign = tdeal["cw"]["campaign_id"]
    coupon = _coupon(client, h, campaign, code="WALLET", total_quantity=100, per_subscriber_limit=1)
    row, _totals = _report_row(client, h, campaign, coupon["id"])
    assert (row["quantity"], row["issued"], row["redeemed"]) == (100, 0, 0)

    for s in subs[:3]:  # three download it to their wallet
        r = client.post(f"{API}/coupons/{coupon['id']}/issues", json={"subscriber_id": s, "client_id": f"app-{s}"},
                        headers=h)
        assert r.status_code == 201 and r.json()["at_checkout"] is False
    again = client.post(f"{API}/coupons/{coupon['id']}/issues", json={"subscriber_id": subs[0],
                                                                      "client_id": f"app-{subs[0]}"}, headers=h)
    assert again.status_code == 200  # a retry issues nothing new
    r = client.post(f"{API}/coupons/{coupon['id']}/issues", json={"subscriber_id": subs[0]}, headers=h)
    assert r.status_code == 409 and r.json()["errors"][0]["type"] == "limit_reached"
    assert _redeem(client, h, coupon["id"], subs[0], shop).status_code == 201  # uses the wallet coupon
    assert _redeem(client, h, coupon["id"], subs[5], shop).status_code == 201  # issued at checkout

    row, totals = _report_row(client, h, campaign, coupon["id"])
    assert (row["quantity"], row["issued"], row["redeemed"]) == (100, 4, 2)
    assert row["rate"] == 0.5
    demo_issued = sum(c["issued"] for c in client.get(f"{API}/campaigns/{campaign}/report", headers=h)
                      .json()["coupons"] if c["coupon_id"] != coupon["id"])
    assert totals["issued"] == demo_issued + 4
    got = client.get(f"{API}/coupons/{coupon['id']}", headers=h).json()
    assert got["issued_count"] == 4 and got["redeemed_count"] == 2 and got["remaining"] == 98
    issues = client.get(f"{API}/coupons/{coupon['id']}/issues", headers=h).json()
    assert issues["total"] == 4 and sum(i["at_checkout"] for i in issues["items"]) == 1


def test_a_redemption_names_its_merchant_and_order(client, tdeal):
    h = api_headers(client, "cw.staff")
    subs = tdeal["cw"]["subscriber_ids"]
    participants = set(tdeal["cw"]["participant_ids"])
    outsider = next(m for m in tdeal["cw"]["merchant_ids"] if m not in participants)
    coupon = _coupon(client, h, tdeal["cw"]["campaign_id"], code="SHOP", total_quantity=10)
    r = _redeem(client, h, coupon["id"], subs[0], outsider)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["merchant_id"]
    r = _redeem(client, h, coupon["id"], subs[0], tdeal["us"]["merchant_ids"][0])  # another tenant's shop
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["merchant_id"]
    r = client.post(f"{API}/coupons/{coupon['id']}/redeem", headers=h,
                    json={"subscriber_id": subs[0], "order_amount": 30000})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "merchant_id"]
    shop = sorted(participants)[0]
    r = _redeem(client, h, coupon["id"], subs[0], shop, order_ref="POS-2026-000123")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["merchant_id"] == shop and body["order_ref"] == "POS-2026-000123" and body["status"] == "redeemed"
    listed = client.get(f"{API}/coupons/{coupon['id']}/redemptions", headers=h).json()["items"]
    assert [(x["merchant_id"], x["order_ref"]) for x in listed] == [(shop, "POS-2026-000123")]


def test_cancelling_restores_the_limit_and_the_stock_and_is_audited(client, tdeal, database):
    h = api_headers(client, "cw.staff")
    subs, shop = tdeal["cw"]["subscriber_ids"], tdeal["cw"]["participant_ids"][0]
    campaign = tdeal["cw"]["campaign_id"]
    coupon = _coupon(client, h, campaign, code="ONE", total_quantity=1, per_subscriber_limit=1)
    first = _redeem(client, h, coupon["id"], subs[0], shop, order_ref="A-1").json()
    r = _redeem(client, h, coupon["id"], subs[0], shop)
    assert r.status_code == 409 and r.json()["errors"][0]["type"] == "limit_reached"
    r = _redeem(client, h, coupon["id"], subs[1], shop)
    assert r.status_code == 409 and r.json()["errors"][0]["type"] == "sold_out"

    viewer = api_headers(client, "cw.viewer")
    url = f"{API}/redemptions/{first['id']}/cancel"
    assert client.post(url, json={"cancel_reason": "환불"}, headers=viewer).status_code == 403
    assert client.post(url, json={"cancel_reason": "환불"}, headers=api_headers(client, "us.staff")).status_code == 404
    assert client.post(url, json={}, headers=h).status_code == 422
    r = client.post(url, json={"cancel_reason": "주문 환불"}, headers=h)
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "cancelled" and done["cancel_reason"] == "주문 환불"
    assert done["cancelled_by"] == "user:cw.staff" and done["cancelled_at"]
    assert client.post(url, json={"cancel_reason": "again"}, headers=h).status_code == 409
    got = client.get(f"{API}/coupons/{coupon['id']}", headers=h).json()
    assert (got["redeemed_count"], got["remaining"], got["issued_count"]) == (0, 1, 0)
    row, _ = _report_row(client, h, campaign, coupon["id"])
    assert (row["issued"], row["redeemed"], row["discount_krw"]) == (0, 0, 0)

    # The stock is back: another subscriber may use it; and so may the first one's limit, once it is free.
    assert _redeem(client, h, coupon["id"], subs[1], shop).status_code == 201
    with database.unit_of_work(write=False) as s:
        bind_principal(s, SYSTEM)
        trail = list(s.scalars(select(AuditLog).where(AuditLog.object_type == "tdeal_redemption",
                                                      AuditLog.object_id == str(first["id"]))
                               .order_by(AuditLog.id)))
    assert [a.action for a in trail] == ["create", "update"]
    assert trail[-1].after["cancel_reason"] == "주문 환불" and trail[-1].actor == "user:cw.staff"


def test_a_wallet_coupon_goes_back_to_the_wallet(client, tdeal):
    h = api_headers(client, "cw.staff")
    subs, shop = tdeal["cw"]["subscriber_ids"], tdeal["cw"]["participant_ids"][0]
    coupon = _coupon(client, h, tdeal["cw"]["campaign_id"], code="KEEP", total_quantity=5, per_subscriber_limit=1)
    assert client.post(f"{API}/coupons/{coupon['id']}/issues", json={"subscriber_id": subs[0]},
                       headers=h).status_code == 201
    used = _redeem(client, h, coupon["id"], subs[0], shop).json()
    assert _redeem(client, h, coupon["id"], subs[0], shop).status_code == 409
    client.post(f"{API}/redemptions/{used['id']}/cancel", json={"cancel_reason": "오입력"}, headers=h)
    got = client.get(f"{API}/coupons/{coupon['id']}", headers=h).json()
    assert (got["issued_count"], got["redeemed_count"]) == (1, 0)  # still in the wallet
    assert _redeem(client, h, coupon["id"], subs[0], shop).status_code == 201  # the limit is free again
    assert client.get(f"{API}/coupons/{coupon['id']}", headers=h).json()["issued_count"] == 1


def test_staff_cancel_a_redemption_on_the_coupon_page(client, tdeal):
    h = api_headers(client, "cw.staff")
    subs, shop = tdeal["cw"]["subscriber_ids"], tdeal["cw"]["participant_ids"][0]
    coupon = _coupon(client, h, tdeal["cw"]["campaign_id"], code="PAGE", total_quantity=5)
    used = _redeem(client, h, coupon["id"], subs[0], shop, order_ref="ORD-77").json()
    web_login(client, "cw.staff")
    page = client.get(f"/skt/tdeal/coupons/{coupon['id']}")
    assert page.status_code == 200 and "ORD-77" in page.text and "사용 취소" in page.text
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    r = client.post(f"/skt/tdeal/redemptions/{used['id']}/cancel", data={"csrf_token": token})
    assert r.status_code == 400 and "필수" in r.text  # the reason is required
    r = client.post(f"/skt/tdeal/redemptions/{used['id']}/cancel",
                    data={"csrf_token": token, "cancel_reason": "고객 환불"}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert "취소됨" in page.text and "고객 환불" in page.text
    got = client.get(f"{API}/coupons/{coupon['id']}/redemptions", headers=h).json()["items"][0]
    assert got["status"] == "cancelled"
    campaign_page = client.get(f"/skt/tdeal/campaigns/{tdeal['cw']['campaign_id']}")
    assert f"/skt/tdeal/coupons/{coupon['id']}" in campaign_page.text
