"""Staff web forms of T deal: merchants, products and campaigns."""

import re

from sqlalchemy import select

from app.core.tenancy import SYSTEM, bind_principal
from app.platform.models import AuditLog
from app.skt.tdeal.models import TdealCampaign, TdealCampaignMerchant, TdealMerchant, TdealProduct
from tests.conftest import api_headers, web_login

API = "/api/v1/skt/tdeal"
WEB = "/skt/tdeal"
GOOD_BRN = "220-81-62517"
BAD_BRN = "220-81-62518"


def _id_from(location: str, kind: str) -> int:
    return int(re.search(rf"/{kind}/(\d+)$", location).group(1))


def _rows(database, model, *where):
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        return list(s.scalars(select(model).where(*where)))


def test_merchant_register_edit_and_add_product(client, tdeal, database):
    token = web_login(client, "cw.staff")
    catalogue = client.get(f"{WEB}/")
    assert f"{WEB}/merchants/new\"" in catalogue.text
    assert f"{WEB}/merchants/{tdeal['cw']['merchant_ids'][0]}\"" in catalogue.text
    page = client.get(f"{WEB}/merchants/new")
    assert page.status_code == 200 and "가맹점 등록" in page.text and 'name="csrf_token"' in page.text

    form = {"csrf_token": token, "brn": BAD_BRN, "name": "마산 수제청", "category": "식품", "is_small": "true"}
    r = client.post(f"{WEB}/merchants/new", data=form, follow_redirects=False)
    assert r.status_code == 400
    assert "사업자등록번호의 검증 번호가 맞지 않습니다" in r.text
    assert f'value="{BAD_BRN}"' in r.text and 'value="마산 수제청"' in r.text and 'value="식품"' in r.text
    assert not _rows(database, TdealMerchant, TdealMerchant.name == "마산 수제청")

    r = client.post(f"{WEB}/merchants/new", data=dict(form, brn=GOOD_BRN), follow_redirects=False)
    assert r.status_code == 303
    mid = _id_from(r.headers["location"], "merchants")
    [made] = _rows(database, TdealMerchant, TdealMerchant.id == mid)
    assert made.brn == "2208162517" and made.is_small and made.municipality_id == tdeal["world"].changwon.id
    r = client.post(f"{WEB}/merchants/new", data=dict(form, brn=GOOD_BRN, name="다른 이름"))
    assert r.status_code == 400 and "이미 있습니다" in r.text and 'value="다른 이름"' in r.text

    page = client.get(f"{WEB}/merchants/{mid}")
    assert page.status_code == 200 and "마산 수제청" in page.text and "220-81-62517" in page.text
    assert "아직 상품이 없습니다." in page.text and "가맹점 정보 수정" in page.text

    edit = {"csrf_token": token, "name": "", "category": "전통식품", "is_small": "false"}
    r = client.post(f"{WEB}/merchants/{mid}/edit", data=edit)
    assert r.status_code == 400 and "필수 항목입니다." in r.text and 'value="전통식품"' in r.text
    r = client.post(f"{WEB}/merchants/{mid}/edit", data=dict(edit, name="마산 수제청 본점"), follow_redirects=False)
    assert r.status_code == 303
    [made] = _rows(database, TdealMerchant, TdealMerchant.id == mid)
    assert (made.name, made.category, made.is_small) == ("마산 수제청 본점", "전통식품", False)

    product = {"csrf_token": token, "sku": "YUJA-500", "name": "유자청 500g", "category": "식품",
               "price_krw": "-5", "stock": "20"}
    r = client.post(f"{WEB}/merchants/{mid}/products", data=product)
    assert r.status_code == 400 and 'value="YUJA-500"' in r.text and 'value="유자청 500g"' in r.text
    r = client.post(f"{WEB}/merchants/{mid}/products", data=dict(product, price_krw="12000"),
                    follow_redirects=False)
    assert r.status_code == 303
    r = client.post(f"{WEB}/merchants/{mid}/products", data=dict(product, price_krw="9000"))
    assert r.status_code == 400 and "SKU YUJA-500 상품이 이미 있습니다" in r.text
    [p] = _rows(database, TdealProduct, TdealProduct.merchant_id == mid)
    assert (p.sku, p.price_krw, p.stock, p.municipality_id) == ("YUJA-500", 12000, 20, made.municipality_id)
    page = client.get(f"{WEB}/merchants/{mid}")
    assert "유자청 500g" in page.text and "YUJA-500" in page.text

    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        actions = set(s.execute(select(AuditLog.object_type, AuditLog.action)
                                .where(AuditLog.object_id.in_([str(mid), str(p.id)]))).all())
    assert any("merchant" in t.lower() for t, _a in actions) and any("product" in t.lower() for t, _a in actions)

    other = tdeal["us"]["merchant_ids"][0]
    assert client.get(f"{WEB}/merchants/{other}").status_code == 404
    assert client.post(f"{WEB}/merchants/{other}/edit", data=dict(edit, name="x")).status_code == 404
    assert client.post(f"{WEB}/merchants/{other}/products", data=dict(product, price_krw="1")).status_code == 404
    assert not _rows(database, TdealProduct, TdealProduct.merchant_id == other, TdealProduct.sku == "YUJA-500")


