"""app.core.bulk: many rows written in one go, stored exactly as the ORM stores them, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import JSON, Column, Float, Integer, MetaData, String, Table, UniqueConstraint, cast, insert, select
from sqlalchemy.orm import Session

from app.core.bulk import insert_rows, update_rows_by_id
from app.core.db import Database, UTCDateTime
from app.core.tenancy import SYSTEM
from app.platform.models import Municipality

probe_metadata = MetaData()
probe = Table(
    "test_bulk_probe", probe_metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(20), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("hits", Integer, nullable=False),
    Column("amount", Float),
    UniqueConstraint("key"),
)


@pytest.fixture
def probe_session(database: Database) -> Iterator[Session]:
    owner = Database(database.migration_url)  # the schema's owner makes tables; the app's role writes
    probe_metadata.create_all(owner.engine)
    try:
        with database.unit_of_work(principal=SYSTEM) as s:
            yield s
    finally:
        probe_metadata.drop_all(owner.engine)
        owner.dispose()


def _row(key: str, hits: int = 1, **extra) -> dict:
    at = datetime(2026, 12, 3, 9, 0, 0, 123456, tzinfo=timezone(timedelta(hours=9)))
    return {"key": key, "at": at, "payload": {"이름": key, "tags": [1, 2]}, "hits": hits, "amount": None, **extra}


def test_rows_are_stored_as_the_orm_stores_them(probe_session):
    probe_session.execute(insert(probe), [_row("plain")])
    insert_rows(probe_session, probe, [_row("bulk")])
    stored = {r.key: r for r in probe_session.execute(select(probe, cast(probe.c.at, String).label("at_text")))}
    assert stored["bulk"].at == datetime(2026, 12, 3, 0, 0, 0, 123456, tzinfo=UTC)
    assert stored["bulk"].payload == {"이름": "bulk", "tags": [1, 2]}
    assert stored["bulk"].amount is None  # NULL in every row keeps its column's type
    # the same text on disk: comparisons and indexes treat both rows alike
    assert stored["bulk"].at_text == stored["plain"].at_text


def test_conflicting_rows_are_skipped_or_added_to(probe_session):
    insert_rows(probe_session, probe, [_row("a", 1), _row("b", 2)], conflict=["key"])
    insert_rows(probe_session, probe, [_row("a", 10), _row("c", 3)], conflict=["key"])  # a exists: skipped
    insert_rows(probe_session, probe, [_row("b", 5), _row("d", 4)], conflict=["key"], add_on_conflict=["hits"])
    insert_rows(probe_session, probe, [], conflict=["key"])  # nothing to write is no error
    hits = dict(probe_session.execute(select(probe.c.key, probe.c.hits)).all())
    assert hits == {"a": 1, "b": 7, "c": 3, "d": 4}


def test_a_bulk_write_lands_after_pending_orm_changes(world, session):
    municipality = session.get(Municipality, world.ulsan.id)
    municipality.name_en = "Pending"  # not flushed yet
    update_rows_by_id(session, Municipality.__table__, [{"id": world.ulsan.id, "name_en": "Bulk"}])
    session.commit()  # without the flush first, the pending change would overwrite the bulk write here
    session.expire_all()
    assert session.get(Municipality, world.ulsan.id).name_en == "Bulk"


def test_rows_get_their_own_values_and_an_all_null_column_keeps_its_type(world, session):
    ids = [world.gyeongnam.id, world.changwon.id, world.ulsan.id]
    # parent_id is NULL in every row: PostgreSQL would type such a column text without the cast.
    update_rows_by_id(session, Municipality.__table__, [
        {"id": mid, "name_en": f"Renamed {i}", "parent_id": None} for i, mid in enumerate(ids)])
    update_rows_by_id(session, Municipality.__table__, [])  # nothing to write is no error
    session.expire_all()
    rows = {m.id: m for m in session.scalars(select(Municipality).where(Municipality.id.in_(ids)))}
    assert [rows[mid].name_en for mid in ids] == ["Renamed 0", "Renamed 1", "Renamed 2"]
    assert all(rows[mid].parent_id is None for mid in ids)
    assert rows[world.changwon.id].name_ko == "창원시"  # columns not named are left alone


def test_objects_the_session_holds_read_the_written_values(world, session):
    held = session.get(Municipality, world.ulsan.id)
    assert held.name_en != "Written"
    update_rows_by_id(session, Municipality.__table__, [{"id": world.ulsan.id, "name_en": "Written"}])
    assert held.name_en == "Written"  # no expire_all needed by the caller
