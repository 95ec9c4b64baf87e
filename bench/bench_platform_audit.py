"""The hash chain's cost: transactions that each write audit entries, chained at commit (the head row
locked, the entries read back, numbered and hashed), beside the same inserts left unchained as the floor.
Sequential and with 4 concurrent writers; SQLite always, PostgreSQL when ``DXHUB_BENCH_PG_URL`` names a
throwaway database (its schema is dropped)."""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import insert, text

ROOT = Path(__file__).resolve().parents[1]
TRANSACTIONS = 300
ENTRIES = 3  # audit entries per transaction (a web write typically makes one to five)
WRITERS = 4


def _rows(i: int) -> list[dict]:
    from app.core.db import utcnow

    return [{"occurred_at": utcnow(), "actor": "user:bench", "action": "update", "object_type": "program",
             "object_id": str(i), "municipality_id": None, "before": {"status": "planned"},
             "after": {"status": "active"}, "source": "web", "origin": "POST /programs/1", "ip": "10.0.0.1",
             "user_agent": "bench"} for _ in range(ENTRIES)]


def _chained(db, i: int) -> None:
    from app.platform.auditchain import append
    from app.platform.models import AuditLog

    with db.unit_of_work() as s:
        append(s, AuditLog.__table__, _rows(i))


def _unchained(db, i: int) -> None:
    from app.platform.models import AuditLog

    with db.unit_of_work() as s:
        s.execute(insert(AuditLog.__table__), _rows(i))


def _per_transaction_ms(db, work, writers: int) -> float:
    per = TRANSACTIONS // writers

    def run() -> None:
        for i in range(per):
            work(db, i)

    threads = [threading.Thread(target=run) for _ in range(writers)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return (time.perf_counter() - started) * 1000 / (per * writers)


def _run(url: str, label: str) -> list[dict]:
    from app.cli import migrate
    from app.core.db import Database
    from app.platform.auditchain import verify

    migrate(url)
    db = Database(url)
    try:
        results = []
        for writers in (1, WRITERS):
            _per_transaction_ms(db, _chained, writers)  # warm up
            chained = _per_transaction_ms(db, _chained, writers)
            with db.engine.begin() as conn:  # the floor's rows would sit outside the chain: drop them after
                floor_from = conn.execute(text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar()
            floor = _per_transaction_ms(db, _unchained, writers)
            with db.engine.begin() as conn:
                conn.execute(text("DELETE FROM audit_log WHERE id > :id"), {"id": floor_from})
            results.append({"name": f"{label}: transaction of {ENTRIES} audit entries, {writers} writer(s)",
                            "value": chained, "unit": "ms", "floor_name": "same, unchained",
                            "floor_value": floor})
        with db.unit_of_work(write=False) as s:
            assert verify(s, "audit_log").ok, "the chain does not verify after the benchmark"
        return results
    finally:
        db.dispose()


def measure() -> list[dict]:
    from app.core.manifest import install
    from app.modules import load_manifests

    install(load_manifests())
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results += _run(f"sqlite:///{tmp}/bench-audit.db", "SQLite")
    pg = os.environ.get("DXHUB_BENCH_PG_URL")
    if pg:
        from bench.bench_kt_cctv import _reset_postgres

        _reset_postgres(pg)
        results += _run(pg, "PostgreSQL")
    return results


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    for row in measure():
        print(f"{row['name']:<60} {row['value']:>8.2f} {row['unit']}  floor {row['floor_name']} "
              f"{row['floor_value']:>8.2f}  ratio {row['value'] / row['floor_value']:.2f}")
