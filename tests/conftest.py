"""Shared fixtures: a real SQLite file and a real PostgreSQL database, migrated by Alembic.

Every test that uses ``database`` (directly or through ``app``/``client``) runs once per backend.
PostgreSQL runs when ``DXHUB_TEST_DATABASE_URL`` names a database (``.ci/run`` creates a fresh one);
otherwise those runs are skipped with the reason shown.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import make_url, text
from sqlalchemy.orm import Session

from app.cli import migrate
from app.core.config import Settings
from app.core.db import Base, Database
from app.core.manifest import install
from app.core.tenancy import SYSTEM, bind_principal
from app.main import create_app
from app.modules import load_manifests
from app.platform import demo
from app.platform.models import Municipality, Partner, User

PASSWORD = "correct-horse-battery"
# The fixture users' hash: real argon2id, at the library's lowest cost, made once. Verification reads its
# parameters from the hash, so the many sign-ins of the suite stay cheap; users created through the app
# are hashed at full cost.
PASSWORD_HASH = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
PG_URL = os.environ.get("DXHUB_TEST_DATABASE_URL")


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
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"PostgreSQL unreachable at DXHUB_TEST_DATABASE_URL: {exc}")
    return url


@pytest.fixture(scope="session")
def migrated_database(database_url: str) -> Iterator[Database]:
    install(load_manifests())
    migrate(database_url)
    db = Database(database_url)
    yield db
    db.dispose()


def _wipe(db: Database, *, bulky: bool) -> None:
    """Empty every table. On PostgreSQL, DELETE and a sequence reset cost a tenth of a TRUNCATE of every
    table when the tables hold a test's few rows; TRUNCATE is kept for a database that holds the demo."""
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with db.engine.begin() as conn:
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
