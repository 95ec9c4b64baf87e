"""Many rows in one statement's worth of work: the write path of ingestion endpoints.

A plain ``session.execute(stmt, rows)`` builds one parameter dictionary per row through the compiled
statement's machinery, which costs more Python than the database spends storing the row, and on
PostgreSQL sends one statement per row. Here the values are converted column by column with each
column type's own bind processor (so what is stored is exactly what the ORM would store), then:

- SQLite runs in-process, so one driver-level executemany of the compiled statement costs no round
  trips;
- PostgreSQL gets one statement whose rows arrive as one array per column, ``unnest``-ed by the
  server; the statement (a handful of parameters) compiles once whatever the number of rows.

Both write helpers flush the session first, so pending ORM changes land before the rows, as with
``session.execute``. Every row names the same columns.

Tenancy: on PostgreSQL the row-level security policies hold for these statements. On every database
the helpers also keep to the session's principal themselves (``app.core.tenancy``): rows inserted for a
municipality outside its reach are refused, and updates by id touch only rows within its reach.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, DateTime, Table, Text, any_, bindparam, cast, func, inspect, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnElement

from app.core.db import UTCDateTime
from app.core.tenancy import check_rows, within_reach

Rows = Sequence[Mapping[str, Any]]


def insert_rows(db: Session, table: Table, rows: Rows, *, conflict: Sequence[str] = (),
                add_on_conflict: Sequence[str] = (), set_on_conflict: Sequence[str] = ()) -> None:
    """INSERT ``rows``. With ``conflict`` (the columns of a unique key), a row whose key exists is
    skipped, or, when ``add_on_conflict`` names columns, those columns of the existing row grow by the
    new row's values (a rollup's counters), or, when ``set_on_conflict`` names columns, take the new
    row's values. The keys must be unique within ``rows`` when adding or setting. A column with a
    Python-side default that the rows leave out gets that default."""
    if not rows:
        return
    rows = _with_defaults(table, rows)
    names = list(rows[0])
    check_rows(db, table, rows)
    db.flush()
    if db.get_bind().dialect.name == "postgresql":
        source = _unnest(table, names)
        stmt = dialect_insert(db, table).from_select(names, select(*[_as_column(table, source, n) for n in names]))
        params = _arrays(table, names, rows)
    else:
        stmt = dialect_insert(db, table).values({n: bindparam(n) for n in names})
        params = None
    if conflict and add_on_conflict:
        stmt = stmt.on_conflict_do_update(index_elements=list(conflict), set_={
            c: table.c[c] + stmt.excluded[c] for c in add_on_conflict})
    elif conflict and set_on_conflict:
        stmt = stmt.on_conflict_do_update(index_elements=list(conflict), set_={
            c: stmt.excluded[c] for c in set_on_conflict})
    elif conflict:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(conflict))
    if params is not None:
        db.execute(stmt, params)
    else:
        _driver_executemany(db, stmt, rows, {n: n for n in names})


def _with_defaults(table: Table, rows: Rows) -> Rows:
    """``rows`` with the Python-side column defaults they leave out (the driver-level path does not run
    them), evaluated per row as a Core INSERT would."""
    missing = [(c.name, c.default) for c in table.columns if c.default is not None and c.name not in rows[0]]
    if not missing:
        return rows
    for name, default in missing:
        if not (default.is_scalar or default.is_callable):
            raise ValueError(f"insert_rows into {table.name}: give {name} in every row")
    return [{**r, **{n: d.arg if d.is_scalar else d.arg(None) for n, d in missing}} for r in rows]


def insert_tuples(db: Session, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """INSERT plain tuples (values already as the driver takes them, in the order of ``columns``) as fast
    as the driver allows: one executemany, pipelined by psycopg on PostgreSQL, where ``COPY FROM`` is
    refused on tables under row-level security. Rows of a municipality outside the session's principal's
    reach are refused, as by :func:`insert_rows`."""
    if not rows:
        return
    if "municipality_id" in columns:
        at = list(columns).index("municipality_id")
        check_rows(db, table, [{"municipality_id": m} for m in {r[at] for r in rows}])
    conn = db.connection()
    mark = "%s" if conn.dialect.paramstyle in ("format", "pyformat") else "?"
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join(mark for _ in columns)})",
                         list(rows))


def update_rows_by_id(db: Session, table: Table, rows: Rows) -> None:
    """Write many rows' new values by primary key ``id``; columns not named are left alone. Objects of
    those rows that the session already holds have the written columns expired, so they read the new
    values."""
    if not rows:
        return
    names = list(rows[0])
    check_rows(db, table, rows)
    db.flush()
    within = within_reach(db, table)
    if db.get_bind().dialect.name == "postgresql":
        source = _unnest(table, names)
        db.execute(update(table).where(table.c.id == source.c.id, within).values({
            n: _as_column(table, source, n) for n in names if n != "id"}), _arrays(table, names, rows))
    else:
        stmt = update(table).where(table.c.id == bindparam("b_id"), within).values(
            {n: bindparam(f"b_{n}") for n in names if n != "id"})
        _driver_executemany(db, stmt, rows, {f"b_{n}": n for n in names})
    _expire_loaded(db, table, {r["id"] for r in rows}, [n for n in names if n != "id"])


def dialect_insert(db: Session, table: Table) -> Any:
    """The database's own INSERT construct, which knows ON CONFLICT on both SQLite and PostgreSQL."""
    return (postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert)(table)


