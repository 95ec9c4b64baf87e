"""Pages under load, measured with a compiled load generator (Debian's ``wrk``): the Python thread load of
``harness.load`` shares the server's cores and understates it. 8 connections against /livez (the floor), the
program list API, /programs, the home dashboard and the first page of every module, on the demo data."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.bench_platform import _session_cookie
from bench.harness import ROOT, SERVER_PIDS, cpu_seconds, demo_server, staff_token

WRK = "/usr/bin/wrk"
CONNECTIONS = 8
SECONDS = 5
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int = 0
    server_cpu_ms: float = 0.0  # the server's CPU per request (its process, read from /proc)


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not m:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk(url: str, *, headers: dict[str, str], seconds: int = SECONDS, server_pid: int | None = None,
        connections: int = CONNECTIONS) -> WrkResult:
    cmd = [WRK, f"-c{connections}", f"-t{min(2, connections)}", f"-d{seconds}s", "--timeout", "10s", "--latency"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    cpu_before = cpu_seconds(server_pid) if server_pid else 0.0
    out = subprocess.run([*cmd, url], check=True, capture_output=True, text=True, timeout=seconds + 60).stdout
    cpu = cpu_seconds(server_pid) - cpu_before if server_pid else 0.0
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(bad.group(1)) if bad else 0) + (sum(int(g) for g in sock.groups()) if sock else 0)
    return WrkResult(rps, p50, p99, errors, requests, cpu * 1000 / requests if requests else 0.0)


def module_pages() -> list[str]:
    """The landing page of every module (``/<operator>/<program>/``), from the manifests on disk."""
    return sorted(f"/{p.parent.parent.name}/{p.parent.name}/" for p in (ROOT / "app").glob("*/*/manifest.py")
                  if p.parent.parent.name != "core")


def measure() -> list[dict]:
    """8 clients on one server process (``make run``), then on as many as the machine has cores
    (production's ``dxhub serve --workers K``, docs/DEPLOY.md); then one client alone (a civil servant's
    own wait)."""
    if not Path(WRK).exists() and not shutil.which("wrk"):
        print(f"bench_pages: skipped, {WRK} is absent (apt-get install wrk)")
        return []
    results = []
    for workers in sorted({1, os.cpu_count() or 1}):
        results += _measure(workers, CONNECTIONS)
    return results + _measure(1, 1)


def _measure(workers: int, connections: int) -> list[dict]:
    results = []
    shape = f"{connections} conns, wrk" + (f", {workers} workers" if workers > 1 else "")
    with demo_server(workers=workers) as base:
        bearer = {"Authorization": f"Bearer {staff_token(base, 'admin')}"}
        cookie = {"Cookie": _session_cookie(base)}
        # The home dashboard twice: the platform admin's (every module's card, every municipality) and a
        # 창원시 civil servant's (the cards of the modules 창원 runs, its own figures).
        api = "/api/v1/programs?limit=50"
        targets = [(api, api, bearer), ("/programs", "/programs", cookie), ("/ (platform admin)", "/", cookie),
                   ("/ (changwon.staff)", "/", {"Cookie": _session_cookie(base, "changwon.staff")})]
        with httpx.Client(base_url=base, headers=cookie, timeout=30) as client:
            for path in module_pages():
                status = client.get(path).status_code
                if status == 200:
                    targets.append((path, path, cookie))
                else:
                    print(f"bench_pages: {path} answered {status}; not measured")
        pid = SERVER_PIDS.get(base)
        wrk(f"{base}/livez", headers={}, seconds=1)  # warm up
        floor = wrk(f"{base}/livez", headers={}, server_pid=pid, connections=connections)
        tag = "".join([f" [{workers} workers]" if workers > 1 else "",
                       f" [{connections} conn]" if connections != CONNECTIONS else ""])
        results.append({"name": f"GET /livez ({shape}) p99 {floor.p99_ms:.1f} ms", "value": floor.rps,
                        "unit": "req/s", "floor_name": f"GET /livez{tag}", "floor_value": floor.rps})
        for label, path, headers in targets:
            wrk(f"{base}{path}", headers=headers, seconds=1)  # warm caches
            r = wrk(f"{base}{path}", headers=headers, server_pid=pid, connections=connections)
            if r.errors:  # reported, not fatal: the other pages' figures still count
                print(f"bench_pages: {label} answered {r.errors} errors or timeouts under load")
            results += [
                {"name": f"GET {label} ({shape}) throughput", "value": r.rps, "unit": "req/s",
                 "floor_name": f"GET /livez{tag}", "floor_value": floor.rps},
                {"name": f"GET {label} p50 latency{tag}", "value": r.p50_ms, "unit": "ms",
                 "floor_name": f"GET /livez p50{tag}", "floor_value": floor.p50_ms},
                {"name": f"GET {label} p99 latency{tag}", "value": r.p99_ms, "unit": "ms",
                 "floor_name": f"GET /livez p99{tag}", "floor_value": floor.p99_ms},
                {"name": f"GET {label} server CPU per request{tag}", "value": r.server_cpu_ms, "unit": "ms",
                 "floor_name": f"GET /livez server CPU{tag}", "floor_value": floor.server_cpu_ms},
            ]
    return results
