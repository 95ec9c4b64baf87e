"""A small generated T deal world in 창원시 (tenant A) and a few objects in 울산 (tenant B)."""

from __future__ import annotations

from typing import Any

import pytest

from app.core.tenancy import SYSTEM, bind_principal
from app.skt.tdeal import demo
from tests.conftest import seoul_now


@pytest.fixture
def tdeal(database, world) -> dict[str, Any]:
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        made = demo.generate(s, region_id=world.changwon.id, city_ids={world.changwon.id: 1.0}, n_merchants=30,
                             n_participants=18, n_subscribers=120, events_per_user=12, days=120, seed=3,
                             today=seoul_now().date(), campaign_name="창원 소상공인 기획전")
        other = demo.generate(s, region_id=world.ulsan.id, city_ids={world.ulsan.id: 1.0}, n_merchants=3,
                              n_participants=2, n_subscribers=4, events_per_user=3, days=30, seed=5,
                              today=seoul_now().date(), campaign_name="울산 기획전")
    return {"cw": made, "us": other, "world": world}
