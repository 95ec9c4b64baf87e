"""화순군 (under 전라남도) with staff and a viewer, its zones, and on demand a small generated data set."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.core.tenancy import SYSTEM, bind_principal
from app.lguplus.citydata import demo
from app.platform.models import Municipality, User
from tests.conftest import run_every_module

HWASUN = "4679000000"
ZONES = demo.HWASUN_ZONES[:3]  # 화순읍, 한천면, 춘양면
HWASUN_EUP, HANCHEON = ZONES[0][0], ZONES[1][0]
GWANGJU_DONG = "2911000000"
NAJU = "4617000000"


@pytest.fixture
def county(database, world) -> SimpleNamespace:
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        jeonnam = Municipality(code="4600000000", name_ko="전라남도", name_en="Jeollanam-do", level="metropolitan")
        s.add(jeonnam)
        s.flush()
        hwasun = Municipality(code=HWASUN, name_ko="화순군", name_en="Hwasun", level="basic", parent_id=jeonnam.id)
        s.add(hwasun)
        s.flush()
        hashed = world.users["cw.staff"].password_hash  # same password; hashing again costs time
        for username, role in (("hwasun.staff", "staff"), ("hwasun.viewer", "viewer")):
            s.add(User(username=username, display_name=username, role=role, password_hash=hashed,
                       municipality_id=hwasun.id))
        run_every_module(s, hwasun)
        demo.ensure_zones(s, municipality_id=hwasun.id, county_code=HWASUN, zones=ZONES, outside=True)
        return SimpleNamespace(id=hwasun.id, code=HWASUN, world=world)


@pytest.fixture
def county_data(database, county) -> SimpleNamespace:
    """400 days of hourly living population in 화순읍 and 한천면 (rollups only: pages and analyses never read
    the raw rows, and writing them was most of the cost), 6 months of card spending, 80 survey responses,
    festivals."""
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        made = demo.generate(s, municipality_id=county.id, county_code=HWASUN, zones=ZONES[:2], living_days=400,
                             card_months=6, responses=80, seed=7, raw_days=0)
    county.made = made
    return county


def count_rows(database, model, **where) -> int:
    with database.unit_of_work(write=False) as s:
        bind_principal(s, SYSTEM)
        stmt = select(func.count()).select_from(model)
        for key, value in where.items():
            stmt = stmt.where(getattr(model, key) == value)
        return s.scalar(stmt)
