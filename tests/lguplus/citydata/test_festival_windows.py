"""Festival windows: holiday features, neighbour clashes, intervals and reasons, uplift, cache refresh."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from app.core.i18n import SEOUL
from app.lguplus.citydata import analysis
from tests.conftest import api_headers
from tests.lguplus.citydata.conftest import HWASUN, HWASUN_EUP

API = "/api/v1/lguplus/citydata"


def test_holiday_features_include_chuseok_2025_and_its_substitute_day():
    days = [date(2025, 10, 4) + timedelta(days=i) for i in range(6)]  # Sat 4 .. Thu 9
    x = analysis.features(days, date(2025, 1, 1))
    holiday, lunar = analysis.FEATURES.index("holiday"), analysis.FEATURES.index("lunar")
    flags = {d: (int(row[holiday]), int(row[lunar])) for d, row in zip(days, x, strict=True)}
    assert flags[date(2025, 10, 4)] == (0, 0)
    for d in (5, 6, 7, 8):  # the eve, 추석, the day after, and the substitute day
        assert flags[date(2025, 10, d)] == (1, 1), d
    assert flags[date(2025, 10, 9)] == (1, 0)  # 한글날: a holiday, not a lunar one
    assert "대체" in analysis.holiday_name(date(2025, 10, 8)) and "추석" in analysis.holiday_name(date(2025, 10, 8))
    assert "설날" in analysis.holiday_name(date(2026, 2, 17))


def test_ridge_fit_matches_scikit_learn_without_loading_it():
    """The zone model's ridge (NumPy alone, so the home page's card does not load scikit-learn, SciPy and
    pandas) gives scikit-learn's coefficients and predictions."""
    import os
    import subprocess
    import sys

    from sklearn.linear_model import Ridge

    from app.core.config import ROOT_DIR

    days = [date(2023, 1, 1) + timedelta(days=i) for i in range(800)]
    x = analysis.features(days, days[0])
    y = np.log1p(np.random.default_rng(7).gamma(5.0, 300.0, len(days)))
    ours, theirs = analysis.RidgeFit.fit(x, y, alpha=1.0), Ridge(alpha=1.0).fit(x, y)
    assert np.allclose(ours.coef_, theirs.coef_, rtol=0, atol=1e-9)
    assert abs(ours.intercept_ - theirs.intercept_) < 1e-9
    assert np.allclose(ours.predict(x), theirs.predict(x), rtol=0, atol=1e-9)
    code = ("import sys, numpy as np; from app.lguplus.citydata.analysis import RidgeFit; "
            "RidgeFit.fit(np.eye(3), np.arange(3.0)); "
            "print(' '.join(m for m in ('sklearn', 'scipy', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT_DIR)}, cwd=ROOT_DIR,
                         check=True, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == ""


def _windows(client, headers, **params):
    r = client.get(f"{API}/festival-windows", headers=headers,
                   params={"zone_code": HWASUN_EUP, "days": 3, "year": 2026, **params})
    assert r.status_code == 200, r.text
    return r.json()


def test_windows_rank_with_interval_and_reasons(client, county_data):
    h = api_headers(client, "hwasun.staff")
    out = _windows(client, h, limit=8, include_family_holidays="true")
    windows = out["windows"]
    assert len(windows) == 8 and [w["rank"] for w in windows] == list(range(1, 9))
    totals = [w["expected_visitors"] for w in windows]
    assert totals == sorted(totals, reverse=True)
    spans = [(date.fromisoformat(w["start_date"]), date.fromisoformat(w["end_date"])) for w in windows]
    for i, (a0, a1) in enumerate(spans):
        assert (a1 - a0).days == 2
        for b0, b1 in spans[i + 1:]:
            assert a1 < b0 or b1 < a0, "windows overlap"
    for w in windows:
        lo, hi = w["interval"]
        assert lo < w["expected_visitors"] < hi
        kinds = {r["kind"] for r in w["reasons"]}
        assert "season" in kinds
    # the generated series favours weekends: the best windows hold weekend days and say so
    assert all(any(r["kind"] == "weekend" for r in w["reasons"]) for w in windows[:3])
    chuseok = [w for w in windows if any(r["kind"] == "holiday" and "추석" in " ".join(r["names"])
                                         for r in w["reasons"])]
    assert chuseok, "추석 2026 (Sep 24-27) should make the list"
    assert out["model"]["r2"] > 0.5


def test_windows_skip_festivals_of_neighbouring_municipalities(client, county_data):
    h = api_headers(client, "hwasun.staff")
    before = _windows(client, h, limit=3)
    best = before["windows"][0]
    start, end = date.fromisoformat(best["start_date"]), date.fromisoformat(best["end_date"])
    r = client.post(f"{API}/festivals", headers=h, json={
        "name": "광주 김치축제", "host_code": "2900000000", "host_name": "광주광역시",
        "start_date": str(start + timedelta(days=1)), "end_date": str(end + timedelta(days=2))})
    assert r.status_code == 201, r.text
    after = _windows(client, h, limit=10)
    assert "광주 김치축제" in [f["name"] for f in after["excluded_for"]]
    for w in after["windows"]:
        s, e = date.fromisoformat(w["start_date"]), date.fromisoformat(w["end_date"])
        assert e < start + timedelta(days=1) or s > end + timedelta(days=2), w
    # the county's own festival on those dates is no clash
    client.delete(f"{API}/festivals/{r.json()['id']}", headers=h)
    client.post(f"{API}/festivals", headers=h, json={"name": "화순 작은 음악회", "host_code": HWASUN,
                                                     "start_date": str(start), "end_date": str(end)})
    assert _windows(client, h, limit=3)["windows"][0]["start_date"] == best["start_date"]


def test_past_festivals_are_scored_as_uplift(client, county_data):
    h = api_headers(client, "hwasun.staff")
    past = _windows(client, h)["past_festivals"]
    assert past, "the generated 국화향연 of 2025 falls in the data"
    full = [f for f in past if f["days_with_data"] >= 10]
    assert full and all(f["uplift_pct"] > 100 for f in full)  # generated at about 3x in 화순읍


def test_model_cache_is_dropped_when_new_data_arrive(client, database, county_data):
    h = api_headers(client, "hwasun.staff")
    first = _windows(client, h)["model"]
    assert _windows(client, h)["model"] == first
    last = date.fromisoformat(first["fitted_to"])
    rows = [{"date": str(last + timedelta(days=d)), "hour": hr, "zone_code": HWASUN_EUP, "sex": "all",
             "age_band": "all", "visitor_type": "visitor", "count": 50.0} for d in (1, 2) for hr in range(24)]
    assert client.post(f"{API}/imports/living-population", headers=h, json=rows).status_code == 201
    assert _windows(client, h)["model"]["fitted_to"] == str(last + timedelta(days=2))


def test_too_little_data_and_unknown_zone_are_clear_errors(client, county):
    h = api_headers(client, "hwasun.staff")
    rows = [{"date": f"2025-01-{d:02d}", "hour": 12, "zone_code": HWASUN_EUP, "sex": "all", "age_band": "all",
             "visitor_type": "visitor", "count": 10} for d in range(1, 11)]
    client.post(f"{API}/imports/living-population", headers=h, json=rows)
    r = client.get(f"{API}/festival-windows", headers=h, params={"zone_code": HWASUN_EUP, "days": 3, "year": 2026})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["zone_code"]
    r = client.get(f"{API}/festival-windows", headers=h, params={"zone_code": "4679099999", "days": 3})
    assert r.status_code == 404
    r = client.get(f"{API}/festival-windows", headers=h, params={"zone_code": HWASUN_EUP, "days": 0})
    assert r.status_code == 422


def test_expected_values_follow_the_weekly_pattern(database, county_data):
    from app.core.tenancy import SYSTEM, bind_principal
    from app.lguplus.citydata import service

    with database.unit_of_work(write=False) as s:
        bind_principal(s, SYSTEM)
        zm = analysis.zone_model(s, zone=service.get_zone(s, code=HWASUN_EUP))
        week = [date(2027, 3, 1) + timedelta(days=i) for i in range(7)]  # Mon..Sun, no holiday
        expected = zm.expected(week)
    assert np.argmax(expected) == 5  # Saturday, as generated
    assert expected[5] / expected[1] > 1.6


def test_windows_are_for_this_year_in_seoul_unless_asked(client, county_data, clock_instant):
    """Just past midnight on New Year's Day in Seoul it is still last year in UTC: "this year" is Seoul's."""
    h = api_headers(client, "hwasun.staff")
    r = client.get(f"{API}/festival-windows", headers=h, params={"zone_code": HWASUN_EUP, "days": 3, "limit": 3})
    assert r.status_code == 200, r.text
    year = clock_instant.astimezone(SEOUL).year
    assert r.json()["year"] == year
    assert all(w["start_date"].startswith(str(year)) for w in r.json()["windows"])


def _plant(database, county, *, peak: float = 8.0) -> None:
    """Three years of daily visitors in 화순읍: a weekly rhythm, 3× at 설날/추석 (homecoming), and 8–14 June
    at ``peak``× every year; a little deterministic noise."""
    from app.core.bulk import insert_rows
    from app.core.tenancy import SYSTEM, bind_principal
    from app.lguplus.citydata.models import CitydataPopDaily, CitydataZone

    rng = np.random.default_rng(3)
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        zone_id = s.query(CitydataZone.id).filter(CitydataZone.code == HWASUN_EUP).scalar()
        rows = []
        d = date(2023, 1, 1)
        while d <= date(2025, 12, 31):
            value = 1000.0 * (1.4 if d.weekday() >= 5 else 1.0)
            if analysis.is_lunar_holiday(analysis.holiday_name(d)):
                value *= 3.0
            if d.month == 6 and 8 <= d.day <= 14:
                value *= peak
            rows.append({"municipality_id": county.id, "zone_id": zone_id, "obs_date": d, "visitor_type": "visitor",
                         "count": value * float(np.exp(rng.normal(0, 0.05)))})
            d += timedelta(days=1)
        insert_rows(s, CitydataPopDaily.__table__, rows)


def test_a_week_busy_every_year_ranks_first_and_family_holidays_are_left_out(client, county, database):
    _plant(database, county)
    h = api_headers(client, "hwasun.staff")
    out = _windows(client, h, days=7, limit=10)
    first = out["windows"][0]
    assert (first["start_date"], first["end_date"]) == ("2026-06-08", "2026-06-14")
    # 설날 (Feb 16-18, 2026) and 추석 (Sep 24-26, 2026) are named and no window touches them
    family = [e for e in out["excluded_for"] if e["kind"] == "family_holiday"]
    assert [e["name"] for e in family] == ["설날", "추석"]
    for w in out["windows"]:
        for e in family:
            assert w["end_date"] < e["start_date"] or w["start_date"] > e["end_date"]
    # asked to, the homecoming weeks come back and are flagged as holidays
    both = _windows(client, h, days=7, limit=10, include_family_holidays="true")
    assert not [e for e in both["excluded_for"] if e["kind"] == "family_holiday"]
    assert any(any(r["kind"] == "holiday" and "추석" in " ".join(r["names"]) for r in w["reasons"])
               for w in both["windows"])
    assert both["windows"][0]["start_date"] == "2026-06-08"


def test_a_one_off_peak_is_not_learnt_as_recurring():
    days = [date(2023, 1, 1) + timedelta(days=i) for i in range(3 * 365)]
    resid = np.array([2.0 if d.year == 2024 and d.month == 6 and 8 <= d.day <= 14 else 0.0 for d in days])
    annual = analysis.recurring_peaks(days, resid)
    assert annual is not None and float(np.abs(annual).max()) == 0.0
    resid = np.array([2.0 if d.month == 6 and 8 <= d.day <= 14 else 0.0 for d in days])
    annual = analysis.recurring_peaks(days, resid)
    assert annual[analysis._doy(date(2026, 6, 11))] > 1.5 and annual[analysis._doy(date(2026, 8, 11))] == 0.0
