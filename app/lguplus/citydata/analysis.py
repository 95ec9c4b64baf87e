"""Analyses read from the rollups only: the zone heat map, festival windows, market items, survey results.

Festival windows: a log-linear model of a zone's daily visitors (people-hours of ``visitor``) on
day-of-week, month, Korean public holidays (lunar 설날/추석 and substitute days from the ``holidays``
package, flagged apart) and a trend, fitted by ridge regression on the daily rollup with the county's
own festival days left out. Candidate N-day windows of the year are scored by expected visitors; the
interval comes from how actual N-day sums in the history spread around the model (10th-90th
percentile of their ratio). Windows that overlap a registered festival of another municipality are
left out. Fitted models are cached per zone and dropped when an import or a festival changes the data.
"""

from __future__ import annotations

import calendar
import copy
import math
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.errors import InvalidInput
from app.core.i18n import korean_holidays
from app.core.privacy import Cell, people_behind, suppress
from app.lguplus.citydata.jobs import municipality_code
from app.lguplus.citydata.models import (
    VISITOR_TYPES,
    CitydataAnswer,
    CitydataCardMonthly,
    CitydataCategoryFit,
    CitydataFestival,
    CitydataImportJob,
    CitydataPopDaily,
    CitydataPopHourly,
    CitydataQuestion,
    CitydataResponse,
    CitydataSurvey,
    CitydataZone,
)

if TYPE_CHECKING:
    import numpy as np

MIN_DAYS = 60
SEASONS = {12: "winter", 1: "winter", 2: "winter", 3: "spring", 4: "spring", 5: "spring", 6: "summer", 7: "summer",
           8: "summer", 9: "autumn", 10: "autumn", 11: "autumn"}
Z95 = 1.959964



@dataclass(frozen=True)
class RidgeFit:
    """Ridge regression with an unpenalised intercept, in NumPy alone: scikit-learn's ``Ridge(alpha)`` solved
    its way for dense data (centred columns, the normal equations with ``alpha`` on the diagonal), without
    loading scikit-learn, SciPy and pandas (seconds of CPU) into the process that serves the home page."""

    coef_: np.ndarray
    intercept_: float

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, *, alpha: float = 1.0) -> RidgeFit:
        import numpy as np
        x_mean, y_mean = x.mean(axis=0), float(y.mean())
        xc = x - x_mean
        gram = xc.T @ xc
        gram.flat[:: gram.shape[0] + 1] += alpha
        coef = np.linalg.solve(gram, xc.T @ (y - y_mean))
        return cls(coef_=coef, intercept_=y_mean - float(x_mean @ coef))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return x @ self.coef_ + self.intercept_


# --- heat map ----------------------------------------------------------------------------------

def heatmap(db: Session, *, zone: CitydataZone, visitor_type: str | None, k: int) -> dict[str, Any]:
    """Average people present per weekday (0 = Monday) and hour; cells under ``k`` are hidden.

    The map of one visitor type and the map of all types are both published, so each all-types cell is
    the total of its three type cells: when one type's cell is hidden, another one of that weekday and
    hour is hidden too, else the total minus the others would give it away."""
    stmt = (select(CitydataPopHourly.weekday, CitydataPopHourly.hour, CitydataPopHourly.visitor_type,
                   func.sum(CitydataPopHourly.count))
            .where(CitydataPopHourly.zone_id == zone.id)
            .group_by(CitydataPopHourly.weekday, CitydataPopHourly.hour, CitydataPopHourly.visitor_type))
    sums = {(w, h, v): float(c or 0) for w, h, v, c in db.execute(stmt).all()}
    days = [d for (d,) in db.execute(select(CitydataPopDaily.obs_date).where(CitydataPopDaily.zone_id == zone.id)
                                     .distinct()).all()]
    per_weekday = [0] * 7
    for d in days:
        per_weekday[d.weekday()] += 1

    def avg(w: int, h: int, types: tuple[str, ...]) -> float:
        return sum(sums.get((w, h, v), 0.0) for v in types) / per_weekday[w] if per_weekday[w] else 0.0

    parts = [Cell(keys={"weekday": w, "hour": h, "type": v}, people=avg(w, h, (v,)))
             for w in range(7) for h in range(24) for v in VISITOR_TYPES]
    suppress(parts, k=k, margins=[("weekday", "hour")])
    if visitor_type:
        cells = [c for c in parts if c.keys["type"] == visitor_type]
    else:
        cells = [Cell(keys={"weekday": w, "hour": h}, people=avg(w, h, VISITOR_TYPES))
                 for w in range(7) for h in range(24)]
        suppress(cells, k=k)
    grid = [[None] * 24 for _ in range(7)]
    for c in cells:
        grid[c.keys["weekday"]][c.keys["hour"]] = None if c.suppressed else round(c.people, 1)
    shown = [v for row in grid for v in row if v is not None]
    return {"zone_code": zone.code, "zone_name": zone.name_ko, "visitor_type": visitor_type or "all",
            "days": len(days), "grid": grid, "max": max(shown) if shown else 0,
            "suppressed": sum(1 for c in cells if c.suppressed)}


