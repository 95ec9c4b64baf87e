import random

from app.core.brn import brn_is_valid, format_brn, normalise_brn, random_brn
from tests.conftest import api_headers
from tests.lguplus.merchants.conftest import API, brn, merchant_body


def test_business_registration_number_check_digit():
    assert brn_is_valid("2208162517")  # a published registration number
    assert not brn_is_valid("2208162518")
    assert not brn_is_valid("220816251")
    assert not brn_is_valid("22081625a7")
    assert normalise_brn("220-81-62517") == "2208162517"
    assert format_brn("2208162517") == "220-81-62517"
    rng = random.Random(1)
    numbers = [random_brn(rng) for _ in range(200)]
    assert all(brn_is_valid(n) for n in numbers)
    # changing any one digit breaks the check
    assert not any(brn_is_valid(n[:-1] + str((int(n[-1]) + 1) % 10)) for n in numbers)


def test_merchant_crud_masks_the_phone_and_refuses_a_bad_number(client, world):
    h = api_headers(client, "cw.staff")
    bad = merchant_body()
    bad["brn"] = bad["brn"][:-1] + str((int(bad["brn"][-1]) + 1) % 10)
    r = client.post(API, json=bad, headers=h)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["loc"][-1] == "brn"

    r = client.post(API, json=merchant_body(), headers=h)
    assert r.status_code == 201, r.text
    m = r.json()
    assert m["owner_phone_masked"] == "010-****-6789" and "2345" not in r.text
    assert client.post(API, json=merchant_body(), headers=h).status_code == 409
    assert client.post(API, json={**merchant_body("123456789"), "colour": "red"}, headers=h).status_code == 422

    r = client.patch(f"{API}/{m['id']}", json={"name": "빛고을 분식 본점", "owner_phone": "01098765432"}, headers=h)
    assert r.status_code == 200 and r.json()["owner_phone_masked"] == "010-****-5432"
    page = client.get(f"{API}?q=본점", headers=h).json()
    assert page["total"] == 1 and page["items"][0]["id"] == m["id"]
    assert client.get(f"{API}?q={brn('220816251')[:6]}", headers=h).json()["total"] == 1
    assert client.get(f"{API}?dong_code=2914057000&category=분식", headers=h).json()["total"] == 1
    assert client.get(f"{API}?category=한식", headers=h).json()["total"] == 0
    assert client.delete(f"{API}/{m['id']}", headers=h).status_code == 204
    assert client.get(f"{API}/{m['id']}", headers=h).status_code == 404


def test_another_municipality_cannot_see_or_change_merchants(client, program):
    h = api_headers(client, "cw.staff")
    theirs = program["us"]["merchant_ids"][0]
    assert client.get(f"{API}/{theirs}", headers=h).status_code == 404
    assert client.patch(f"{API}/{theirs}", json={"name": "x"}, headers=h).status_code == 404
    listed = client.get(f"{API}?limit=200", headers=h).json()
    assert listed["total"] == 40 and theirs not in {m["id"] for m in listed["items"]}
    apps = client.get(f"{API}/applications?limit=200", headers=h).json()["items"]
    installed = {a["merchant_id"] for a in apps if a["state"] in ("installed", "active")}
    joined = client.get(f"{API}?participant=true&limit=200", headers=h).json()
    assert {m["id"] for m in joined["items"]} == installed and installed
    assert client.get(f"{API}?participant=false&limit=200", headers=h).json()["total"] == 40 - len(installed)
    us = api_headers(client, "us.staff")
    assert client.get(f"{API}?limit=200", headers=us).json()["total"] == 6
    viewer = api_headers(client, "cw.viewer")
    assert client.post(API, json=merchant_body(), headers=viewer).status_code == 403
