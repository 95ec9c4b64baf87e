"""Demo data for 화순군: 13 읍면, three years of hourly living population, two years of card spending with
leakage to 광주, one survey of about 500 residents, and festivals (the county's 국화향연, neighbours').

Generated with real structure and a fixed seed: weekly rhythm, seasons, 설날/추석 homecoming peaks and
substitute days (from the ``holidays`` package), an autumn festival in 화순읍, and a slow upward trend.
To load in seconds, living population is generated at a coarse grain (sex and age band ``all``, one
row per zone x hour x visitor type, visitors split by origin 광주/other); raw rows are written for the last
three months only, while the daily and hourly rollups cover all three years (pages and analyses read only
the rollups). Raw rows and rollups are written with the same bulk path as imports.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.bulk import insert_tuples
from app.core.db import utcnow
from app.lguplus.citydata import analysis, importers
from app.lguplus.citydata.models import (
    CitydataCardSpending,
    CitydataFestival,
    CitydataImportJob,
    CitydataLivingPopulation,
    CitydataZone,
)
from app.lguplus.citydata.schemas import SurveyIn
from app.platform.models import Municipality

HWASUN = "4679000000"
GWANGJU = "2900000000"
# 읍면 of 화순군 (administrative codes as used by the data providers), residents, relative visitor pull.
HWASUN_ZONES = [
    ("4679025000", "화순읍", "Hwasun-eup", 41000, 3.0), ("4679031000", "한천면", "Hancheon-myeon", 1500, 0.5),
    ("4679032000", "춘양면", "Chunyang-myeon", 1900, 0.4), ("4679033000", "청풍면", "Cheongpung-myeon", 1200, 0.3),
    ("4679034000", "이양면", "Iyang-myeon", 2300, 0.5), ("4679035000", "능주면", "Neungju-myeon", 3300, 0.8),
    ("4679036000", "도곡면", "Dogok-myeon", 4300, 1.1), ("4679037000", "도암면", "Doam-myeon", 1500, 0.7),
    ("4679038000", "이서면", "Iseo-myeon", 800, 0.9), ("4679039500", "북면", "Buk-myeon", 1300, 0.6),
    ("4679040000", "동복면", "Dongbok-myeon", 1400, 0.6), ("4679041000", "남면", "Nam-myeon", 1300, 0.4),
    ("4679042000", "동면", "Dong-myeon", 2600, 0.7),
]
# Outside areas where card data place merchants: 광주's 구 (leakage) and cities of 전라남도 (the province benchmark).
OUTSIDE_ZONES = [
    ("2911000000", "광주 동구", "Dong-gu, Gwangju", "2911000000"),
    ("2914000000", "광주 서구", "Seo-gu, Gwangju", "2914000000"),
    ("2915500000", "광주 남구", "Nam-gu, Gwangju", "2915500000"),
    ("2917000000", "광주 북구", "Buk-gu, Gwangju", "2917000000"),
    ("4611000000", "목포시", "Mokpo", "4611000000"), ("4613000000", "여수시", "Yeosu", "4613000000"),
    ("4615000000", "순천시", "Suncheon", "4615000000"), ("4617000000", "나주시", "Naju", "4617000000"),
]
# category: (large, share of residents' spending, share that leaks to 광주, province share, visitor pull)
CATEGORIES = {
    "한식": ("음식", 0.16, 0.10, 0.15, 1.6), "카페": ("음식", 0.05, 0.25, 0.05, 1.2),
    "분식·제과": ("음식", 0.04, 0.20, 0.04, 0.8), "정육": ("식료품", 0.07, 0.45, 0.05, 0.5),
    "수산물": ("식료품", 0.05, 0.50, 0.07, 0.3), "과일·채소": ("식료품", 0.06, 0.30, 0.06, 0.6),
    "반찬·떡": ("식료품", 0.03, 0.35, 0.02, 0.7), "농산물 가공": ("식료품", 0.02, 0.15, 0.03, 1.4),
    "대형마트": ("유통", 0.16, 0.85, 0.13, 0.2), "편의점": ("유통", 0.06, 0.08, 0.06, 0.9),
    "의류": ("패션·잡화", 0.06, 0.80, 0.07, 0.2), "생활잡화": ("패션·잡화", 0.04, 0.55, 0.04, 0.3),
    "미용": ("서비스", 0.03, 0.40, 0.03, 0.1), "숙박": ("여가", 0.01, 0.05, 0.04, 2.5),
    "주유": ("교통", 0.08, 0.15, 0.10, 1.0), "병원·약국": ("의료", 0.08, 0.55, 0.07, 0.1),
}
DOW = np.array([0.82, 0.76, 0.78, 0.84, 1.0, 1.62, 1.46])
MONTH = np.array([0.70, 0.76, 0.95, 1.15, 1.22, 1.0, 1.05, 1.12, 1.0, 1.36, 1.22, 0.80])
VISITOR_HOURS = np.array([0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.4, 0.7, 1.0, 1.4, 1.8, 2.1, 2.3, 2.4, 2.4, 2.2, 2.0,
                          1.7, 1.3, 1.0, 0.8, 0.6, 0.4, 0.3])
RESIDENT_HOURS = np.array([1.0] * 7 + [0.9, 0.8, 0.72, 0.7, 0.72, 0.72, 0.7, 0.7, 0.72, 0.76, 0.84, 0.92, 0.96]
                          + [1.0] * 4)
WORKER_HOURS = np.array([0.02] * 7 + [0.3, 0.8, 1.0, 1.0, 0.95, 0.9, 1.0, 1.0, 0.95, 0.8, 0.5, 0.2, 0.1, 0.05,
                                      0.03, 0.02, 0.02])
LIVING_END = date(2026, 10, 31)
RAW_DAYS = 92  # raw rows kept for the last three months; older days go straight into the rollups
LIVING_DAYS = 1096
CARD_MONTHS = 24


def own_festival_dates(year: int) -> tuple[date, date]:
    """화순 국화향연: ten days from the fourth Friday of October."""
    d = date(year, 10, 1)
    while d.weekday() != 4:
        d += timedelta(days=1)
    start = d + timedelta(days=21)
    return start, start + timedelta(days=9)


def ensure_zones(session: Session, *, municipality_id: int, county_code: str,
                 zones: list[tuple] | None = None, outside: bool = True) -> dict[str, int]:
    have = importers.zone_map(session, municipality_id=municipality_id)
    for code, name_ko, name_en, *_ in zones or HWASUN_ZONES:
        if code not in have:
            session.add(CitydataZone(municipality_id=municipality_id, code=code, name_ko=name_ko, name_en=name_en,
                                     area_code=county_code))
    for code, name_ko, name_en, area in OUTSIDE_ZONES if outside else []:
        if code not in have:
            session.add(CitydataZone(municipality_id=municipality_id, code=code, name_ko=name_ko, name_en=name_en,
                                     area_code=area))
    session.flush()
    return importers.zone_map(session, municipality_id=municipality_id)


def _job(session: Session, municipality_id: int, kind: str, rows: int) -> int:
    job = CitydataImportJob(municipality_id=municipality_id, kind=kind, filename="(demo)", status="done",
                            rows_total=rows, rows_done=rows, created_by="system:demo", errors=[],
                            started_at=utcnow(), finished_at=utcnow())
    session.add(job)
    session.flush()
    return job.id


def living_population(session: Session, *, municipality_id: int, county_code: str, zones: list[tuple],
                      zone_ids: dict[str, int], end: date, days: int, rng: np.random.Generator,
                      festival_zone: str | None, raw_days: int | None = None) -> int:
    """Hourly people present per zone and visitor type; rollups are summed here and upserted. Raw rows
    are written for the last ``raw_days`` days only (all days when None); the rollups cover every day."""
    raw_start = 0 if raw_days is None else max(0, days - raw_days)
    dates = [end - timedelta(days=days - 1 - i) for i in range(days)]
    dow = DOW[[d.weekday() for d in dates]]
    month = MONTH[[d.month - 1 for d in dates]]
    hol = np.ones(days)
    for i, d in enumerate(dates):
        name = analysis.holiday_name(d)
        if name:
            hol[i] = 2.3 if analysis.is_lunar_holiday(name) else 1.5
    trend = 1 + 0.03 * np.arange(days) / 365.25
    fest = np.zeros(days, dtype=bool)
    for year in {d.year for d in dates}:
        s, e = own_festival_dates(year)
        fest |= np.array([s <= d <= e for d in dates])
    job_id = _job(session, municipality_id, "living_population", 0)
    conv = importers.LivingPopulation(municipality_id=municipality_id, municipality_code=county_code, job_id=job_id,
                                      zones=zone_ids)
    iso = [d.isoformat() for d in dates]
    weekday = [d.weekday() for d in dates]
    rows: list[tuple] = []
    total = 0
    for code, _ko, _en, residents, pull in zones:
        zid = zone_ids[code]
        noise = np.exp(rng.normal(0, 0.08, days))
        boost = np.where(fest, 3.2 if code == festival_zone else 1.25, 1.0)
        visitors_day = 260 * pull * dow * month * hol * trend * noise * boost
        lunar_home = np.where(hol > 2, 1.08, 1.0)
        series = {
            "resident": np.outer(residents * lunar_home * np.exp(rng.normal(0, 0.01, days)), RESIDENT_HOURS),
            "worker": np.outer(residents * 0.18 * np.where(np.array(weekday) >= 5, 0.35, 1.0)
                               * np.where(hol > 1, 0.3, 1.0),
                               WORKER_HOURS),
            "visitor": np.outer(visitors_day / VISITOR_HOURS.sum(), VISITOR_HOURS),
        }
        for vtype, grid in series.items():
            grid = np.round(grid, 1)
            if vtype == "visitor":
                from_gwangju = np.round(grid * 0.62, 1)
                parts = [(GWANGJU, from_gwangju), (None, np.round(grid - from_gwangju, 1))]
                grid = parts[0][1] + parts[1][1]
            else:
                parts = [(None, grid)]
            day_sums = grid.sum(axis=1)
            for i in range(days):
                conv.daily[(zid, iso[i], vtype)] += float(day_sums[i])
                hours = grid[i].tolist()
                for h in range(24):
                    conv.hourly[(zid, weekday[i], h, vtype)] += hours[h]
            for origin, part in parts:
                values = part.tolist()
                rows += [(municipality_id, job_id, iso[i], h, zid, "all", "all", vtype, origin, values[i][h])
                         for i in range(raw_start, days) for h in range(24)]
            if len(rows) >= 200_000:
                insert_tuples(session, CitydataLivingPopulation.__table__, conv.insert_columns, rows)
                total += len(rows)
                rows = []
    insert_tuples(session, CitydataLivingPopulation.__table__, conv.insert_columns, rows)
    total += len(rows)
    conv.write_rollups(session)
    job = session.get(CitydataImportJob, job_id)
    job.rows_total = job.rows_done = total
    return total


def card_spending(session: Session, *, municipality_id: int, county_code: str, zones: list[tuple],
                  zone_ids: dict[str, int], end_month: str, months: int, rng: np.random.Generator,
                  outside: bool = True) -> int:
    job_id = _job(session, municipality_id, "card_spending", 0)
    conv = importers.CardSpending(municipality_id=municipality_id, municipality_code=county_code, job_id=job_id,
                                  zones=zone_ids)
    y, m = int(end_month[:4]), int(end_month[5:])
    month_list = []
    for back in range(months - 1, -1, -1):
        idx = y * 12 + m - 1 - back
        month_list.append(f"{idx // 12:04d}-{idx % 12 + 1:02d}")
    residents = sum(z[3] for z in zones)
    pulls = np.array([z[4] for z in zones], dtype=float)
    res_weights = np.array([z[3] for z in zones], dtype=float) / residents
    rows: list[tuple] = []
    gwangju_zones = [z for z in OUTSIDE_ZONES if z[0].startswith("29")] if outside else []
    province_zones = [z for z in OUTSIDE_ZONES if z[0].startswith("46")] if outside else []
    for month in month_list:
        season = MONTH[int(month[5:]) - 1]
        monthly_res = residents * 620_000 * (0.9 + 0.1 * season)  # won spent by card per resident-month
        for middle, (large, share, leak, prov_share, visitor_pull) in CATEGORIES.items():
            amount = monthly_res * share * float(np.exp(rng.normal(0, 0.05)))
            inside_amount, leak_amount = amount * (1 - leak), amount * leak
            price = 9_000 + 40_000 * rng.random()
            for (code, *_rest), w in zip(zones, res_weights, strict=True):
                for sex in ("M", "F"):
                    a = int(inside_amount * w * (0.48 if sex == "M" else 0.52))
                    rows.append((month, code, large, middle, county_code, sex, "all", a, max(0, int(a / price))))
            for code, *_rest in gwangju_zones:
                a = int(leak_amount / len(gwangju_zones) * float(np.exp(rng.normal(0, 0.1))))
                rows.append((month, code, large, middle, county_code, "all", "all", a, max(0, int(a / price))))
            for (code, *_rest), pull in zip(zones, pulls, strict=True):
                for home, part in ((GWANGJU, 0.55), ("4617000000", 0.25), ("1100000000", 0.20)):
                    a = int(30_000_000 * visitor_pull * pull * season * part * float(np.exp(rng.normal(0, 0.15))))
                    rows.append((month, code, large, middle, home, "all", "all", a, max(0, int(a / price))))
            for code, *_rest in province_zones:
                a = int(9_000_000_000 * prov_share * float(np.exp(rng.normal(0, 0.08))))
                rows.append((month, code, large, middle, code, "all", "all", a, max(0, int(a / price))))
    report = importers.ErrorReport(prefix="rows")
    conv.bind_columns()
    out = []
    for i, row in enumerate(rows):
        converted = conv.convert(i, [str(v) for v in row], report)
        out.append(converted)
    if report.count:
        raise importers.ImportRefused(report)
    insert_tuples(session, CitydataCardSpending.__table__, conv.insert_columns, out)
    conv.write_rollups(session)
    job = session.get(CitydataImportJob, job_id)
    job.rows_total = job.rows_done = len(out)
    return len(out)


SURVEY_QUESTIONS: list[dict[str, Any]] = [
    {"code": "market_visits", "text": "화순 전통시장을 얼마나 자주 이용하십니까?", "kind": "choice",
     "choices": ["주 1회 이상", "월 1~3회", "연 몇 회", "이용하지 않음"]},
    {"code": "buy_elsewhere", "text": "주로 화순군 밖(광주 등)에서 사는 품목을 모두 골라 주십시오.", "kind": "multi",
     "topic": "buy_elsewhere", "choices": ["대형마트", "의류", "정육", "수산물", "병원·약국", "생활잡화", "반찬·떡",
                                           "과일·채소"]},
    {"code": "satisfaction", "text": "전통시장 만족도 (1 매우 불만 ~ 5 매우 만족)", "kind": "scale", "scale_min": 1,
     "scale_max": 5},
    {"code": "festival_season", "text": "축제에 가장 가고 싶은 계절은?", "kind": "choice",
     "choices": ["봄", "여름", "가을", "겨울"]},
]
LIKELY = {"대형마트": 0.72, "의류": 0.61, "정육": 0.38, "수산물": 0.44, "병원·약국": 0.35, "생활잡화": 0.3,
          "반찬·떡": 0.12, "과일·채소": 0.18}


def survey(session: Session, *, municipality_id: int, county_code: str, zones: list[tuple], n: int,
           rng: np.random.Generator, name: str = "2026 화순군 소비·축제 주민 설문") -> None:
    from app.lguplus.citydata import service

    ages = ["20-29", "30-39", "40-49", "50-59", "60-69", "70+"]
    age_p = np.array([0.1, 0.12, 0.16, 0.2, 0.22, 0.2])
    codes = [z[0] for z in zones]
    zone_p = np.array([z[3] for z in zones], dtype=float)
    zone_p /= zone_p.sum()
    responses = []
    for i in range(n):
        age = ages[rng.choice(len(ages), p=age_p)]
        sex = "M" if rng.random() < 0.48 else "F"
        young = age in ("20-29", "30-39", "40-49")
        visits = rng.choice(4, p=[0.12, 0.3, 0.33, 0.25] if young else [0.35, 0.35, 0.2, 0.1])
        elsewhere = [c for c, p in LIKELY.items() if rng.random() < min(0.95, p * (1.25 if young else 0.8))]
        answers: dict[str, Any] = {
            "market_visits": SURVEY_QUESTIONS[0]["choices"][visits],
            "satisfaction": int(np.clip(round(rng.normal(3.1 if young else 3.6, 0.9)), 1, 5)),
            "festival_season": SURVEY_QUESTIONS[3]["choices"][rng.choice(4, p=[0.3, 0.1, 0.5, 0.1])],
        }
        if elsewhere:
            answers["buy_elsewhere"] = elsewhere
        responses.append({"respondent_key": f"R{i + 1:04d}", "weight": round(float(np.exp(rng.normal(0, 0.35))), 3),
                          "sex": sex, "age_band": age, "zone_code": codes[rng.choice(len(codes), p=zone_p)],
                          "answers": answers})
    service.create_survey(session, data=SurveyIn(name=name, provider="티브릿지코퍼레이션",
                                                 fielded_date=date(2026, 6, 15),
                                                 questions=SURVEY_QUESTIONS, responses=responses,
                                                 municipality_code=county_code))


def festivals(session: Session, *, municipality_id: int, county_code: str, festival_zone: str | None,
              years: range, neighbours: bool = True, name: str = "화순 국화향연") -> None:
    for year in years:
        s, e = own_festival_dates(year)
        session.add(CitydataFestival(municipality_id=municipality_id, name=name, host_code=county_code,
                                     host_name="화순군", zone_code=festival_zone, start_date=s, end_date=e))
    if not neighbours:
        return
    for year in (2026, 2027):
        for fname, host, hname, s, e in [
            ("광주 추억의 충장축제", "2911000000", "광주 동구", date(year, 10, 8), date(year, 10, 12)),
            ("담양 대나무축제", "4671000000", "담양군", date(year, 5, 1), date(year, 5, 6)),
            ("나주 영산강 축제", "4617000000", "나주시", date(year, 10, 16), date(year, 10, 19)),
            ("보성 다향대축제", "4678000000", "보성군", date(year, 5, 22), date(year, 5, 26)),
        ]:
            session.add(CitydataFestival(municipality_id=municipality_id, name=f"{year} {fname}", host_code=host,
                                         host_name=hname, start_date=s, end_date=e))
    session.flush()


def generate(session: Session, *, municipality_id: int, county_code: str, zones: list[tuple] | None = None,
             living_days: int = LIVING_DAYS, living_end: date = LIVING_END, card_months: int = CARD_MONTHS,
             responses: int = 500, seed: int = 4679, outside: bool = True, with_festivals: bool = True,
             survey_name: str = "2026 화순군 소비·축제 주민 설문", raw_days: int | None = None) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    zones = zones or HWASUN_ZONES
    zone_ids = ensure_zones(session, municipality_id=municipality_id, county_code=county_code, zones=zones,
                            outside=outside)
    festival_zone = zones[0][0]
    if with_festivals:
        festivals(session, municipality_id=municipality_id, county_code=county_code, festival_zone=festival_zone,
                  years=range(living_end.year - living_days // 365, living_end.year + 1), neighbours=outside)
    rows = living_population(session, municipality_id=municipality_id, county_code=county_code, zones=zones,
                             zone_ids=zone_ids, end=living_end, days=living_days, rng=rng, festival_zone=festival_zone,
                             raw_days=raw_days)
    cards = card_spending(session, municipality_id=municipality_id, county_code=county_code, zones=zones,
                          zone_ids=zone_ids, end_month=f"{living_end.year:04d}-{living_end.month:02d}",
                          months=card_months, rng=rng, outside=outside)
    if responses:
        survey(session, municipality_id=municipality_id, county_code=county_code, zones=zones, n=responses, rng=rng,
               name=survey_name)
    session.flush()
    return {"zones": zone_ids, "living_rows": rows, "card_rows": cards}


def load_demo(session: Session) -> None:
    """화순군 (4679000000); skipped when the platform demo has not created it."""
    mid = session.scalar(select(Municipality.id).where(Municipality.code == HWASUN))
    if mid is None:
        return
    generate(session, municipality_id=mid, county_code=HWASUN, raw_days=RAW_DAYS)


def sample_zones(county_code: str) -> list[tuple]:
    base = county_code[:5]
    return [(f"{base}25000", "샘플읍", "Sample-eup", 9000, 2.0), (f"{base}31000", "샘플면", "Sample-myeon", 1500, 0.6),
            (f"{base}32000", "샘플이면", "Sample-imyeon", 1200, 0.5)]


def sample_data(session: Session, municipality_id: int) -> None:
    """A few of every kind of object in one municipality (the tenancy route walk uses them)."""
    code = session.scalar(select(Municipality.code).where(Municipality.id == municipality_id))
    generate(session, municipality_id=municipality_id, county_code=code, zones=sample_zones(code), living_days=120,
             card_months=2, responses=30, seed=municipality_id, outside=False,
             survey_name=f"샘플 설문 {municipality_id}")
