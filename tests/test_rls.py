"""Row-level security on PostgreSQL: the database itself keeps a tenant to its own rows.

The tests connect as the app's role (no BYPASSRLS, owns nothing) and use no ORM session filter: Core
selects, Core updates, ``app.core.bulk`` inserts and raw SQL on every tenant table (found from the
metadata) see and change only tenant A's rows; A cannot write B's rows; a transaction that declares
nothing sees nothing. Every change is rolled back, so the demo the tests read stays as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Connection, Table, func, literal, select, text, update
from sqlalchemy.exc import DBAPIError

from app.core import bulk
from app.core.db import Base, Database
from app.core.rls import POLICY, role_warning
from app.core.tenancy import SYSTEM, Principal, declare
from app.modules import load_manifests

load_manifests()  # every module's tables, for the parametrisation

SQLITE_REASON = "SQLite has no row-level security (the ORM filter and tenancy.scoped hold there)"


def tenant_tables() -> list[Table]:
    """Every table a tenant owns rows of: each with ``municipality_id``, and ``municipality`` itself."""
    return [t for t in Base.metadata.sorted_tables if "municipality_id" in t.c or t.name == "municipality"]


def tenant_column(table: Table):
    return table.c.id if table.name == "municipality" else table.c.municipality_id


def tenant(municipality_id: int) -> Principal:
    return Principal(kind="user", id=None, name=f"tenant-{municipality_id}", role="staff",
                     municipality_id=municipality_id, municipality_ids=frozenset({municipality_id}))


@pytest.fixture
def pg(database: Database) -> Database:
    if database.is_sqlite:
        pytest.skip(SQLITE_REASON)
    return database


@contextmanager
def as_principal(db: Database, principal: Principal | None) -> Iterator[Connection]:
    """A connection of the app's role in a transaction declaring ``principal``, rolled back at the end."""
    with db.engine.connect() as conn:
        tx = conn.begin()
        try:
            declare(conn, principal)
            yield conn
        finally:
            tx.rollback()