def _expire_loaded(db: Session, table: Table, ids: set[Any], columns: list[str]) -> None:
    for obj in list(db.identity_map.values()):
        mapper = inspect(obj).mapper
        if mapper.local_table is table and mapper.primary_key_from_instance(obj)[0] in ids:
            db.expire(obj, [mapper.get_property_by_column(table.c[c]).key for c in columns])


def among(db: Session, column: Any, values: Collection[Any]) -> ColumnElement[bool]:
    """``column IN (values)`` for a batch's worth of values. On PostgreSQL the values travel as one
    array (``= ANY(...)``), which binds and plans in a fraction of the time of a thousand separate
    parameters."""
    if db.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, value=list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


def _driver_executemany(db: Session, stmt: Any, rows: Rows, key_of_bind: dict[str, str]) -> None:
    """SQLite: the compiled statement run by the driver over rows converted column by column."""
    conn = db.connection()
    dialect = conn.dialect
    compiled = stmt.compile(dialect=dialect)
    columns = []
    for bind_name in compiled.positiontup:
        key = key_of_bind[bind_name]
        values = [r[key] for r in rows]
        process = compiled.binds[bind_name].type._cached_bind_processor(dialect)
        columns.append(list(map(process, values)) if process is not None else values)
    conn.exec_driver_sql(compiled.string, list(zip(*columns, strict=True)))


def _element_type(table: Table, name: str) -> Any:
    col_type = table.c[name].type
    if isinstance(col_type, JSON):
        return Text()  # JSON travels as text and is cast back
    return DateTime(timezone=True) if isinstance(col_type, UTCDateTime) else col_type


def _unnest(table: Table, names: list[str]) -> Any:
    arrays = [bindparam(f"a_{n}", type_=postgresql.ARRAY(_element_type(table, n))) for n in names]
    return func.unnest(*arrays).table_valued(*names).render_derived(name="v")


def _as_column(table: Table, source: Any, name: str) -> ColumnElement[Any]:
    column = source.c[name]
    return cast(column, table.c[name].type) if isinstance(table.c[name].type, JSON) else column


def _arrays(table: Table, names: list[str], rows: Rows) -> dict[str, list[Any]]:
    """One array per column; typed arrays keep a column that is NULL in every row typed."""
    params = {}
    for n in names:
        if isinstance(table.c[n].type, JSON):
            params[f"a_{n}"] = [json.dumps(r[n], ensure_ascii=False) for r in rows]
        else:
            params[f"a_{n}"] = [r[n] for r in rows]
    return params
