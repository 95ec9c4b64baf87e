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
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select, text

from bench import harness

ROWS = int(os.environ.get("DXHUB_BENCH_CITYDATA_ROWS", "300000"))
CALLS = int(os.environ.get("DXHUB_BENCH_CITYDATA_CALLS", "200"))
HWASUN = "4679000000"
COLUMNS = ("municipality_id", "job_id", "obs_date", "hour", "zone_id", "sex", "age_band", "visitor_type",
           "origin_code", "count")


def _setup(url: str):
    from app.lguplus.citydata import demo

    db, mid, _ = harness.world(url, {"code": HWASUN, "name_ko": "화순군", "name_en": "Hwasun", "level": "basic"},
                               lambda s, m: demo.ensure_zones(s, municipality_id=m.id, county_code=HWASUN))
    return db, mid


def _write_csv(path: Path, n: int) -> None:
    from app.lguplus.citydata.demo import HWASUN_ZONES

    zones = [z[0] for z in HWASUN_ZONES]
    sexes, ages, types = ("M", "F"), ("20-29", "30-39", "40-49", "50-59", "60-69", "70+"), ("resident", "worker",
                                                                                          "visitor")
    start = date(2024, 1, 1)
    with path.open("w", encoding="utf-8") as fh:
        fh.write("date,hour,zone_code,sex,age_band,visitor_type,origin_code,count\n")
        for i in range(n):
            # 3,744 rows a day: each zone x hour x sex x age band once (the import refuses a repeated key)
            d, j = start + timedelta(days=(i // 3744) % 1000), i % 3744
            vt = types[i % 3]
            origin = "2900000000" if vt == "visitor" and i % 2 else ""
            fh.write(f"{d.isoformat()},{(j // 12) % 24},{zones[j // 288]},{sexes[j % 2]},{ages[(j // 2) % 6]},"
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


def _import_figures(results: list[dict]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "living.csv"
        _write_csv(csv_path, ROWS)

        def backend(label: str, url: str) -> list[dict]:
            db, mid = _setup(url)
            rate, tuples = _job_import(db, mid, csv_path)
            floor_name, floor = harness.bulk_floor(db, "citydata_living_population", COLUMNS, tuples)
            db.dispose()
            return [{"name": f"citydata living-population CSV import, {ROWS:,} rows ({label})", "value": rate,
                     "unit": "rows/s", "floor_name": floor_name, "floor_value": floor}]

        results += harness.each_backend(backend, "bench.db")


def _during_import(db, mid: int, tmp: Path, work):
    """Run ``work`` while a background import job of 300,000 rows is running (SQLite: it holds the write
    lock; reads go on under WAL)."""
    import threading

    from app.core.tenancy import SYSTEM
    from app.lguplus.citydata import jobs
    from app.lguplus.citydata.models import CitydataImportJob

    path = tmp / "busy.csv"
    _write_csv(path, 300_000)
    with db.unit_of_work(principal=SYSTEM) as s:
        job_id = jobs.new_job(s, municipality_id=mid, kind="living_population", filename=path.name,
                              bytes_total=path.stat().st_size).id

    def run() -> None:  # what the worker's import job does with the file: one transaction
        with db.unit_of_work(principal=SYSTEM) as s:
            jobs.run_file(s, job=s.get(CitydataImportJob, job_id), path=path)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    time.sleep(0.2)  # let the job take the write lock
    out = work()
    running_at_end = thread.is_alive()
    thread.join()
    if not running_at_end:
        print("note: the import finished before the reads did", flush=True)
    return out


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
    daily, group_by = "read of the zone's daily series p99", "its GROUP BY on the card rollup p99"
    figures = [(f"citydata festival windows p99, cold ({label})", cold, daily, floor_w),
               (f"citydata festival windows p99, warm ({label})", warm, daily, floor_w),
               ("citydata heat map p99 while a 300k-row import runs", heat_busy, "heat map p99, no import running",
                heat_idle),
               ("citydata market items p99, cold (24 months of card data)", mk_cold, group_by, floor_m),
               ("citydata market items p99, warm (24 months of card data)", mk, group_by, floor_m)]
    results += [{"name": name, "value": harness.quantile(xs, 99), "unit": "ms", "floor_name": floor_name,
                 "floor_value": harness.quantile(floor, 99)} for name, xs, floor_name, floor in figures]


def measure() -> list[dict]:
    results: list[dict] = []
    _import_figures(results)
    _latency_figures(results)
    return results


if __name__ == "__main__":
    harness.print_rows(measure())