# --- holidays ----------------------------------------------------------------------------------

def holiday_name(day: date) -> str | None:
    return korean_holidays(day.year).get(day)


def is_lunar_holiday(name: str | None) -> bool:
    return bool(name) and ("설날" in name or "추석" in name)


FEATURES = [*(f"dow_{i}" for i in range(1, 7)), *(f"month_{m}" for m in range(2, 13)), "holiday", "lunar", "bridge",
            "trend"]


def features(days: list[date], origin: date) -> np.ndarray:
    """One row per day: weekday and month dummies, holiday, lunar holiday, bridge day, trend (years)."""
    import numpy as np
    x = np.zeros((len(days), len(FEATURES)))
    for i, d in enumerate(days):
        wd = d.weekday()
        if wd:
            x[i, wd - 1] = 1
        if d.month > 1:
            x[i, 6 + d.month - 2] = 1
        name = holiday_name(d)
        if name:
            x[i, 17] = 1
            x[i, 18] = 1 if is_lunar_holiday(name) else 0
        elif wd < 5 and _off(d - timedelta(days=1)) and _off(d + timedelta(days=1)):
            x[i, 19] = 1  # a working day between two days off
        x[i, 20] = (d - origin).days / 365.25
    return x


def _off(d: date) -> bool:
    return d.weekday() >= 5 or holiday_name(d) is not None


# --- festival windows ----------------------------------------------------------------------------

@dataclass
class ZoneModel:
    zone_id: int
    origin: date
    first: date
    last: date
    days: list[date]
    actual: np.ndarray
    fitted: np.ndarray  # expected on the history (festival days included, as baseline)
    mask: np.ndarray  # True where the day was used for fitting
    model: RidgeFit
    smear: float
    residual_sd: float
    r2: float
    annual: np.ndarray | None = None  # log multiplier per day of year (0..365): peaks that recur every year

    def expected(self, days: list[date]) -> np.ndarray:
        import numpy as np
        pred = self.model.predict(features(days, self.origin))
        if self.annual is not None:
            pred = pred + self.annual[[_doy(d) for d in days]]
        return np.maximum(np.exp(pred) * self.smear - 1.0, 0.0)

    def expected_year(self, year: int) -> tuple[list[date], np.ndarray]:
        """Every day of ``year`` and its expected visitors (kept with the model)."""
        memo = self.__dict__.setdefault("_years", {})
        if year not in memo:
            days = [date(year, 1, 1) + timedelta(days=i)
                    for i in range((date(year + 1, 1, 1) - date(year, 1, 1)).days)]
            memo[year] = (days, self.expected(days))
        return memo[year]

    def month_effects(self) -> dict[int, float]:
        """Each month's multiplier against the average month (from the model's month terms)."""
        import numpy as np
        coefs = np.concatenate([[0.0], self.model.coef_[6:17]])
        mult = np.exp(coefs - coefs.mean())
        return {m + 1: float(mult[m]) for m in range(12)}


_cache: OrderedDict[tuple, ZoneModel] = OrderedDict()
_cache_lock = threading.Lock()
CACHE_SIZE = 128


def _last_job(db: Session, *, municipality_id: int, kind: str) -> tuple:
    """The last finished import of a kind: its id and when it finished (ids alone may be reused)."""
    return tuple(db.execute(select(func.max(CitydataImportJob.id), func.max(CitydataImportJob.finished_at)).where(
        CitydataImportJob.municipality_id == municipality_id, CitydataImportJob.status == "done",
        CitydataImportJob.kind == kind)).one())


def _data_version(db: Session, *, municipality_id: int) -> tuple:
    fest = db.execute(select(func.count(), func.max(CitydataFestival.id), func.max(CitydataFestival.end_date),
                             func.max(CitydataFestival.created_at))
                      .where(CitydataFestival.municipality_id == municipality_id)).one()
    return (*_last_job(db, municipality_id=municipality_id, kind="living_population"), *fest)


def own_festivals(db: Session, *, municipality_id: int, county_code: str) -> list[CitydataFestival]:
    return list(db.scalars(select(CitydataFestival).where(CitydataFestival.municipality_id == municipality_id,
                                                          CitydataFestival.host_code == county_code)
                           .order_by(CitydataFestival.start_date)))


