"""Shared fixtures: a real SQLite file and a real PostgreSQL database, migrated by Alembic; a fixed clock.

Every test that uses ``database`` (directly or through ``app``/``client``) runs once per backend.
PostgreSQL runs when ``DXHUB_TEST_DATABASE_URL`` names a database (``.ci/run`` creates a fresh one);
otherwise those runs are skipped with the reason shown. That URL's role owns the schema and runs the
migrations; the app and the tests connect as ``DXHUB_TEST_APP_ROLE`` (default ``dxhub_app``), a role that
owns nothing and has no BYPASSRLS, made here when missing: so the PostgreSQL runs prove the row-level
security policies, not only the ORM's tenant filter.

Every test runs at a fixed instant (``clock``, autouse, with ``time-machine``), never on the day it happens
to run; the process's time zone is UTC meanwhile, whatever the machine's, so a date taken with
``date.today()`` where Seoul's was meant shows. The tests about dates also run at the instants where dates
turn (``clock_instant``).
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest
import time_machine
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import make_url, text
from sqlalchemy.orm import Session

from app.cli import migrate
from app.core.config import Settings
from app.core.db import Base, Database
from app.core.i18n import current_domain, current_locale
from app.core.manifest import install
from app.core.rls import declare_all
from app.core.tenancy import SYSTEM, bind_principal
from app.main import create_app
from app.modules import load_manifests
from app.platform import demo
from app.platform.models import Municipality, Partner, User

T = TypeVar("T")
PASSWORD = "correct-horse-battery"
# The fixture users' hash: real argon2id, at the library's lowest cost, made once. Verification reads its
# parameters from the hash, so the many sign-ins of the suite stay cheap; users created through the app
# are hashed at full cost.
PASSWORD_HASH = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
PG_URL = os.environ.get("DXHUB_TEST_DATABASE_URL")
APP_ROLE = os.environ.get("DXHUB_TEST_APP_ROLE", "dxhub_app")

SEOUL = ZoneInfo("Asia/Seoul")


def _default_now() -> datetime:
    """The instant every test starts at: ``DXHUB_TEST_NOW`` (ISO 8601 with an offset) to try another one,
    otherwise an ordinary Thursday morning in Seoul."""
    raw = os.environ.get("DXHUB_TEST_NOW")
    if not raw:
        return datetime(2026, 12, 3, 10, 0, tzinfo=SEOUL)
    at = datetime.fromisoformat(raw)
    if at.tzinfo is None:
        raise pytest.UsageError(f"DXHUB_TEST_NOW={raw!r} needs an offset, e.g. 2026-12-05T23:59:00+09:00")
    return at


DEFAULT_NOW = _default_now()

# The instants where dates turn, for the tests about dates (``clock_instant``). Those tests compute what
# they expect from the instant, in Seoul: a date taken in UTC (or the machine's zone) fails at one of them.
CLOCK_INSTANTS = {
    # Saturday night: "tomorrow" is a Sunday, when nothing is collected; the same day in UTC (14:59).
    "sat-2359-kst": datetime(2026, 12, 5, 23, 59, tzinfo=SEOUL),
    # The day before 설날 2027 (7 Feb), itself a public holiday, a Saturday; still Friday 5 Feb (a working
    # day) at 23:30 in UTC.
    "seollal-eve-0830-kst": datetime(2027, 2, 6, 8, 30, tzinfo=SEOUL),
    # New Year's Eve, before midnight: the 31st in Seoul and in UTC (14:30); tomorrow is another year.
    "dec31-2330-kst": datetime(2026, 12, 31, 23, 30, tzinfo=SEOUL),
    # Just past midnight: New Year's Day (a holiday) in Seoul, still 31 December 15:30 in UTC.
    "jan1-0030-kst": datetime(2027, 1, 1, 0, 30, tzinfo=SEOUL),
}


@pytest.fixture(params=list(CLOCK_INSTANTS.values()), ids=list(CLOCK_INSTANTS))
def clock_instant(request) -> datetime:
    """Run the test at each instant where dates turn (in Seoul time); the clock stands still there."""
    return request.param


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "frozen_clock: the clock stands still at the default instant (tests "
                                       "about time passing move it themselves, whatever the machine's load)")


@pytest.fixture(autouse=True)
def clock(request: pytest.FixtureRequest) -> Iterator[time_machine.Coordinates]:
    """Every test travels to a fixed instant: ``clock_instant``'s when it asks for it (frozen), otherwise
    ``DEFAULT_NOW`` (ticking from there, for servers, threads and streams that wait for time to pass, or
    frozen with the ``frozen_clock`` mark).

    The process's local zone is UTC during the travel, whatever the machine's. Tests move time with
    ``clock.shift(...)`` / ``clock.move_to(...)``; a subprocess does not travel along."""
    if "clock_instant" in request.fixturenames:
        at, tick = request.getfixturevalue("clock_instant"), False
    else:
        at, tick = DEFAULT_NOW, request.node.get_closest_marker("frozen_clock") is None
    with time_machine.travel(at.astimezone(UTC), tick=tick) as traveller:
        yield traveller


def seoul_now() -> datetime:
    """Now in Seoul, on the travelled clock: what "today" and "tomorrow" mean to a caller."""
    return datetime.now(SEOUL)


def _reset_postgres(url: str) -> None:
    db = Database(url)
    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    db.dispose()


def _worker_database(url: str, worker: str) -> str:
    """A database of this xdist worker's own beside the configured one (made fresh, on the same server):
    the workers of ``make test`` never share a database. Dropped by the caller when the session ends."""
    parsed = make_url(url)
    name = f"{parsed.database}_{worker}"
    admin = Database(url)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def _drop_database(admin_url: str, name: str) -> None:
    admin = Database(admin_url)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _ensure_app_role(url: str) -> None:
    """The app's role, once per cluster (roles are cluster-wide; xdist workers may race to make it)."""
    admin = Database(url)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN "
            f"CREATE ROLE \"{APP_ROLE}\" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE; END IF; "
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"))
    admin.dispose()


