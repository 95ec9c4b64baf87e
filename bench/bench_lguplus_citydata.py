"""City-data consulting: living-population CSV import throughput, and festival-window and market-item
latency over three years of hourly data for 13 zones; each beside a floor from the same run.

- Import: what a background import job runs on a CSV file (encoding detection, parsing, row-by-row
  checks, bulk insert, rollups in the same transaction) on a migrated SQLite file, beside a bare
  ``sqlite3.executemany`` of the same rows (already converted) into the same table; with
  ``DXHUB_BENCH_PG_URL`` set, also on PostgreSQL beside ``COPY`` of the same rows.
- Latency: ``GET /festival-windows`` and ``GET /market-items`` logic on the full 화순군 demo (13 zones,
  1,096 days hourly, 24 months of card spending): cold (the zone's model refitted each call) and warm
  (cached model), p99; beside the bare read of the rollup rows each one needs.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select, text

ROWS = int(os.environ.get("DXHUB_BENCH_CITYDATA_ROWS", "300000"))
CALLS = int(os.environ.get("DXHUB_BENCH_CITYDATA_CALLS", "200"))
HWASUN = "4679000000"
COLUMNS = ("municipality_id", "job_id", "obs_date", "hour", "zone_id", "sex", "age_band", "visitor_type",
           "origin_code", "count")


def _setup(url: str):
    from app.cli import migrate
    from app.core.db import Database
    from app.core.manifest import install
    from app.core.tenancy import SYSTEM, bind_principal
    from app.lguplus.citydata import demo
    from app.modules import load_manifests
    from app.platform.models import Municipality

    install(load_manifests())
    migrate(url)
    db = Database(url)
    with db.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        m = Municipality(code=HWASUN, name_ko="화순군", name_en="Hwasun", level="basic")
        s.add(m)
        s.flush()
        demo.ensure_zones(s, municipality_id=m.id, county_code=HWASUN)
    return db, m.id


def _write_csv(path: Path, n: int) -> None:
    from app.lguplus.citydata.demo import HWASUN_ZONES

    zones = [z[0] for z in HWASUN_ZONES]
    sexes, ages, types = ("M", "F"), ("20-29", "30-39", "40-49", "50-59", "60-69", "70+"), ("resident", "worker",
                                                                                          "visitor")
    start = date(2024, 1, 1)
    with path.open("w", encoding="utf-8") as fh:
        fh.write("date,hour,zone_code,sex,age_band,visitor_type,origin_code,count\n")
        for i in range(n):
            d = start + timedelta(days=(i // 3744) % 1000)
            vt = types[i % 3]
            origin = "2900000000" if vt == "visitor" and i % 2 else ""
            fh.write(f"{d.isoformat()},{(i // 3) % 24},{zones[(i // 72) % 13]},{sexes[i % 2]},{ages[(i // 2) % 6]},"
                     f"{vt},{origin},{(i % 97) * 1.25:.2f}\n")


def _job_import(db, mid: int, path: Path) -> tuple[float, list[tuple]]:
    from app.core.tenancy import SYSTEM, bind_principal
    from app.lguplus.citydata import importers, jobs

    started = time.perf_counter()
    with db.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        job = jobs.new_job(s, municipality_id=mid, kind="living_population", filename=path.name,
                           bytes_total=path.stat().st_size)
        encoding = importers.detect_encoding(path)
        conv = importers.make_converter(s, kind="living_population", municipality_id=mid, municipality_code=HWASUN,
                                        job_id=job.id)
        rows = importers.store_file(s, conv, path, encoding=encoding)
        job.status, job.rows_done = "done", rows
    elapsed = time.perf_counter() - started
    with db.unit_of_work(write=False) as s:
        tuples = [tuple(r) for r in s.execute(text(f"SELECT {', '.join(COLUMNS)} FROM citydata_living_population"))]
    return rows / elapsed, [(m, None, str(d), h, z, sx, a, v, o, c) for m, _j, d, h, z, sx, a, v, o, c in tuples]


def _sqlite_floor(path: str, tuples: list[tuple]) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    marks = ", ".join("?" for _ in COLUMNS)
    started = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO citydata_living_population ({', '.join(COLUMNS)}) VALUES ({marks})", tuples)
    conn.execute("COMMIT")
    rate = len(tuples) / (time.perf_counter() - started)
    conn.close()
    return rate


def _pg_floor(db, tuples: list[tuple]) -> float:
    started = time.perf_counter()
    with db.engine.connect() as conn:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY citydata_living_population ({', '.join(COLUMNS)}) FROM STDIN") as cp:
            for row in tuples:
                cp.write_row(row)
        raw.commit()
    return len(tuples) / (time.perf_counter() - started)


def _import_figures(results: list[dict]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "living.csv"
        _write_csv(csv_path, ROWS)
        db_path = f"{tmp}/bench.db"
        db, mid = _setup(f"sqlite:///{db_path}")
        rate, tuples = _job_import(db, mid, csv_path)
        db.dispose()
        floor = _sqlite_floor(db_path, tuples)
        results.append({"name": f"citydata living-population CSV import, {ROWS:,} rows (SQLite)", "value": rate,
                        "unit": "rows/s", "floor_name": "sqlite3.executemany, same rows", "floor_value": floor})
        pg = os.environ.get("DXHUB_BENCH_PG_URL")
        if pg:
            from sqlalchemy import create_engine

            engine = create_engine(pg.replace("postgresql://", "postgresql+psycopg://", 1))
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            engine.dispose()
            db, mid = _setup(pg)
            rate, tuples = _job_import(db, mid, csv_path)
            floor = _pg_floor(db, tuples)
            db.dispose()
            results.append({"name": f"citydata living-population CSV import, {ROWS:,} rows (PostgreSQL)",
                            "value": rate, "unit": "rows/s", "floor_name": "PostgreSQL COPY, same rows",
                            "floor_value": floor})


def _during_import(db, mid: int, tmp: Path, work):
    """Run ``work`` while a background import job of 300,000 rows is running (SQLite: it holds the write
    lock; reads go on under WAL)."""
    import threading

    from app.core.tenancy import SYSTEM, bind_principal
    from app.lguplus.citydata import jobs

    path = tmp / "busy.csv"
    _write_csv(path, 300_000)
    with db.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        job_id = jobs.new_job(s, municipality_id=mid, kind="living_population", filename=path.name,
                              bytes_total=path.stat().st_size).id
    thread: threading.Thread = jobs.start(db, job_id=job_id, path=path)
    time.sleep(0.2)  # let the job take the write lock
    out = work()
    running_at_end = thread.is_alive()
    thread.join()
    if not running_at_end:
        print("note: the import finished before the reads did", flush=True)
    return out


def _p99(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=100)[98]


def _latency_figures(results: list[dict]) -> None:
    from app.core.tenancy import Principal, bind_principal
    from app.lguplus.citydata import analysis, demo, service
    from app.lguplus.citydata.models import CitydataCardMonthly, CitydataPopDaily

    with tempfile.TemporaryDirectory() as tmp:
        db, mid = _setup(f"sqlite:///{tmp}/latency.db")
        from app.core.tenancy import SYSTEM

        with db.unit_of_work() as s:
            bind_principal(s, SYSTEM)
            demo.generate(s, municipality_id=mid, county_code=HWASUN, raw_days=demo.RAW_DAYS)
        principal = Principal(kind="api_key", id=1, name="bench", role="staff", municipality_id=mid,
                              municipality_ids=frozenset({mid}), scopes=frozenset({"lguplus.citydata:read"}))
        codes = [z[0] for z in demo.HWASUN_ZONES]

        def timed(fn, *, cold: bool) -> list[float]:
            out = []
            for n in range(CALLS):
                if cold:
                    analysis._cache.clear()
                    analysis._market_cache.clear()
                started = time.perf_counter()
                with db.unit_of_work(write=False) as s:
                    bind_principal(s, principal)
                    fn(s, n)
                out.append((time.perf_counter() - started) * 1000)
            return out

        def windows(s, n):
            zone = service.get_zone(s, code=codes[n % len(codes)])
            out = analysis.festival_windows(s, zone=zone, days=3, year=2027, k=5)
            assert out["windows"]

        def market(s, n):
            assert analysis.market_items(s, municipality_id=mid, k=5, months=12)["items"]

        def daily_read(s, n):
            zone = service.get_zone(s, code=codes[n % len(codes)])
            rows = s.execute(select(CitydataPopDaily.obs_date, CitydataPopDaily.count).where(
                CitydataPopDaily.zone_id == zone.id, CitydataPopDaily.visitor_type == "visitor")).all()
            assert rows

        def card_read(s, n):
            c = CitydataCardMonthly
            rows = s.execute(select(c.zone_id, c.category_large, c.category_middle, c.origin_class,
                                    func.sum(c.amount_krw), func.sum(c.count))
                             .where(c.municipality_id == mid, c.month >= "2025-11", c.month <= "2026-10")
                             .group_by(c.zone_id, c.category_large, c.category_middle, c.origin_class)).all()
            assert rows

        def heat(s, n):
            zone = service.get_zone(s, code=codes[n % len(codes)])
            assert analysis.heatmap(s, zone=zone, visitor_type="visitor", k=5)["days"]

        timed(windows, cold=False)  # warm the caches of both engines and the model cache
        cold = timed(windows, cold=True)
        warm = timed(windows, cold=False)
        floor_w = timed(daily_read, cold=False)
        mk_cold = timed(market, cold=True)
        mk = timed(market, cold=False)
        floor_m = timed(card_read, cold=False)
        heat_idle = timed(heat, cold=False)
        heat_busy = _during_import(db, mid, Path(tmp), lambda: timed(heat, cold=False))
        db.dispose()
    label = "3 years hourly x 13 zones"
    results += [
        {"name": f"citydata festival windows p99, cold ({label})", "value": _p99(cold), "unit": "ms",
         "floor_name": "read of the zone's daily series p99", "floor_value": _p99(floor_w)},
        {"name": f"citydata festival windows p99, warm ({label})", "value": _p99(warm), "unit": "ms",
         "floor_name": "read of the zone's daily series p99", "floor_value": _p99(floor_w)},
        {"name": "citydata heat map p99 while a 300k-row import runs", "value": _p99(heat_busy), "unit": "ms",
         "floor_name": "heat map p99, no import running", "floor_value": _p99(heat_idle)},
        {"name": "citydata market items p99, cold (24 months of card data)", "value": _p99(mk_cold), "unit": "ms",
         "floor_name": "its GROUP BY on the card rollup p99", "floor_value": _p99(floor_m)},
        {"name": "citydata market items p99, warm (24 months of card data)", "value": _p99(mk), "unit": "ms",
         "floor_name": "its GROUP BY on the card rollup p99", "floor_value": _p99(floor_m)},
    ]


def measure() -> list[dict]:
    results: list[dict] = []
    _import_figures(results)
    _latency_figures(results)
    return results


if __name__ == "__main__":
    for row in measure():
        print(row)
