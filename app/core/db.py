"""Engine, session factory and the shared declarative base."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    DateTime,
    Engine,
    ForeignKey,
    MetaData,
    create_engine,
    event,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from app.core.tenancy import Principal

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC on both SQLite and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store times with a time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime}


class TenantScoped:
    """Mixin for rows owned by one municipality. Reads are scoped to the caller's municipalities."""

    municipality_id: Mapped[int] = mapped_column(
        ForeignKey("municipality.id", ondelete="RESTRICT"), index=True
    )


def create_db_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        pool: dict[str, int] = {}
        if parsed.database and parsed.database != ":memory:":
            from pathlib import Path

            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            # A file's connections are kept for as many requests as a busy page sees at once: one the pool
            # closes when it is handed back (an "overflow" one) costs the next request a new connection, its
            # pragmas, a parse of the schema and an empty page cache (with 8 clients the default 5 cost the
            # home page ~3x the server CPU per request, the program list page and API 10-20 % more). An
            # in-memory database has one connection per thread, no such pool.
            pool = {"pool_size": 20, "max_overflow": 20}
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pool)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # Python's sqlite3 would otherwise open transactions on its own; SQLAlchemy's "begin" hook does it.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin(conn) -> None:
    # Writers take the write lock up front (BEGIN IMMEDIATE) so that two concurrent writers queue
    # on busy_timeout instead of failing when a read lock is upgraded.
    immediate = conn.get_execution_options().get("sqlite_immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


_WROTE = "dxhub_wrote"
_READS = ("SELECT", "BEGIN", "SAVEPOINT", "RELEASE", "PRAGMA", "SET", "SHOW", "ROLLBACK")


def _note_write(conn: Connection, _cursor, statement: str, _params, _context, _executemany) -> None:
    # Anything but a read marks the transaction; a false mark only costs a cache a miss.
    if not statement.lstrip()[:9].upper().startswith(_READS):
        conn.info[_WROTE] = True


def _forget_write(conn: Connection) -> None:
    conn.info.pop(_WROTE, None)


class Database:
    """One engine and its session factory; the app holds one, tests make their own.

    ``migration_url`` names the schema's owner (PostgreSQL), for what only the owner may do; by default
    the same URL. Every transaction of a session declares its principal's tenant scope
    (:mod:`app.core.tenancy`); a connection taken outside a session does so through
    :meth:`scoped_connection`.

    ``generation`` changes after every commit in this process that wrote anything (any statement but a
    read): what a cache of figures derived from the data keys on, so this process's own writes show at
    once. Other processes' writes are not seen here; such a cache also ages out (see
    ``app.platform.homecards``)."""

    def __init__(self, url: str, *, migration_url: str | None = None) -> None:
        self.url = url
        self.migration_url = migration_url or url
        self.engine = create_db_engine(url)
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)
        self._commits_that_wrote = itertools.count(1)
        self.generation = 0
        event.listen(self.engine, "before_cursor_execute", _note_write)
        event.listen(self.engine, "commit", self._count_write)
        event.listen(self.engine, "rollback", _forget_write)

    def _count_write(self, conn: Connection) -> None:
        if conn.info.pop(_WROTE, False):
            self.generation = next(self._commits_that_wrote)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def session(self, *, write: bool = False, principal: Principal | None = None) -> Session:
        """A session; with ``principal``, bound to it before its first statement (see
        :func:`app.core.tenancy.bind_principal`). Without one, it sees no tenant row on PostgreSQL until a
        principal is bound."""
        session = self.session_factory()
        if principal is not None:
            from app.core.tenancy import bind_principal

            bind_principal(session, principal)
        if write and self.is_sqlite:
            session.connection(execution_options={"sqlite_immediate": True})
        return session

    @contextmanager
    def unit_of_work(self, *, write: bool = True, principal: Principal | None = None) -> Iterator[Session]:
        """Yield a session that commits when the block succeeds and rolls back when it fails."""
        session = self.session(write=write, principal=principal)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def scoped_connection(self, principal: Principal | None) -> Iterator[Connection]:
        """A connection in a transaction that declared ``principal``'s tenant scope (committed when the
        block succeeds): the one way to run Core statements or raw SQL outside a session."""
        from app.core.tenancy import declare

        with self.engine.begin() as conn:
            declare(conn, principal)
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()