def test_merchant_products_are_paginated(client, tdeal):
    web_login(client, "cw.staff")
    h = api_headers(client, "cw.staff")
    mid = tdeal["cw"]["merchant_ids"][0]
    total = client.get(f"{API}/products?merchant_id={mid}&limit=1", headers=h).json()["total"]
    for i in range(26 - min(total, 26)):
        r = client.post(f"{API}/products", headers=h, json={"merchant_id": mid, "sku": f"PAGE-{i}", "name": f"상품 {i}",
                                                            "category": "기타", "price_krw": 1000})
        assert r.status_code == 201
    page = client.get(f"{WEB}/merchants/{mid}")
    assert page.status_code == 200 and "page=2" in page.text
    assert page.text.count("<code>") == 25
    assert client.get(f"{WEB}/merchants/{mid}?page=2").text.count("<code>") >= 1


def test_campaign_create_and_edit(client, tdeal, database):
    token = web_login(client, "cw.staff")
    h = api_headers(client, "cw.staff")
    assert f"{WEB}/campaigns/new\"" in client.get(f"{WEB}/campaigns").text
    page = client.get(f"{WEB}/campaigns/new")
    assert page.status_code == 200 and "새 기획전" in page.text
    assert 'value="4812000000"' in page.text and "3100000000" not in page.text and "울산" not in page.text
    assert page.text.count('name="merchant_ids"') == 30
    mids = tdeal["cw"]["merchant_ids"]

    form = {"csrf_token": token, "name": "창원 가을 장터", "start_date": "2026-10-10", "end_date": "2026-10-01",
            "municipality_code": "4812000000", "description": "가을 기획전", "merchant_ids": [str(m) for m in mids[:3]]}
    r = client.post(f"{WEB}/campaigns/new", data=form)
    assert r.status_code == 400 and "종료일은 시작일보다 앞설 수 없습니다" in r.text
    assert 'value="창원 가을 장터"' in r.text and 'value="2026-10-10"' in r.text
    assert len(re.findall(r'name="merchant_ids" value="\d+" checked', r.text)) == 3
    assert not _rows(database, TdealCampaign, TdealCampaign.name == "창원 가을 장터")

    us_merchant = tdeal["us"]["merchant_ids"][0]
    r = client.post(f"{WEB}/campaigns/new", data=dict(form, end_date="2026-10-31",
                                                      merchant_ids=[str(mids[0]), str(us_merchant)]))
    assert r.status_code == 400 and f"알 수 없는 가맹점 {us_merchant}" in r.text
    assert not _rows(database, TdealCampaign, TdealCampaign.name == "창원 가을 장터")

    for junk in (["99999999999999999999"], ["²"], ["abc"]):
        r = client.post(f"{WEB}/campaigns/new", data=dict(form, end_date="2026-10-31", merchant_ids=junk))
        assert r.status_code == 400, junk
    r = client.post(f"{WEB}/campaigns/new", data=dict(form, end_date="2026-10-31"), follow_redirects=False)
    assert r.status_code == 303
    cid = _id_from(r.headers["location"], "campaigns")
    got = client.get(f"{API}/campaigns/{cid}", headers=h).json()
    assert got["merchant_count"] == 3 and got["end_date"] == "2026-10-31" and got["description"] == "가을 기획전"

    page = client.get(f"{WEB}/campaigns/{cid}")
    assert page.status_code == 200 and "기획전 수정" in page.text
    assert len(re.findall(r'name="merchant_ids" value="\d+" checked', page.text)) == 3
    edit = {"csrf_token": token, "name": "창원 가을 대장터", "start_date": "2026-10-05", "end_date": "2026-10-01",
            "merchant_ids": [str(m) for m in mids[2:6]]}
    r = client.post(f"{WEB}/campaigns/{cid}/edit", data=edit)
    assert r.status_code == 400 and "종료일은 시작일보다 앞설 수 없습니다" in r.text
    assert 'value="창원 가을 대장터"' in r.text
    r = client.post(f"{WEB}/campaigns/{cid}/edit", data=dict(edit, end_date="2026-11-05"), follow_redirects=False)
    assert r.status_code == 303
    got = client.get(f"{API}/campaigns/{cid}", headers=h).json()
    assert (got["name"], got["start_date"], got["end_date"]) == ("창원 가을 대장터", "2026-10-05", "2026-11-05")
    joined = {link.merchant_id for link in _rows(database, TdealCampaignMerchant,
                                                 TdealCampaignMerchant.campaign_id == cid)}
    assert joined == set(mids[2:6])

    # the API behind the form: PATCH replaces the participants only when merchant_ids is given
    body = {"name": "창원 가을 대장터", "start_date": "2026-10-05", "end_date": "2026-11-06"}
    r = client.patch(f"{API}/campaigns/{cid}", headers=h, json=dict(body, end_date="2026-10-01"))
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    r = client.patch(f"{API}/campaigns/{cid}", headers=h, json=body)
    assert r.status_code == 200 and r.json()["end_date"] == "2026-11-06" and r.json()["merchant_count"] == 4
    r = client.patch(f"{API}/campaigns/{cid}", headers=h, json=dict(body, merchant_ids=[mids[0]]))
    assert r.status_code == 200 and r.json()["merchant_count"] == 1
    viewer = api_headers(client, "cw.viewer")
    assert client.patch(f"{API}/campaigns/{cid}", headers=viewer, json=body).status_code == 403

    other = tdeal["us"]["campaign_id"]
    assert client.post(f"{WEB}/campaigns/{other}/edit", data=dict(edit, end_date="2026-11-05")).status_code == 404
    assert _rows(database, TdealCampaign, TdealCampaign.id == other)[0].name == "울산 기획전"


