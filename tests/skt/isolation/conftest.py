"""Dongs of 창원시 (tenant A) and 울산 (tenant B), and a helper that builds indicator cells."""

from __future__ import annotations

from typing import Any

import pytest

from app.core.tenancy import SYSTEM, bind_principal
from app.skt.isolation import service
from app.skt.isolation.models import MEANS

CW_DONGS = [("4812151000", "의창동", "의창구"), ("4812152000", "팔룡동", "의창구"), ("4812351000", "반송동", "성산구")]
US_DONGS = [("3111051000", "학성동", "중구")]


def cell(dong: str, *, period: str = "2026-10", age: str = "70-74", sex: str = "F", income: str = "low",
         population: int = 100, low_communication: int = 30, low_outing: int = 20, isolated: int = 10,
         **means: float) -> dict[str, Any]:
    row = {"period": period, "dong_code": dong, "age_band": age, "sex": sex, "income_band": income,
           "population": population, "low_communication": low_communication, "low_outing": low_outing,
           "isolated": isolated}
    row.update({m: 10.0 for m in MEANS})
    row.update(means)
    return row


@pytest.fixture
def iso(database, world) -> dict[str, Any]:
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        service.import_dongs(s, rows=[{"code": c, "name": n, "district": d, "municipality_code": "4812000000"}
                                      for c, n, d in CW_DONGS])
        service.import_dongs(s, rows=[{"code": c, "name": n, "district": d, "municipality_code": "3100000000"}
                                      for c, n, d in US_DONGS])
    return {"world": world, "database": database}


def load_cells(database, rows: list[dict[str, Any]]) -> dict[str, Any]:
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        return service.import_cells(s, rows=rows)