def zone_model(db: Session, *, zone: CitydataZone, visitor_type: str = "visitor") -> ZoneModel:
    key = (id(db.get_bind()), zone.id, visitor_type, _data_version(db, municipality_id=zone.municipality_id))
    with _cache_lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    model = _fit(db, zone=zone, visitor_type=visitor_type)
    with _cache_lock:
        for old in [k for k in _cache if k[:3] == key[:3]]:
            del _cache[old]
        _cache[key] = model
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return model


def _fit(db: Session, *, zone: CitydataZone, visitor_type: str) -> ZoneModel:
    import numpy as np
    rows = db.execute(select(CitydataPopDaily.obs_date, CitydataPopDaily.count).where(
        CitydataPopDaily.zone_id == zone.id, CitydataPopDaily.visitor_type == visitor_type)
        .order_by(CitydataPopDaily.obs_date)).all()
    if len(rows) < MIN_DAYS:
        raise InvalidInput.field("zone_code", "Zone {code} has {n} days of data; at least {m} are needed",
                                 code=zone.code, n=len(rows), m=MIN_DAYS)
    days = [r[0] for r in rows]
    actual = np.array([float(r[1]) for r in rows])
    county = municipality_code(db, zone.municipality_id)
    mask = np.ones(len(days), dtype=bool)
    index = {d: i for i, d in enumerate(days)}
    for f in own_festivals(db, municipality_id=zone.municipality_id, county_code=county):
        if f.zone_code not in (None, zone.code):
            continue
        d = f.start_date
        while d <= f.end_date:
            if d in index:
                mask[index[d]] = False
            d += timedelta(days=1)
    origin = days[0]
    x = features(days, origin)
    y = np.log1p(actual)
    model = RidgeFit.fit(x[mask], y[mask], alpha=1.0)
    resid = y[mask] - model.predict(x[mask])
    smear = float(np.mean(np.exp(resid)))
    fitted = np.maximum(np.exp(model.predict(x)) * smear - 1.0, 0.0)
    ss_tot = float(np.sum((y[mask] - y[mask].mean()) ** 2)) or 1.0
    annual = recurring_peaks([d for d, m in zip(days, mask, strict=True) if m], resid)
    if annual is not None:
        full = y - model.predict(x)
        resid = resid - annual[[_doy(d) for d in np.array(days)[mask]]]
        smear = float(np.mean(np.exp(resid)))
        fitted = np.maximum(np.exp(y - full + annual[[_doy(d) for d in days]]) * smear - 1.0, 0.0)
    return ZoneModel(zone_id=zone.id, origin=origin, first=days[0], last=days[-1], days=days, actual=actual,
                     fitted=fitted, mask=mask, model=model, smear=smear, residual_sd=float(np.std(resid)),
                     r2=1 - float(np.sum(resid ** 2)) / ss_tot, annual=annual)


ANNUAL_HALF_WIDTH = 3  # days either side of a date whose past residuals are pooled
ANNUAL_MIN_YEARS = 2


def _doy(d: date) -> int:
    """Day of the year on a 366-day calendar (29 February has its own slot), so a date keeps its slot."""
    return (d - date(d.year, 1, 1)).days + (1 if d.month > 2 and not calendar.isleap(d.year) else 0)


def recurring_peaks(days: list[date], resid: np.ndarray) -> np.ndarray | None:
    """Peaks that come back on the same dates every year (a busy week the calendar terms do not know):
    for each day of the year, the mean over past years of each year's mean log residual within
    ±``ANNUAL_HALF_WIDTH`` days, kept only where at least ``ANNUAL_MIN_YEARS`` years agree in sign (a
    one-off event of one year is not learnt). None with fewer than two years of history."""
    import numpy as np
    years = sorted({d.year for d in days})
    if len(years) < ANNUAL_MIN_YEARS:
        return None
    grid = np.full((len(years), 366), np.nan)
    for d, r in zip(days, resid, strict=True):
        grid[years.index(d.year), _doy(d)] = r
    w = ANNUAL_HALF_WIDTH
    padded = np.concatenate([grid[:, -w:], grid, grid[:, :w]], axis=1)
    per_year = np.full_like(grid, np.nan)
    for j in range(366):
        block = padded[:, j:j + 2 * w + 1]
        seen = np.sum(~np.isnan(block), axis=1)
        sums = np.nansum(block, axis=1)
        per_year[:, j] = np.where(seen > w, sums / np.maximum(seen, 1), np.nan)
    counts = np.sum(~np.isnan(per_year), axis=0)
    mean = np.where(counts >= ANNUAL_MIN_YEARS, np.nansum(per_year, axis=0) / np.maximum(counts, 1), 0.0)
    agree = np.sum((np.sign(per_year) == np.sign(mean)) & ~np.isnan(per_year), axis=0) >= ANNUAL_MIN_YEARS
    return np.where(agree, mean, 0.0)


