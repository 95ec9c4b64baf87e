"""The schema comes only from Alembic: upgrade, downgrade to nothing, upgrade again, and the models
agree with the migrations (what `alembic check` verifies)."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.cli import alembic_config
from app.core.db import Base, Database


def test_upgrade_downgrade_upgrade_and_models_match(database: Database):
    migrated_database = database  # emptied first: a downgrade drops tables
    cfg = alembic_config(migrated_database.migration_url)  # the schema's owner
    command.downgrade(cfg, "base")
    with migrated_database.engine.connect() as conn:
        left = set(inspect(conn).get_table_names()) - {"alembic_version"}
    assert left == set(), f"downgrade left tables behind: {left}"

    command.upgrade(cfg, "heads")
    with migrated_database.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        assert {t.name for t in Base.metadata.sorted_tables} <= tables
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"


def test_alembic_check_command(migrated_database: Database):
    command.check(alembic_config(migrated_database.migration_url))
