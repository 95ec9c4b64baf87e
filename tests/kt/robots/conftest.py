"""A small fleet in 창원시: one site with named places, two guide robots of two vendors, a patrol robot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from app.core import security
from app.core.db import utcnow
from app.core.tenancy import SYSTEM, bind_principal
from app.kt.robots import service
from app.kt.robots.schemas import RobotIn, SiteIn

PLACES = [
    {"name": "정문", "kind": "door", "x": 1.0, "y": 10.0},
    {"name": "안내 데스크", "kind": "desk", "x": 5.0, "y": 10.0},
    {"name": "여권 창구", "kind": "desk", "x": 25.0, "y": 2.0},
    {"name": "휴게실", "kind": "room", "x": 28.0, "y": 18.0},
    {"name": "충전 도크", "kind": "dock", "x": 2.0, "y": 18.0},
]


@dataclass
class Fleet:
    site_id: int
    guide_a: int  # KT, near the entrance
    guide_b: int  # LG전자, near the passport desk
    patrol: int


def state(*, x: float, y: float, battery: float = 80.0, charging: bool = False, at: datetime | None = None,
          errors: list | None = None, task: dict | None = None) -> dict:
    return {"time": (at or utcnow()).isoformat(), "operating_mode": "automatic",
            "position": {"x": x, "y": y, "theta": 0.0, "map_id": "f1"},
            "battery": {"charge_pct": battery, "charging": charging}, "errors": errors or [],
            **({"task": task} if task else {})}


@pytest.fixture
def fleet(database, world) -> Fleet:
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        data = SiteIn(code="cw-hall", name="창원시청 민원실", municipality_code="4812000000", map_id="f1",
                      map_width_m=30, map_height_m=20, places=PLACES)
        site = service.create_site(s, data=data)
        ids = []
        for ext, name, vendor, rtype in [("KT-G1", "안내로봇 1호", "KT", "guide"),
                                         ("LG-G2", "안내로봇 2호", "LG전자", "guide"),
                                         ("KT-P1", "순찰로봇", "KT", "patrol")]:
            robot = service.register_robot(s, data=RobotIn(external_id=ext, name=name, vendor=vendor, model="M1",
                                                           type=rtype, site_id=site.id))
            ids.append(robot.id)
        return Fleet(site_id=site.id, guide_a=ids[0], guide_b=ids[1], patrol=ids[2])


def seconds_ago(n: float) -> datetime:
    return utcnow() - timedelta(seconds=n)


@pytest.fixture
def auth(client, world):
    """Bearer headers for a staff member of ``world``, minted as the token endpoint would (no password
    hashing per test; the sign-in itself is the platform's tests' business)."""

    def headers(username: str) -> dict[str, str]:
        user = world.users[username]
        token = security.issue_staff_token(client.app.state.settings.secret_key, user_id=user.id,
                                           session_version=user.session_version or 1)
        return {"Authorization": f"Bearer {token}"}

    return headers
