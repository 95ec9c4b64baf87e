"""Demo data: 광주광역시 서구's small-merchant DX program with a few hundred stores across its 행정동,
applications in every state against yearly budgets, two years of monthly outcomes in which participants
improve after installation (by a known amount per solution), and consulting sessions. Fixed seed."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.brn import random_brn
from app.core.bulk import insert_rows
from app.core.db import utcnow
from app.core.i18n import SEOUL
from app.lguplus.merchants import service
from app.lguplus.merchants.models import (
    COMMITTED_STATES,
    SOLUTIONS,
    Application,
    ApplicationStep,
    Budget,
    ConsultingSession,
    FollowUp,
    MerchantStore,
    Outcome,
)
from app.platform.models import Municipality

SEOGU = "2914000000"
# 행정동 of 서구 with an approximate centre (lat, lon); the codes are demo codes under 29140.
DONGS: list[tuple[str, str, float, float]] = [
    ("2914051000", "양동", 35.1545, 126.9005), ("2914052000", "양3동", 35.1578, 126.8960),
    ("2914053000", "농성1동", 35.1530, 126.8880), ("2914054000", "농성2동", 35.1495, 126.8855),
    ("2914055000", "광천동", 35.1620, 126.8830), ("2914056000", "유덕동", 35.1700, 126.8640),
    ("2914057000", "치평동", 35.1520, 126.8530), ("2914058000", "상무1동", 35.1470, 126.8470),
    ("2914059000", "상무2동", 35.1440, 126.8380), ("2914060000", "화정1동", 35.1440, 126.8760),
    ("2914061000", "화정2동", 35.1400, 126.8700), ("2914062000", "화정3동", 35.1365, 126.8650),
    ("2914063000", "화정4동", 35.1330, 126.8770), ("2914064000", "서창동", 35.1300, 126.8200),
    ("2914065000", "금호1동", 35.1320, 126.8550), ("2914066000", "금호2동", 35.1265, 126.8490),
    ("2914067000", "풍암동", 35.1230, 126.8780), ("2914068000", "동천동", 35.1720, 126.8720),
]
# category: (name words, base monthly sales in won, solutions it tends to adopt)
CATEGORIES: dict[str, tuple[list[str], int, list[str]]] = {
    "한식": (["식당", "밥상", "국밥", "한정식"], 24_000_000, ["ai_booking", "order", "serving_robot", "ai_call"]),
    "카페": (["카페", "커피", "로스터리"], 12_000_000, ["order", "pos", "waiting"]),
    "치킨·주점": (["치킨", "호프", "포차"], 18_000_000, ["order", "ai_call", "pos"]),
    "베이커리": (["베이커리", "빵집", "제과"], 14_000_000, ["pos", "order", "waiting"]),
    "미용": (["헤어", "미용실", "네일"], 9_000_000, ["ai_booking", "ai_call"]),
    "분식": (["분식", "김밥", "떡볶이"], 11_000_000, ["order", "pos", "waiting"]),
    "고깃집": (["숯불갈비", "고깃집", "정육식당"], 32_000_000, ["serving_robot", "waiting", "ai_booking"]),
    "소매": (["마트", "상회", "슈퍼"], 20_000_000, ["pos", "ai_call"]),
}
STREETS = ["상무대로", "무진대로", "화운로", "죽봉대로", "운천로", "시청로", "풍암순환로", "금화로", "월드컵4강로",
           "천변좌로"]
PLACE = ["무등", "빛고을", "상무", "금호", "풍암", "운천", "서창", "광천", "양동", "치평", "화정", "유덕"]
# The true effect of each solution on monthly sales (won) in the generated data.
SALES_EFFECT = {"ai_call": 700_000, "ai_booking": 1_400_000, "waiting": 1_600_000, "order": 2_000_000,
                "pos": 900_000, "serving_robot": 2_600_000}
TOPICS = ["디지털 전환 진단", "U+오더 메뉴 구성", "예약 노쇼 줄이기", "웨이팅 동선 개선", "서빙로봇 동선 점검",
          "온라인 리뷰 관리", "매출 데이터 읽기", "포스 재고 관리"]
ACTIONS = ["메뉴 사진 교체", "예약 알림 문자 설정", "대기 호출 문구 수정", "리뷰 답글 주 2회", "재고 알림 기준 설정",
           "직원 교육 일정 잡기", "테이블 번호 QR 부착"]


def _month(d: date, add: int) -> date:
    i = d.year * 12 + d.month - 1 + add
    return date(i // 12, i % 12 + 1, 1)


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=SEOUL).astimezone(UTC)


def generate(session: Session, *, municipality_id: int, n_merchants: int = 300, n_participants: int = 95,
             months: int = 24, seed: int = 2914, today: date | None = None,
             effects: dict[str, int] | None = None, solutions: list[str] | None = None,
             n_consulting: int = 120, budget_per_year: int = 300_000_000) -> dict[str, Any]:
    """Generate and bulk-insert the whole program; returns ids for tests."""
    import numpy as np
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    today = today or service.today_seoul()
    effects = effects or SALES_EFFECT
    now = utcnow()
    catalogue = service.ensure_catalogue(session, municipality_id=municipality_id)
    first_month = _month(today, -months)
    month_list = [_month(first_month, i) for i in range(months)]

    # merchants
    used: set[str] = set(session.scalars(select(MerchantStore.brn).where(
        MerchantStore.municipality_id == municipality_id)))
    rows = []
    cats = list(CATEGORIES)
    for i in range(n_merchants):
        brn = random_brn(rng)
        while brn in used:
            brn = random_brn(rng)
        used.add(brn)
        code, dong, lat, lon = DONGS[i % len(DONGS)] if i < len(DONGS) else rng.choice(DONGS)
        cat = cats[int(nrng.choice(len(cats), p=[0.24, 0.16, 0.13, 0.08, 0.1, 0.1, 0.11, 0.08]))]
        words = CATEGORIES[cat][0]
        rows.append({"municipality_id": municipality_id, "brn": brn,
                     "name": f"{rng.choice(PLACE)} {rng.choice(words)} {i + 1}호",
                     "address": f"광주광역시 서구 {rng.choice(STREETS)} {rng.randint(1, 480)}",
                     "dong_code": code, "dong_name": dong, "category": cat,
                     "owner_phone": f"010{rng.randint(2000, 9999)}{rng.randint(0, 9999):04d}",
                     "lat": round(lat + rng.gauss(0, 0.0028), 6), "lon": round(lon + rng.gauss(0, 0.0032), 6),
                     "created_at": now})
    insert_rows(session, MerchantStore.__table__, rows)
    ids = dict(session.execute(select(MerchantStore.brn, MerchantStore.id).where(
        MerchantStore.brn.in_([r["brn"] for r in rows]), MerchantStore.municipality_id == municipality_id)).all())
    merchant_ids = [ids[r["brn"]] for r in rows]

    # participants: one solution each, installed between a third and three quarters of the window
    order = list(range(n_merchants))
    rng.shuffle(order)
    participants = order[:min(n_participants, n_merchants)]
    others = order[len(participants):]
    install_month: dict[int, tuple[str, int]] = {}
    for i in participants:
        options = [s for s in CATEGORIES[rows[i]["category"]][2] if solutions is None or s in solutions]
        code = rng.choice(options or solutions or list(SOLUTIONS))
        install_month[i] = (code, rng.randint(months // 3, (3 * months) // 4))

    apps: list[dict[str, Any]] = []
    steps_for: list[list[tuple[str, date, str | None]]] = []

    def add_app(i: int, code: str, state: str, year: int, start: date, reason: str | None = None,
                installed: date | None = None) -> None:
        sol = catalogue[code]
        requested = int(sol.max_subsidy_krw * rng.choice([1.0, 1.0, 0.8, 0.6]))
        path = ["submitted", "reviewed", "approved", "installed", "active"]
        if state in path:
            chain = path[:path.index(state) + 1]
        elif state == "rejected":
            chain = ["submitted", rng.choice(["submitted", "reviewed"]), "rejected"]
            chain = list(dict.fromkeys(chain))
        elif installed is not None:  # cancelled after some months of use
            chain = [*path, "cancelled"]
        else:  # cancelled before installation
            chain = path[:rng.randint(1, 3)] + ["cancelled"]
        committed = requested if (state in COMMITTED_STATES or (state == "cancelled" and "installed" in chain)) else 0
        day = start
        steps = []
        for st in chain:
            steps.append((st, day, reason if st in ("rejected", "cancelled") else None))
            day = installed if st == "approved" and installed is not None else day + timedelta(days=rng.randint(2, 12))
        apps.append({"municipality_id": municipality_id, "merchant_id": merchant_ids[i], "solution_id": sol.id,
                     "year": year, "requested_subsidy_krw": requested, "committed_krw": committed, "state": state,
                     "reason": reason, "installed_date": installed if "installed" in chain else None,
                     "created_at": _at(start), "updated_at": _at(steps[-1][1])})
        steps_for.append(steps)

    for i, (code, m) in install_month.items():
        installed = month_list[m] + timedelta(days=rng.randint(0, 20))
        start = installed - timedelta(days=rng.randint(25, 50))
        roll = rng.random()
        state = "cancelled" if roll < 0.05 else ("installed" if roll < 0.15 or m >= months - 2 else "active")
        add_app(i, code, state, installed.year, start, installed=installed,
                reason="폐업으로 해지" if state == "cancelled" else None)
    # this year's pipeline among non-participants: every state
    pipeline = others[:max(6, min(60, len(others) // 3))]
    states = ["submitted", "submitted", "reviewed", "reviewed", "approved", "rejected", "cancelled"]
    for n, i in enumerate(pipeline):
        state = states[n % len(states)]
        code = rng.choice(CATEGORIES[rows[i]["category"]][2])
        start = today - timedelta(days=rng.randint(5, 60))
        reason = {"rejected": "사업자 휴업 상태 확인", "cancelled": "가맹점 요청으로 취소"}.get(state)
        add_app(i, code, state, today.year, start, reason=reason)
    insert_rows(session, Application.__table__, apps)
    app_ids = list(session.scalars(select(Application.id).where(Application.municipality_id == municipality_id,
                                                                Application.merchant_id.in_(merchant_ids))
                                   .order_by(Application.id)))
    step_rows = []
    for app_id, steps in zip(app_ids, steps_for, strict=True):
        prev = None
        for st, day, reason in steps:
            step_rows.append({"municipality_id": municipality_id, "application_id": app_id, "from_state": prev,
                              "to_state": st, "reason": reason, "actor": "user:seogu.staff", "at": _at(day, 11)})
            prev = st
    insert_rows(session, ApplicationStep.__table__, step_rows)

    # budgets: every year of the window, covering what was committed
    committed: dict[int, int] = {}
    for a in apps:
        committed[a["year"]] = committed.get(a["year"], 0) + a["committed_krw"]
    for year in sorted({m.year for m in month_list} | {today.year}):
        have = service.get_budget(session, municipality_id=municipality_id, year=year)
        amount = max(budget_per_year, int(committed.get(year, 0) * 1.25))
        if have is None:
            session.add(Budget(municipality_id=municipality_id, year=year, amount_krw=amount,
                               committed_krw=committed.get(year, 0)))
    session.flush()

    # outcomes: level x season x trend x noise, plus the solution's effect after installation
    season = {1: 0.92, 2: 0.9, 3: 0.98, 4: 1.0, 5: 1.05, 6: 1.02, 7: 1.04, 8: 1.06, 9: 1.0, 10: 1.03, 11: 0.98,
              12: 1.08}
    out_rows = []
    level = nrng.lognormal(0, 0.35, n_merchants)
    for i in range(n_merchants):
        cat = rows[i]["category"]
        base = CATEGORIES[cat][1] * level[i]
        ticket = 9_000 + 14_000 * nrng.random()
        booking = cat in ("한식", "미용", "고깃집")
        inst = install_month.get(i)
        for m, month in enumerate(month_list):
            after = inst is not None and m > inst[1]
            trend = 1 + 0.002 * m
            sales = base * season[month.month] * trend * nrng.normal(1, 0.05)
            if after:
                sales += effects.get(inst[0], 0) * nrng.normal(1, 0.15)
            orders = sales / ticket
            reservations = (orders * 0.12 * (1.35 if after and inst[0] == "ai_booking" else 1.0)) if booking else 0
            no_show = max(0.0, nrng.normal(0.11, 0.02) * (0.6 if after and inst[0] in ("ai_booking", "waiting")
                                                          else 1.0)) if booking else None
            hours = max(40.0, 160 * (base / 15_000_000) ** 0.5 * nrng.normal(1, 0.04)
                        * (0.9 if after and inst[0] in ("serving_robot", "order") else 1.0))
            out_rows.append({"municipality_id": municipality_id, "merchant_id": merchant_ids[i], "month_date": month,
                             "sales_krw": int(max(0, sales)), "orders": int(max(0, orders)),
                             "reservations": int(reservations), "no_show_rate": round(min(no_show, 1), 4)
                             if no_show is not None else None, "staff_hours": round(hours, 1)})
    for start in range(0, len(out_rows), 5000):
        insert_rows(session, Outcome.__table__, out_rows[start:start + 5000])

    # consulting: sessions over the last five months and the next two weeks, with follow-ups (Core inserts:
    # generated history, not staff actions, so it does not fill the audit log)
    sessions, actions = [], []
    for n in range(n_consulting):
        i = rng.choice(participants + pipeline) if participants or pipeline else rng.randrange(n_merchants)
        day = today + timedelta(days=rng.randint(-150, 14))
        while day.weekday() >= 5:
            day += timedelta(days=1)
        sessions.append({"municipality_id": municipality_id, "merchant_id": merchant_ids[i], "session_date": day,
                         "topic": rng.choice(TOPICS), "consultant": "김유진아카데미", "created_at": now,
                         "notes": f"김유진아카데미 현장 컨설팅 {n + 1}회차: 매장 운영 점검과 디지털 도구 활용 안내."})
        actions.append([{"municipality_id": municipality_id, "action": rng.choice(ACTIONS),
                         "due_date": day + timedelta(days=rng.randint(7, 30)),
                         "done": day + timedelta(days=30) < today and rng.random() < 0.8}
                        for _k in range(rng.randint(0, 2))])
    if sessions:
        insert_rows(session, ConsultingSession.__table__, sessions)
        session_ids = list(session.scalars(select(ConsultingSession.id).where(
            ConsultingSession.municipality_id == municipality_id, ConsultingSession.merchant_id.in_(merchant_ids))
            .order_by(ConsultingSession.id)))[-len(sessions):]
        follow = [{**a, "consulting_id": sid} for sid, acts in zip(session_ids, actions, strict=True) for a in acts]
        if follow:
            insert_rows(session, FollowUp.__table__, follow)
    session.flush()
    return {"merchant_ids": merchant_ids, "participants": [merchant_ids[i] for i in participants],
            "installs": {merchant_ids[i]: v for i, v in install_month.items()}, "application_ids": app_ids,
            "months": month_list}


def load_demo(session: Session) -> None:
    """The program of 광주광역시 서구 (2914000000); skipped when that municipality does not exist."""
    found = session.scalar(select(Municipality.id).where(Municipality.code == SEOGU))
    if found is None:
        return
    generate(session, municipality_id=found)


def sample_data(session: Session, municipality_id: int) -> None:
    """A few of every kind of object in one municipality (the tenancy route walk uses them)."""
    generate(session, municipality_id=municipality_id, n_merchants=10, n_participants=4, months=6,
             seed=municipality_id + 29, n_consulting=4)
