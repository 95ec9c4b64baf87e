"""k-suppression: no figure from fewer than k people, and no hidden figure recoverable from totals."""

from __future__ import annotations

import csv
import io

from app.core.config import Settings
from app.core.privacy import Cell, people_behind, suffix_differences_safe, suppress
from app.main import create_app
from tests.conftest import api_headers, web_login
from tests.skt.isolation.conftest import cell, load_cells

API = "/api/v1/skt/isolation"


def _three_dongs(database, small_population: int = 3, small_isolated: int = 1) -> None:
    load_cells(database, [
        cell("4812151000", population=500, low_communication=150, low_outing=120, isolated=90),
        cell("4812152000", population=200, low_communication=60, low_outing=50, isolated=30),
        cell("4812351000", population=small_population, low_communication=small_isolated,
             low_outing=small_isolated, isolated=small_isolated),
    ])


def test_a_small_dong_is_hidden_with_a_complementary_dong(client, iso):
    _three_dongs(iso["database"])
    h = api_headers(client, "cw.staff")
    items = client.get(f"{API}/ranking?period=2026-10&min_age=65", headers=h).json()["items"]
    by_code = {i["dong_code"]: i for i in items}
    small, partner, big = by_code["4812351000"], by_code["4812152000"], by_code["4812151000"]
    assert small["suppressed"] and small["population"] is None and small["isolated"] is None
    assert small["rate"] is None and small["ci_low"] is None
    # Complementary: the smallest other dong is hidden too, so the municipality's total (published on the
    # criteria page) minus the visible dongs leaves two unknowns, not one.
    assert partner["suppressed"] and partner["isolated"] is None
    assert not big["suppressed"] and big["isolated"] == 90
    total = client.get(f"{API}/criteria?period=2026-10&min_age=65", headers=h).json()["by_age"][0]
    assert total["isolated"] == 121
    assert total["isolated"] - big["isolated"] != 1  # what is left is the hidden pair's sum, not the small dong
    # Hidden rows come last, so the order reveals nothing either.
    assert [i["dong_code"] for i in items][0] == "4812151000"


def test_hidden_figures_stay_hidden_in_csv_and_pages(client, iso):
    _three_dongs(iso["database"])
    web_login(client, "cw.staff")
    text = client.get("/skt/isolation/ranking.csv?period=2026-10").text.lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text)))
    small = next(r for r in rows if r["dong_code"] == "4812351000")
    assert small["population"] == "" and small["isolated"] == "" and small["rate"] == ""
    page = client.get("/skt/isolation/ranking?period=2026-10").text
    assert "숨김" in page
    targets = client.get(f"{API}/targets?period=2026-10", headers=api_headers(client, "cw.staff")).json()["items"]
    assert {i["dong_code"] for i in targets if i["suppressed"]} == {"4812351000", "4812152000"}


def test_a_small_count_in_a_large_population_is_hidden(client, iso):
    # 300 people but only 2 isolated: the count of 2 would single people out.
    _three_dongs(iso["database"], small_population=300, small_isolated=2)
    h = api_headers(client, "cw.staff")
    items = {i["dong_code"]: i for i in client.get(f"{API}/ranking?period=2026-10", headers=h).json()["items"]}
    assert items["4812351000"]["suppressed"] and items["4812351000"]["isolated"] is None


def test_divide_hides_a_small_age_band_and_a_complement(client, iso):
    load_cells(iso["database"], [
        cell("4812151000", age="20-29", population=400),
        cell("4812151000", age="50-59", population=90),
        cell("4812151000", age="80+", population=2, low_communication=1, low_outing=1, isolated=1),
    ])
    h = api_headers(client, "cw.staff")
    body = client.get(f"{API}/divide?period=2026-10", headers=h).json()
    bands = {i["age_band"]: i for i in body["items"]}
    assert bands["80+"]["suppressed"] and bands["80+"]["means"]["app_minutes"] is None
    assert bands["50-59"]["suppressed"] and bands["50-59"]["population"] is None
    assert not bands["20-29"]["suppressed"]
    assert body["total_population"] == 492
    # total - visible = 92: the sum of two hidden bands, neither recoverable alone.
    assert body["total_population"] - bands["20-29"]["population"] == 92


