"""Abuse: sign-in throttled per address and per (username, address) with growing waits, so a stranger
cannot lock a user out; known and unknown usernames answer alike; rate limits per address (sign-in,
public Open311) and per API key, answered 429 with Retry-After. Time moves with time-machine."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from app.core import security
from app.main import create_app
from tests.conftest import PASSWORD, api_headers, csrf_of

START = datetime(2026, 12, 5, 0, 0, tzinfo=UTC)
ATTACKER = ("203.0.113.66", 40000)
VICTIM = ("198.51.100.7", 50000)


def _token(client: TestClient, username: str, password: str):
    return client.post("/api/v1/auth/token", data={"username": username, "password": password})


def _app(settings, database, **limits):
    return create_app(settings.model_copy(update=limits), database)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def test_a_stranger_elsewhere_cannot_lock_the_victim_out(app, world, clock):
    attacker, victim = TestClient(app, client=ATTACKER), TestClient(app, client=VICTIM)
    for _ in range(20):
        assert _token(attacker, "cw.staff", "guess").status_code in (401, 429)
    assert _token(attacker, "cw.staff", PASSWORD).status_code == 429  # the attacker's address waits
    assert _token(victim, "cw.staff", PASSWORD).status_code == 200  # the victim's does not
    token = csrf_of(victim)
    r = victim.post("/login", data={"username": "cw.staff", "password": PASSWORD, "csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303


def test_waits_grow_with_repeated_failures_and_pass_with_time(app, world, clock):
    client = TestClient(app, client=ATTACKER)
    # Test settings: 3 failures per 600 s, then 6 per 2400 s, then 12 per 9600 s.
    for _ in range(3):
        assert _token(client, "cw.staff", "guess").status_code == 401
    r = _token(client, "cw.staff", PASSWORD)
    assert r.status_code == 429 and r.headers["retry-after"] == "600"
    clock.shift(601)
    for _ in range(3):
        assert _token(client, "cw.staff", "guess").status_code == 401
    r = _token(client, "cw.staff", PASSWORD)
    assert r.status_code == 429 and int(r.headers["retry-after"]) == 2400 - 601  # the second tier: longer
    clock.shift(2400 - 601 + 1)
    assert _token(client, "cw.staff", PASSWORD).status_code == 200


def test_a_success_forgets_that_addresses_failures(app, world, clock):
    client = TestClient(app, client=VICTIM)
    for _ in range(2):
        assert _token(client, "cw.staff", "typo").status_code == 401
    assert _token(client, "cw.staff", PASSWORD).status_code == 200
    for _ in range(2):
        assert _token(client, "cw.staff", "typo").status_code == 401
    assert _token(client, "cw.staff", PASSWORD).status_code == 200


def test_known_and_unknown_usernames_answer_alike(app, world, clock):
    answers = {}
    for username in ("cw.staff", "no.such.user", "CW.STAFF", "x" * 500):
        client = TestClient(app, client=ATTACKER)
        seen = []
        for _ in range(4):
            r = _token(client, username, "guess")
            seen.append((r.status_code, r.json()["detail"], r.headers.get("retry-after")))
        answers[username] = seen
        clock.shift(86400)  # every window passes before the next username
    assert len({tuple(a) for a in answers.values()}) == 1, answers
    assert [s for s, _d, _r in answers["cw.staff"]] == [401, 401, 401, 429]

    web = TestClient(app, client=VICTIM)
    pages = []
    for username in ("us.staff", "nobody.here"):
        token = csrf_of(web)
        r = web.post("/login", data={"username": username, "password": "guess", "csrf_token": token})
        pages.append((r.status_code, r.text.replace(username, "")))
    assert pages[0] == pages[1] and pages[0][0] == 400


def test_unknown_usernames_cost_the_same_argon2_work():
    # The stand-in hash verified for unknown usernames has the parameters real passwords are hashed with.
    assert not PasswordHasher().check_needs_rehash(security.dummy_hash())
    assert PasswordHasher().check_needs_rehash(PasswordHasher(time_cost=1).hash("x"))  # the check can fail


def test_sign_in_per_address_limit_answers_429_with_retry_after(settings, database, world, clock):
    app = _app(settings, database, rate_limit_sign_in_ip="4/minute")
    client = TestClient(app, client=ATTACKER)
    for username in ("cw.staff", "cw.admin", "us.staff", "cw.viewer"):  # even successful ones count
        assert _token(client, username, PASSWORD).status_code == 200
    r = _token(client, "root", PASSWORD)
    assert r.status_code == 429 and r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["retry-after"] == "60" and r.json()["status"] == 429
    token = csrf_of(client)
    page = client.post("/login", data={"username": "root", "password": PASSWORD, "csrf_token": token})
    assert page.status_code == 429 and page.headers["retry-after"] == "60"
    assert "로그인 시도가 너무 많습니다. 1분 후에 다시 시도해 주십시오." in page.text
    assert _token(TestClient(app, client=VICTIM), "root", PASSWORD).status_code == 200  # other addresses
    clock.shift(61)
    assert _token(client, "root", PASSWORD).status_code == 200


def test_per_username_ceiling_over_every_address(settings, database, world, clock):
    app = _app(settings, database, rate_limit_sign_in_user="5/hour")
    for i in range(5):  # guesses spread over five addresses, one or two each
        assert _token(TestClient(app, client=(f"192.0.2.{i}", 1)), "cw.admin", "guess").status_code == 401
    r = _token(TestClient(app, client=("192.0.2.200", 1)), "cw.admin", PASSWORD)
    assert r.status_code == 429
    assert _token(TestClient(app, client=("192.0.2.200", 1)), "cw.staff", PASSWORD).status_code == 200


def test_api_keys_are_limited_per_key(settings, database, world, clock):
    app = _app(settings, database, rate_limit_api_key="3/minute")
    client = TestClient(app)
    admin = api_headers(client, "cw.admin")
    keys = []
    for name in ("연동 A", "연동 B"):
        r = client.post("/api/v1/api-keys", headers=admin, json={"name": name, "municipality_code": "4812000000",
                                                                 "scopes": ["platform:read"]})
        keys.append({"Authorization": f"Bearer {r.json()['secret']}"})
    for _ in range(3):
        assert client.get("/api/v1/programs", headers=keys[0]).status_code == 200
    r = client.get("/api/v1/programs", headers=keys[0])
    assert r.status_code == 429 and r.headers["retry-after"] == "60"
    assert r.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/programs", headers=keys[1]).status_code == 200  # the other key is not held
    assert client.get("/api/v1/programs", headers=admin).status_code == 200  # nor staff tokens
    clock.shift(61)
    assert client.get("/api/v1/programs", headers=keys[0]).status_code == 200


def test_public_open311_posts_are_limited_per_address(settings, database, world, clock):
    app = _app(settings, database, rate_limit_open311_ip="2/minute")
    client = TestClient(app, client=ATTACKER)
    for _ in range(2):
        assert client.post("/open311/v2/requests.json", data={"service_code": "night_duty"}).status_code == 403
    r = client.post("/open311/v2/requests.json", data={"service_code": "night_duty"})
    assert r.status_code == 429 and r.headers["retry-after"] == "60"
    other = TestClient(app, client=VICTIM)
    assert other.post("/open311/v2/requests.json", data={"service_code": "night_duty"}).status_code == 403
    assert client.get("/open311/v2/discovery.json").status_code == 200  # reads free
    assert client.get("/open311/v2/services.json?jurisdiction_id=4812000000").status_code == 404  # none enabled
