"""Tenancy in one place.

Two layers, both fed by the principal bound to the session (:func:`bind_principal`):

- the ORM: every ORM ``SELECT`` of a session that carries a principal is filtered to the municipalities
  that principal may reach: rows of :class:`~app.core.db.TenantScoped` tables by ``municipality_id`` and
  the municipality table itself by ``id``. Routes and services never repeat the check; an object of
  another tenant simply is not found.
- PostgreSQL: every transaction declares the principal's scope (:func:`declare`, transaction-local
  settings read by the row-level security policies of :mod:`app.core.rls`) before its first statement,
  and again when a principal is bound later. Core statements, bulk writes and raw SQL are held by the
  database itself; a transaction that declares nothing sees no tenant row.

Statements that must see across tenants say so: ``execution_options(skip_tenant_scope=True)`` on one
ORM statement, or ``with all_tenants(session):`` around the steps of signing in, before anyone is known.
On SQLite (no RLS) Core statements on tenant tables take their scope from :func:`within_reach` (or
:func:`scoped` for a given principal), and Core inserts check their rows with :func:`check_rows` (which
``app.core.bulk`` does); ``tests/test_rls_static.py`` refuses any other Core statement or raw SQL on a
tenant table outside ``app/core``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import wraps
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar

from sqlalchemy import ColumnElement, Table, event, false, literal_column, text, true
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, SessionTransaction, mapped_column, with_loader_criteria

from app.core.db import TenantScoped
from app.core.errors import Forbidden
from app.core.rls import IDS_SETTING, SCOPE_SETTING

ROLES = ("platform_admin", "municipal_admin", "staff", "viewer")
ROLE_RANK = {"viewer": 0, "staff": 1, "municipal_admin": 2, "platform_admin": 3}
PLATFORM_MODULE = "platform"


class TenantRoot:
    """Mixin for the municipality table: its own ``id`` is the tenant."""

    id: Mapped[int] = mapped_column(primary_key=True)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a signed-in staff member or an integrator's API key."""

    kind: Literal["user", "api_key", "system"]
    id: int | None
    name: str
    role: str
    municipality_id: int | None = None
    # None means every municipality (platform admins and the system itself).
    municipality_ids: frozenset[int] | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def is_platform_admin(self) -> bool:
        return self.kind == "system" or (self.kind == "user" and self.role == "platform_admin")

    @property
    def is_admin(self) -> bool:
        return self.kind == "user" and self.role in ("platform_admin", "municipal_admin")

    def reaches(self, municipality_id: int | None) -> bool:
        return self.municipality_ids is None or municipality_id in self.municipality_ids

    def can(self, module_key: str, *, write: bool) -> bool:
        if self.kind == "system":
            return True
        if self.kind == "api_key":
            return f"{module_key}:write" in self.scopes or (not write and f"{module_key}:read" in self.scopes)
        return not write or self.role != "viewer"


SYSTEM = Principal(kind="system", id=None, name="system", role="platform_admin")


def bind_principal(session: Session, principal: Principal) -> None:
    """Scope every later statement of ``session`` to what ``principal`` may reach, and name the actor.
    On PostgreSQL a transaction already under way declares the new scope at once."""
    session.info["principal"] = principal
    _redeclare(session)


def principal_of(session: Session) -> Principal | None:
    return session.info.get("principal")


_OVERRIDE = "tenant_scope_override"


def _effective(session: Session) -> Principal | None:
    """Whose scope the session's statements run in: the principal, unless :func:`all_tenants` is open."""
    return session.info.get(_OVERRIDE) or session.info.get("principal")


@contextmanager
def all_tenants(session: Session) -> Iterator[None]:
    """Statements in the block see every tenant (signing in, before the principal is known). Pending
    changes are flushed before the block ends, so they are written in that scope."""
    previous = session.info.get(_OVERRIDE)
    session.info[_OVERRIDE] = SYSTEM
    _redeclare(session)
    try:
        yield
        session.flush()
    finally:
        if previous is None:
            session.info.pop(_OVERRIDE, None)
        else:
            session.info[_OVERRIDE] = previous
        _redeclare(session)


@contextmanager
def narrowed_to(session: Session, municipality_ids: frozenset[int]) -> Iterator[None]:
    """Statements in the block see only ``municipality_ids``, within what the session's principal reaches:
    a function that reads "the caller's municipalities" (a module's statistics) then answers for these
    alone, on SQLite by the ORM filter and on PostgreSQL by the policies too. Pending changes are flushed
    first, in the session's own scope."""
    session.flush()
    current = _effective(session)
    reach = frozenset() if current is None else (
        municipality_ids if current.municipality_ids is None else municipality_ids & current.municipality_ids)
    narrow = replace(current or SYSTEM, municipality_ids=reach)
    previous = session.info.get(_OVERRIDE)
    session.info[_OVERRIDE] = narrow
    _redeclare(session)
    try:
        yield
    finally:
        if previous is None:
            session.info.pop(_OVERRIDE, None)
        else:
            session.info[_OVERRIDE] = previous
        _redeclare(session)


P = ParamSpec("P")
R = TypeVar("R")