def test_every_tenant_table_has_an_enabled_forced_policy(pg: Database):
    """A migration that adds a tenant table without ``enable_tenant_rls`` fails here."""
    with pg.engine.connect() as conn:
        state = {row.relname: row for row in conn.execute(text(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
            "       EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = :policy "
            "               AND p.polcmd = '*') AS has_policy "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r'"), {"policy": POLICY})}
    missing = [t.name for t in tenant_tables()
               if not (t.name in state and state[t.name].relrowsecurity and state[t.name].relforcerowsecurity
                       and state[t.name].has_policy)]
    assert missing == [], f"tenant tables without an enabled, forced {POLICY} policy: {missing}"
    assert len(tenant_tables()) > 60


def test_the_app_role_is_held_by_the_policies(pg: Database):
    with pg.engine.connect() as conn:
        assert role_warning(conn) is None
        assert conn.scalar(text("SELECT current_user")) != conn.scalar(text(
            "SELECT tableowner FROM pg_tables WHERE tablename = 'municipality'"))


def _first(conn: Connection, table: str, *columns: str):
    t = Base.metadata.tables[table]
    return conn.execute(select(*[t.c[c] for c in columns]).order_by(t.c.id).limit(1)).one()


# Rows for the tenant tables the demo leaves empty, each in the municipality of a demo row it refers to.
SEEDS = {
    "api_key": lambda conn: {"municipality_id": _first(conn, "municipality", "id")[0], "name": "rls probe",
                             "prefix": "rlsprobe", "secret_hash": "0" * 64},
    "kt_cctv_frigate_label": lambda conn: {"municipality_id": _first(conn, "kt_cctv_camera", "municipality_id")[0],
                                           "label": "rls-probe", "zone_type": "", "event_type": "fire"},
    "kt_cctv_rule": lambda conn: {"municipality_id": _first(conn, "kt_cctv_camera", "municipality_id")[0],
                                  "type": "rls-probe", "quiet_s": 60, "min_confidence": 0.5},
    "kt_robot_command": lambda conn: dict(zip(("robot_id", "municipality_id"),
                                              _first(conn, "kt_robot", "id", "municipality_id"), strict=True),
                                          kind="pause"),
    "kt_cctv_snapshot": lambda conn: dict(zip(("event_row_id", "camera_id", "municipality_id"),
                                              _first(conn, "kt_cctv_event", "id", "camera_id", "municipality_id"),
                                              strict=True),
                                          path="rls/probe.jpg", content_type="image/jpeg", size_bytes=1,
                                          sha256="0" * 64),
    "access_log": lambda conn: {"municipality_id": _first(conn, "municipality", "id")[0], "actor": "user:rls",
                                "action": "view", "subject_type": "rls", "subject_id": "probe"},
    "job": lambda conn: {"municipality_id": _first(conn, "municipality", "id")[0], "kind": "core.noop"},
    "citydata_category_fit": lambda conn: {"municipality_id": _first(conn, "citydata_zone", "municipality_id")[0],
                                           "category": "rls-probe", "fits": False},
    "iso_education_session": lambda conn: dict(zip(("dong_id", "municipality_id"),
                                                   _first(conn, "iso_dong", "id", "municipality_id"), strict=True),
                                               held_date=date(2026, 11, 2), title="rls probe", attendees_65plus=1,
                                               attendees_total=1),
    "vb_faq_entry": lambda conn: {"municipality_id": _first(conn, "vb_fee_item", "municipality_id")[0],
                                  "topic": "rls_probe", "title": "rls probe", "keywords": "rls", "answer": "probe"},
    "citydata_import_coverage": lambda conn: dict(zip(("zone_id", "municipality_id"),
                                                      _first(conn, "citydata_zone", "id", "municipality_id"),
                                                      strict=True),
                                                  job_id=_first(conn, "citydata_import_job", "id")[0],
                                                  kind="rls-probe", period="2026-12-01"),
    "worknet_radius_feed": lambda conn: {"municipality_id": _first(conn, "municipality", "id")[0],
                                         "path": "/rls/probe/detail"},
    "kpi_reading": lambda conn: dict(zip(("kpi_id", "municipality_id"), _first(conn, "kpi", "id", "municipality_id"),
                                         strict=True),
                                     source_key="rls.probe", period_start=date(2000, 1, 1),
                                     period_end=date(2000, 1, 31), computed_at=datetime(2000, 2, 1, tzinfo=UTC)),
}


@pytest.fixture
def seeded(demo_loaded: Database, request: pytest.FixtureRequest) -> Iterator[None]:
    """A row in the tenant table under test when the demo has none, removed afterwards."""
    table: Table = request.node.callspec.params["table"]
    if demo_loaded.is_sqlite or table.name not in SEEDS:
        yield
        return
    with demo_loaded.scoped_connection(SYSTEM) as conn:
        row_id = conn.execute(table.insert().values(SEEDS[table.name](conn)).returning(table.c.id)).scalar_one()
    try:
        yield
    finally:
        with demo_loaded.scoped_connection(SYSTEM) as conn:
            conn.execute(table.delete().where(table.c.id == row_id))


def _holders(db: Database, table: Table) -> tuple[int, int, int]:
    """Tenant A (the municipality with the most rows of ``table``), another B, and A's row count,
    as the system sees them."""
    column = tenant_column(table)
    with as_principal(db, SYSTEM) as conn:
        # Rows of no municipality (a platform administrator's access records) belong to no tenant to hold.
        counts = conn.execute(select(column, func.count()).where(column.is_not(None)).group_by(column)
                              .order_by(func.count().desc(), column)).all()
        if not counts:
            pytest.fail(f"the demo has no rows in {table.name}: give it some, so that its policy is proven")
        a, a_rows = counts[0]
        b = counts[1][0] if len(counts) > 1 else conn.scalar(
            select(Base.metadata.tables["municipality"].c.id).where(
                Base.metadata.tables["municipality"].c.id != a).limit(1))
    return a, b, a_rows


@pytest.mark.parametrize("table", tenant_tables(), ids=lambda t: t.name)
def test_a_tenant_reads_and_changes_only_its_rows(demo_loaded: Database, seeded: None, table: Table):
    if demo_loaded.is_sqlite:
        pytest.skip(SQLITE_REASON)
    a, b, a_rows = _holders(demo_loaded, table)
    column = tenant_column(table)
    with as_principal(demo_loaded, tenant(a)) as conn:
        # Core select with no WHERE: only A's rows.
        assert set(conn.scalars(select(column).distinct())) == {a}
        # Raw SQL: the same.
        assert conn.scalar(text(f'SELECT count(*) FROM "{table.name}"')) == a_rows
        assert conn.scalar(text(f'SELECT count(*) FROM "{table.name}" WHERE "{column.name}" = :b'),
                           {"b": b}) == 0
        # Core update of every row: only A's change.
        assert conn.execute(update(table).values({column.name: column})).rowcount == a_rows
        assert conn.execute(update(table).where(column == b).values({column.name: column})).rowcount == 0
        # A row of B cannot be written by A: neither a copy of A's row moved to B ...
        names = [c.name for c in table.columns if c is not table.autoincrement_column]
        moved = select(*[literal(b).label(n) if n == column.name else table.c[n] for n in names]).limit(1)
        with pytest.raises(DBAPIError, match="row-level security"), conn.begin_nested():
            conn.execute(table.insert().from_select(names, moved))
        # ... nor A's row updated onto B.
        with pytest.raises(DBAPIError, match="row-level security"), conn.begin_nested():
            conn.execute(update(table).where(column == a).values({column.name: b}))


@pytest.mark.parametrize("table", tenant_tables(), ids=lambda t: t.name)
def test_a_tenant_cannot_bulk_insert_rows_of_another(demo_loaded: Database, seeded: None, table: Table):
    if demo_loaded.is_sqlite:
        pytest.skip(SQLITE_REASON)
    a, b, _ = _holders(demo_loaded, table)
    column = tenant_column(table)
    with as_principal(demo_loaded, SYSTEM) as conn:
        template = conn.execute(select(table).where(column == a).limit(1)).mappings().one()
    names = [c.name for c in table.columns if c is not table.autoincrement_column]
    row = {n: (b if n == column.name else template[n]) for n in names}
    with demo_loaded.session() as session:
        # The scope declared, no principal bound: bulk's own check stands aside, the policy refuses.
        declare(session.connection(), tenant(a))
        with pytest.raises(DBAPIError, match="row-level security"):
            bulk.insert_rows(session, table, [row])
        session.rollback()


def test_a_transaction_that_declares_nothing_sees_nothing(demo_loaded: Database):
    if demo_loaded.is_sqlite:
        pytest.skip(SQLITE_REASON)
    with as_principal(demo_loaded, None) as conn:
        seen = {t.name: conn.scalar(text(f'SELECT count(*) FROM "{t.name}"')) for t in tenant_tables()}
    assert set(seen.values()) == {0}
    with demo_loaded.engine.connect() as conn:  # never declared at all on this connection
        assert conn.scalar(text("SELECT count(*) FROM municipality")) == 0
    with demo_loaded.session() as session:  # a session with no principal bound
        assert session.scalar(text("SELECT count(*) FROM kt_cctv_camera")) == 0


def test_a_session_declares_its_principal_in_every_transaction(demo_loaded: Database):
    """Bound before or after the transaction began, and again after a commit (pooled connections)."""
    if demo_loaded.is_sqlite:
        pytest.skip(SQLITE_REASON)
    table = Base.metadata.tables["kt_cctv_camera"]
    a, _, a_rows = _holders(demo_loaded, table)
    from app.core.tenancy import bind_principal

    with demo_loaded.session() as session:
        assert session.scalar(select(func.count()).select_from(table)) == 0
        bind_principal(session, tenant(a))  # the request's auth guard binds after the session opened
        assert session.scalar(select(func.count()).select_from(table)) == a_rows
        session.commit()
        assert session.scalar(select(func.count()).select_from(table)) == a_rows
        session.rollback()
        bind_principal(session, SYSTEM)
        assert session.scalar(select(func.count()).select_from(table)) > a_rows


def test_scoped_connection_declares_for_raw_sql(demo_loaded: Database):
    if demo_loaded.is_sqlite:
        pytest.skip(SQLITE_REASON)
    a, _, a_rows = _holders(demo_loaded, Base.metadata.tables["kt_cctv_camera"])
    with demo_loaded.scoped_connection(tenant(a)) as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM kt_cctv_camera").scalar() == a_rows


def test_bulk_writes_keep_to_the_principal_on_every_database(database: Database, world):
    """SQLite has no RLS: ``app.core.bulk`` refuses rows of another municipality and updates by id only
    within the principal's reach (on PostgreSQL the policy holds as well)."""
    from datetime import UTC, datetime

    from app.core.errors import Forbidden

    table = Base.metadata.tables["kt_cctv_rule"]
    changwon, ulsan = world.changwon.id, world.ulsan.id

    def rule(municipality_id: int) -> dict:
        return {"municipality_id": municipality_id, "type": "fire", "quiet_s": 60, "min_confidence": 0.5,
                "required_zones": [], "updated_at": datetime(2026, 12, 5, tzinfo=UTC)}

    with database.unit_of_work(principal=SYSTEM) as s:
        bulk.insert_rows(s, table, [rule(ulsan)])
        ulsan_rule = s.scalar(select(table.c.id).where(table.c.municipality_id == ulsan))
    with database.unit_of_work(principal=tenant(changwon)) as s:
        with pytest.raises(Forbidden):
            bulk.insert_rows(s, table, [rule(ulsan)])
        bulk.insert_rows(s, table, [rule(changwon)])
        bulk.update_rows_by_id(s, table, [{"id": ulsan_rule, "quiet_s": 1, "updated_at": rule(ulsan)["updated_at"]}])
    with database.unit_of_work(principal=SYSTEM) as s:
        rows = dict(s.execute(select(table.c.municipality_id, table.c.quiet_s)).all())
    assert rows == {ulsan: 60, changwon: 60}


def test_core_statements_through_the_helper_keep_to_the_tenant(database: Database, world):
    """SQLite has no RLS: as tenant A, a Core statement that takes its WHERE from ``tenancy.within_reach``
    (a rollup's rebuild, a select) and the bulk paths (``insert_tuples``, ``insert_rows``) neither see nor
    change B's rows (on PostgreSQL the policy holds as well)."""
    from app.core.errors import Forbidden
    from app.core.tenancy import within_reach
    from app.skt.isolation.models import COUNTS, SUMS
    from app.skt.isolation.service import refresh_rollups

    table = Base.metadata.tables["iso_band_rollup"]
    a, b = world.changwon.id, world.ulsan.id
    names = ("municipality_id", "period", "age_band", "sex", "income_band", "cells", "population", *COUNTS, *SUMS)

    def row(municipality_id: int, period: str = "2026-11") -> tuple:
        return (municipality_id, period, "70-74", "F", "low", 1, 10, *[1] * len(COUNTS), *[2.0] * len(SUMS))

    with database.unit_of_work(principal=SYSTEM) as s:
        bulk.insert_tuples(s, table, names, [row(a), row(b)])
    with database.unit_of_work(principal=tenant(a)) as s:
        assert set(s.scalars(select(table.c.municipality_id).where(within_reach(s, table)))) == {a}
        with pytest.raises(Forbidden):
            bulk.insert_tuples(s, table, names, [row(b, "2026-10")])
        with pytest.raises(Forbidden):
            bulk.insert_rows(s, table, [dict(zip(names, row(b, "2026-10"), strict=True))])
        bulk.insert_tuples(s, table, names, [row(a, "2026-10")])
        # The rollup's rebuild names both municipalities: its DELETE takes only A's rows.
        refresh_rollups(s, municipality_ids=[a, b], dong_ids=[], periods=["2026-11"])
    with database.unit_of_work(principal=SYSTEM) as s:
        left = sorted(s.execute(select(table.c.municipality_id, table.c.period)).tuples())
    assert left == sorted([(a, "2026-10"), (b, "2026-11")])
