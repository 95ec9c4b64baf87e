import numpy as np

from app.core.stats import did
from app.core.tenancy import SYSTEM, Principal, bind_principal
from app.lguplus.merchants import demo, report
from tests.conftest import api_headers
from tests.lguplus.merchants.conftest import API, TODAY


def _panel(effect: float, seed: int, units: int = 160, periods: int = 20):
    rng = np.random.default_rng(seed)
    level = rng.normal(100, 30, units)  # units differ a lot in level
    period_effect = rng.normal(0, 3, periods)
    treated = np.arange(units) < units // 2
    y, t, p, g = [], [], [], []
    for u in range(units):
        for k in range(periods):
            post = k >= periods // 2
            y.append(level[u] + period_effect[k] + 0.4 * k + (effect if treated[u] and post else 0)
                     + rng.normal(0, 4))
            t.append(bool(treated[u]))
            p.append(post)
            g.append(u)
    return y, t, p, g


def test_difference_in_differences_recovers_a_known_effect():
    for seed in (1, 2, 3):
        res = did(*_panel(6.0, seed))
        assert res["ci_low"] < 6.0 < res["ci_high"], res
        assert res["ci_low"] > 0 and res["p_value"] < 0.01
        assert res["n_treated"] == 80 and res["n_control"] == 80 and res["n_obs"] == 3200
        pooled = did(*_panel(6.0, seed), unit_effects=False)
        assert pooled["ci_low"] < 6.0 < pooled["ci_high"]
        assert res["ci_high"] - res["ci_low"] < pooled["ci_high"] - pooled["ci_low"]  # unit effects sharpen it
    placebo = did(*_panel(0.0, 4))
    assert placebo["ci_low"] < 0 < placebo["ci_high"]
    few = did([1.0, 2.0, 3.0, 5.0], [True, True, False, False], [False, True, False, True], [1, 1, 2, 2])
    assert few["estimate"] == -1.0 and few["ci_low"] is None  # one unit a side: no interval


