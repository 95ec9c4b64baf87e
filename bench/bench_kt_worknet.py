"""Benchmark of the 5G work network: 10,000 concurrent fixed-IP allocations from one pool.

Threads allocate through the service (one transaction per allocation, as a request would), and the
result is checked for duplicates. The floor is the same number of one-row transactions inserting
ready-made lease rows with the same threads: the database's own cost of committing 10,000 leases.
Runs on a fresh SQLite file, or on PostgreSQL when ``DXHUB_BENCH_PG_URL`` names a database
that may be emptied.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ALLOCATIONS = 10_000
THREADS = 4
# The whole run stays under a minute on a slow machine: allocation stops here and the figure says how many were
# made. DXHUB_BENCH_WORKNET_BUDGET_S=300 lets all 10,000 finish.
ALLOCATION_BUDGET_S = float(os.environ.get("DXHUB_BENCH_WORKNET_BUDGET_S", "40"))


def _prepare(url: str):
    from sqlalchemy import insert, text

    from app.cli import migrate
    from app.core.db import Database, utcnow
    from app.core.manifest import install
    from app.kt.worknet.models import Pool, Router
    from app.modules import load_manifests
    from app.platform.models import Municipality

    install(load_manifests())
    db = Database(url)
    if not db.is_sqlite:
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    migrate(url)
    with db.engine.begin() as conn:
        conn.execute(insert(Municipality.__table__).values(id=1, code="4831000000", name_ko="거제시", name_en="Geoje",
                                                           level="basic", created_at=utcnow()))
        for pid, name, first in ((1, "bench", 10 << 24 | 64 << 16), (2, "floor", 10 << 24 | 128 << 16)):
            conn.execute(insert(Pool.__table__).values(
                id=pid, municipality_id=1, name=name, cidr=f"10.{(first >> 16) & 255}.0.0/18", department="",
                first_ip_int=first + 2, last_ip_int=first + (1 << 14) - 2, next_ip_int=first + 2, quarantine_hours=72,
                created_at=utcnow()))
        now = utcnow()
        conn.execute(insert(Router.__table__), [
            {"id": i, "municipality_id": 1, "serial": f"GJ5G-{i:05d}", "model": "5G 에그", "imei": f"{i:015d}",
             "iccid_sealed": "-", "iccid_digest": f"{i:064d}", "iccid_masked": "-", "status": "in_stock",
             "department": "", "assignee_name": "", "note": "", "created_at": now, "updated_at": now}
            for i in range(1, 2 * ALLOCATIONS + 1)])
    return db


def _run_threads(work, items: list[int], budget_s: float | None = None) -> tuple[float, int]:
    """Run ``work`` over ``items`` in THREADS threads; returns (seconds, items done)."""
    chunks = [items[i::THREADS] for i in range(THREADS)]
    barrier = threading.Barrier(THREADS + 1)
    done = [0] * THREADS
    deadline = [0.0]

    def worker(n: int, chunk: list[int]) -> None:
        barrier.wait()
        for item in chunk:
            if budget_s is not None and time.perf_counter() > deadline[0]:
                return
            work(item)
            done[n] += 1

    threads = [threading.Thread(target=worker, args=(n, c)) for n, c in enumerate(chunks)]
    for t in threads:
        t.start()
    start = time.perf_counter()
    deadline[0] = start + (budget_s or 0)
    barrier.wait()
    for t in threads:
        t.join()
    return time.perf_counter() - start, sum(done)


def measure() -> list[dict]:
    from sqlalchemy import func, insert, select

    from app.core.db import utcnow
    from app.core.tenancy import SYSTEM, bind_principal
    from app.kt.worknet import service
    from app.kt.worknet.models import Lease

    url = os.environ.get("DXHUB_BENCH_PG_URL")
    tmp = None
    if not url:
        tmp = tempfile.TemporaryDirectory()
        url = f"sqlite:///{tmp.name}/bench-worknet.db"
    db = _prepare(url)
    try:
        def allocate(router_id: int) -> None:
            with db.unit_of_work() as s:
                bind_principal(s, SYSTEM)
                pool = service.get_pool(s, pool_id=1)
                service.allocate(s, pool=pool, router_id=router_id)

        elapsed, made = _run_threads(allocate, list(range(1, ALLOCATIONS + 1)), ALLOCATION_BUDGET_S)
        floor_base = (10 << 24 | 128 << 16) + 2

        def bare_insert(i: int) -> None:
            with db.unit_of_work() as s:
                s.execute(insert(Lease.__table__).values(
                    municipality_id=1, pool_id=2, router_id=ALLOCATIONS + i, ip=f"10.128.{i >> 8}.{i & 255}",
                    ip_int=floor_base + i, allocated_at=utcnow(), release_reason=""))

        floor_elapsed, floor_made = _run_threads(bare_insert, list(range(1, made + 1)))
        with db.session() as s:
            total, distinct = s.execute(select(func.count(), func.count(func.distinct(Lease.ip_int)))
                                        .where(Lease.pool_id == 1)).one()
    finally:
        db.dispose()
        if tmp is not None:
            tmp.cleanup()
    return [
        {"name": f"kt.worknet allocations/s ({made} concurrent from one pool, {THREADS} threads, "
                 f"{db.engine.dialect.name})",
         "value": round(made / elapsed, 1), "unit": "allocations/s",
         "floor_name": "one-row insert transactions/s, same threads",
         "floor_value": round(floor_made / floor_elapsed, 1)},
        {"name": "kt.worknet duplicate addresses after concurrent allocation", "value": total - distinct,
         "unit": "addresses", "floor_name": "leases made", "floor_value": total},
    ]


if __name__ == "__main__":
    for row in measure():
        print(f"{row['name']}: {row['value']} {row['unit']}  (floor: {row['floor_name']} = {row['floor_value']})")
