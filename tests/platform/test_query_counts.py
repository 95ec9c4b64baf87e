"""N+1 guard: the home dashboard and the program list run a bounded number of SQL statements that does not grow
with the number of programs (each program's municipality, partners and KPIs are loaded in batches)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import pytest
from sqlalchemy import event

from app.core.db import Database
from app.core.tenancy import SYSTEM, bind_principal
from app.platform.models import Kpi, KpiValue, Partner, Program
from tests.conftest import api_headers, web_login

PAGES = ("/", "/programs", "/api/v1/programs?limit=50")
# Upper bounds with a little headroom over today's counts (PostgreSQL's, which add the scope declarations:
# 47, 11 and 9); a loop that queries per program breaks them at once.
BOUNDS = {"/": 50, "/programs": 13, "/api/v1/programs?limit=50": 11}
DECLARE = "SELECT set_config('dxhub.scope'"


@contextmanager
def counting(database: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(database.engine, "before_cursor_execute", record)


def _add_programs(database: Database, world, n: int, start: int) -> None:
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        partners = list(s.query(Partner).all())
        for i in range(start, start + n):
            muni = world.changwon.id
            values = [KpiValue(measured_date=date(2026, 11, 1), value=float(i), municipality_id=muni)]
            s.add(Program(title=f"창원 사업 {i}", municipality_id=muni, status="active", module="kt.cctv",
                          partners=partners[: 1 + i % len(partners)],
                          kpis=[Kpi(name="참여자", target=100.0, municipality_id=muni, values=values)]))


def _counts(client, database: Database, headers: dict[str, str]) -> dict[str, int]:
    counts = {}
    for path in PAGES:
        client.get(path, headers=headers if path.startswith("/api/") else None)  # warm per-process caches
        with counting(database) as statements:
            r = client.get(path, headers=headers if path.startswith("/api/") else None)
        assert r.status_code == 200, (path, r.text[:300])
        counts[path] = len(statements)
    return counts


def test_statement_counts_do_not_grow_with_programs(client, database, world):
    headers = api_headers(client, "cw.admin")
    web_login(client, "cw.admin")
    _add_programs(database, world, 2, 0)
    few = _counts(client, database, headers)
    _add_programs(database, world, 40, 2)
    many = _counts(client, database, headers)
    # Not equal: the home page's recent activity names whoever acted last, so its look-ups follow the trail's
    # newest entries (sign-ins before the 40 programs, the programs after); they must never grow.
    assert all(many[p] <= few[p] for p in PAGES), f"statement counts grow with the number of programs: {few} -> {many}"
    for path, bound in BOUNDS.items():
        assert many[path] <= bound, f"{path} ran {many[path]} SQL statements (bound {bound})"


def test_postgresql_declares_the_scope_twice_per_request(client, database, world):
    """Once for looking up the caller (scope ``all``), once for the caller: a declaration that is already the
    transaction's is not sent again, and the look-ups (session, user, municipalities reached) share one.
    (The home page's cards may read across tenants, a declaration and its undoing each: not counted here.)"""
    if database.engine.dialect.name != "postgresql":
        pytest.skip("scope declarations are PostgreSQL's (row-level security)")
    headers = api_headers(client, "cw.admin")
    web_login(client, "cw.admin")
    for path in ("/programs", "/api/v1/programs?limit=50"):
        client.get(path, headers=headers if path.startswith("/api/") else None)
        with counting(database) as statements:
            r = client.get(path, headers=headers if path.startswith("/api/") else None)
        assert r.status_code == 200, (path, r.text[:300])
        declared = [s for s in statements if s.startswith(DECLARE)]
        assert len(declared) == 2, (path, len(declared))
