"""T deal: interaction import throughput and recommendation latency, each beside a floor from the same run.

- Import: ``service.import_events`` (what ``POST /api/v1/skt/tdeal/events`` runs: validation, tenancy
  checks, idempotency by client id) in batches of 10,000 into a migrated SQLite file, beside a bare
  ``sqlite3.executemany`` of the same rows into the same table; with ``DXHUB_BENCH_PG_URL`` set, also on
  PostgreSQL beside ``COPY`` of the same rows.
- Recommendations: ``recommend.recommend`` for random subscribers with 100k subscribers and 20k products
  (random factors: serving cost does not depend on what was learnt), beside the bare numpy scoring.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import insert, select, text

from bench import harness

IMPORT_ROWS = int(os.environ.get("DXHUB_BENCH_TDEAL_ROWS", "100000"))
BATCH = 10_000
SUBSCRIBERS, PRODUCTS, MERCHANTS = 100_000, 20_000, 5_000
CALLS = 600


def _setup(url: str):
    from app.skt.tdeal import demo

    return harness.world(url, {"code": "4700000000", "name_ko": "경상북도", "name_en": "Gyeongbuk",
                               "level": "metropolitan"},
                         lambda s, m: demo.generate(s, region_id=m.id, city_ids={m.id: 1.0}, n_merchants=250,
                                                    n_participants=200, n_subscribers=5000, events_per_user=1,
                                                    days=30, seed=1, with_coupons=False))


def _event_rows(made: dict, n: int, tag: str) -> list[dict]:
    rng = np.random.default_rng(3)
    subs = np.array(made["subscriber_ids"])[rng.integers(0, len(made["subscriber_ids"]), n)]
    prods = np.array(made["product_ids"])[rng.integers(0, len(made["product_ids"]), n)]
    kinds = np.array(["view", "click", "purchase"])[rng.integers(0, 3, n)]
    base = datetime(2026, 11, 1, tzinfo=UTC)
    return [{"client_id": f"{tag}-{i}", "subscriber_id": int(subs[i]), "product_id": int(prods[i]),
             "kind": str(kinds[i]), "amount_krw": 25000 if kinds[i] == "purchase" else 0,
             "occurred_at": (base + timedelta(seconds=i)).isoformat()} for i in range(n)]


def _import_rate(db, mid: int, rows: list[dict]) -> float:
    from app.core.tenancy import Principal
    from app.skt.tdeal import service

    principal = Principal(kind="api_key", id=1, name="bench", role="staff", municipality_id=mid,
                          municipality_ids=frozenset({mid}), scopes=frozenset({"skt.tdeal:write"}))
    return harness.import_rate(db, principal, rows, service.import_events, batch=BATCH)


def _tuples(db, mid: int, rows: list[dict]) -> list[tuple]:
    with db.session() as s:
        merchant_of = dict(s.execute(text("SELECT id, merchant_id FROM tdeal_product")).all())
    return [(mid, r["client_id"] + "-floor", r["subscriber_id"], r["product_id"], merchant_of[r["product_id"]],
             r["kind"], r["amount_krw"], None, r["occurred_at"]) for r in rows]


COLUMNS = ("municipality_id", "client_id", "subscriber_id", "product_id", "merchant_id", "kind", "amount_krw",
           "coupon_id", "occurred_at")


def _import_backend(label: str, url: str) -> list[dict]:
    db, mid, made = _setup(url)
    rows = _event_rows(made, IMPORT_ROWS, "b" if url.startswith("sqlite") else "p")
    rate = _import_rate(db, mid, rows)
    floor_name, floor = harness.bulk_floor(db, "tdeal_event", COLUMNS, _tuples(db, mid, rows), batch=BATCH)
    db.dispose()
    return [{"name": f"tdeal event import, {IMPORT_ROWS:,} rows ({label})", "value": rate, "unit": "rows/s",
             "floor_name": floor_name, "floor_value": floor}]


def _latency_figures(results: list[dict]) -> None:
    from app.core.db import utcnow
    from app.core.tenancy import Principal, bind_principal
    from app.skt.tdeal import recommend
    from app.skt.tdeal.models import TdealMerchant, TdealModel, TdealProduct, TdealSubscriber

    with tempfile.TemporaryDirectory() as tmp:
        db, mid, made = _setup(f"sqlite:///{tmp}/latency.db")
        rng = np.random.default_rng(11)
        now = utcnow()
        with db.unit_of_work() as s:
            s.execute(insert(TdealMerchant.__table__), [
                {"municipality_id": mid, "brn": f"9{i:09d}", "name": f"상점 {i}", "category": "과일",
                 "is_small": True, "created_at": now} for i in range(MERCHANTS)])
            merchants = list(s.scalars(select(TdealMerchant.id).where(TdealMerchant.brn.like("9%"))))
            s.execute(insert(TdealProduct.__table__), [
                {"municipality_id": mid, "merchant_id": merchants[i % MERCHANTS], "sku": f"B{i}", "name": f"상품 {i}",
                 "category": "과일", "price_krw": 10000, "stock": 10, "created_at": now} for i in range(PRODUCTS)])
            s.execute(insert(TdealSubscriber.__table__), [
                {"municipality_id": mid, "pseudonym": f"bench-{i:06d}", "age_band": "30-39", "sex": "MF"[i % 2],
                 "marketing_opt_in": True, "created_at": now} for i in range(SUBSCRIBERS)])
            subs = np.array(list(s.scalars(select(TdealSubscriber.id)
                                           .where(TdealSubscriber.pseudonym.like("bench-%")))))
            items = list(s.execute(select(TdealProduct.id, TdealProduct.merchant_id)
                                   .where(TdealProduct.sku.like("B%"))))
            item_ids = np.array([i for i, _m in items])
            uf = rng.normal(0, 0.3, (len(subs), 32)).astype(np.float32)
            itf = rng.normal(0, 0.3, (len(item_ids), 32)).astype(np.float32)
            blob = recommend.pack(user_ids=subs, item_ids=item_ids, user_factors=uf, item_factors=itf,
                                  item_merchant=dict(items), segments={"*": item_ids[:300].tolist()})
            s.add(TdealModel(municipality_id=mid, algorithm="random", params={}, metrics={},
                             n_subscribers=len(subs), n_products=len(item_ids), n_events=0, blob=blob))
        principal = Principal(kind="api_key", id=1, name="bench", role="staff", municipality_id=mid,
                              municipality_ids=frozenset({mid}), scopes=frozenset({"skt.tdeal:read"}))
        picks = subs[rng.integers(0, len(subs), CALLS + 20)].tolist()
        timings = []
        for n, sub in enumerate(picks):
            started = time.perf_counter()
            with db.unit_of_work(write=False) as s:
                bind_principal(s, principal)
                out = recommend.recommend(s, subscriber_id=int(sub), k=10)
            if n >= 20:  # the first calls load the model into memory
                timings.append((time.perf_counter() - started) * 1000)
            assert out["source"] == "model" and len(out["items"]) == 10
        floor = []
        for sub in picks[20:]:
            started = time.perf_counter()
            scores = itf @ uf[int(np.searchsorted(subs, sub))]
            top = np.argpartition(-scores, 80)[:80]
            top[np.argsort(-scores[top])]
            floor.append((time.perf_counter() - started) * 1000)
        db.dispose()

    label = f"{SUBSCRIBERS // 1000}k subscribers x {PRODUCTS // 1000}k products"
    results += [
        {"name": f"tdeal recommendations p50 ({label})", "value": statistics.median(timings), "unit": "ms",
         "floor_name": "numpy scoring alone p50", "floor_value": statistics.median(floor)},
        {"name": f"tdeal recommendations p99 ({label})", "value": harness.quantile(timings, 99), "unit": "ms",
         "floor_name": "numpy scoring alone p99", "floor_value": harness.quantile(floor, 99)},
    ]


def measure() -> list[dict]:
    results = harness.each_backend(_import_backend, "bench.db")
    _latency_figures(results)
    return results


if __name__ == "__main__":
    harness.print_rows(measure())