def test_campaign_refuses_a_merchant_outside_its_region(client, tdeal, database):
    token = web_login(client, "gn.admin")
    r = client.post(f"{WEB}/merchants/new", follow_redirects=False,
                    data={"csrf_token": token, "brn": GOOD_BRN, "name": "도청 앞 식당", "category": "음식점",
                          "is_small": "true", "municipality_code": "4800000000"})
    assert r.status_code == 303
    province_merchant = _id_from(r.headers["location"], "merchants")
    page = client.get(f"{WEB}/campaigns/new")
    assert 'value="4800000000"' in page.text and 'value="4812000000"' in page.text and "3100000000" not in page.text
    form = {"csrf_token": token, "name": "창원 한정", "start_date": "2026-10-01", "end_date": "2026-10-31",
            "municipality_code": "4812000000",
            "merchant_ids": [str(tdeal["cw"]["merchant_ids"][0]), str(province_merchant)]}
    r = client.post(f"{WEB}/campaigns/new", data=form)
    assert r.status_code == 400 and f"가맹점 {province_merchant}은(는) 기획전 지역 밖에 있습니다" in r.text
    assert not _rows(database, TdealCampaign, TdealCampaign.name == "창원 한정")
    cid = tdeal["cw"]["campaign_id"]
    before = {link.merchant_id for link in _rows(database, TdealCampaignMerchant,
                                                 TdealCampaignMerchant.campaign_id == cid)}
    r = client.post(f"{WEB}/campaigns/{cid}/edit", data={
        "csrf_token": token, "name": "창원 소상공인 기획전", "start_date": "2026-10-01", "end_date": "2026-10-31",
        "merchant_ids": [str(m) for m in before] + [str(province_merchant)]})
    assert r.status_code == 400 and "기획전 지역 밖에 있습니다" in r.text
    after = {link.merchant_id for link in _rows(database, TdealCampaignMerchant,
                                                TdealCampaignMerchant.campaign_id == cid)}
    assert after == before


def test_viewer_sees_no_forms_and_cannot_post(client, tdeal, database):
    token = web_login(client, "cw.viewer")
    mid, cid = tdeal["cw"]["merchant_ids"][0], tdeal["cw"]["campaign_id"]
    for path in ("/", "/campaigns", f"/merchants/{mid}", f"/campaigns/{cid}"):
        page = client.get(WEB + path)
        assert page.status_code == 200 and not re.search(r'method="post" action="[^"]*/skt/tdeal', page.text), path
        assert "/merchants/new" not in page.text and "/campaigns/new" not in page.text
    assert client.get(f"{WEB}/merchants/new").status_code == 403
    assert client.get(f"{WEB}/campaigns/new").status_code == 403
    posts = {
        "/merchants/new": {"brn": GOOD_BRN, "name": "몰래", "category": "x"},
        f"/merchants/{mid}/edit": {"name": "몰래", "category": "x"},
        f"/merchants/{mid}/products": {"sku": "NOPE", "name": "몰래", "category": "x", "price_krw": "1"},
        "/campaigns/new": {"name": "몰래", "start_date": "2026-10-01", "end_date": "2026-10-02"},
        f"/campaigns/{cid}/edit": {"name": "몰래", "start_date": "2026-10-01", "end_date": "2026-10-02"},
    }
    for path, data in posts.items():
        assert client.post(WEB + path, data={"csrf_token": token, **data}).status_code == 403, path
    assert not _rows(database, TdealMerchant, TdealMerchant.name == "몰래")
    assert not _rows(database, TdealCampaign, TdealCampaign.name == "몰래")


def test_forms_need_the_csrf_token(client, tdeal, database):
    web_login(client, "cw.staff")
    r = client.post(f"{WEB}/merchants/new", data={"brn": GOOD_BRN, "name": "토큰 없음", "category": "x"})
    assert r.status_code in (400, 403)
    assert not _rows(database, TdealMerchant, TdealMerchant.name == "토큰 없음")
