"""Numbers as Koreans read them: counts without decimals, 만/억 on cards with the exact won in the
tooltip, %p only for differences, and figures that never wrap apart from their units."""

from __future__ import annotations

import pytest

from app.core.i18n import current_locale
from app.core.templating import env

NBSP = "\u00a0"


def render(source: str, locale: str = "ko", **values) -> str:
    token = current_locale.set(locale)
    try:
        return env.from_string(source).render(**values)
    finally:
        current_locale.reset(token)


@pytest.mark.parametrize(("value", "unit", "ko", "en"), [
    (1900.0, "", "1,900", "1,900"),
    (1900.4, "명", f"1,900{NBSP}명", f"1,900{NBSP}명"),
    (0, "", "0", "0"),
    (None, "", "-", "-"),
])
def test_counts_have_no_decimals(value, unit, ko, en):
    assert render("{{ v|count(u) }}", v=value, u=unit) == ko
    assert render("{{ v|count(u) }}", "en", v=value, u=unit) == en


def test_exact_won_never_wraps():
    assert render("{{ 222959700|krw }}") == "222,959,700원"
    assert render("{{ 222959700|krw }}", "en") == f"222,959,700{NBSP}KRW"
    assert render("{{ 1500.6|krw }}") == "1,501원"


@pytest.mark.parametrize(("value", "short", "exact"), [
    (222_959_700, "2.2억원", "222,959,700원"),
    (1_000_000_000, "10억원", "1,000,000,000원"),
    (35_000_000, "3,500만원", "35,000,000원"),
    (12_345, "1.2만원", "12,345원"),
    (9_999, "9,999원", "9,999원"),
    (-150_000_000, "-1.5억원", "-150,000,000원"),
    (2_300_000_000_000, "2.3조원", "2,300,000,000,000원"),
])
def test_large_amounts_on_cards_in_man_and_eok_with_the_exact_figure_in_the_tooltip(value, short, exact):
    assert render("{{ v|krw_short }}", v=value) == f'<span class="nowrap" title="{exact}">{short}</span>'


def test_short_amounts_in_english():
    assert render("{{ 222959700|krw_short }}", "en") == (
        f'<span class="nowrap" title="222,959,700{NBSP}KRW">223M{NBSP}KRW</span>')
    assert render("{{ none|krw_short }}") == "-"


def test_percent_for_shares_and_points_for_differences():
    assert render("{{ 0.8123|percent }}") == "81.2%"
    assert render("{{ 0.5|percent(0) }}") == "50%"
    assert render("{{ 3.25|pp }}") == "+3.2%p"
    assert render("{{ -0.5|pp }}") == "-0.5%p"
    assert render("{{ 3.25|pp }}", "en") == f"+3.2{NBSP}pp"
    assert render("{{ none|pp }}") == "-"


def test_change_for_relative_changes_signed():
    assert render("{{ 0.13|change }}") == "+13%"
    assert render("{{ -0.045|change }}") == "-4.5%"
    assert render("{{ 0.1249|change(0) }}") == "+12%"
    assert render("{{ 0.13|change }}", "en") == "+13%"
    assert render("{{ none|change }}") == "-"


def test_measures_by_unit():
    assert render("{{ 1900.0|measure('명') }} / {{ 3000.0|measure('명') }}") == f"1,900{NBSP}명 / 3,000{NBSP}명"
    assert render("{{ 81.25|measure('%') }}") == "81.2%"
    assert render("{{ 222959700|measure('원') }}") == "222,959,700원"
    assert render("{{ 4.25|measure('km') }}") == f"4.2{NBSP}km"


def test_measures_keep_their_unit_and_take_the_decimals_they_need():
    assert render("{{ 12.5|measure('h') }}") == f"12.5{NBSP}h"
    assert render("{{ 12.0|measure('%') }}") == "12%"
    assert render("{{ 2.3125|measure('×', 2) }}") == "2.31×"  # so many times: written against the figure
    assert render("{{ 0.734|measure('', 2) }}") == "0.73"  # a bare index whose column names what it is
    assert render("{{ 1234.56|measure }}") == "1,234.6"
    assert render("{{ none|measure('h') }}") == "-"
    assert render("{{ 1900.0|measure('명', 2) }}") == f"1,900{NBSP}명"  # a count stays whole


def test_one_filter_per_meaning():
    """Counts, won, shares, points and measures each have their filter; no bare decimal filter lingers
    (a figure is formatted by what it is, and every template still compiles without one)."""
    assert {"count", "krw", "krw_short", "percent", "change", "pp", "measure"} <= set(env.filters)
    assert "num" not in env.filters
    import app.main  # noqa: F401  (the platform's pages and their filters)
    from app.modules import load_manifests

    load_manifests()  # each module's pages register their own filters (the robots' map: cos, sin)
    for name in env.list_templates(filter_func=lambda n: n.endswith(".html")):
        env.get_template(name)  # an unknown filter fails here, at compile time
