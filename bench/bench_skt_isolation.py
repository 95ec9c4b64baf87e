"""Isolation analytics: indicator import throughput and page latency, each beside a floor from the same run.

- Import: ``service.import_cells`` (what ``POST /api/v1/skt/isolation/indicators`` runs: validation of every
  row, dong lookup through the tenant scope, upsert, rebuild of both rollups) in batches of 100,000 cells
  into a migrated SQLite file: 300 dongs x 72 bands x 60 months (about 1.3M cells, 5 years). Beside it, a
  bare ``sqlite3.executemany`` of the same rows into the same (emptied) table. With ``DXHUB_BENCH_PG_URL``
  set, the same on PostgreSQL (``DXHUB_BENCH_ISO_PG_MONTHS`` months, default 6) beside ``COPY``.
- Pages: p50/p99 of the analysis pages and the ranking API through the whole app in process (auth, tenant
  scope, rollup queries, suppression, template) at that size, beside the bare SQL of the ranking's rollup
  query on the same file (``sqlite3``).
"""

from __future__ import annotations

import os
import re
import sqlite3
import statistics
import time

import numpy as np
from sqlalchemy import text

from bench import harness

DONGS = int(os.environ.get("DXHUB_BENCH_ISO_DONGS", "300"))
MONTHS = int(os.environ.get("DXHUB_BENCH_ISO_MONTHS", "60"))
PG_MONTHS = int(os.environ.get("DXHUB_BENCH_ISO_PG_MONTHS", "6"))
BATCH = 100_000
CALLS = 50
PASSWORD = "bench-password-2026"
PAGES = ["/skt/isolation/", "/skt/isolation/gradient", "/skt/isolation/ranking", "/skt/isolation/criteria",
         "/skt/isolation/targets"]
COLUMNS = ("municipality_id", "period", "dong_id", "age_band", "sex", "income_band", "population",
           "low_communication", "low_outing", "isolated", "smartphone_data_mb", "app_minutes", "messenger_minutes",
           "sns_minutes", "calls", "call_partners", "outings", "travel_km", "home_hours", "imported_at")


def _setup(url: str):
    from app.core import security
    from app.platform.models import User
    from app.skt.isolation import service

    def populate(s, m) -> None:
        s.add(User(username="bench.staff", display_name="bench", role="staff", municipality_id=m.id,
                   password_hash=security.hash_password(PASSWORD)))
        service.import_dongs(s, rows=[{"code": f"48{i:06d}00", "name": f"벤치{i}동", "district": f"{i % 5}구",
                                       "municipality_code": "4812000000"} for i in range(DONGS)])

    db, mid, _ = harness.world(url, {"code": "4812000000", "name_ko": "창원시", "name_en": "Changwon",
                                     "level": "basic"}, populate, modules=["skt.isolation"])
    return db, mid


def _rows(months: int) -> list[dict]:
    """Cells of every dong x band for ``months`` months, vectorised (the generator is not what is measured)."""
    from app.skt.isolation.models import AGE_BANDS, INCOME_BANDS, MEANS, SEXES

    rng = np.random.default_rng(7)
    bands = [(a, s, i) for a in AGE_BANDS for s in SEXES for i in INCOME_BANDS]
    periods = [f"{2021 + m // 12}-{m % 12 + 1:02d}" for m in range(months)]
    n = DONGS * len(bands) * months
    pop = rng.integers(0, 600, n)
    lc = rng.binomial(pop, 0.2)
    lo = rng.binomial(pop, 0.15)
    iso = np.minimum(rng.binomial(lc, 0.4), lo)
    means = rng.gamma(2.0, 50.0, (n, len(MEANS))).round(2)
    rows, j = [], 0
    for period in periods:
        for d in range(DONGS):
            code = f"48{d:06d}00"
            for a, s, i in bands:
                row = {"period": period, "dong_code": code, "age_band": a, "sex": s, "income_band": i,
                       "population": int(pop[j]), "low_communication": int(lc[j]), "low_outing": int(lo[j]),
                       "isolated": int(iso[j])}
                row.update(zip(MEANS, means[j].tolist(), strict=True))
                rows.append(row)
                j += 1
    return rows


def _import_rate(db, mid: int, rows: list[dict]) -> float:
    from app.core.tenancy import Principal
    from app.skt.isolation import service

    principal = Principal(kind="api_key", id=1, name="bench", role="staff", municipality_id=mid,
                          municipality_ids=frozenset({mid}), scopes=frozenset({"skt.isolation:write"}))
    return harness.import_rate(db, principal, rows, service.import_cells, batch=BATCH)


