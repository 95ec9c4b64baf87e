"""The program list API under concurrent clients, beside a bare endpoint of the same app as the floor."""

from __future__ import annotations

from bench.harness import demo_server, load, staff_token


def measure() -> list[dict]:
    results = []
    with demo_server() as base:
        headers = {"Authorization": f"Bearer {staff_token(base, 'admin')}"}
        load(f"{base}/livez", seconds=0.5)  # warm up
        floor = load(f"{base}/livez")
        programs = load(f"{base}/api/v1/programs?limit=50", headers=headers)
        assert programs.errors == 0, "the program list answered errors under load"
        results += [
            {"name": "GET /api/v1/programs (8 clients) throughput", "value": programs.rps, "unit": "req/s",
             "floor_name": "GET /livez", "floor_value": floor.rps},
            {"name": "GET /api/v1/programs p50 latency", "value": programs.p50_ms, "unit": "ms",
             "floor_name": "GET /livez p50", "floor_value": floor.p50_ms},
            {"name": "GET /api/v1/programs p99 latency", "value": programs.p99_ms, "unit": "ms",
             "floor_name": "GET /livez p99", "floor_value": floor.p99_ms},
        ]
    return results
