"""The rate limiter on both storages: in memory, and in Redis (shared by processes). Windows pass by
time-machine, never by sleeping. The Redis tests skip, saying why, when no Redis answers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import time_machine
from fastapi.testclient import TestClient

from app.core.ratelimit import RateLimiter, TooManyRequests, rule, tiers
from app.main import create_app
from tests.conftest import PASSWORD

REDIS_URL = "redis://127.0.0.1:6379/0"
START = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")


@pytest.fixture(params=["memory", "redis"])
def limiter(request) -> Iterator[RateLimiter]:
    if request.param == "memory":
        yield RateLimiter("memory://")
        return
    _redis_or_skip()
    limiter = RateLimiter(REDIS_URL, prefix=f"dxhub-test-{uuid.uuid4().hex}")  # this test's keys alone
    yield limiter
    limiter.storage.reset()


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def test_rules_parse_tiers_and_nothing():
    assert rule("") == () and rule("  ") == ()
    assert [(i.amount, i.get_expiry()) for i in rule("60/minute;1000/day")] == [(60, 60), (1000, 86400)]
    assert [(i.amount, i.get_expiry()) for i in tiers(5, 900)] == [(5, 900), (10, 3600), (20, 14400)]
    assert [i.get_expiry() for i in tiers(5, 3600)] == [3600, 14400, 57600]
    assert [i.get_expiry() for i in tiers(5, 30000)] == [30000, 86400, 86400]  # capped at a day
    assert tiers(0, 900) == ()


def test_moving_window_refuses_with_retry_after_then_admits(limiter, clock):
    limits = rule("3/minute")
    for _ in range(3):
        limiter.hit(limits, "sign-in-ip", "203.0.113.1")
        clock.shift(10)
    with pytest.raises(TooManyRequests) as refused:
        limiter.hit(limits, "sign-in-ip", "203.0.113.1")
    assert refused.value.retry_after_s == 30 and refused.value.headers == {"Retry-After": "30"}
    limiter.hit(limits, "sign-in-ip", "203.0.113.2")  # another address has its own count
    clock.shift(31)  # the first hit has left the window
    limiter.hit(limits, "sign-in-ip", "203.0.113.1")
    with pytest.raises(TooManyRequests):
        limiter.hit(limits, "sign-in-ip", "203.0.113.1")


def test_check_counts_nothing_count_refuses_nothing_clear_forgets(limiter, clock):
    limits = tiers(2, 100)
    for _ in range(5):
        limiter.check(limits, "failures", "u", "a")
    limiter.count(limits, "failures", "u", "a")
    limiter.count(limits, "failures", "u", "a")
    with pytest.raises(TooManyRequests) as refused:
        limiter.check(limits, "failures", "u", "a")
    assert refused.value.retry_after_s == 100
    limiter.clear(limits, "failures", "u", "a")
    limiter.check(limits, "failures", "u", "a")


def test_no_rule_limits_nothing(limiter):
    for _ in range(100):
        limiter.hit(rule(""), "anything")


def test_a_dead_storage_lets_requests_through():
    limiter = RateLimiter("redis://127.0.0.1:1/0")  # nothing listens on port 1
    for _ in range(5):
        limiter.hit(rule("1/minute"), "sign-in-ip", "203.0.113.1")


def test_limits_in_redis_hold_across_processes(settings, database, world, clock):
    """Two app instances (two served processes) on one Redis share the sign-in count of an address."""
    _redis_or_skip()
    shared = settings.model_copy(update={"redis_url": REDIS_URL, "rate_limit_sign_in_ip": "3/minute",
                                         "rate_limit_prefix": f"dxhub-test-{uuid.uuid4().hex}"})
    first, second = create_app(shared, database), create_app(shared, database)
    try:
        a, b = TestClient(first, client=("203.0.113.9", 1)), TestClient(second, client=("203.0.113.9", 1))
        assert a.post("/api/v1/auth/token", data={"username": "cw.staff", "password": PASSWORD}).status_code == 200
        assert b.post("/api/v1/auth/token", data={"username": "cw.staff", "password": PASSWORD}).status_code == 200
        assert a.post("/api/v1/auth/token", data={"username": "cw.staff", "password": PASSWORD}).status_code == 200
        r = b.post("/api/v1/auth/token", data={"username": "cw.staff", "password": PASSWORD})
        assert r.status_code == 429 and r.headers["retry-after"] == "60"
        clock.shift(61)
        assert b.post("/api/v1/auth/token", data={"username": "cw.staff", "password": PASSWORD}).status_code == 200
    finally:
        first.state.limiter.storage.reset()