def _tuples(db, mid: int, rows: list[dict]) -> list[tuple]:
    from app.core.db import utcnow

    with db.session() as s:
        dong_id = dict(s.execute(text("SELECT code, id FROM iso_dong")).all())
    now = utcnow().isoformat()
    return [(mid, r["period"], dong_id[r["dong_code"]], r["age_band"], r["sex"], r["income_band"], r["population"],
             r["low_communication"], r["low_outing"], r["isolated"], r["smartphone_data_mb"], r["app_minutes"],
             r["messenger_minutes"], r["sns_minutes"], r["calls"], r["call_partners"], r["outings"], r["travel_km"],
             r["home_hours"], now) for r in rows]


def _page_figures(db, n_cells: int) -> list[dict]:
    from fastapi.testclient import TestClient

    from app.core.config import Settings
    from app.main import create_app

    settings = Settings(env="test", database_url=db.url, secret_key="bench-secret-key-0123456789")
    app = create_app(settings, db)
    latest = f"{2021 + (MONTHS - 1) // 12}-{(MONTHS - 1) % 12 + 1:02d}"
    with TestClient(app) as client:
        login = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
        r = client.post("/login", data={"username": "bench.staff", "password": PASSWORD, "csrf_token": token,
                                        "next": "/"}, follow_redirects=False)
        assert r.status_code == 303, r.text
        api = client.post("/api/v1/auth/token", data={"username": "bench.staff", "password": PASSWORD}).json()
        bearer = {"Authorization": f"Bearer {api['access_token']}"}
        timings: dict[str, list[float]] = {}
        targets = [(p, {}) for p in PAGES] + [(f"/api/v1/skt/isolation/ranking?period={latest}&min_age=65", bearer)]
        for url, headers in targets:
            for n in range(CALLS + 5):
                started = time.perf_counter()
                r = client.get(url, headers=headers)
                if n >= 5:
                    timings.setdefault(url, []).append((time.perf_counter() - started) * 1000)
                assert r.status_code == 200, (url, r.status_code)
    floor, results = [], []
    conn = sqlite3.connect(db.engine.url.database)
    sql = ("SELECT r.dong_id, r.age_band, r.population, r.isolated FROM iso_dong_rollup r JOIN iso_dong d "
           "ON d.id = r.dong_id WHERE r.municipality_id IN (?) AND r.period IN (?, ?)")
    prev = f"{2021 + (MONTHS - 2) // 12}-{(MONTHS - 2) % 12 + 1:02d}"
    for _ in range(CALLS):
        started = time.perf_counter()
        conn.execute(sql, (1, latest, prev)).fetchall()
        floor.append((time.perf_counter() - started) * 1000)
    conn.close()
    size = f"{DONGS} dongs x {MONTHS} months ({n_cells / 1e6:.2f}M cells)"
    for url, xs in timings.items():
        label = url.split("?")[0].removeprefix("/skt/isolation").removeprefix("/api/v1/skt/isolation") or "/"
        kind = "API" if url.startswith("/api") else "page"
        results.append({"name": f"isolation {kind} {label} p99, {size}", "value": harness.quantile(xs, 99),
                        "unit": "ms", "floor_name": "bare SQL of the ranking rollup, p99",
                        "floor_value": harness.quantile(floor, 99)})
    all_pages = [x for url, xs in timings.items() if not url.startswith("/api") for x in xs]
    results.append({"name": f"isolation pages p50 (all five), {size}", "value": statistics.median(all_pages),
                    "unit": "ms", "floor_name": "bare SQL of the ranking rollup, p50",
                    "floor_value": statistics.median(floor)})
    return results


def _measure_backend(label: str, url: str) -> list[dict]:
    """The import on the backend (60 months on SQLite, ``PG_MONTHS`` on PostgreSQL) beside the driver's
    floor into the emptied table; on SQLite also the pages at that size."""
    sqlite = url.startswith("sqlite")
    db, mid = _setup(url)
    rows = _rows(MONTHS if sqlite else PG_MONTHS)
    rate = _import_rate(db, mid, rows)
    pages = _page_figures(db, len(rows)) if sqlite else []
    floor_name, floor = harness.bulk_floor(db, "iso_cell", COLUMNS, _tuples(db, mid, rows), batch=BATCH,
                                           empty_first=True)
    db.dispose()
    return [{"name": f"isolation cell import + rollups, {len(rows):,} rows ({label})", "value": rate,
             "unit": "rows/s", "floor_name": floor_name, "floor_value": floor}, *pages]


def measure() -> list[dict]:
    return harness.each_backend(_measure_backend, "bench.db")


if __name__ == "__main__":
    harness.print_rows(measure())