def _window_ratio_band(zm: ZoneModel, n: int) -> tuple[float, float]:
    """10th and 90th percentile of actual/expected over every N-day window of the history without festivals."""
    import numpy as np
    if len(zm.days) < n + 10:
        return (math.exp(-1.28 * zm.residual_sd), math.exp(1.28 * zm.residual_sd))
    ca = np.concatenate([[0.0], np.cumsum(zm.actual)])
    cf = np.concatenate([[0.0], np.cumsum(zm.fitted)])
    cm = np.concatenate([[0], np.cumsum(~zm.mask)])
    sums_a = ca[n:] - ca[:-n]
    sums_f = cf[n:] - cf[:-n]
    clean = (cm[n:] - cm[:-n]) == 0
    ok = clean & (sums_f > 0)
    if ok.sum() < 10:
        return (math.exp(-1.28 * zm.residual_sd), math.exp(1.28 * zm.residual_sd))
    ratio = sums_a[ok] / sums_f[ok]
    return float(np.quantile(ratio, 0.1)), float(np.quantile(ratio, 0.9))


def _overlaps(a0: date, a1: date, b0: date, b1: date) -> bool:
    return a0 <= b1 and b0 <= a1


def family_holidays(year: int) -> list[dict[str, Any]]:
    """설날 and 추석 of ``year`` with their eves and substitute days, as runs of consecutive days."""
    out: list[dict[str, Any]] = []
    for d, name in sorted(korean_holidays(year).items()):
        if not is_lunar_holiday(name):
            continue
        label = "설날" if "설날" in name else "추석"
        if out and out[-1]["name"] == label and (d - out[-1]["end_date"]).days <= 1:
            out[-1]["end_date"] = d
        else:
            out.append({"kind": "family_holiday", "id": None, "name": label, "host_code": "", "host_name": "",
                        "start_date": d, "end_date": d})
    return out


