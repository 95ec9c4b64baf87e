"""update_rows_by_id: many rows' values by primary key in one statement, on both databases."""

from __future__ import annotations

from sqlalchemy import select

from app.core.db import update_rows_by_id
from app.platform.models import Municipality


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
