"""The program list API and the staff's program list page under concurrent clients, beside a bare endpoint
of the same app as the floor."""

from __future__ import annotations

import re

import httpx

from bench.harness import demo_server, load, staff_token


def _session_cookie(base: str, username: str = "admin", password: str = "dxhub-demo-2026") -> str:
    """Sign in through the form, as a browser does; returns the Cookie header of the session."""
    with httpx.Client(base_url=base, timeout=10) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
        r = client.post("/login", data={"username": username, "password": password, "csrf_token": token,
                                        "next": "/"})
        assert r.status_code == 303, "the demo sign-in failed"
        assert client.get("/programs").status_code == 200
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


def measure() -> list[dict]:
    results = []
    with demo_server() as base:
        headers = {"Authorization": f"Bearer {staff_token(base, 'admin')}"}
        cookie = {"Cookie": _session_cookie(base)}
        load(f"{base}/livez", seconds=0.5)  # warm up
        floor = load(f"{base}/livez")
        programs = load(f"{base}/api/v1/programs?limit=50", headers=headers)
        assert programs.errors == 0, "the program list answered errors under load"
        page = load(f"{base}/programs", headers=cookie)
        assert page.errors == 0, "the program list page answered errors under load"
        results += [
            {"name": "GET /api/v1/programs (8 clients) throughput", "value": programs.rps, "unit": "req/s",
             "floor_name": "GET /livez", "floor_value": floor.rps},
            {"name": "GET /api/v1/programs p50 latency", "value": programs.p50_ms, "unit": "ms",
             "floor_name": "GET /livez p50", "floor_value": floor.p50_ms},
            {"name": "GET /api/v1/programs p99 latency", "value": programs.p99_ms, "unit": "ms",
             "floor_name": "GET /livez p99", "floor_value": floor.p99_ms},
            {"name": "GET /programs page (8 clients) throughput", "value": page.rps, "unit": "req/s",
             "floor_name": "GET /livez", "floor_value": floor.rps},
            {"name": "GET /programs page p50 latency", "value": page.p50_ms, "unit": "ms",
             "floor_name": "GET /livez p50", "floor_value": floor.p50_ms},
        ]
    return results
