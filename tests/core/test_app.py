"""The application shell: settings, the command's refusal of unsafe settings, health, cookies, SQLite pragmas,
route names in templates and the self-hosted API docs. None of these needs a migrated database."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import text
from starlette.requests import Request
from starlette.routing import NoMatchFound

from app.cli import main as dxhub
from app.core import templating
from app.core.config import DEFAULT_SECRET, Settings, get_settings
from app.core.db import Database
from app.main import create_app

SECRET = "shell-test-secret-0123456789"


def _app(**settings):
    url = settings.pop("database_url", "sqlite://")
    return create_app(Settings(env="test", secret_key=SECRET, database_url=url, **settings), Database(url))


@pytest.fixture(scope="module")
def shell_app():
    return _app()


@pytest.mark.parametrize("env", ["production", "test"])
def test_default_secret_refused_outside_development(env):
    with pytest.raises(ValidationError, match="DXHUB_SECRET_KEY"):
        Settings(env=env)
    assert Settings(env=env, secret_key="a-real-secret-from-the-vault-0123456789").env == env
    assert Settings(env="development").secret_key == DEFAULT_SECRET


def test_command_refuses_to_run_with_the_default_secret(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("DXHUB_ENV", "production")
    monkeypatch.delenv("DXHUB_SECRET_KEY", raising=False)
    monkeypatch.setenv("DXHUB_DATABASE_URL", f"sqlite:///{tmp_path / 'refused.db'}")
    get_settings.cache_clear()
    try:
        assert dxhub(["migrate"]) == 2  # refused before touching anything (serve is refused the same way)
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert "DXHUB_SECRET_KEY must be set" in err and "Traceback" not in err
    assert not (tmp_path / "refused.db").exists()


def test_healthz_answers_ok_and_503_when_the_database_is_down(shell_app):
    with TestClient(shell_app) as c:
        r = c.get("/healthz")
        assert r.status_code == 200 and r.json() == {"status": "ok"}
    # Nothing listens on port 1: the database does not answer.
    down = _app(database_url="postgresql://postgres@127.0.0.1:1/dxhub")
    with TestClient(down) as c:
        r = c.get("/healthz")
    assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 503


@pytest.mark.parametrize("secure", [False, True])
def test_session_cookie_is_httponly_lax_and_secure_when_configured(secure):
    with TestClient(_app(cookie_secure=secure)) as c:
        cookie = c.get("/login").headers["set-cookie"].lower()
    assert "dxhub_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert ("secure" in cookie.replace("samesite", "")) is secure


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'pragmas.db'}")
    try:
        with db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    finally:
        db.dispose()


def test_template_url_for_resolves_every_route_name_as_starlette_does(shell_app):
    request = Request({"type": "http", "app": shell_app, "router": shell_app.router, "path": "/",
                       "root_path": "", "headers": [(b"host", b"testserver")], "query_string": b"",
                       "method": "GET", "scheme": "http", "server": ("testserver", 80)})
    resolved = 0
    for name in templating._route_index(shell_app.router):
        try:
            expected = request.url_for(name)
        except NoMatchFound:  # the route takes path parameters
            with pytest.raises(NoMatchFound):
                templating.url_for(request, name)
            continue
        # the same route, as a path from the site's root (no scheme or host: see test_observability)
        assert str(templating.url_for(request, name)) == expected.path, name
        resolved += 1
    assert resolved > 50
    assert str(templating.url_for(request, "static", path="css/dxhub.css")) == "/static/css/dxhub.css"
    assert str(templating.url_for(request, "program_detail", program_id=7)) == request.url_for(
        "program_detail", program_id=7).path
    assert templating.app_has_route(request, "admin_users") and not templating.app_has_route(request, "nope")


def test_openapi_docs_are_served_without_a_cdn(shell_app):
    with TestClient(shell_app) as client:
        html = client.get("/docs").text
        assert "/static/swagger/swagger-ui-bundle.js" in html and "cdn" not in html.lower()
        assert client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200
        spec = client.get("/openapi.json").json()
    assert "/api/v1/programs" in spec["paths"] and "/api/v1/auth/token" in spec["paths"]


def test_pages_name_an_icon_that_is_served(shell_app):
    with TestClient(shell_app) as client:
        page = client.get("/login").text
        href = page.split('rel="icon"', 1)[1].split('href="', 1)[1].split('"', 1)[0]
        icon = client.get(href)
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")


def test_the_app_starts_without_numpy_and_httpx(tmp_path):
    """Heavy libraries load on first use, not when the app starts (issue 17 §9: start-up under 2 s)."""
    import os
    import subprocess
    import sys

    from app.core.config import ROOT_DIR

    env = {**os.environ, "DXHUB_DATABASE_URL": f"sqlite:///{tmp_path}/start.db", "PYTHONPATH": str(ROOT_DIR)}
    code = ("import sys, app.main; app.main.create_app(); "
            "print(' '.join(m for m in ('numpy', 'pandas', 'scipy', 'sklearn', 'httpx') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT_DIR, check=True, capture_output=True,
                         text=True, timeout=120).stdout
    assert out.strip() == ""