def app_url_of(owner_url: str) -> str:
    """The URL the app and the tests use: the app's role on PostgreSQL, the same file on SQLite."""
    parsed = make_url(owner_url)
    if parsed.get_backend_name() != "postgresql":
        return owner_url
    return parsed.set(username=APP_ROLE, password=None).render_as_string(hide_password=False)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'dxhub-test.db'}"
    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set DXHUB_TEST_DATABASE_URL (.ci/run does)")
    url = PG_URL
    try:
        if worker := os.environ.get("PYTEST_XDIST_WORKER"):
            url = _worker_database(PG_URL, worker)
            request.addfinalizer(lambda: _drop_database(PG_URL, make_url(url).database))
        _reset_postgres(url)
        _ensure_app_role(url)
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"PostgreSQL unreachable at DXHUB_TEST_DATABASE_URL: {exc}")
    return url


@pytest.fixture(scope="session")
def migrated_database(database_url: str) -> Iterator[Database]:
    """The database migrated by its owner, as the app sees it (the app's role on PostgreSQL)."""
    install(load_manifests())
    app_url = app_url_of(database_url)
    warning = migrate(database_url, app_database_url=app_url)
    assert warning is None, warning
    db = Database(app_url, migration_url=database_url)
    owner = Database(database_url)
    _owners[db.url] = owner
    yield db
    db.dispose()
    owner.dispose()
    _owners.pop(db.url, None)


# Each migrated database's owner: the wipe runs as the owner, in scope all.
_owners: dict[str, Database] = {}


def _wipe(db: Database, *, bulky: bool) -> None:
    """Empty every table. On PostgreSQL, DELETE and a sequence reset cost a tenth of a TRUNCATE of every
    table when the tables hold a test's few rows; TRUNCATE is kept for a database that holds the demo."""
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    owner = _owners.get(db.url, db)
    with owner.engine.begin() as conn:
        declare_all(conn)
        if db.is_sqlite:
            conn.execute(text("PRAGMA defer_foreign_keys=ON"))
            for name in tables:
                conn.execute(text(f'DELETE FROM "{name}"'))
        elif bulky:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for name in tables:  # children before parents: the metadata's dependency order, reversed
                conn.execute(text(f'DELETE FROM "{name}"'))
            conn.execute(text("SELECT setval(c.oid, 1, false) FROM pg_class c JOIN pg_namespace n "
                              "ON n.oid = c.relnamespace WHERE c.relkind = 'S' AND n.nspname = current_schema()"))


# Databases that hold the whole demo and have seen only demo tests since it was loaded: loading it takes
# long, and the tests that read it (``demo_loaded``) share one load per backend.
_demo_pristine: set[str] = set()


@pytest.fixture
def database(migrated_database: Database, request: pytest.FixtureRequest) -> Iterator[Database]:
    """The migrated database, emptied before the test (kept as it is between tests that read the demo)."""
    if not ("demo_loaded" in request.fixturenames and migrated_database.url in _demo_pristine):
        bulky = migrated_database.url in _demo_pristine
        _demo_pristine.discard(migrated_database.url)
        _wipe(migrated_database, bulky=bulky)
    yield migrated_database


