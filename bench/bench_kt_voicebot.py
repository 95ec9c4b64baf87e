"""Voicebot benchmarks: a dialogue turn over HTTP beside the app's bare endpoint, and classification
throughput beside the same model's batch throughput. Loopback only, bounded in time."""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time

import httpx

from bench.harness import free_port

TURNS = 200
UTTERANCES = 2000


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def _serve(url: str):
    import uvicorn

    from app.core.config import Settings
    from app.main import create_app

    app = create_app(Settings(env="test", database_url=url, secret_key="bench-secret-key-0123456789"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


def _prepare(url: str) -> str:
    """A migrated database with 이천시, its fee table and an API key; returns the key."""
    from app.cli import migrate
    from app.core.db import Database
    from app.core.manifest import install
    from app.core.tenancy import SYSTEM, bind_principal
    from app.kt.voicebot import demo
    from app.modules import load_manifests
    from app.platform import accounts
    from app.platform.models import Municipality
    from app.platform.schemas import ApiKeyIn

    install(load_manifests())
    migrate(url)
    db = Database(url)
    with db.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        m = Municipality(code="4150000000", name_ko="이천시", name_en="Icheon", level="basic")
        s.add(m)
        s.flush()
        from sqlalchemy import insert

        from app.kt.voicebot.models import VoicebotFeeItem

        s.execute(insert(VoicebotFeeItem.__table__), demo._fee_rows(m.id, m.code))
        _key, secret = accounts.create_api_key(s, data=ApiKeyIn(name="bench", municipality_code=m.code,
                                                                scopes=["kt.voicebot:write"]))
    db.dispose()
    return secret


def _bench_http() -> list[dict]:
    tmp = tempfile.mkdtemp(prefix="dxhub-bench-vb-")
    url = f"sqlite:///{os.path.join(tmp, 'bench.db')}"
    secret = _prepare(url)
    from app.kt.voicebot import classifier

    classifier.get_model()
    server, thread, base = _serve(url)
    h = {"Authorization": f"Bearer {secret}"}
    turn, bare = [], []
    try:
        with httpx.Client(base_url=base, headers=h, timeout=10) as client:
            for _ in range(20):  # warm-up
                client.get("/livez")
            for i in range(TURNS):
                call = client.post("/api/v1/kt/voicebot/calls", json={
                    "caller_number": f"010-5555-{i:04d}", "municipality_code": "4150000000"}).json()
                t0 = time.perf_counter()
                r = client.post(f"/api/v1/kt/voicebot/calls/{call['id']}/turns",
                                json={"text": "어 저기 3인용 쇼파 하나 버릴라카는데예"})
                turn.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200 and r.json()["intent"] == "bulky_waste", r.text
                t0 = time.perf_counter()
                client.get("/livez")
                bare.append((time.perf_counter() - t0) * 1000)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return [
        {"name": "voicebot turn over HTTP p50", "value": round(statistics.median(turn), 2), "unit": "ms",
         "floor_name": "bare endpoint (/livez) p50", "floor_value": round(statistics.median(bare), 2)},
        {"name": "voicebot turn over HTTP p99", "value": round(_pct(turn, 0.99), 2), "unit": "ms",
         "floor_name": "bare endpoint (/livez) p99", "floor_value": round(_pct(bare, 0.99), 2)},
    ]


def _bench_classifier() -> list[dict]:
    from app.kt.voicebot import classifier

    model = classifier.get_model()
    texts = [e.text for e in classifier.load_examples()]
    texts = (texts * (UTTERANCES // len(texts) + 1))[:UTTERANCES]
    t0 = time.perf_counter()
    for text in texts[:500]:
        model.predict(text)
    single = 500 / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    model.predict_many(texts)
    batch = len(texts) / (time.perf_counter() - t0)
    return [{"name": "intent classification, one utterance per call", "value": round(single), "unit": "utterances/s",
             "floor_name": "same model, one batch of 2,000", "floor_value": round(batch)}]


def _bench_open311_render() -> list[dict]:
    """Open311's XML of a full list (1,000 requests, the spec's cap) beside the same views as JSON."""
    import json

    from app.kt.voicebot.open311 import to_xml

    view = {"service_request_id": "123456", "status": "open", "status_notes": "계도 조치 완료",
            "service_name": "야간 당직민원", "service_code": "night_duty", "description": "가로등이 꺼져 있어요 " * 5,
            "agency_responsible": "도로과", "service_notice": None, "requested_datetime": "2026-12-03T01:00:00Z",
            "updated_datetime": "2026-12-03T01:00:00Z", "expected_datetime": None, "address": "경상남도 창원시 상남동",
            "address_id": None, "zipcode": None, "lat": 35.221, "long": 128.681, "media_url": None,
            "interface_used": "open311"}
    views = [dict(view, service_request_id=str(i)) for i in range(1000)]

    def best(render) -> float:
        times = []
        for _ in range(15):
            t0 = time.perf_counter()
            render()
            times.append((time.perf_counter() - t0) * 1000)
        return min(times)

    xml_ms = best(lambda: to_xml("service_requests", views))
    json_ms = best(lambda: json.dumps(views, ensure_ascii=False).encode())
    return [{"name": "Open311 list of 1,000 rendered as XML", "value": round(xml_ms, 1), "unit": "ms",
             "floor_name": "the same views as JSON", "floor_value": round(json_ms, 1)}]


def measure() -> list[dict]:
    return _bench_classifier() + _bench_open311_render() + _bench_http()


if __name__ == "__main__":
    for row in measure():
        print(f"{row['name']:<48} {row['value']:>10} {row['unit']:<14} floor {row['floor_name']}: {row['floor_value']}")
