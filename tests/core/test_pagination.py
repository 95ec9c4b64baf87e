"""paginate: one page and the total of all matching rows, scoped to the caller's municipalities."""

from __future__ import annotations

from sqlalchemy import select

from app.core.pagination import PageParams, paginate
from app.core.tenancy import SYSTEM, Principal, bind_principal
from app.platform.models import Program


def test_the_total_counts_only_the_callers_rows_and_distinct_rows_once(world, database):
    with database.unit_of_work(principal=SYSTEM) as s:
        s.add_all([Program(municipality_id=world.ulsan.id, title=f"울산 {n}", status="active") for n in range(3)]
                  + [Program(municipality_id=world.changwon.id, title=f"창원 {n}", status="active")
                     for n in range(5)])
    ulsan = Principal(kind="user", id=None, name="u", role="staff", municipality_id=world.ulsan.id,
                      municipality_ids=frozenset({world.ulsan.id}))
    with database.unit_of_work() as s:
        bind_principal(s, ulsan)
        rows, total = paginate(s, select(Program).where(Program.status == "active").order_by(Program.title),
                               PageParams(limit=2))
        assert total == 3 and [p.title for p in rows] == ["울산 0", "울산 1"]
        pairs, total = paginate(s, select(Program.status, Program.title).distinct(), PageParams())
        assert total == 3 == len(pairs)  # distinct pairs, not distinct statuses