def test_two_way_fixed_effects_handle_staggered_starts_and_seasons():
    """Units start at different times while every unit shares strong month effects: with period effects the
    interval covers the known effect; without them the estimate is pulled by the season."""
    for seed in (0, 2, 4):
        rng = np.random.default_rng(seed)
        units, periods, effect = 120, 24, 5.0
        season = 20 * np.sin(np.arange(periods) / 2)
        start = {u: int(rng.integers(6, 18)) for u in range(units // 2)}  # first half treated, staggered
        y, t, p, g, m = [], [], [], [], []
        for u in range(units):
            level = rng.normal(100, 30)
            for k in range(periods):
                post = u in start and k >= start[u]
                y.append(level + season[k] + (effect if post else 0) + rng.normal(0, 2))
                t.append(u in start)
                p.append(post if u in start else k >= 12)
                g.append(u)
                m.append(k)
        twfe = did(y, t, p, g, periods=m)
        assert twfe["ci_low"] < effect < twfe["ci_high"]
        plain = did(y, t, p, g)
        assert not plain["ci_low"] < effect < plain["ci_high"]


def _scoped(s, municipality_id):
    bind_principal(s, Principal(kind="user", id=None, name="t", role="staff", municipality_id=municipality_id,
                                municipality_ids=frozenset({municipality_id})))


def test_report_finds_the_generated_effect_per_solution(database, world):
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        demo.generate(s, municipality_id=world.changwon.id, n_merchants=90, n_participants=36, months=14, seed=11,
                      today=TODAY, solutions=["order", "pos"], effects={"order": 2_000_000, "pos": 0},
                      n_consulting=0)
    with database.unit_of_work(write=False, principal=SYSTEM) as s:
        _scoped(s, world.changwon.id)
        rep = report.effect_report(s, k=5)
    by = {e["solution"]: e for e in rep["per_solution"]}
    order, pos = by["order"], by["pos"]
    assert order["n_treated"] >= 10 and not order["suppressed"]
    assert order["ci_low"] < 2_000_000 < order["ci_high"] and order["ci_low"] > 0
    assert pos["ci_low"] < 0 < pos["ci_high"]  # no effect, and the interval says so
    assert by["serving_robot"]["n_treated"] == 0 and by["serving_robot"]["estimate"] is None
    sales = rep["overall"]["sales_krw"]
    assert sales["n_treated"] == 36 and sales["estimate"] > 0
    assert rep["participants"] == 36 and rep["merchants"] == 90
    assert all(m["participants_avg_krw"] is None or m["participants"] >= 5 for m in rep["monthly"])


def test_groups_under_k_are_suppressed(database, world):
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        demo.generate(s, municipality_id=world.changwon.id, n_merchants=30, n_participants=3, months=10, seed=12,
                      today=TODAY, solutions=["order"], n_consulting=0)
    with database.unit_of_work(write=False, principal=SYSTEM) as s:
        _scoped(s, world.changwon.id)
        rep = report.effect_report(s, k=5)
        loose = report.effect_report(s, k=2)
    order = next(e for e in rep["per_solution"] if e["solution"] == "order")
    assert order["suppressed"] and order["estimate"] is None and order["ci_low"] is None
    assert rep["overall"]["sales_krw"]["suppressed"] and rep["overall"]["sales_krw"]["estimate"] is None
    assert not next(e for e in loose["per_solution"] if e["solution"] == "order")["suppressed"]
    # by 행정동: no shown cell rests on 1-4 merchants, and no 행정동 has exactly one hidden cell (its total is shown)
    cells = rep["by_dong"]
    assert cells and any(c["suppressed"] for c in cells)
    for c in cells:
        assert c["suppressed"] or c["merchants"] == 0 or c["merchants"] >= 5
        assert c["suppressed"] == (c["avg_sales_krw"] is None and c["merchants"] is None)
    for code in {c["dong_code"] for c in cells}:
        dong = [c for c in cells if c["dong_code"] == code]
        if sum(c["suppressed"] for c in dong) == 1:  # then the other cell is empty and the total is hidden too
            assert all(c["dong_merchants"] is None for c in dong)
            assert [c["merchants"] for c in dong if not c["suppressed"]] == [0]
    shown = {c["dong_code"]: c["dong_merchants"] for c in loose["by_dong"]}
    assert sum(v for v in shown.values() if v is not None) <= 30
    assert sum(c["suppressed"] for c in loose["by_dong"]) < sum(c["suppressed"] for c in cells)
    assert loose["overall"]["sales_krw"]["estimate"] is not None


def test_an_estimate_resting_on_few_comparison_merchants_is_suppressed(database, world):
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        demo.generate(s, municipality_id=world.changwon.id, n_merchants=24, n_participants=20, months=10, seed=5,
                      today=TODAY, solutions=["order"], n_consulting=0)
    with database.unit_of_work(write=False, principal=SYSTEM) as s:
        _scoped(s, world.changwon.id)
        everything = report.effect_report(s, k=1)
        rep = report.effect_report(s, k=5)
    shown = next(e for e in everything["per_solution"] if e["solution"] == "order")
    assert shown["n_treated"] >= 5 and 1 < shown["n_control"] < 5 and shown["estimate"] is not None
    order = next(e for e in rep["per_solution"] if e["solution"] == "order")
    assert order["suppressed"] and order["estimate"] is None and order["n_control"] is None


def test_demo_program_has_every_state_and_a_positive_effect(database, world):
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        demo.generate(s, municipality_id=world.changwon.id, today=TODAY)
    with database.unit_of_work(write=False, principal=SYSTEM) as s:
        _scoped(s, world.changwon.id)
        rep = report.effect_report(s, k=5)
    assert all(n > 0 for n in rep["funnel"].values()), rep["funnel"]
    assert rep["merchants"] == 300
    assert rep["overall"]["sales_krw"]["ci_low"] > 0
    assert rep["overall"]["no_show_rate"]["ci_high"] < 0


def test_report_api(client, program):
    h = api_headers(client, "cw.staff")
    r = client.get(f"{API}/report", headers=h)
    assert r.status_code == 200
    body = r.json()
    assert body["merchants"] == 40 and body["k"] == 5
    assert set(body["overall"]) == {"sales_krw", "orders", "reservations", "no_show_rate", "staff_hours"}
    assert sum(body["funnel"].values()) == client.get(f"{API}/applications?limit=1", headers=h).json()["total"]
    assert client.get(f"{API}/report", headers=api_headers(client, "us.staff")).json()["merchants"] == 6
