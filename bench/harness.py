"""Shared pieces of the benchmarks: a throwaway server on loopback and a bounded load generator; a
migrated database with one municipality (SQLite, then PostgreSQL when configured); a batched import's rate
and the bare driver's floor for the same rows; quantiles of timings; the rows printed beside their floors."""

from __future__ import annotations

import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Load:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


# Base URL -> the process serving it (one worker: uvicorn serves in the process it starts in).
SERVER_PIDS: dict[str, int] = {}


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process and its live children (a server's worker processes) have used so far
    (Linux ``/proc``): what a page costs the server, whatever else shares the machine."""
    parents: dict[int, tuple[int, int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        parents[int(stat.parent.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    family, grown = {pid}, True
    while grown:
        before = len(family)
        family |= {child for child, (parent, _ticks) in parents.items() if parent in family}
        grown = len(family) > before
    total = sum(ticks for p, (_parent, ticks) in parents.items() if p in family)
    return total / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def demo_server(workers: int = 1) -> Iterator[str]:
    """Migrate a fresh SQLite database, load the demo data and serve it with uvicorn on loopback."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, DXHUB_DATABASE_URL=f"sqlite:///{tmp}/bench.db", DXHUB_ENV="development")
        dxhub = [sys.executable, "-m", "app.cli"]
        subprocess.run([*dxhub, "migrate"], env=env, cwd=ROOT, check=True, capture_output=True)
        subprocess.run([*dxhub, "demo"], env=env, cwd=ROOT, check=True, capture_output=True)
        with server(env, workers=workers) as base:
            yield base


@contextmanager
def server(env: dict[str, str], workers: int = 1, start_timeout_s: float = 120) -> Iterator[str]:
    """``dxhub serve`` on a free loopback port with ``env`` (its database already migrated); its base URL.
    A busy machine imports slowly, hence the generous start-up time."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", str(workers)],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            try:
                if httpx.get(f"{base}/livez", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("benchmark server did not start")
            time.sleep(0.1)
        SERVER_PIDS[base] = proc.pid
        yield base
    finally:
        SERVER_PIDS.pop(base, None)
        proc.terminate()
        proc.wait(timeout=10)


def staff_token(base: str, username: str = "changwon.staff", password: str = "dxhub-demo-2026") -> str:
    r = httpx.post(f"{base}/api/v1/auth/token", data={"username": username, "password": password}, timeout=10)
    r.raise_for_status()
    return r.json()["access_token"]


def load(url: str, *, headers: dict[str, str] | None = None, clients: int = 8, seconds: float = 3.0,
         max_requests: int = 20_000) -> Load:
    """GET ``url`` from ``clients`` concurrent clients for about ``seconds``; bounded in count and time."""
    deadline = time.monotonic() + seconds
    per_client = max_requests // clients

    def worker() -> tuple[list[float], int]:
        latencies, errors = [], 0
        with httpx.Client(headers=headers, timeout=10) as client:
            for _ in range(per_client):
                if time.monotonic() > deadline:
                    break
                start = time.perf_counter()
                status = client.get(url).status_code
                latencies.append((time.perf_counter() - start) * 1000)
                errors += status >= 400
        return latencies, errors

    started = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(lambda _: worker(), range(clients)))
    elapsed = time.monotonic() - started
    latencies = sorted(v for lat, _ in results for v in lat)
    errors = sum(e for _, e in results)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0
    return Load(len(latencies), elapsed, statistics.median(latencies) if latencies else 0.0, p99, errors)


def each_backend(measure_backend, db_name: str) -> list[dict]:
    """``measure_backend(label, url)`` on a throwaway SQLite file, then on DXHUB_BENCH_PG_URL when set."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results += measure_backend("SQLite", f"sqlite:///{tmp}/{db_name}")
    pg = os.environ.get("DXHUB_BENCH_PG_URL")
    if pg:
        results += measure_backend("PostgreSQL", pg)
    return results


def print_rows(rows: list[dict]) -> None:
    """Each figure beside its floor, with their ratio (a module's bench run alone)."""
    for row in rows:
        ratio = row["value"] / row["floor_value"] if row["floor_value"] else float("nan")
        print(f"{row['name']:<58} {row['value']:>10.1f} {row['unit']:<6} {row['floor_name']:<34} "
              f"{row['floor_value']:>10.1f} ratio {ratio:.2f}")


def world(url: str, municipality: dict[str, str], populate: Callable[[Any, Any], Any] | None = None, *,
          modules: Sequence[str] = ()):
    """A migrated database at ``url`` (PostgreSQL's public schema emptied first: an earlier bench's tables),
    every module installed, with one ``municipality`` (Municipality's fields) running ``modules`` (switched
    on: its staff reach their pages and API); ``populate(session, municipality)`` adds the bench's own data
    in the same unit of work, as SYSTEM. Answers the Database, the municipality's id and what ``populate``
    answered."""
    from sqlalchemy import text

    from app.cli import migrate
    from app.core.db import Database
    from app.core.manifest import install
    from app.core.tenancy import SYSTEM
    from app.modules import load_manifests
    from app.platform.models import Municipality, MunicipalityModule

    install(load_manifests())
    if url.startswith("postgresql"):
        db = Database(url)
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        db.dispose()
    migrate(url)
    db = Database(url)
    with db.unit_of_work(principal=SYSTEM) as s:
        m = Municipality(**municipality)
        s.add(m)
        s.flush()
        s.add_all(MunicipalityModule(municipality_id=m.id, module_key=key, enabled=True, switched_by="system:bench")
                  for key in modules)
        made = populate(s, m) if populate else None
    return db, m.id, made


def import_rate(db, principal, rows: list, write: Callable[..., dict], *, batch: int) -> float:
    """Rows per second of ``write(session, rows=...)`` over ``rows`` in batches of ``batch``, one unit of
    work each as ``principal``; every batch must create all its rows."""
    started = time.perf_counter()
    for i in range(0, len(rows), batch):
        with db.unit_of_work(principal=principal) as s:
            result = write(s, rows=rows[i:i + batch])
            assert result["created"] == len(rows[i:i + batch])
    return len(rows) / (time.perf_counter() - started)


def bulk_floor(db, table: str, columns: Sequence[str], tuples: list[tuple], *, batch: int | None = None,
               empty_first: bool = False) -> tuple[str, float]:
    """The floor of an import: the same rows into the same table (same indexes and constraints) by the bare
    driver, ``batch`` rows a transaction (all in one by default), the table emptied first if asked:
    ``sqlite3.executemany`` on SQLite, ``COPY`` on PostgreSQL. Answers the floor's name and its rows/s."""
    from sqlalchemy import text

    names = ", ".join(columns)
    step = batch or max(len(tuples), 1)
    chunks = [tuples[i:i + step] for i in range(0, len(tuples), step)]
    if db.is_sqlite:
        conn = sqlite3.connect(db.engine.url.database, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        if empty_first:
            conn.execute(f"DELETE FROM {table}")
        sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"
        started = time.perf_counter()
        for chunk in chunks:
            conn.execute("BEGIN")
            conn.executemany(sql, chunk)
            conn.execute("COMMIT")
        rate = len(tuples) / (time.perf_counter() - started)
        conn.close()
        return "sqlite3.executemany, same rows", rate
    if empty_first:
        with db.engine.begin() as conn:
            conn.execute(text(f"DELETE FROM {table}"))
    started = time.perf_counter()
    with db.engine.connect() as conn:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            for chunk in chunks:
                with cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in chunk:
                        copy.write_row(row)
                raw.commit()
    return "PostgreSQL COPY, same rows", len(tuples) / (time.perf_counter() - started)


def quantile(xs: list[float], p: int) -> float:
    """The ``p``-th percentile of timings (the one timing, when there is one)."""
    return statistics.quantiles(xs, n=100)[p - 1] if len(xs) > 1 else xs[0]