def festival_windows(db: Session, *, zone: CitydataZone, days: int, year: int, k: int, limit: int = 10,
                     visitor_type: str = "visitor", with_daily: bool = False,
                     include_family_holidays: bool = False) -> dict[str, Any]:
    """The best N-day windows. 설날 and 추석 are homecoming traffic, not festival demand: windows touching
    them are left out (named in ``excluded_for``) unless ``include_family_holidays``."""
    import numpy as np
    zm = zone_model(db, zone=zone, visitor_type=visitor_type)
    county = municipality_code(db, zone.municipality_id)
    year_days, expected = zm.expected_year(year)
    lo_ratio, hi_ratio = _window_ratio_band(zm, days)
    festivals = list(db.scalars(select(CitydataFestival).where(
        CitydataFestival.municipality_id == zone.municipality_id,
        CitydataFestival.end_date >= date(year, 1, 1), CitydataFestival.start_date <= date(year, 12, 31))))
    neighbours = [f for f in festivals if f.host_code != county]
    family = [] if include_family_holidays else family_holidays(year)
    csum = np.concatenate([[0.0], np.cumsum(expected)])
    n_starts = len(year_days) - days + 1
    totals = csum[days:days + n_starts] - csum[:n_starts]
    blocked = np.zeros(n_starts, dtype=bool)
    clashes: dict[int, list[CitydataFestival]] = defaultdict(list)
    for i in range(n_starts):
        s, e = year_days[i], year_days[i + days - 1]
        for f in neighbours:
            if _overlaps(s, e, f.start_date, f.end_date):
                blocked[i] = True
                clashes[f.id].append(f)
        if any(_overlaps(s, e, h["start_date"], h["end_date"]) for h in family):
            blocked[i] = True
    avg_day = float(expected.mean()) or 1.0
    effects = zm.month_effects()
    order = np.argsort(-totals, kind="stable")
    taken: list[tuple[int, int]] = []
    windows = []
    for i in order:
        if blocked[i] or any(not (i + days - 1 < a or b < i) for a, b in taken):
            continue
        taken.append((int(i), int(i) + days - 1))
        s, e = year_days[i], year_days[i + days - 1]
        total = float(totals[i])
        span = year_days[i:i + days]
        weekend = sum(1 for d in span if d.weekday() >= 5)
        names = sorted({holiday_name(d) for d in span if holiday_name(d)})
        month = s.month if (e - s).days < 15 or s.month == e.month else year_days[i + days // 2].month
        reasons = [{"kind": "season", "season": SEASONS[month], "month": month,
                    "effect_pct": round((effects[month] - 1) * 100, 1)}]
        if weekend:
            reasons.append({"kind": "weekend", "days": weekend})
        if names:
            reasons.append({"kind": "holiday", "names": names})
        windows.append({"rank": len(windows) + 1, "start_date": s, "end_date": e,
                        "expected_visitors": _safe(total, k), "expected_per_day": _safe(total / days, k),
                        "interval": [_safe(total * lo_ratio, k), _safe(total * hi_ratio, k)],
                        "vs_average_day": round(total / days / avg_day, 3), "reasons": reasons})
        if len(windows) >= limit:
            break
    out: dict[str, Any] = {
        "zone_code": zone.code, "zone_name": zone.name_ko, "year": year, "days": days, "visitor_type": visitor_type,
        "model": {"fitted_from": zm.first, "fitted_to": zm.last, "days": int(zm.mask.sum()), "r2": round(zm.r2, 3),
                  "residual_sd": round(zm.residual_sd, 4), "interval": "10th-90th percentile"},
        "windows": windows,
        "excluded_for": [*({"kind": "festival", "id": f.id, "name": f.name, "host_code": f.host_code,
                            "host_name": f.host_name, "start_date": f.start_date, "end_date": f.end_date}
                           for f in neighbours), *family],
        "include_family_holidays": include_family_holidays,
        "past_festivals": past_festival_uplift(db, zm=zm, zone=zone, county=county, k=k),
    }
    if with_daily:
        out["daily"] = [{"date": d, "expected": _safe(float(v), k), "holiday": holiday_name(d)}
                        for d, v in zip(year_days, expected, strict=True)]
    return out


def past_festival_uplift(db: Session, *, zm: ZoneModel, zone: CitydataZone, county: str, k: int
                         ) -> list[dict[str, Any]]:
    """Each past festival of the county in this zone: actual visitors over the expected baseline."""
    index = {d: i for i, d in enumerate(zm.days)}
    out = []
    for f in own_festivals(db, municipality_id=zone.municipality_id, county_code=county):
        if f.zone_code not in (None, zone.code):
            continue
        idx = [index[f.start_date + timedelta(days=j)] for j in range((f.end_date - f.start_date).days + 1)
               if f.start_date + timedelta(days=j) in index]
        if not idx:
            continue
        actual = float(zm.actual[idx].sum())
        base = float(zm.fitted[idx].sum())
        out.append({"id": f.id, "name": f.name, "start_date": f.start_date, "end_date": f.end_date,
                    "days_with_data": len(idx), "actual_visitors": _safe(actual, k),
                    "expected_visitors": _safe(base, k),
                    "uplift_pct": round((actual / base - 1) * 100, 1) if base > 0 and actual >= k else None})
    return out


def _safe(value: float, k: int) -> float | None:
    return round(value, 1) if value >= k else None


# --- market items -------------------------------------------------------------------------------

def _month_back(month: str, n: int) -> str:
    y, m = int(month[:4]), int(month[5:])
    idx = y * 12 + (m - 1) - (n - 1)
    return f"{idx // 12:04d}-{idx % 12 + 1:02d}"


_market_cache: OrderedDict[tuple, dict[str, Any]] = OrderedDict()

# Card categories a traditional market cannot sell (shipped defaults; a municipality's own setting wins).
DEFAULT_UNFIT = frozenset({
    "대형마트", "백화점", "면세점", "편의점", "주유", "주유소", "온라인", "온라인쇼핑", "병원·약국", "병원", "약국",
    "숙박", "자동차", "보험", "통신", "학원"})


def category_fits(db: Session, *, municipality_id: int) -> dict[str, bool]:
    """The municipality's own market-fit settings by category name (defaults are not in it)."""
    return dict(db.execute(select(CitydataCategoryFit.category, CitydataCategoryFit.fits).where(
        CitydataCategoryFit.municipality_id == municipality_id)).all())


def fits_market(cats: tuple[str, ...], own: dict[str, bool]) -> bool:
    """Whether a category (large, and middle when ranked by middle) fits the market: the most specific name
    the municipality has set decides, else the shipped default (either name in :data:`DEFAULT_UNFIT`)."""
    for name in reversed(cats):
        if name in own:
            return own[name]
    return not any(name in DEFAULT_UNFIT for name in cats)


def _market_version(db: Session, *, municipality_id: int) -> tuple:
    zones = db.execute(select(func.count(), func.max(CitydataZone.id), func.max(CitydataZone.created_at)).where(
        CitydataZone.municipality_id == municipality_id)).one()
    answers = db.execute(select(func.count(), func.max(CitydataResponse.id)).where(
        CitydataResponse.municipality_id == municipality_id)).one()
    surveys = db.execute(select(func.count(), func.max(CitydataSurvey.created_at)).where(
        CitydataSurvey.municipality_id == municipality_id)).one()
    fit = db.execute(select(func.count(), func.max(CitydataCategoryFit.updated_at)).where(
        CitydataCategoryFit.municipality_id == municipality_id)).one()
    return (*_last_job(db, municipality_id=municipality_id, kind="card_spending"), *zones, *answers, *surveys, *fit)


def market_items(db: Session, *, municipality_id: int, k: int, months: int = 12, level: str = "middle",
                 limit: int = 30) -> dict[str, Any]:
    """Categories ranked by what the county's market could sell: residents' spending outside the county
    (leakage), visitors' spending inside, the location quotient against the province, and what survey
    respondents say they buy elsewhere. Cached until card data, zones or survey answers change."""
    key = (id(db.get_bind()), municipality_id, k, months, level, limit,
           _market_version(db, municipality_id=municipality_id))
    with _cache_lock:
        found = _market_cache.get(key)
        if found is not None:
            _market_cache.move_to_end(key)
            return copy.deepcopy(found)
    result = _market_items(db, municipality_id=municipality_id, k=k, months=months, level=level, limit=limit)
    with _cache_lock:
        _market_cache[key] = copy.deepcopy(result)
        while len(_market_cache) > CACHE_SIZE:
            _market_cache.popitem(last=False)
    return result


def _market_items(db: Session, *, municipality_id: int, k: int, months: int, level: str, limit: int
                  ) -> dict[str, Any]:
    county = municipality_code(db, municipality_id)
    zones = {z.id: z for z in db.scalars(select(CitydataZone).where(CitydataZone.municipality_id == municipality_id))}
    last = db.scalar(select(func.max(CitydataCardMonthly.month)).where(
        CitydataCardMonthly.municipality_id == municipality_id))
    base = {"municipality_code": county, "level": level, "months": months, "items": [], "period": None,
            "totals": {}, "survey": None}
    if last is None:
        return base
    first = _month_back(last, months)
    level_cols = [CitydataCardMonthly.category_large]
    if level == "middle":
        level_cols.append(CitydataCardMonthly.category_middle)
    rows = db.execute(select(CitydataCardMonthly.zone_id, *level_cols, CitydataCardMonthly.origin_class,
                             func.sum(CitydataCardMonthly.amount_krw), func.sum(CitydataCardMonthly.count))
                      .where(CitydataCardMonthly.municipality_id == municipality_id,
                             CitydataCardMonthly.month >= first, CitydataCardMonthly.month <= last)
                      .group_by(CitydataCardMonthly.zone_id, *level_cols, CitydataCardMonthly.origin_class)).all()
    acc: dict[tuple, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    totals: dict[str, float] = defaultdict(float)
    for row in rows:
        zone_id, cats, oc, amount, count = row[0], tuple(row[1:-3]), row[-3], int(row[-2] or 0), int(row[-1] or 0)
        zone = zones.get(zone_id)
        if zone is None:
            continue
        inside = zone.area_code == county
        in_province = zone.area_code[:2] == county[:2]
        a = acc[cats]
        if oc == "resident" and inside:
            a["res_in"] += amount
            a["res_in_n"] += count
        elif oc == "resident":
            a["leak"] += amount
            a["leak_n"] += count
        elif inside:
            a["vis"] += amount
            a["vis_n"] += count
        if inside:
            a["county"] += amount
            a["county_n"] += count
            totals["county"] += amount
        if in_province:
            a["province"] += amount
            a["province_n"] += count
            totals["province"] += amount
        if oc == "resident":
            totals["residents"] += amount
            if not inside:
                totals["leak"] += amount
    survey = survey_elsewhere_shares(db, municipality_id=municipality_id, k=k)
    own = category_fits(db, municipality_id=municipality_id)
    items = []
    left_out = []
    for cats, a in acc.items():
        if not fits_market(cats, own):
            left_out.append(cats[-1])
            continue
        res_total = a["res_in"] + a["leak"]
        share_c = a["county"] / totals["county"] if totals["county"] else 0.0
        share_p = a["province"] / totals["province"] if totals["province"] else 0.0
        # the quotient rests on the category's purchases in the county and in the rest of the province
        lq_people = people_behind(a["county_n"], a["province_n"] - a["county_n"])
        lq_shown = share_p > 0 and not 0 < lq_people < k
        name = cats[-1]
        survey_share = None
        if survey:
            survey_share = survey["shares"].get(name, survey["shares"].get(cats[0]))
        items.append({"category_large": cats[0], "category_middle": cats[1] if len(cats) > 1 else None,
                      "leakage_krw": int(a["leak"]), "leakage_count": int(a["leak_n"]),
                      "leakage_share": round(a["leak"] / res_total, 4) if res_total else None,
                      "resident_inside_krw": int(a["res_in"]), "resident_inside_count": int(a["res_in_n"]),
                      "visitor_krw": int(a["vis"]), "visitor_count": int(a["vis_n"]),
                      "location_quotient": round(share_c / share_p, 3) if lq_shown else None,
                      "survey_share": survey_share})
    _suppress_figure(items, "leakage_krw", "leakage_count", k, also=("leakage_share",))
    _suppress_figure(items, "resident_inside_krw", "resident_inside_count", k, also=("leakage_share",))
    _suppress_figure(items, "visitor_krw", "visitor_count", k)
    _score(items)
    items.sort(key=lambda it: (-(it["score"] or 0), it["category_large"], it["category_middle"] or ""))
    for rank, it in enumerate(items, start=1):
        it["rank"] = rank
    base.update({"period": {"from": first, "to": last}, "items": items[:limit],
                 "totals": {"leakage_krw": int(totals["leak"]), "residents_krw": int(totals["residents"]),
                            "county_krw": int(totals["county"]), "province_krw": int(totals["province"]),
                            "leakage_share": (round(totals["leak"] / totals["residents"], 4)
                                              if totals["residents"] else None)},
                 "survey": {k2: v for k2, v in survey.items() if k2 != "shares"} if survey else None,
                 "not_fitting": sorted(left_out)})
    return base


def _suppress_figure(items: list[dict[str, Any]], amount_key: str, count_key: str, k: int,
                     also: tuple[str, ...] = ()) -> None:
    """k-suppression of one figure across categories (its total is published: complementary too)."""
    cells = [Cell(keys={"i": i}, people=float(it[count_key] or 0)) for i, it in enumerate(items)]
    suppress(cells, k=k, margins=[()])
    for it, c in zip(items, cells, strict=True):
        if c.suppressed:
            it[amount_key] = it[count_key] = None
            for key in also:
                it[key] = None


def _score(items: list[dict[str, Any]]) -> None:
    """Mean percentile rank over leakage amount and share, visitor spending, survey share and low LQ."""
    keys = [("leakage_krw", 1), ("leakage_share", 1), ("visitor_krw", 1), ("survey_share", 1),
            ("location_quotient", -1)]
    ranks: dict[int, list[float]] = defaultdict(list)
    for key, sign in keys:
        present = [(i, sign * it[key]) for i, it in enumerate(items) if it[key] is not None]
        if len(present) < 2:
            continue
        present.sort(key=lambda p: p[1])
        for pos, (i, _v) in enumerate(present):
            ranks[i].append(pos / (len(present) - 1))
    for i, it in enumerate(items):
        it["score"] = round(sum(ranks[i]) / len(ranks[i]), 3) if ranks.get(i) else None


# --- surveys ------------------------------------------------------------------------------------

def survey_elsewhere_shares(db: Session, *, municipality_id: int, k: int) -> dict[str, Any] | None:
    """Weighted share of respondents naming each choice of the latest ``buy_elsewhere`` question."""
    q = db.scalar(select(CitydataQuestion).where(CitydataQuestion.municipality_id == municipality_id,
                                                 CitydataQuestion.topic == "buy_elsewhere")
                  .order_by(CitydataQuestion.survey_id.desc(), CitydataQuestion.id))
    if q is None:
        return None
    survey = db.scalar(select(CitydataSurvey).where(CitydataSurvey.id == q.survey_id))
    result = question_result(db, question=q, by=None, k=k)
    group = result["groups"][0] if result["groups"] else None
    shares = {c["choice"]: c["share"] for c in (group["choices"] if group else []) if c["share"] is not None}
    return {"survey_id": survey.id, "survey_name": survey.name, "question_code": q.code, "question": q.text,
            "respondents": group["n"] if group else 0, "shares": shares}


def _responses(db: Session, survey_id: int) -> dict[int, tuple[float, str, str, str | None]]:
    return {rid: (w, s, a, z) for rid, w, s, a, z in db.execute(
        select(CitydataResponse.id, CitydataResponse.weight, CitydataResponse.sex, CitydataResponse.age_band,
               CitydataResponse.zone_code).where(CitydataResponse.survey_id == survey_id)).all()}


BY_FIELDS = {"sex": 1, "age_band": 2, "zone_code": 3}


def weighted_share(weights: np.ndarray, chosen: np.ndarray) -> dict[str, float]:
    """Weighted proportion, Kish effective sample size and the 95% margin of error."""
    total = float(weights.sum())
    p = float(weights[chosen].sum()) / total if total else 0.0
    n_eff = total ** 2 / float((weights ** 2).sum()) if total else 0.0
    moe = Z95 * math.sqrt(p * (1 - p) / n_eff) if n_eff else 0.0
    return {"share": p, "n_eff": n_eff, "moe": moe}


def question_result(db: Session, *, question: CitydataQuestion, by: str | None, k: int,
                    responses: dict[int, tuple] | None = None) -> dict[str, Any]:
    """Weighted results of one question, overall and per group of ``by``.

    k-suppression: a group of fewer than ``k`` respondents is hidden, and because the overall figures are
    published beside the groups, so is the next smallest group when only one would be hidden (else the
    overall count minus the others would give it away). The same holds per choice across groups, and within
    a group for single-choice questions, whose counts add up to the group's size."""
    import numpy as np
    responses = responses if responses is not None else _responses(db, question.survey_id)
    answers: dict[int, set[str]] = defaultdict(set)
    for rid, value in db.execute(select(CitydataAnswer.response_id, CitydataAnswer.value)
                                 .where(CitydataAnswer.question_id == question.id)).all():
        answers[rid].add(value)
    groups: dict[str, list[int]] = {"all": sorted(answers)}
    if by:
        pos = BY_FIELDS[by]
        for rid in sorted(answers):
            groups.setdefault(str(responses[rid][pos] or "-"), []).append(rid)
    labels = list(groups)
    # groups: the overall group alone, then the others against its published size
    hidden_group = {"all": 0 < len(groups["all"]) < k}
    by_cells = [Cell(keys={"group": g}, people=float(len(groups[g]))) for g in labels[1:]]
    suppress(by_cells, k=k, margins=[()])
    hidden_group.update({c.keys["group"]: c.suppressed or hidden_group["all"] for c in by_cells})
    counts: dict[tuple[str, str], int] = {}
    if question.kind != "scale":
        for g in labels:
            for choice in question.choices:
                counts[(g, choice)] = sum(1 for r in groups[g] if choice in answers[r])
        single = question.kind == "choice"
        overall = [Cell(keys={"choice": c}, people=float(counts[("all", c)])) for c in question.choices]
        for cell in overall:
            cell.suppressed = hidden_group["all"]
        suppress(overall, k=k, margins=[()] if single else [])
        grid = [Cell(keys={"group": g, "choice": c}, people=float(counts[(g, c)]), suppressed=hidden_group[g])
                for g in labels[1:] for c in question.choices]
        suppress(grid, k=k, margins=[("choice",), ("group",)] if single else [("choice",)])
        hidden_cell = {(c.keys.get("group", "all"), c.keys["choice"]): c.suppressed for c in [*overall, *grid]}
    out_groups = []
    for label in labels:
        rids = groups[label]
        n = len(rids)
        w = np.array([responses[r][0] for r in rids], dtype=float)
        hidden = hidden_group[label]
        group: dict[str, Any] = {"group": label, "n": None if hidden else n, "suppressed": hidden}
        if question.kind == "scale":
            if n and not hidden:
                vals = np.array([float(next(iter(answers[r]))) for r in rids])
                mean = float(np.average(vals, weights=w))
                var = float(np.average((vals - mean) ** 2, weights=w))
                n_eff = float(w.sum() ** 2 / (w ** 2).sum())
                group.update({"mean": round(mean, 3), "moe": round(Z95 * math.sqrt(var / n_eff), 3),
                              "n_eff": round(n_eff, 1)})
            else:
                group.update({"mean": None, "moe": None, "n_eff": None})
        else:
            choices = []
            group["n_eff"] = None
            for choice in question.choices:
                if hidden_cell[(label, choice)]:
                    choices.append({"choice": choice, "respondents": None, "share": None, "moe": None})
                    continue
                chosen = np.array([choice in answers[r] for r in rids], dtype=bool)
                stat = weighted_share(w, chosen) if n else {"share": 0.0, "n_eff": 0.0, "moe": 0.0}
                choices.append({"choice": choice, "respondents": counts[(label, choice)],
                                "share": round(stat["share"], 4), "moe": round(stat["moe"], 4)})
            if n and not hidden:
                group["n_eff"] = round(float(w.sum()) ** 2 / float((w ** 2).sum()), 1)
            group["choices"] = choices
        out_groups.append(group)
    return {"question_id": question.id, "code": question.code, "text": question.text, "kind": question.kind,
            "topic": question.topic, "by": by or "all", "groups": out_groups}


def survey_results(db: Session, *, survey: CitydataSurvey, by: str | None, k: int) -> dict[str, Any]:
    responses = _responses(db, survey.id)
    questions = list(db.scalars(select(CitydataQuestion).where(CitydataQuestion.survey_id == survey.id)
                                .order_by(CitydataQuestion.position, CitydataQuestion.id)))
    total_w = sum(r[0] for r in responses.values())
    sq = sum(r[0] ** 2 for r in responses.values())
    return {"survey_id": survey.id, "name": survey.name, "respondents": len(responses) if len(responses) >= k else None,
            "n_eff": round(total_w ** 2 / sq, 1) if sq and len(responses) >= k else None, "by": by or "all",
            "questions": [question_result(db, question=q, by=by, k=k, responses=responses) for q in questions]}
