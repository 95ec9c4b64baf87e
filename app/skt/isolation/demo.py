"""Demo data: 창원시's five 구 and their 행정동 over 24 months, generated with a fixed seed.

The shape follows what SKT, Statistics Korea and Changwon reported: digital use falls sharply after 65,
and among the elderly it rises with income, as do outings; isolation (low communication and few
outings in the same month) is highest among the oldest, poorest and in the rural 읍·면. The data go
through the same import path as an integrator's batch (validation, upsert, rollups).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.i18n import today_seoul
from app.platform.models import Municipality
from app.skt.isolation import service
from app.skt.isolation.models import AGE_BANDS, AGE_LOWER, INCOME_BANDS, SEXES
from app.skt.isolation.schemas import DefinitionIn, EducationSessionIn

CHANGWON = "4812000000"
# 구 code prefix, 구 name, 행정동 names (읍·면 first)
DISTRICTS: list[tuple[str, str, list[str]]] = [
    ("48121", "의창구", ["동읍", "북면", "대산면", "의창동", "팔룡동", "명곡동", "봉림동", "용지동"]),
    ("48123", "성산구", ["반송동", "중앙동", "상남동", "사파동", "가음정동", "성주동", "웅남동"]),
    ("48125", "마산합포구", ["구산면", "진동면", "진북면", "진전면", "현동", "가포동", "월영동", "문화동", "반월중앙동",
                        "완월동", "자산동", "교방동", "노산동", "오동동", "합포동", "산호동"]),
    ("48127", "마산회원구", ["내서읍", "회원1동", "회원2동", "석전동", "회성동", "양덕1동", "양덕2동", "합성1동",
                        "합성2동", "구암1동", "구암2동", "봉암동"]),
    ("48129", "진해구", ["충무동", "여좌동", "태백동", "경화동", "병암동", "석동", "이동", "자은동", "덕산동", "풍호동",
                      "웅천동", "웅동1동", "웅동2동", "태평동"]),
]
# Share of the adult population per age band (an ageing industrial city).
AGE_SHARE = np.array([0.14, 0.14, 0.17, 0.19, 0.10, 0.09, 0.07, 0.05, 0.05])
# Digital use relative to people in their twenties: the drop after 65.
DIGITAL = np.array([1.0, 0.95, 0.86, 0.72, 0.58, 0.34, 0.23, 0.15, 0.08])
OUTING = np.array([1.0, 1.0, 0.98, 0.93, 0.86, 0.74, 0.64, 0.52, 0.38])
# Income mix by age (none, low, middle, high) and the income effect, stronger among the elderly.
INCOME_MIX_YOUNG = np.array([0.08, 0.22, 0.48, 0.22])
INCOME_MIX_OLD = np.array([0.30, 0.38, 0.24, 0.08])
INCOME_EFFECT = np.array([0.62, 0.78, 1.0, 1.22])
BASE = {"smartphone_data_mb": 14_000.0, "app_minutes": 2_600.0, "messenger_minutes": 900.0,
        "sns_minutes": 700.0, "calls": 95.0, "call_partners": 21.0, "outings": 46.0, "travel_km": 620.0}


def dong_rows() -> list[dict[str, str]]:
    """The 행정동 of 창원시 with plausible 10-digit codes: 읍·면 250, 310, 320 ..., 동 from 510."""
    rows = []
    for prefix, district, names in DISTRICTS:
        towns = [n for n in names if n.endswith(("읍", "면"))]
        urban = [n for n in names if n not in towns]
        for i, name in enumerate(towns):
            rows.append({"code": f"{prefix}{(250, 310, 320, 330, 340)[i]}00", "name": name, "district": district})
        for i, name in enumerate(urban):
            rows.append({"code": f"{prefix}{510 + i}00", "name": name, "district": district})
    return rows


def months(n: int, *, until: date) -> list[str]:
    out = []
    year, month = until.year, until.month
    for _ in range(n):
        out.append(f"{year}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out[::-1]


def generate_cells(dongs: list[dict[str, Any]], periods: list[str], *, seed: int, scale: float = 1.0
                   ) -> list[dict[str, Any]]:
    """Indicator cells for every dong x period x band; ``scale`` multiplies the populations."""
    rng = np.random.default_rng(seed)
    old = np.array([AGE_LOWER[band] >= 65 for band in AGE_BANDS])
    mix = np.where(old[:, None], INCOME_MIX_OLD[None, :], INCOME_MIX_YOUNG[None, :])
    rows: list[dict[str, Any]] = []
    for dong in dongs:
        rural = dong["name"].endswith(("읍", "면"))
        adults = rng.integers(6_000, 26_000) * scale
        ageing = rng.uniform(0.8, 1.3) + (0.5 if rural else 0.0)
        shares = AGE_SHARE * np.where(old, ageing, 1.0)
        shares = shares / shares.sum()
        digital_dong = rng.uniform(0.85, 1.12) * (0.88 if rural else 1.0)
        outing_dong = rng.uniform(0.85, 1.15)
        for t, period in enumerate(periods):
            month = int(period[5:7])
            season = 1.0 - 0.12 * np.cos((month - 1) / 12 * 2 * np.pi)  # fewer outings in winter
            trend = 1.0 + 0.004 * t  # slow growth of digital use
            for a, age_band in enumerate(AGE_BANDS):
                for sex in SEXES:
                    sex_factor = 0.5 * (1.08 if sex == "F" and old[a] else 1.0)
                    for i, income_band in enumerate(INCOME_BANDS):
                        mean_pop = adults * shares[a] * mix[a, i] * sex_factor
                        pop = int(rng.poisson(max(mean_pop, 0.5)))
                        effect = INCOME_EFFECT[i] if old[a] else 1.0 + (INCOME_EFFECT[i] - 1.0) * 0.35
                        digital = DIGITAL[a] * effect * digital_dong * trend
                        outing = OUTING[a] * (0.6 + 0.4 * effect) * outing_dong * season
                        p_comm = float(np.clip(0.03 + 0.55 * (1 - min(digital, 1.0)) ** 2, 0, 0.9))
                        p_out = float(np.clip(0.04 + 0.6 * (1 - min(outing, 1.0)) ** 2 + 0.04 * rural, 0, 0.9))
                        low_comm = int(rng.binomial(pop, p_comm))
                        low_out = int(rng.binomial(pop, p_out))
                        isolated = min(int(rng.binomial(low_comm, min(0.95, p_out * 1.9))), low_out)
                        noise = rng.lognormal(0.0, 0.06, size=8)
                        means = {
                            "smartphone_data_mb": BASE["smartphone_data_mb"] * digital * noise[0],
                            "app_minutes": BASE["app_minutes"] * digital * noise[1],
                            "messenger_minutes": BASE["messenger_minutes"] * digital ** 0.8 * noise[2],
                            "sns_minutes": BASE["sns_minutes"] * digital ** 1.4 * noise[3],
                            "calls": BASE["calls"] * (0.55 + 0.45 * digital) * noise[4],
                            "call_partners": BASE["call_partners"] * (0.4 + 0.6 * digital) * noise[5],
                            "outings": BASE["outings"] * outing * noise[6],
                            "travel_km": BASE["travel_km"] * outing ** 1.3 * noise[7],
                        }
                        means["home_hours"] = float(np.clip(24 - 0.2 * means["outings"] - 3.0 * outing, 8, 23.5))
                        rows.append({"period": period, "dong_code": dong["code"], "age_band": age_band, "sex": sex,
                                     "income_band": income_band, "population": pop,
                                     "low_communication": low_comm, "low_outing": low_out, "isolated": isolated,
                                     **{k: round(float(v), 2) for k, v in means.items()}})
    return rows


def load(session: Session, *, municipality_id: int, dongs: list[dict[str, Any]], n_months: int, seed: int,
         until: date | None = None, scale: float = 1.0) -> dict[str, Any]:
    """Register ``dongs`` in the municipality and import ``n_months`` of cells through the service."""
    service.import_dongs(session, rows=[{**d, "municipality_code": _code_of(session, municipality_id)}
                                        for d in dongs])
    periods = months(n_months, until=until or today_seoul().replace(day=1))
    rows = generate_cells(dongs, periods, seed=seed, scale=scale)
    per_batch = max(1, service.MAX_BATCH // (len(dongs) * 72)) * len(dongs) * 72
    for start in range(0, len(rows), per_batch):
        service.import_cells(session, rows=rows[start:start + per_batch])
    return {"periods": periods, "cells": len(rows), "dongs": len(dongs)}


def _code_of(session: Session, municipality_id: int) -> str:
    return session.scalar(select(Municipality.code).where(Municipality.id == municipality_id)
                          .execution_options(skip_tenant_scope=True))


CHANGWON_DEFINITION = {
    "low_communication": "월 음성통화·문자·메신저 발신 10회 미만이고 소통 상대가 3명 미만",
    "low_outing": "집 반경 500m 밖 외출이 월 4회 미만이고 하루 평균 20시간 이상 집에 머묾",
    "isolated": "같은 달에 두 기준을 모두 충족 (SKT 보안 구역에서 산출)",
    "source": "창원시 · SKT · 통계청 (창원미래포럼)",
}


# Digital-education sessions 창원시 held: (dong name, days before the demo's day, title, attendees 65+, in all).
# One is held on the demo's day, so the program's KPI bound to them has a figure for the month under way.
CHANGWON_SESSIONS = [
    ("북면", 0, "스마트폰 사진 정리하기", 13, 15),
    ("진전면", 12, "스마트폰 기초 교실", 14, 16), ("구산면", 19, "스마트폰 기초 교실", 11, 12),
    ("진동면", 33, "키오스크 주문 따라 하기", 17, 21), ("대산면", 47, "영상통화로 가족과 안부 나누기", 9, 9),
    ("내서읍", 61, "모바일 뱅킹 안전하게 쓰기", 12, 18), ("웅동2동", 75, "스마트폰 기초 교실", 8, 10),
]


def education_sessions(session: Session, *, until: date | None = None) -> int:
    """Record :data:`CHANGWON_SESSIONS` through the service, dated back from ``until`` (today by default)."""
    codes = {d["name"]: d["code"] for d in dong_rows()}
    day = until or today_seoul()
    for name, days_before, title, older, total in CHANGWON_SESSIONS:
        service.record_education_session(session, data=EducationSessionIn(
            dong_code=codes[name], held_date=day - timedelta(days=days_before), title=title, attendees_65plus=older,
            attendees_total=total))
    return len(CHANGWON_SESSIONS)


def load_demo(session: Session) -> None:
    """창원시: 57 행정동 x 24 months x 72 bands (about 98,000 cells), the city's own definition of isolation in
    force for the last 12 months, and seven digital-education sessions held in the last weeks (one today)."""
    mid = session.scalar(select(Municipality.id).where(Municipality.code == CHANGWON))
    if mid is None:
        return
    made = load(session, municipality_id=mid, dongs=dong_rows(), n_months=24, seed=4812)
    service.create_definition(session, data=DefinitionIn(effective_from=made["periods"][12],
                                                         municipality_code=CHANGWON, **CHANGWON_DEFINITION))
    education_sessions(session)


def sample_data(session: Session, municipality_id: int) -> None:
    """Three dongs over three months and one education session in one municipality (the tenancy route walk
    uses them)."""
    code = _code_of(session, municipality_id)
    dongs = [{"code": f"{code[:4]}9{i:02d}{i:03d}", "name": f"표본{i}동", "district": "표본구"} for i in (1, 2, 3)]
    made = load(session, municipality_id=municipality_id, dongs=dongs, n_months=3, seed=municipality_id % 1000,
                scale=0.3)
    service.create_definition(session, data=DefinitionIn(effective_from=made["periods"][0], municipality_code=code,
                                                         **CHANGWON_DEFINITION))
    service.record_education_session(session, data=EducationSessionIn(
        dong_code=dongs[0]["code"], held_date=today_seoul() - timedelta(days=3), title="표본 스마트폰 교실",
        attendees_65plus=5, attendees_total=6))
