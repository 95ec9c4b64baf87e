"""Row-level security on PostgreSQL: the database itself keeps each tenant's rows to that tenant.

Every tenant table (each table with ``municipality_id``, and ``municipality`` by its ``id``) has RLS
enabled and forced, with one policy, :data:`POLICY`, for every command (``USING`` and ``WITH CHECK``):
a row is visible and writable when the transaction declared the scope ``all``, or when its municipality
is in the transaction's declared set. Nothing declared, nothing seen.

The declaration is two transaction-local settings (``set_config(..., true)``, i.e. ``SET LOCAL``), made
by :func:`app.core.tenancy.declare` from the session's principal at the start of every transaction:

- ``dxhub.scope``: ``all`` (the system, platform admins, the CLI, background jobs, migrations) or
  ``tenant``;
- ``dxhub.municipality_ids``: the tenant's municipalities as an array literal, e.g. ``{3,7}``.

Each setting is read once per statement: the policy wraps ``current_setting`` in a scalar sub-select,
which PostgreSQL plans as an init-plan evaluated once, not once per row. The policy's ``OR`` is not an
index condition, so the index on ``municipality_id`` serves the statement's own municipality filter
(the ORM filter and ``tenancy.within_reach`` add one; ``int = ANY`` is leakproof, so it is used under
RLS), and the policy is a cheap filter on the rows found. A statement that relies on the policy alone
gets the right rows by a scan: correct, not fast. Measured on 2M rows of 50 municipalities, a tenant's
newest 50 by (municipality_id, occurred_at): 0.13 ms without RLS, 0.27 ms with it (median).

A migration that adds a tenant table adds its policy in one line::

    from app.core.rls import enable_tenant_rls, disable_tenant_rls
    enable_tenant_rls("my_table")          # in upgrade()
    disable_tenant_rls("my_table")         # in downgrade()

``tests/test_rls_policies.py`` fails for a tenant table without an enabled, forced policy.

Roles: the app connects as a role that owns nothing and has no ``BYPASSRLS``; migrations run as the
owner (``DXHUB_MIGRATION_DATABASE_URL``). Because RLS is forced, the owner is subject to the policies
too, so the migration environment declares ``all`` for its transaction (data migrations see every row).
A superuser or a ``BYPASSRLS`` role is never subject to RLS: the app must not connect as one.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

POLICY = "tenant_isolation"
SCOPE_SETTING = "dxhub.scope"
IDS_SETTING = "dxhub.municipality_ids"
APP_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"


def predicate(column: str = "municipality_id") -> str:
    """The policy's condition: two init-plans (each setting read once a statement, the scope test a
    boolean), then one ``= ANY`` a row. An empty setting (a session that declared in an earlier
    transaction) reads as NULL, which admits nothing."""
    return (f"(SELECT current_setting('{SCOPE_SETTING}', true) IS NOT DISTINCT FROM 'all') OR \"{column}\" = "
            f"ANY ((SELECT NULLIF(current_setting('{IDS_SETTING}', true), ''))::bigint[])")


def enable_statements(table: str, column: str = "municipality_id") -> list[str]:
    condition = predicate(column)
    return [
        f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY',
        f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY',
        f'CREATE POLICY {POLICY} ON "{table}" FOR ALL USING ({condition}) WITH CHECK ({condition})',
    ]


def disable_statements(table: str) -> list[str]:
    return [
        f'DROP POLICY IF EXISTS {POLICY} ON "{table}"',
        f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY',
        f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY',
    ]


def enable_tenant_rls(table: str, column: str = "municipality_id") -> None:
    """In a migration's ``upgrade``: the tenant policy on ``table`` (nothing on SQLite)."""
    _run_in_migration(enable_statements(table, column))


def disable_tenant_rls(table: str) -> None:
    """In a migration's ``downgrade``: undo :func:`enable_tenant_rls`."""
    _run_in_migration(disable_statements(table))


def _run_in_migration(statements: list[str]) -> None:
    from alembic import op

    if op.get_bind().dialect.name != "postgresql":
        return
    for sql in statements:
        op.execute(sql)


def declare_all(conn: Connection) -> None:
    """Scope ``all`` for the rest of ``conn``'s transaction (migrations, the owner's maintenance)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT set_config(:name, 'all', true)"), {"name": SCOPE_SETTING})


def grant_app_role(conn: Connection, role: str) -> None:
    """Give the app's role what it needs and nothing more: data rights on every table and sequence of
    the schema, now and for tables the owner creates later. It owns nothing, so it cannot disable RLS."""
    quoted = conn.dialect.identifier_preparer.quote(role)
    for sql in (
        f"GRANT USAGE ON SCHEMA public TO {quoted}",
        f"GRANT {APP_PRIVILEGES} ON ALL TABLES IN SCHEMA public TO {quoted}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {APP_PRIVILEGES} ON TABLES TO {quoted}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {quoted}",
        # The migration bookkeeping is the owner's alone.
        f"REVOKE ALL ON TABLE alembic_version FROM {quoted}",
    ):
        conn.execute(text(sql))


def role_warning(conn: Connection) -> str | None:
    """Why RLS does not hold for the role of ``conn`` (a superuser, a BYPASSRLS role, or an owner of
    tenant tables, who may switch RLS off), or None when it holds."""
    if conn.dialect.name != "postgresql":
        return None
    row = conn.execute(text(
        "SELECT r.rolname, r.rolsuper, r.rolbypassrls, "
        "EXISTS (SELECT 1 FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid "
        "        WHERE c.relowner = r.oid) AS owns "
        "FROM pg_roles r WHERE r.rolname = current_user")).one()
    if row.rolsuper or row.rolbypassrls:
        return (f"the database role {row.rolname} is a superuser or has BYPASSRLS: row-level security does "
                "not apply to it. Connect the app as a role without them (see README, 'Database roles').")
    if row.owns:
        return (f"the database role {row.rolname} owns the tenant tables: the forced policies apply to it, but "
                "it may switch them off. Run migrations as the owner (DXHUB_MIGRATION_DATABASE_URL) and "
                "connect the app as a role that owns nothing.")
    return None


def after_migrate(owner_url: str, app_url: str) -> str | None:
    """After ``dxhub migrate``: grant the app's role its rights when it is not the owner, and say why
    RLS would not hold for the app's role, if it would not (None on SQLite or when all is well)."""
    from sqlalchemy import make_url

    from app.core.db import create_db_engine

    owner, app = make_url(owner_url), make_url(app_url)
    if owner.get_backend_name() != "postgresql":
        return None
    if app.username and app.username != owner.username:
        engine = create_db_engine(owner_url)
        try:
            with engine.begin() as conn:
                grant_app_role(conn, app.username)
        finally:
            engine.dispose()
    engine = create_db_engine(app_url)
    try:
        with engine.connect() as conn:
            return role_warning(conn)
    finally:
        engine.dispose()
