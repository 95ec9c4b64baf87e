"""The suite's clock: every test runs at a fixed instant, in UTC, whatever the day and zone of the machine."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import holidays

from tests.conftest import CLOCK_INSTANTS, DEFAULT_NOW, SEOUL


def test_a_test_starts_at_the_default_instant_in_utc():
    now = datetime.now(UTC)
    assert DEFAULT_NOW <= now < DEFAULT_NOW + timedelta(minutes=10)  # it ticks from there
    assert time.localtime().tm_gmtoff == 0 and date.today() == now.date()  # the machine's zone does not leak


def test_the_clock_stands_still_at_each_instant_where_dates_turn(clock_instant, clock):
    assert datetime.now(UTC) == clock_instant
    clock.shift(timedelta(minutes=1))  # a test moves time on purpose
    assert datetime.now(UTC) == clock_instant + timedelta(minutes=1)


def test_the_instants_are_what_their_names_say():
    seoul = {name: at.astimezone(SEOUL) for name, at in CLOCK_INSTANTS.items()}
    assert seoul["sat-2359-kst"].weekday() == 5 and (seoul["sat-2359-kst"] + timedelta(days=1)).weekday() == 6
    kr = holidays.country_holidays("KR", years=[2027], language="ko")
    eve = seoul["seollal-eve-0830-kst"].date()
    assert "설날" in kr[eve + timedelta(days=1)] and eve in kr  # the day before 설날 is itself a holiday
    assert CLOCK_INSTANTS["seollal-eve-0830-kst"].astimezone(UTC).date() not in kr  # a working Friday in UTC
    assert seoul["dec31-2330-kst"].date() == date(2026, 12, 31) == CLOCK_INSTANTS["dec31-2330-kst"].astimezone(
        UTC).date()
    assert seoul["jan1-0030-kst"].date() == date(2027, 1, 1) in kr
    # Both sides of midnight: two instants fall on another date in UTC than in Seoul.
    differ = sorted(n for n, at in CLOCK_INSTANTS.items() if at.astimezone(UTC).date() != seoul[n].date())
    assert differ == ["jan1-0030-kst", "seollal-eve-0830-kst"]