def test_two_small_bands_are_not_left_to_reveal_their_sum(client, iso):
    """Two hidden bands of 2 people each: the total minus the visible bands would give a group of 4 people
    (and their means), so a third band is hidden as well."""
    load_cells(iso["database"], [
        cell("4812151000", age="20-29", population=400),
        cell("4812151000", age="50-59", population=90),
        cell("4812151000", age="75-79", population=2, low_communication=1, low_outing=1, isolated=1),
        cell("4812151000", age="80+", population=2, low_communication=1, low_outing=1, isolated=1),
    ])
    body = client.get(f"{API}/divide?period=2026-10", headers=api_headers(client, "cw.staff")).json()
    bands = {i["age_band"]: i for i in body["items"]}
    assert bands["75-79"]["suppressed"] and bands["80+"]["suppressed"] and bands["50-59"]["suppressed"]
    visible = sum(i["population"] for i in body["items"] if not i["suppressed"])
    assert body["total_population"] == 494 and body["total_population"] - visible == 94


def test_hidden_rows_together_hold_k_people_in_every_published_count(client, iso):
    """Among people 65+, 'no income' is hidden for its 2 isolated people and 'low' for its 3 people. The
    share isolated by sex publishes the total of isolated people, so the visible income bands would leave
    the hidden pair's 2 isolated people: the smallest band with isolated people is hidden with them."""
    load_cells(iso["database"], [
        cell("4812151000", income="none", population=500, low_communication=100, low_outing=90, isolated=2),
        cell("4812151000", income="low", population=3, low_communication=0, low_outing=0, isolated=0),
        cell("4812151000", income="middle", population=200, low_communication=60, low_outing=50, isolated=30),
        cell("4812151000", income="high", population=300, low_communication=70, low_outing=60, isolated=40),
    ])
    h = api_headers(client, "cw.staff")
    crit = client.get(f"{API}/criteria?period=2026-10&min_age=65", headers=h).json()
    by_income = {r["group"]: r for r in crit["by_income"]}
    assert [g for g, r in by_income.items() if r["suppressed"]] == ["none", "low", "middle"]
    total_isolated = sum(r["isolated"] for r in crit["by_sex"])
    assert total_isolated == 72
    assert total_isolated - by_income["high"]["isolated"] == 32  # the hidden bands' sum: 32 people, not 2
    grad = {i["income_band"]: i for i in client.get(f"{API}/gradient?period=2026-10&min_age=65",
                                                     headers=h).json()["items"]}
    assert [g for g, i in grad.items() if i["suppressed"]] == ["none", "low", "middle"]


def test_k_is_a_setting(database, iso):
    _three_dongs(iso["database"])
    settings = Settings(env="test", database_url=database.url, secret_key="test-secret-key-0123456789", k_threshold=1)
    from fastapi.testclient import TestClient

    with TestClient(create_app(settings, database)) as c:
        items = c.get(f"{API}/ranking?period=2026-10", headers=api_headers(c, "cw.staff")).json()
        assert items["k"] == 1 and not any(i["suppressed"] for i in items["items"])


def test_suppress_with_people_behind_the_smallest_figure():
    rows = [{"g": "a", "pop": 100, "iso": 3}, {"g": "b", "pop": 50, "iso": 20}, {"g": "c", "pop": 80, "iso": 0},
            {"g": "d", "pop": 40, "iso": 9}]
    cells = [Cell(keys={"g": r["g"]}, people=people_behind(r["pop"], r["iso"])) for r in rows]
    suppress(cells, k=5, margins=[()])
    assert [(c.keys["g"], c.reason) for c in cells if c.suppressed] == [("a", "primary"), ("d", "complementary")]


def test_suppress_protects_the_sum_of_hidden_cells():
    # two primary cells of 1 and 2 people: their sum (3) follows from the total, so a third is hidden
    cells = [Cell(keys={"g": g}, people=p) for g, p in (("a", 1), ("b", 2), ("c", 40), ("d", 7), ("e", 0))]
    suppress(cells, k=5, margins=[()])
    assert [(c.keys["g"], c.reason) for c in cells if c.suppressed] == [
        ("a", "primary"), ("b", "primary"), ("d", "complementary")]
    # with several counts per cell, each count's hidden sum must reach k: here the second count
    cells = [Cell(keys={"g": "a"}, people=2, counts=(500, 2)), Cell(keys={"g": "b"}, people=3, counts=(3, 0)),
             Cell(keys={"g": "c"}, people=6, counts=(6, 0)), Cell(keys={"g": "d"}, people=20, counts=(200, 20)),
             Cell(keys={"g": "e"}, people=30, counts=(300, 30))]
    suppress(cells, k=5, margins=[()])
    assert [c.keys["g"] for c in cells if c.suppressed] == ["a", "b", "d"]  # c has no isolated to add
    # a single hidden cell still gets its partner, and stable tables are left alone
    cells = [Cell(keys={"g": g}, people=p) for g, p in (("a", 3), ("b", 9), ("c", 50))]
    suppress(cells, k=5, margins=[()])
    assert [c.keys["g"] for c in cells if c.suppressed] == ["a", "b"]
    cells = [Cell(keys={"g": g}, people=p) for g, p in (("a", 3), ("b", 4), ("c", 50))]
    suppress(cells, k=5, margins=[()])
    assert [c.keys["g"] for c in cells if c.suppressed] == ["a", "b"]  # their sum, 7, is safe


