"""Alembic environment: the URL comes from settings (or the caller), models from every module."""

from __future__ import annotations

from alembic import context

import app.platform.models  # noqa: F401  (registers the shared tables)
from app.core.config import get_settings
from app.core.db import Base, UTCDateTime, create_db_engine
from app.core.rls import declare_all
from app.modules import load_manifests

load_manifests()  # importing each module registers its tables on the one metadata

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.attributes.get("database_url") or get_settings().migration_url


def render_item(type_, obj, autogen_context):
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(**kwargs) -> None:
    context.configure(target_metadata=target_metadata, compare_type=True, render_item=render_item,
                      render_as_batch=True, **kwargs)


def run_migrations_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run(conn) -> None:
    _configure(connection=conn)
    with context.begin_transaction():
        # Row-level security is forced, so it holds for the owner too: migrations see every row.
        declare_all(conn)
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_db_engine(_url())
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
