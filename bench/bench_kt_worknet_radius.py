"""Accounting ingestion of the 5G work network: the same kind of records through the REST API (a real server on
loopback, batches of 1,000) and from a FreeRADIUS detail file (``import-radius-detail``'s function: parse,
map, judge, store), each beside the floor: a bare executemany of as many ready rows into
``worknet_access_event``. Routers hold SIMs and leases, so every record is matched to its router, lease and
policy. On a fresh SQLite file, or on PostgreSQL when ``DXHUB_BENCH_PG_URL`` names a database that may be
emptied.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROUTERS = 400
RECORDS = int(os.environ.get("DXHUB_BENCH_WORKNET_RECORDS", "20000"))
BATCH = 1000
STATUSES = ("Start", "Interim-Update", "Stop")
KINDS = {"Start": "start", "Interim-Update": "interim", "Stop": "stop"}


def _prepare(url: str) -> tuple[object, str]:
    """A migrated database with one municipality, its routers (SIM, assignee, lease) and an API key."""
    from sqlalchemy import insert, text

    from app.cli import migrate
    from app.core.db import Database, utcnow
    from app.core.manifest import install
    from app.core.tenancy import SYSTEM, bind_principal
    from app.kt.worknet import service
    from app.kt.worknet.demo import sim_numbers
    from app.kt.worknet.schemas import AssignIn, PoolIn
    from app.kt.worknet.sealing import luhn_complete
    from app.modules import load_manifests
    from app.platform import accounts
    from app.platform.models import Municipality
    from app.platform.schemas import ApiKeyIn

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
    with db.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        routers = service.import_routers(s, municipality_code="4831000000", rows=[
            {"serial": f"GJ5G-{i:04d}", "model": "5G 에그", "imei": luhn_complete(f"35{i:012d}"),
             "iccid": luhn_complete(f"898230{i:013d}"), **sim_numbers("4831000000", i)} for i in range(1, ROUTERS + 1)])
        pool = service.create_pool(s, data=PoolIn(name="bench", cidr="10.231.0.0/22", municipality_code="4831000000"))
        for i, router in enumerate(routers):
            service.assign_router(s, router=router, data=AssignIn(assignee_username=f"gj{2001 + i}",
                                                                 assignee_name="벤치", department="건설과"))
            service.allocate(s, pool=pool, router_id=router.id)
        _key, secret = accounts.create_api_key(s, data=ApiKeyIn(name="bench", municipality_code="4831000000",
                                                                scopes=["kt.worknet:write", "kt.worknet:read"]))
    return db, secret


def _records(tag: str, start: datetime) -> list[dict]:
    """RECORDS accounting records: sessions of every router (start, interim, stop), one address in 50 wrong."""
    out = []
    for n in range(RECORDS):
        router = n % ROUTERS + 1
        session, status = divmod(n // ROUTERS, 3)
        ip_host = router + 1 if n % 50 else 999
        out.append({"imsi": f"450084831{router:06d}", "status": STATUSES[status],
                    "session": f"{tag}{router:04d}{session:05d}", "ip": f"10.231.{ip_host >> 8}.{ip_host & 255}",
                    "at": start + timedelta(seconds=n)})
    return out


def _detail_text(records: list[dict]) -> str:
    lines = []
    for r in records:
        at = r["at"].astimezone(UTC)
        lines.append(f"{at:%a %b %e %H:%M:%S %Y}\n\tUser-Name = \"{r['imsi']}\"\n\tAcct-Status-Type = {r['status']}\n"
                     f"\tAcct-Session-Id = \"{r['session']}\"\n\tFramed-IP-Address = {r['ip']}\n"
                     f"\tEvent-Timestamp = \"{at:%b %e %Y %H:%M:%S} UTC\"\n\tTimestamp = {int(at.timestamp())}\n")
    return "\n".join(lines) + "\n"


def measure() -> list[dict]:
    from sqlalchemy import func, select

    from app.core.bulk import insert_rows
    from app.core.tenancy import SYSTEM, bind_principal
    from app.kt.worknet import radius
    from app.kt.worknet.models import AccessEvent
    from app.platform.models import Municipality
    from bench.harness import server

    url = os.environ.get("DXHUB_BENCH_PG_URL")
    tmp = tempfile.TemporaryDirectory()
    url = url or f"sqlite:///{tmp.name}/bench-worknet-radius.db"
    db, secret = _prepare(url)
    # Weekday working hours in Seoul, in the past: nothing is refused as future, few off-hours alerts.
    base = datetime(2026, 11, 2, 0, tzinfo=UTC)
    try:
        rest = _records("R", base)
        env = dict(os.environ, DXHUB_DATABASE_URL=url, DXHUB_ENV="development", DXHUB_DATA_DIR=tmp.name)
        with server(env, start_timeout_s=120) as root, httpx.Client(base_url=root, timeout=120) as client:
            headers = {"Authorization": f"Bearer {secret}"}
            bodies = [[{"client_id": f"{r['session']}:{KINDS[r['status']][0]}:{int(r['at'].timestamp())}",
                        "occurred_at": r["at"].isoformat(), "imsi": r["imsi"], "ip": r["ip"], "result": "success",
                        "kind": KINDS[r["status"]], "session_id": r["session"]} for r in rest[i:i + BATCH]]
                      for i in range(0, len(rest), BATCH)]
            started = time.perf_counter()
            for body in bodies:
                response = client.post("/api/v1/kt/worknet/access-events", json=body, headers=headers)
                response.raise_for_status()
                assert response.json()["accepted"] == len(body), response.text
            rest_s = time.perf_counter() - started

        text = _detail_text(_records("D", base + timedelta(days=1)))
        started = time.perf_counter()
        with db.unit_of_work() as s:
            bind_principal(s, SYSTEM)
            municipality = s.get(Municipality, 1)
            result = radius.import_detail(s, municipality=municipality, text=text)
        detail_s = time.perf_counter() - started
        assert result["accepted"] == RECORDS, result

        rows = [{"municipality_id": 1, "client_id": f"floor-{n}", "occurred_at": base + timedelta(days=2, seconds=n),
                 "username": f"gj{2001 + n % ROUTERS}", "router_serial": f"GJ5G-{n % ROUTERS + 1:04d}",
                 "router_id": n % ROUTERS + 1, "ip": "10.231.0.2", "result": "success", "reason": "", "kind": "start",
                 "session_id": f"F{n}", "department": "건설과", "policy_id": None, "policy_version": None,
                 "flags": "", "received_at": base} for n in range(RECORDS)]
        started = time.perf_counter()
        with db.unit_of_work() as s:
            bind_principal(s, SYSTEM)
            for i in range(0, len(rows), BATCH):
                insert_rows(s, AccessEvent.__table__, rows[i:i + BATCH])
        floor_s = time.perf_counter() - started
        with db.session() as s:
            bind_principal(s, SYSTEM)
            stored = s.scalar(select(func.count()).select_from(AccessEvent))
        assert stored == 3 * RECORDS, stored
        dialect = db.engine.dialect.name
    finally:
        db.dispose()
        tmp.cleanup()
    floor = round(RECORDS / floor_s, 1)
    return [
        {"name": f"kt.worknet accounting via REST API ({RECORDS} in batches of {BATCH}, {dialect})",
         "value": round(RECORDS / rest_s, 1), "unit": "events/s", "floor_name": "bare executemany of the rows",
         "floor_value": floor},
        {"name": f"kt.worknet accounting from a FreeRADIUS detail file ({RECORDS} records, {dialect})",
         "value": round(RECORDS / detail_s, 1), "unit": "records/s", "floor_name": "bare executemany of the rows",
         "floor_value": floor},
    ]


if __name__ == "__main__":
    for row in measure():
        print(f"{row['name']}: {row['value']} {row['unit']}  (floor: {row['floor_name']} = {row['floor_value']}, "
              f"ratio {row['value'] / row['floor_value']:.2f})")