def test_suffix_differences_rule():
    # parts per age band: (population, isolated)
    parts = [(100, 10), (3, 1), (80, 12)]
    assert suffix_differences_safe(parts, 0, k=5)  # all bands minus any other suffix: 100+ people, 10+ isolated
    assert not suffix_differences_safe(parts, 1, k=5)  # bands 1+ minus bands 2+ = 3 people
    assert not suffix_differences_safe(parts, 2, k=5)
    assert suffix_differences_safe([(100, 10), (50, 6), (80, 12)], 1, k=5)
    assert suffix_differences_safe([(100, 10), (0, 0), (80, 12)], 1, k=5)  # an empty band reveals no one


def test_the_vectorised_suffix_rule_agrees_with_the_plain_one():
    import numpy as np

    from app.core.privacy import suffix_differences_unsafe

    rng = np.random.default_rng(5)
    parts = rng.integers(0, 12, (400, 9, 3)).astype(float)
    parts[:, :, 0] += parts[:, :, 1:].max(axis=2)  # population at least every count
    for start in (0, 4, 5, 8):
        fast = suffix_differences_unsafe(parts, start, k=5)
        plain = [not suffix_differences_safe(row.tolist(), start, k=5) for row in parts]
        assert fast.tolist() == plain and 0 < sum(plain) < len(plain)


def test_asking_for_another_age_suffix_cannot_reveal_a_small_band(client, iso):
    """65+ and 70+ would differ by the 65-69 band; when that band is tiny in a dong the dong is hidden at
    both ages, so subtracting the two answers reveals nothing."""
    rows = []
    for dong, small in (("4812151000", True), ("4812152000", False), ("4812351000", False)):
        iso_ = 1 if small else 6
        rows.append(cell(dong, age="65-69", population=2 if small else 120, low_communication=iso_,
                         low_outing=iso_, isolated=iso_))
        rows.append(cell(dong, age="70-74", population=300, low_communication=60, low_outing=60, isolated=40))
    load_cells(iso["database"], rows)
    h = api_headers(client, "cw.staff")
    for min_age in (65, 70):
        items = {i["dong_code"]: i for i in client.get(f"{API}/ranking?period=2026-10&min_age={min_age}",
                                                        headers=h).json()["items"]}
        assert items["4812151000"]["suppressed"], min_age
        assert sum(1 for i in items.values() if i["suppressed"]) >= 2  # with its complement
    # the same for the income and sex tables of the criteria page, and the income gradient
    load_cells(iso["database"], [cell("4812152000", age="65-69", income="high", population=3, low_communication=1,
                                      low_outing=1, isolated=1),
                                 cell("4812152000", age="80+", income="high", population=90)])
    for min_age in (65, 70):
        grad = client.get(f"{API}/gradient?period=2026-10&min_age={min_age}", headers=h).json()
        high = next(i for i in grad["items"] if i["income_band"] == "high")
        assert high["suppressed"] and high["population"] is None, min_age
        crit = client.get(f"{API}/criteria?period=2026-10&min_age={min_age}", headers=h).json()
        assert next(r for r in crit["by_income"] if r["group"] == "high")["suppressed"], min_age


def test_every_csv_export_leaves_hidden_figures_empty(client, iso):
    load_cells(iso["database"], [
        cell("4812151000", age="20-29", population=400, low_communication=80, low_outing=60, isolated=30),
        cell("4812151000", age="50-59", population=90, low_communication=20, low_outing=20, isolated=10),
        cell("4812152000", age="80+", population=3, low_communication=1, low_outing=1, isolated=1),
    ])
    web_login(client, "cw.staff")

    def rows(name: str, **query: str) -> list[dict[str, str]]:
        text = client.get(f"/skt/isolation/{name}.csv", params=query).text.lstrip("\ufeff")
        return list(csv.DictReader(io.StringIO(text)))

    divide = {r["age_band"]: r for r in rows("divide")}
    assert divide["80+"]["population"] == "" and divide["80+"]["app_minutes"] == ""
    assert divide["20-29"]["population"] == "400"
    criteria = {(r["by"], r["group"]): r for r in rows("criteria", min_age="20")}
    assert criteria[("age", "80+")]["isolated"] == "" and criteria[("age", "50-59")]["isolated"] == ""
    targets = {r["dong_code"]: r for r in rows("targets", min_age="20")}
    assert targets["4812152000"]["reachable"] == "" and targets["4812152000"]["population"] == ""
