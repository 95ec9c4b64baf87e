"""The home dashboard's module cards: kept per audience, fresh after this process's writes, aged out after
``home_card_ttl_s`` for writes made elsewhere, never shown to another audience (app.platform.homecards)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from markupsafe import Markup
from sqlalchemy import event, select, text

from app.core.db import Database, utcnow
from app.core.tenancy import SYSTEM, bind_principal
from app.kt.worknet import service as worknet_service
from app.kt.worknet.schemas import PoolIn
from app.platform.homecards import Card, HomeCards
from app.platform.models import Municipality
from tests.conftest import api_headers, web_login


class Clock:
    """The cards' timer, moved by the test (the cache ages by a monotonic clock, which time-machine leaves)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _worknet_card(html: str) -> str:
    found = re.search(r'<section class="card widget">\s*<h2>5G 업무망</h2>.*?</section>', html, re.S)
    assert found, "no 5G work network card"
    return found.group(0)


@contextmanager
def _statements(database: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(*args) -> None:
        seen.append(args[2])

    event.listen(database.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(database.engine, "before_cursor_execute", note)


def _pool_elsewhere(database: Database, code: str, name: str, cidr: str) -> None:
    """A pool written by another process: its own engine on the same database."""
    other = Database(database.url)
    try:
        with other.unit_of_work() as s:
            bind_principal(s, SYSTEM)
            worknet_service.create_pool(s, data=PoolIn(name=name, cidr=cidr, municipality_code=code),
                                        principal=SYSTEM)
    finally:
        other.dispose()


def test_a_card_is_kept_and_this_process_writes_show_at_once(app, client, world, database):
    headers = api_headers(client, "us.staff")
    assert client.post("/api/v1/kt/worknet/pools", headers=headers,
                       json={"name": "울산 본청망", "cidr": "10.31.0.0/24"}).status_code == 201
    web_login(client, "us.staff")
    first = client.get("/")
    assert "울산 본청망" in _worknet_card(first.text)
    assert re.search(r'<time datetime="[^"]+">\d{4}-\d\d-\d\d \d\d:\d\d 기준</time>', _worknet_card(first.text))

    with _statements(database) as seen:
        again = client.get("/")
    assert _worknet_card(again.text) == _worknet_card(first.text)
    assert not any("worknet_router" in s for s in seen), "a kept card counted the routers again"

    # a write through this process: the next visit computes the card again
    assert client.post("/api/v1/kt/worknet/pools", headers=headers,
                       json={"name": "울산 북구망", "cidr": "10.31.1.0/24"}).status_code == 201
    assert "울산 북구망" in _worknet_card(client.get("/").text)


def test_a_write_elsewhere_shows_once_the_card_ages_out(app, client, world, database):
    clock = Clock()
    app.state.home_cards = HomeCards(60, timer=clock)
    _pool_elsewhere(database, world.ulsan.code, "울산 본청망", "10.31.0.0/24")
    web_login(client, "us.staff")
    assert "울산 본청망" in _worknet_card(client.get("/").text)

    _pool_elsewhere(database, world.ulsan.code, "울산 북구망", "10.31.1.0/24")
    clock.now += 59
    assert "울산 북구망" not in _worknet_card(client.get("/").text)  # within the minute: the kept card
    clock.now += 2
    assert "울산 북구망" in _worknet_card(client.get("/").text)


def test_audiences_never_see_each_others_cards(app, client, world, database):
    _pool_elsewhere(database, world.ulsan.code, "울산 본청망", "10.31.0.0/24")
    _pool_elsewhere(database, world.changwon.code, "창원 본청망", "10.48.0.0/24")
    web_login(client, "us.staff")
    ulsan = _worknet_card(client.get("/").text)
    client.cookies.clear()
    web_login(client, "cw.staff")
    changwon = _worknet_card(client.get("/").text)
    client.cookies.clear()
    web_login(client, "root")
    everyone = _worknet_card(client.get("/").text)
    client.cookies.clear()
    web_login(client, "gn.admin")  # 경상남도 reaches 창원
    province = _worknet_card(client.get("/").text)
    assert "울산 본청망" in ulsan and "창원 본청망" not in ulsan
    assert "창원 본청망" in changwon and "울산 본청망" not in changwon
    assert "창원 본청망" in province and "울산 본청망" not in province
    assert "창원 본청망" in everyone and "울산 본청망" in everyone
    client.cookies.clear()
    web_login(client, "us.staff")
    assert client.get("/?lang=en").status_code == 200
    english = client.get("/").text
    assert "5G work network" in english and "울산 본청망" in english  # another language: its own card


def test_a_card_being_computed_is_waited_for_not_computed_again():
    """The first visits after a write (or at opening time) arrive together: one computes a card, the others
    wait for it rather than each computing it too."""
    cards, release, started = HomeCards(60), threading.Event(), threading.Event()
    built: list[str] = []

    def slow_build() -> Card:
        started.set()
        release.wait(10)
        built.append("first")
        return Card(title="카드", html=Markup("<p>1</p>"), computed_at=utcnow())

    def quick_build() -> Card:
        built.append("again")
        return Card(title="카드", html=Markup("<p>2</p>"), computed_at=utcnow())

    got: list[Card] = []
    first = threading.Thread(target=lambda: got.append(cards._card(("k",), slow_build)))
    first.start()
    assert started.wait(10)
    others = [threading.Thread(target=lambda: got.append(cards._card(("k",), quick_build))) for _ in range(3)]
    for t in others:
        t.start()
    time.sleep(0.3)  # the others reach the card meanwhile
    release.set()
    for t in [first, *others]:
        t.join(10)
    assert built == ["first"] and [c.html for c in got] == [Markup("<p>1</p>")] * 4


def test_no_kept_cards_when_the_time_is_zero(database):
    cards = HomeCards(0)
    assert cards._get(("any",)) is None
    cards._put(("any",), object())
    assert cards._get(("any",)) is None


def test_the_generation_moves_with_commits_that_wrote(database, world):
    before = database.generation
    with database.unit_of_work() as s:  # a read
        bind_principal(s, SYSTEM)
        s.scalars(select(Municipality)).all()
    assert database.generation == before
    try:
        with database.unit_of_work() as s:  # a write rolled back
            bind_principal(s, SYSTEM)
            s.execute(text("UPDATE municipality SET name_en = name_en"))
            raise RuntimeError("undo")
    except RuntimeError:
        pass
    assert database.generation == before
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        s.execute(text("UPDATE municipality SET name_en = name_en"))
    assert database.generation > before