def _backend(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("database_url") if callspec else None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Within each backend's run, the tests that read the demo go last, so that they share one load."""
    runs: list[list[pytest.Item]] = []
    for item in items:
        if runs and _backend(runs[-1][0]) == _backend(item):
            runs[-1].append(item)
        else:
            runs.append([item])
    items[:] = [item for run in runs
                for item in sorted(run, key=lambda i: "demo_loaded" in getattr(i, "fixturenames", ()))]
    # The fuzzer takes minutes: first, so that under xdist the other tests run beside it, not after it.
    items.sort(key=lambda i: i.get_closest_marker("fuzz") is None)


@pytest.fixture
def settings(database: Database, tmp_path) -> Settings:
    return Settings(env="test", database_url=database.url, secret_key="test-secret-key-0123456789",
                    login_max_failures=3, login_lockout_s=600, data_dir=tmp_path / "var")


@pytest.fixture
def app(settings: Settings, database: Database):
    return create_app(settings, database)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    """A session acting as the system (no tenant scope), committed at the end of the block."""
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        yield s


@dataclass
class World:
    """Two tenants: 창원시 (under 경상남도) and 울산광역시, with users of every role in each."""

    gyeongnam: Municipality
    changwon: Municipality
    ulsan: Municipality
    partners: dict[str, Partner]
    users: dict[str, User]


def run_every_module(db: Session, *municipalities: Municipality) -> None:
    """Switch every installed module on for ``municipalities``, as a platform administrator would: the
    tests of a module act as users of a municipality that runs it, with or without a program."""
    from app.core.manifest import installed
    from app.platform.models import MunicipalityModule

    db.add_all(MunicipalityModule(municipality_id=m.id, module_key=key, enabled=True, switched_by="system:tests")
               for m in municipalities for key in installed())
    db.flush()


def make_world(db: Session) -> World:
    gyeongnam = Municipality(code="4800000000", name_ko="경상남도", name_en="Gyeongnam", level="metropolitan")
    ulsan = Municipality(code="3100000000", name_ko="울산광역시", name_en="Ulsan", level="metropolitan")
    db.add_all([gyeongnam, ulsan])
    db.flush()
    changwon = Municipality(code="4812000000", name_ko="창원시", name_en="Changwon", level="basic",
                            parent_id=gyeongnam.id)
    db.add(changwon)
    partners = {code: Partner(code=code, name_ko=code.upper(), name_en=code.upper(), kind=kind)
                for code, kind in [("skt", "telecom"), ("kt", "telecom"), ("lguplus", "telecom"),
                                   ("kostat", "public_agency")]}
    db.add_all(partners.values())
    db.flush()
    password_hash = PASSWORD_HASH
    users = {}
    for username, role, muni in [
        ("root", "platform_admin", None),
        ("gn.admin", "municipal_admin", gyeongnam), ("cw.admin", "municipal_admin", changwon),
        ("cw.staff", "staff", changwon), ("cw.viewer", "viewer", changwon),
        ("us.admin", "municipal_admin", ulsan), ("us.staff", "staff", ulsan), ("us.viewer", "viewer", ulsan),
    ]:
        users[username] = User(username=username, display_name=username, role=role, password_hash=password_hash,
                               municipality_id=muni.id if muni else None)
    db.add_all(users.values())
    db.flush()
    run_every_module(db, changwon, ulsan)
    return World(gyeongnam=gyeongnam, changwon=changwon, ulsan=ulsan, partners=partners, users=users)


@pytest.fixture
def world(database: Database) -> World:
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        return make_world(s)


def api_headers(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Bearer headers for a staff member, from the OAuth2 password endpoint."""
    r = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def csrf_of(client: TestClient, path: str = "/login") -> str:
    html = client.get(path).text
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def in_language(locale: str, domain: str | None, call: Callable[[], T]) -> T:
    """``call()`` as a request in ``locale`` on a page of ``domain`` (a module's catalogue; None: the shared ones)."""
    locale_token, domain_token = current_locale.set(locale), current_domain.set(domain)
    try:
        return call()
    finally:
        current_locale.reset(locale_token)
        current_domain.reset(domain_token)


def refused_rows(html: str) -> list[tuple[str, str, str]]:
    """The bad rows a refused file's page lists (the ``ui.row_errors`` table): (line, field, message)."""
    found = re.findall(r'<tr><td class="num">([^<]*)</td><td>(?:<code>([^<]*)</code>)?</td><td>([^<]*)</td></tr>', html)
    return [(line, field, unescape(msg)) for line, field, msg in found]


def web_login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign ``client`` in through the form; returns the session's CSRF token for later posts."""
    token = csrf_of(client)
    r = client.post("/login", data={"username": username, "password": password, "csrf_token": token,
                                    "next": "/"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return csrf_of(client, "/")


@pytest.fixture
def demo_loaded(database: Database) -> Database:
    """The whole demo, loaded once per backend; tests using it only read it."""
    if database.url not in _demo_pristine:
        demo.load_all(database)
        _demo_pristine.add(database.url)
    return database


@pytest.fixture
def job_queue(settings: Settings, database: Database):
    """The worker's queue for ``settings`` (Huey's SQLite storage in the test's directory), run by the test
    with ``drain()`` where a worker would consume it."""
    from app.core.jobs import queue_for

    queue = queue_for(settings)
    queue.bind(database)
    queue.huey.flush()
    yield queue
    queue.huey.flush()


MQTT_URL = os.environ.get("DXHUB_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")


@pytest.fixture(scope="session")
def mqtt_url() -> str:
    """The broker the MQTT bridge tests use (Mosquitto on this machine; DXHUB_TEST_MQTT_URL elsewhere)."""
    from app.core.mqtt import parse_url

    address = parse_url(MQTT_URL)
    try:
        socket.create_connection((address.host, address.port), timeout=2).close()
    except OSError as exc:
        pytest.skip(f"no MQTT broker at {MQTT_URL} ({exc}): start Mosquitto or set DXHUB_TEST_MQTT_URL")
    return MQTT_URL


def wait_until(condition: Callable[[], object], *, within_s: float = 10.0, what: str = "the condition") -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"not within {within_s} s: {what}")
