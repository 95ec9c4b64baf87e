"""Demo data: 5G routers, fixed-IP pools, policies and a month of access logs for 거제시 and 이천시."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.i18n import SEOUL
from app.kt.worknet import access, service
from app.kt.worknet.models import Router
from app.kt.worknet.schemas import AccessEventIn, AssignIn, PolicyIn, PoolIn, StatusIn
from app.kt.worknet.sealing import luhn_complete
from app.platform.models import Municipality

SURNAMES = "김이박최정강조윤장임한오서신권황안송류홍"
GIVEN = ["민준", "서연", "도윤", "지우", "하준", "수아", "시우", "지민", "예준", "서윤", "주원", "하은", "지호",
         "채원", "준서", "다은", "현우", "은서", "건우", "유진", "우진", "소율", "선우", "예린"]
MODELS = ["5G 에그 E500", "5G 에그 E700"]

# code, serial prefix, account prefix, routers, pools (name, cidr, department), policies, departments
SITES = [
    ("4831000000", "GJ5G", "gj", 96,
     [("거제시 본청", "10.231.16.0/24", ""), ("거제시 안전총괄과 현장", "10.231.17.0/26", "안전총괄과")],
     [("", [0, 1, 2, 3, 4], "07:00", "22:00"), ("안전총괄과", [0, 1, 2, 3, 4, 5, 6], "00:00", "24:00"),
      ("해양항만과", [0, 1, 2, 3, 4, 5], "06:00", "22:00")],
     ["기획예산담당관", "민원봉사과", "안전총괄과", "건설과", "해양항만과", "복지정책과", "관광과", "농업정책과"]),
    ("4150000000", "IC5G", "ic", 30,
     [("이천시 본청", "10.215.40.0/25", "")],
     [("", [0, 1, 2, 3, 4], "07:00", "21:00")],
     ["민원지적과", "안전총괄과", "도로과", "환경보호과"]),
]


def _imei(rng: random.Random) -> str:
    return luhn_complete("35" + "".join(rng.choice("0123456789") for _ in range(12)))


def _iccid(rng: random.Random) -> str:
    return luhn_complete("898230" + "".join(rng.choice("0123456789") for _ in range(13)))


def sim_numbers(code: str, n: int) -> dict[str, str]:
    """The n-th demo SIM of a municipality: an IMSI of KT's network (MCC 450, MNC 08) and an 010 number."""
    return {"imsi": f"45008{code[:4]}{n:06d}", "msisdn": f"010-{code[2:4]}{n // 10000:02d}-{n % 10000:04d}"}


def load_demo(session: Session, *, today: date | None = None) -> None:
    today = today or datetime.now(SEOUL).date()
    rng = random.Random(5)
    for code, prefix, account, count, pools, policies, departments in SITES:
        municipality = session.scalar(select(Municipality).where(Municipality.code == code))
        if municipality is None:
            continue
        _load_site(session, municipality, rng=rng, today=today, prefix=prefix, account=account, count=count,
                   pools=pools, policies=policies, departments=departments)


def _load_site(session: Session, municipality: Municipality, *, rng: random.Random, today: date, prefix: str,
               account: str, count: int, pools, policies, departments: list[str]) -> None:
    code = municipality.code
    routers = service.import_routers(session, municipality_code=code, rows=[
        {"serial": f"{prefix}-{i:04d}", "model": MODELS[i % 2], "imei": _imei(rng), "iccid": _iccid(rng),
         **sim_numbers(code, i)} for i in range(1, count + 1)])
    made_pools = {dept: service.create_pool(session, data=PoolIn(name=name, cidr=cidr, department=dept,
                                                                 municipality_code=code))
                  for name, cidr, dept in pools}
    for dept, days, start, end in policies:
        access.create_policy(session, municipality=municipality, data=PolicyIn(
            department=dept, weekdays=days, start=start, end=end, bind_routers=True))
    assigned = int(count * 0.84)
    users: list[tuple[str, Router]] = []
    for i, router in enumerate(routers[:assigned]):
        username = f"{account}{2001 + i}"
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        dept = departments[i % len(departments)]
        service.assign_router(session, router=router, data=AssignIn(assignee_username=username, assignee_name=name,
                                                                    department=dept))
        pool = made_pools.get(dept) or made_pools[""]
        service.allocate(session, pool=pool, router_id=router.id)
        users.append((username, router))
    lost = routers[assigned]
    service.assign_router(session, router=lost, data=AssignIn(assignee_username=f"{account}1999", assignee_name="분실",
                                                              department=departments[0]))
    service.allocate(session, pool=made_pools[""], router_id=lost.id)
    service.change_status(session, router=lost, data=StatusIn(status="lost", note="현장 출장 중 분실 신고"))
    service.change_status(session, router=routers[assigned + 1], data=StatusIn(status="retired", note="배터리 불량"))
    ips = service.active_ips(session, [r.id for _, r in users])
    ip_of = {r.serial: ips[r.id] for _, r in users if r.id in ips}
    access.ingest(session, municipality=municipality, now=datetime.now(UTC),
                  events=_month_of_events(rng, users, lost, today, account, ip_of))


