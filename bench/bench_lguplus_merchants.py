"""LG U+ small-merchant DX: outcomes import, approvals against the budget and the effect report, each beside
a floor measured in the same run.

- Outcomes import: ``service.import_outcomes`` (what ``POST /api/v1/lguplus/merchants/outcomes`` runs:
  validation of every row, merchants resolved by registration number within the tenant, duplicate months
  refused, upsert) in batches of 10,000 into a migrated SQLite file, beside a bare ``sqlite3.executemany``
  of the same rows into the same table; with ``DXHUB_BENCH_PG_URL`` set, also on PostgreSQL beside ``COPY``.
- Approvals: ``service.transition(to="approved")``, one transaction each (application and budget rows
  locked, history written), beside bare ``sqlite3`` transactions running the same three statements.
- Effect report: ``report.effect_report`` (two-way fixed-effects DiD for five measures and six solutions,
  funnel, k-suppression) on the demo-sized program (300 merchants, 24 months), beside reading its rows.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import tempfile
import time
from datetime import date

from sqlalchemy import select, text

from bench import harness

MERCHANTS = int(os.environ.get("DXHUB_BENCH_MER_MERCHANTS", "1000"))
MONTHS = 24
BATCH = 10_000
APPROVALS = 300
REPORT_CALLS = 60
TODAY = date(2026, 11, 25)


def _setup(url: str, *, n_merchants: int, months: int = 2, n_participants: int = 10):
    from app.lguplus.merchants import demo

    return harness.world(url, {"code": "2914000000", "name_ko": "서구", "name_en": "Seo-gu", "level": "basic"},
                         lambda s, m: demo.generate(s, municipality_id=m.id, n_merchants=n_merchants,
                                                    n_participants=n_participants, months=months, seed=5,
                                                    today=TODAY, n_consulting=0, budget_per_year=10_000_000_000))


def _principal(mid: int):
    from app.core.tenancy import Principal

    return Principal(kind="user", id=None, name="bench", role="staff", municipality_id=mid,
                     municipality_ids=frozenset({mid}))


def _outcome_rows(db, mid: int) -> list[dict]:
    from app.lguplus.merchants.models import MerchantStore

    with db.session() as s:
        brns = list(s.scalars(select(MerchantStore.brn).where(MerchantStore.municipality_id == mid)
                              .order_by(MerchantStore.id)))
    return [{"brn": b, "month": f"{2030 + m // 12}-{m % 12 + 1:02d}", "sales_krw": 10_000_000 + i * 1000 + m,
             "orders": 700 + m, "reservations": 30, "no_show_rate": 0.08, "staff_hours": 300.0}
            for i, b in enumerate(brns) for m in range(MONTHS)]


def _import_rate(db, mid: int, rows: list[dict]) -> float:
    from app.lguplus.merchants import service

    return harness.import_rate(db, _principal(mid), rows, service.import_outcomes, batch=BATCH)


COLUMNS = ("municipality_id", "merchant_id", "month_date", "sales_krw", "orders", "reservations", "no_show_rate",
           "staff_hours")


def _tuples(db, mid: int, rows: list[dict], year_shift: int) -> list[tuple]:
    """The rows as the driver takes them, ten years on (a month a merchant has no outcome for yet); SQLite
    is given the month as ISO text, as SQLAlchemy stores it."""
    with db.session() as s:
        ids = dict(s.execute(text("SELECT brn, id FROM lgum_merchant")).all())
    as_date = (lambda d: d.isoformat()) if db.is_sqlite else (lambda d: d)
    return [(mid, ids[r["brn"]], as_date(date(int(r["month"][:4]) + year_shift, int(r["month"][5:]), 1)),
             r["sales_krw"], r["orders"], r["reservations"], r["no_show_rate"], r["staff_hours"]) for r in rows]


def _import_backend(label: str, url: str) -> list[dict]:
    db, mid, _made = _setup(url, n_merchants=MERCHANTS)
    rows = _outcome_rows(db, mid)
    rate = _import_rate(db, mid, rows)
    floor_name, floor = harness.bulk_floor(db, "lgum_outcome", COLUMNS, _tuples(db, mid, rows, year_shift=10),
                                           batch=BATCH)
    db.dispose()
    return [{"name": f"merchants outcomes import, {MERCHANTS * MONTHS:,} rows ({label})", "value": rate,
             "unit": "rows/s", "floor_name": floor_name, "floor_value": floor}]


def _approval_figures(results: list[dict]) -> None:
    from app.core.tenancy import bind_principal
    from app.lguplus.merchants import service
    from app.lguplus.merchants.models import Application
    from app.lguplus.merchants.schemas import ApplicationIn, BudgetIn, TransitionIn

    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/approvals.db"
        db, mid, made = _setup(f"sqlite:///{path}", n_merchants=2 * APPROVALS + 50, n_participants=0)
        ids = []
        with db.unit_of_work() as s:
            bind_principal(s, _principal(mid))
            open_merchants = set(s.scalars(select(Application.merchant_id)))
            free = [m for m in made["merchant_ids"] if m not in open_merchants][:2 * APPROVALS]
            for m in free:
                a = service.create_application(s, data=ApplicationIn(merchant_id=m, solution="ai_call",
                                                                     requested_subsidy_krw=50_000, year=2027))
                service.transition(s, application_id=a.id, data=TransitionIn(to="reviewed"))
                ids.append(a.id)
            service.set_budget(s, data=BudgetIn(year=2027, amount=10_000_000_000))
        started = time.perf_counter()
        for app_id in ids[:APPROVALS]:
            with db.unit_of_work() as s:
                bind_principal(s, _principal(mid))
                service.transition(s, application_id=app_id, data=TransitionIn(to="approved"))
        rate = APPROVALS / (time.perf_counter() - started)
        db.dispose()
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        budget_id = conn.execute("SELECT id FROM lgum_budget WHERE year = 2027").fetchone()[0]
        started = time.perf_counter()
        for app_id in ids[APPROVALS:]:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("UPDATE lgum_budget SET committed_krw = committed_krw + 50000 WHERE id = ?", (budget_id,))
            conn.execute("UPDATE lgum_application SET state = 'approved', committed_krw = 50000 WHERE id = ?",
                         (app_id,))
            conn.execute("INSERT INTO lgum_application_step (municipality_id, application_id, from_state, to_state, "
                         "actor, at) VALUES (?, ?, 'reviewed', 'approved', 'bench', '2026-11-25 00:00:00')",
                         (mid, app_id))
            conn.execute("COMMIT")
        floor = APPROVALS / (time.perf_counter() - started)
        conn.close()
    results.append({"name": f"merchants approvals, {APPROVALS} one transaction each (SQLite)", "value": rate,
                    "unit": "ops/s", "floor_name": "sqlite3, same 3 statements", "floor_value": floor})


def _report_figures(results: list[dict]) -> None:
    from app.core.tenancy import bind_principal
    from app.lguplus.merchants import report

    with tempfile.TemporaryDirectory() as tmp:
        db, mid, _made = _setup(f"sqlite:///{tmp}/report.db", n_merchants=300, months=24, n_participants=95)
        timings, floor = [], []
        for n in range(REPORT_CALLS + 3):
            started = time.perf_counter()
            with db.unit_of_work(write=False) as s:
                bind_principal(s, _principal(mid))
                rep = report.effect_report(s, k=5)
            if n >= 3:  # the first calls import statsmodels
                timings.append((time.perf_counter() - started) * 1000)
            assert rep["overall"]["sales_krw"]["ci_low"] > 0
            started = time.perf_counter()
            with db.unit_of_work(write=False) as s:
                bind_principal(s, _principal(mid))
                report.load_panel(s)
            floor.append((time.perf_counter() - started) * 1000)
        db.dispose()

    results += [
        {"name": "merchants effect report p50 (300 merchants x 24 months)", "value": statistics.median(timings),
         "unit": "ms", "floor_name": "reading its rows alone p50", "floor_value": statistics.median(floor[3:])},
        {"name": "merchants effect report p99 (300 merchants x 24 months)", "value": harness.quantile(timings, 99),
         "unit": "ms", "floor_name": "reading its rows alone p99", "floor_value": harness.quantile(floor[3:], 99)},
    ]


def measure() -> list[dict]:
    results = harness.each_backend(_import_backend, "bench.db")
    _approval_figures(results)
    _report_figures(results)
    return results


if __name__ == "__main__":
    harness.print_rows(measure())
