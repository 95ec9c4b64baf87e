"""Operations: /metrics (latency by route template, ingestion counters, live subscribers, worker gauges),
one JSON log line per request with its X-Request-ID, /readyz, path-only page links, and redirects behind a
proxy."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app.core import health, metrics
from app.core.config import ROOT_DIR
from app.core.live import broker
from app.core.logging import JsonFormatter, log_context
from app.core.tenancy import SYSTEM, bind_principal
from app.main import create_app
from tests.conftest import api_headers, csrf_of, web_login
from tests.kt.cctv.conftest import event, make_camera

NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
TOKEN = "scrape-token-0123456789"


def _scrape(client: TestClient) -> dict[tuple[str, tuple], float]:
    r = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def metered(settings, database):
    app = create_app(settings.model_copy(update={"metrics_token": TOKEN}), database)
    with TestClient(app) as c:
        yield c


def test_metrics_count_requests_by_route_template_and_ingestion_by_module(metered, world):
    with time_machine.travel(NOW, tick=False):
        us = api_headers(metered, "us.staff")
        cam = make_camera(metered, us)
        before = _scrape(metered)
        for _ in range(2):
            assert metered.get(f"/api/v1/kt/cctv/cameras/{cam}", headers=us).status_code == 200
        assert metered.get("/api/v1/kt/cctv/cameras/999999", headers=us).status_code == 404
        r = metered.post("/api/v1/kt/cctv/events", headers=us, json=[
            event(cam, f"m{i}", "fire", NOW - timedelta(minutes=10 - i)) for i in range(3)])
        assert r.status_code == 200 and r.json()["accepted"] == 3, r.text
        # the same batch again: duplicates, nothing new ingested
        r = metered.post("/api/v1/kt/cctv/events", headers=us, json=[
            event(cam, f"m{i}", "fire", NOW - timedelta(minutes=10 - i)) for i in range(3)])
        assert r.json()["duplicates"] == 3
        after = _scrape(metered)

    route = "/api/v1/kt/cctv/cameras/{camera_id}"
    count = "dxhub_http_request_duration_seconds_count"
    assert _value(after, count, method="GET", route=route, status="200") - \
        _value(before, count, method="GET", route=route, status="200") == 2
    assert _value(after, count, method="GET", route=route, status="404") - \
        _value(before, count, method="GET", route=route, status="404") == 1
    assert not any(dict(labels).get("route", "").endswith(str(cam)) for _n, labels in after), \
        "a raw path became a label"
    infinite = _value(after, "dxhub_http_request_duration_seconds_bucket", method="GET", route=route,
                      status="200", le="+Inf")
    assert infinite == _value(after, count, method="GET", route=route, status="200")
    ingested = "dxhub_ingested_total"
    assert _value(after, ingested, module="kt.cctv", kind="events") - \
        _value(before, ingested, module="kt.cctv", kind="events") == 3


def test_ingestion_rolled_back_is_not_counted(database):
    key = ("kt.robots", "states")
    before = metrics.INGESTED.labels(*key)._value.get()
    with pytest.raises(RuntimeError), database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        metrics.count_ingested(s, module=key[0], kind=key[1], n=5)
        raise RuntimeError("the batch failed")
    assert metrics.INGESTED.labels(*key)._value.get() == before
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        metrics.count_ingested(s, module=key[0], kind=key[1], n=5)
    assert metrics.INGESTED.labels(*key)._value.get() == before + 5


def test_worker_gauges_and_live_subscribers_are_exposed(metered):
    metrics.set_queue_depth(7)
    metrics.observe_duty_lag("robots.sweep", 2.5)
    base = _scrape(metered)["dxhub_live_subscribers", ()]

    async def watch() -> float:
        async with broker.subscribe("test.topic"), broker.subscribe("test.other"):
            return _scrape(metered)["dxhub_live_subscribers", ()]

    assert asyncio.run(watch()) == base + 2
    samples = _scrape(metered)
    assert samples["dxhub_live_subscribers", ()] == base
    assert samples["dxhub_job_queue_depth", ()] == 7
    assert samples["dxhub_duty_lag_seconds", (("duty", "robots.sweep"),)] == 2.5


def test_multiprocess_mode_adds_up_every_process_of_the_host(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    def python(code: str) -> str:
        return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT_DIR, check=True,
                              capture_output=True, text=True).stdout

    for status in (200, 200, 404):  # three processes, each answering one request
        python(f"from app.core import metrics; metrics.observe_request(method='GET', route='/x', status={status}, "
               "seconds=0.02)")
    text = python("import sys; from app.core import metrics; sys.stdout.write(metrics.exposition().decode())")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    count = "dxhub_http_request_duration_seconds_count"
    assert _value(samples, count, method="GET", route="/x", status="200") == 2
    assert _value(samples, count, method="GET", route="/x", status="404") == 1


def test_metrics_need_the_token_or_a_direct_local_client(settings, database):
    with TestClient(create_app(settings.model_copy(update={"metrics_token": TOKEN}), database)) as c:
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    no_token = create_app(settings, database)
    with TestClient(no_token) as c:  # the test client's address is not a loopback one
        assert c.get("/metrics").status_code == 404
    with TestClient(no_token, client=("127.0.0.1", 40000)) as c:
        assert c.get("/metrics").status_code == 200
        # through a proxy on this host every visitor would look local: a forwarded request is refused
        assert c.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404


@pytest.fixture
def request_log():
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("dxhub.request")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield out
    logger.removeHandler(handler)


def _lines(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_one_json_line_per_request_with_its_request_id_principal_and_tenant(client, world, request_log):
    us = api_headers(client, "us.staff")
    request_log.truncate(0), request_log.seek(0)
    r = client.get("/api/v1/programs/424242", headers={**us, "X-Request-ID": "req-7f3a.1"})
    assert r.status_code == 404 and r.headers["x-request-id"] == "req-7f3a.1"
    (line,) = _lines(request_log)
    assert line["request_id"] == "req-7f3a.1" and line["method"] == "GET"
    assert line["route"] == "/api/v1/programs/{program_id}" and line["status"] == 404
    assert line["principal"] == "user:us.staff" and line["tenant"] == world.ulsan.id
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0


@pytest.mark.parametrize("given", ["has space", "x" * 129, "semi;colon", "<script>", ""])
def test_an_unsafe_request_id_is_replaced_by_a_new_one(client, request_log, given):
    r = client.get("/livez", headers={"X-Request-ID": given})
    new = r.headers["x-request-id"]
    assert new != given and re.fullmatch(r"[0-9a-f]{32}", new)
    assert _lines(request_log)[-1]["request_id"] == new


def test_job_logs_carry_the_job_id():
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("dxhub.test.job")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with log_context(job_id=42, duty="robots.sweep"):
            logger.info("started", extra={"rows": 3})
        logger.info("outside")
    finally:
        logger.removeHandler(handler)
    inside, outside = _lines(out)
    assert inside["job_id"] == 42 and inside["duty"] == "robots.sweep" and inside["rows"] == 3
    assert inside["msg"] == "started" and "job_id" not in outside


def test_readyz_checks_the_database_and_the_queue(client, settings):
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # the embedded queue's place on PostgreSQL
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["checks"] == {"database": "ok", "queue": "ok"}
    assert client.get("/livez").json() == {"status": "ok"}
    # a queue that does not answer makes the process not ready
    def unwritable(_app) -> None:
        raise OSError("queue directory is read-only")

    health.register("queue", unwritable)
    try:
        r = client.get("/readyz")
    finally:
        health.register("queue", health.check_queue)
    assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["checks"] == {"database": "ok", "queue": "failed"}


def test_readyz_pings_redis_when_configured(settings, database):
    import redis

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis not reachable at 127.0.0.1:6379: {exc}")
    up = create_app(settings.model_copy(update={"redis_url": "redis://127.0.0.1:6379/0"}), database)
    with TestClient(up) as c:
        assert c.get("/readyz").json()["checks"]["queue"] == "ok"
    down = create_app(settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"}), database)
    with TestClient(down) as c:
        r = c.get("/readyz")
    assert r.status_code == 503 and r.json()["checks"] == {"database": "ok", "queue": "failed"}


def test_readyz_queue_check_wants_the_embedded_queue_directory(settings, database, tmp_path):
    if not database.is_sqlite:
        missing = create_app(settings.model_copy(update={"data_dir": tmp_path / "absent"}), database)
        with TestClient(missing) as c:
            assert c.get("/readyz").json()["checks"]["queue"] == "failed"
    assert health.queue_dir(settings.model_copy(update={"database_url": "sqlite:////srv/dxhub/db.sqlite"})) \
        .as_posix() == "/srv/dxhub"


ABSOLUTE = re.compile(r'(?:href|src|action|hx-get|hx-post|hx-put|hx-delete|data-url|content)="(https?://[^"]*)"')


def test_page_links_and_static_urls_are_paths_not_absolute_urls(client, world):
    web_login(client, "root")
    home = client.get("/")
    assert home.status_code == 200
    assert 'src="/static/' in home.text or 'href="/static/' in home.text
    pages = sorted({h for h in re.findall(r'href="(/[^"#?]*)"', home.text)
                    if not h.startswith(("/static", "/logout", "/docs"))})
    assert len(pages) > 10, pages
    for path in ["/", "/login", *pages]:
        r = client.get(path)
        assert r.status_code == 200, path
        assert "http://testserver" not in r.text, f"{path}: {ABSOLUTE.findall(r.text)[:3]}"


def test_links_honour_the_root_path(app, world):
    with TestClient(app, root_path="/dxhub") as c:
        html = c.get("/dxhub/login").text
    assert 'href="/dxhub/static/css/' in html and "testserver" not in html


def test_behind_a_proxy_redirects_stay_on_the_site_and_absolute_urls_say_https(app, world):
    proxied = ProxyHeadersMiddleware(app, trusted_hosts="*")
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    with TestClient(proxied, headers=forwarded) as c:
        token = csrf_of(c)
        r = c.post("/login", data={"username": "cw.staff", "password": "correct-horse-battery",
                                   "csrf_token": token, "next": "/programs"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/programs"
        assert c.get("/programs", follow_redirects=False).status_code == 200
        r = c.get("/", headers={}, follow_redirects=False)
        assert "http://" not in r.text.replace("http://www.w3.org", "")
        headers = api_headers(c, "cw.staff")
        r = c.post("/api/v1/programs", headers=headers, json={
            "title": "경로당 디지털 교육", "municipality_code": "4812000000", "partner_codes": ["skt"],
            "status": "planned", "start_date": "2027-01-01", "end_date": "2027-12-31", "budget_krw": 50000000})
        assert r.status_code == 201, r.text
        assert r.headers["location"].startswith("https://testserver/api/v1/programs/")
