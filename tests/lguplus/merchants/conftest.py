"""A small generated program in 창원시 (tenant A) and a few objects in 울산 (tenant B)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from app.core.brn import brn_check_digit
from app.core.tenancy import SYSTEM, bind_principal
from app.lguplus.merchants import demo

API = "/api/v1/lguplus/merchants"
WEB = "/lguplus/merchants"
TODAY = date(2026, 11, 25)


def brn(head: str) -> str:
    """A valid registration number from nine digits."""
    return head + str(brn_check_digit(head))


def merchant_body(head: str = "220816251", **extra: Any) -> dict[str, Any]:
    body = {"brn": brn(head), "name": "빛고을 분식 1호", "address": "광주광역시 서구 상무대로 1",
            "dong_code": "2914057000", "dong_name": "치평동", "category": "분식", "owner_phone": "010-2345-6789",
            "lat": 35.152, "lon": 126.853}
    body.update(extra)
    return body


@pytest.fixture
def program(database, world) -> dict[str, Any]:
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        made = demo.generate(s, municipality_id=world.changwon.id, n_merchants=40, n_participants=14, months=12,
                             seed=7, today=TODAY, n_consulting=8)
        other = demo.generate(s, municipality_id=world.ulsan.id, n_merchants=6, n_participants=2, months=4,
                              seed=8, today=TODAY, n_consulting=2)
    return {"cw": made, "us": other, "world": world}