def _at(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SEOUL)


def _month_of_events(rng: random.Random, users: list[tuple[str, Router]], lost: Router, today: date,
                     account: str, ip_of: dict[str, str]) -> list[AccessEventIn]:
    events: list[AccessEventIn] = []

    def add(at: datetime, username: str, router: Router | None, result: str, reason: str = "",
            serial: str | None = None) -> None:
        serial = serial or (router.serial if router else None)
        events.append(AccessEventIn(client_id=f"{account}-{len(events):06d}", occurred_at=at, username=username,
                                    router_serial=serial, ip=ip_of.get(serial or ""), result=result,
                                    reason=reason or ("ok" if result == "success" else "bad password")))

    for offset in range(30, 0, -1):
        day = today - timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for username, router in users:
            if rng.random() > 0.55:
                continue
            hour = rng.choice([8, 9, 9, 10, 13, 14, 15, 16, 17])
            if rng.random() < 0.05:
                add(_at(day, hour, rng.randint(0, 29)), username, router, "failure")
            add(_at(day, hour, rng.randint(30, 59)), username, router, "success")
    # A few breaches for the alert screens.
    recent = [today - timedelta(days=d) for d in (2, 5, 9, 12)]
    add(_at(recent[0], 23, 40), users[0][0], users[0][1], "success")                 # late at night
    add(_at(recent[1], 5, 10), users[3][0], users[3][1], "success")                   # early morning
    add(_at(recent[2], 10, 5), users[1][0], users[2][1], "success")                   # someone else's router
    add(_at(recent[3], 11, 20), users[4][0], lost, "success")                         # the lost router
    add(_at(recent[3], 14, 0), users[5][0], None, "success", serial="XX5G-9999")      # unregistered router
    for i in range(7):                                                                 # password guessing
        add(_at(recent[1], 2, 10 + i), users[6][0], users[6][1], "failure")
    return sorted(events, key=lambda e: e.occurred_at)


def sample_data(session: Session, municipality_id: int) -> None:
    """A few of every kind of object in one municipality (the tenancy walk uses them)."""
    municipality = session.scalar(select(Municipality).where(Municipality.id == municipality_id))
    assert municipality is not None
    rng = random.Random(municipality_id)
    code = municipality.code
    tag = code[:4]
    routers = service.import_routers(session, municipality_code=code, rows=[
        {"serial": f"S{tag}-{i:03d}", "model": MODELS[0], "imei": _imei(rng), "iccid": _iccid(rng),
         **sim_numbers(code, 900 + i)} for i in range(3)])
    pool = service.create_pool(session, data=PoolIn(name=f"샘플 {tag}", cidr="10.99.0.0/28", municipality_code=code))
    policy = access.create_policy(session, municipality=municipality, data=PolicyIn(start="08:00", end="20:00"))
    service.assign_router(session, router=routers[0], data=AssignIn(assignee_username="sample.user",
                                                                    assignee_name="홍길동", department="총무과"))
    service.allocate(session, pool=pool, router_id=routers[0].id)
    lease, _ = service.allocate(session, pool=pool, router_id=routers[1].id)
    service.release_lease(session, lease=lease, reason="sample")
    now = datetime.now(UTC)
    day = now.astimezone(SEOUL).date() - timedelta(days=1)
    access.ingest(session, municipality=municipality, now=now, events=[
        AccessEventIn(client_id=f"sample-{tag}-1", occurred_at=_at(day, 9, 0), username="sample.user",
                      router_serial=routers[0].serial, result="success"),
        AccessEventIn(client_id=f"sample-{tag}-2", occurred_at=_at(day, 23, 30), username="sample.user",
                      router_serial=routers[2].serial, result="success"),
    ])
    assert policy.id