def across_tenants(fn: Callable[Concatenate[Session, P], R]) -> Callable[Concatenate[Session, P], R]:
    """Run ``fn(db, ...)`` inside :func:`all_tenants` (the steps of signing in)."""

    @wraps(fn)
    def wrapper(db: Session, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with all_tenants(db):
            return fn(db, *args, **kwargs)

    return wrapper


def declare(conn: Connection, principal: Principal | None) -> None:
    """PostgreSQL: declare ``principal``'s scope for the rest of ``conn``'s transaction (``SET LOCAL``).
    No principal declares an empty scope, which the policies read as no rows."""
    if conn.dialect.name != "postgresql":
        return
    if principal is None:
        scope, ids = "", ""
    elif principal.municipality_ids is None:
        scope, ids = "all", ""
    else:
        scope, ids = "tenant", "{" + ",".join(str(i) for i in sorted(principal.municipality_ids)) + "}"
    if conn.info.get(_DECLARED) == (scope, ids):  # already this transaction's scope: no round trip
        return
    conn.execute(_DECLARE, {"scope": scope, "ids": ids})
    conn.info[_DECLARED] = (scope, ids)


_DECLARE = text(f"SELECT set_config('{SCOPE_SETTING}', :scope, true), set_config('{IDS_SETTING}', :ids, true)")
# The scope the connection's transaction declared last, so that declaring it again costs no round trip. A
# transaction starts with none declared, which the policies read as the empty scope (every declaration is
# local); SET LOCAL ends with the transaction, and a rollback to a savepoint restores what was set before it,
# so the memo is forgotten then (the next declaration is sent).
_DECLARED = "dxhub_declared_scope"


def _declared_nothing(conn: Connection) -> None:
    conn.info[_DECLARED] = ("", "")


def _forget_declared(conn: Connection, *_args: Any) -> None:
    conn.info.pop(_DECLARED, None)


event.listen(Engine, "begin", _declared_nothing)
for _name in ("commit", "rollback", "rollback_savepoint"):
    event.listen(Engine, _name, _forget_declared)


def _redeclare(session: Session) -> None:
    """Declare again within the transaction under way, if it has a connection; otherwise the next
    transaction's ``after_begin`` will."""
    transaction = session.get_transaction()
    if transaction is None:
        return
    for conn in transaction.connections:
        declare(conn, _effective(session))


@event.listens_for(Session, "after_begin")
def _declare_on_begin(session: Session, _transaction: SessionTransaction, conn: Connection) -> None:
    # Every transaction of every session, including those that follow a commit of a long-lived one.
    declare(conn, _effective(session))


def scoped(table: Table, principal: Principal | None) -> ColumnElement[bool]:
    """The WHERE that keeps a Core statement on ``table`` to ``principal``'s municipalities (SQLite has no
    RLS; on PostgreSQL the policies hold as well). No principal reaches nothing; the system reaches all."""
    column = table.c.id if table.name == "municipality" else table.c.municipality_id
    if principal is None or principal.municipality_ids == frozenset():
        return false()
    if principal.municipality_ids is None:
        return true()
    # Integers written into the SQL: the criterion carries no parameter, so it also joins the
    # driver-level executemany of app.core.bulk.
    return column.in_([literal_column(str(int(i))) for i in sorted(principal.municipality_ids)])


def is_tenant_table(table: Table) -> bool:
    return table.name == "municipality" or "municipality_id" in table.c


RowsT = TypeVar("RowsT", bound=Sequence[Mapping[str, Any]])


def check_rows(db: Session, table: Table, rows: RowsT) -> RowsT:
    """Refuse rows of ``table`` that the session's principal may not write (another municipality's):
    the ``WITH CHECK`` of the PostgreSQL policy, for Core writes on every database. Returns ``rows``, so
    that an INSERT the bulk helpers do not cover (one with RETURNING) takes them through it."""
    principal = _effective(db)
    if principal is None or principal.municipality_ids is None or not is_tenant_table(table) or not rows:
        return rows
    key = "id" if table.name == "municipality" else "municipality_id"
    if key not in rows[0]:
        return rows
    foreign = {r[key] for r in rows} - principal.municipality_ids
    if foreign:
        raise Forbidden("Rows of another municipality cannot be written here")
    return rows


def within_reach(db: Session, table: Table) -> ColumnElement[bool]:
    """The WHERE keeping a Core statement on ``table`` to the session's principal (true when the table is
    not a tenant's or no principal is bound, as for the ORM filter)."""
    principal = _effective(db)
    if principal is None or not is_tenant_table(table):
        return true()
    return scoped(table, principal)


@event.listens_for(Session, "do_orm_execute")
def _scope_reads(state: ORMExecuteState) -> Any:
    if state.execution_options.get("skip_tenant_scope", False):
        return _across_tenants(state)
    principal = _effective(state.session)
    if principal is None or principal.municipality_ids is None:
        return None
    if not state.is_select:
        return None
    ids = tuple(sorted(principal.municipality_ids)) or (-1,)
    state.statement = state.statement.options(
        with_loader_criteria(TenantScoped, lambda cls: cls.municipality_id.in_(ids), include_aliases=True),
        with_loader_criteria(TenantRoot, lambda cls: cls.id.in_(ids), include_aliases=True),
    )
    return None


def _across_tenants(state: ORMExecuteState) -> Any:
    """One statement marked ``skip_tenant_scope``: on PostgreSQL it runs in scope ``all`` (its rows are
    read in full before the session's own scope is declared again)."""
    session = state.session
    if session.get_bind().dialect.name != "postgresql":
        return None
    conn = session.connection()
    declare(conn, SYSTEM)
    try:
        return state.invoke_statement().freeze()()
    finally:
        declare(conn, _effective(session))
