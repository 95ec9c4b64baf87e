"""Production defaults of the session cookie (Secure, __Host- prefix) and the signing keys: a short key
is refused in production, and DXHUB_SECRET_KEYS lists several (newest first)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.cli import main as dxhub
from app.core.config import Settings, get_settings
from app.core.db import Database
from app.main import create_app

LONG = "a-production-secret-of-forty-bytes-000000"  # 41 bytes


def _cookie(**settings) -> str:
    url = "sqlite://"
    with TestClient(create_app(Settings(database_url=url, **settings), Database(url))) as c:
        return c.get("/login").headers["set-cookie"]


def test_production_cookie_is_secure_and_host_prefixed():
    cookie = _cookie(env="production", secret_key=LONG)
    name, _, rest = cookie.partition("=")
    flags = [f.strip().lower() for f in rest.split(";")[1:]]
    assert name == "__Host-dxhub_session"
    assert "secure" in flags and "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    assert not any(f.startswith("domain") for f in flags)  # __Host- cookies must not name a domain


@pytest.mark.parametrize("env", ["development", "test"])
def test_plain_http_cookie_outside_production(env):
    cookie = _cookie(env=env, secret_key=LONG).lower()
    assert cookie.startswith("dxhub_session=") and "secure" not in cookie.replace("samesite", "")


def test_the_cookie_flag_can_be_set_either_way():
    assert _cookie(env="test", secret_key=LONG, cookie_secure=True).startswith("__Host-dxhub_session=")
    assert _cookie(env="production", secret_key=LONG, cookie_secure=False).startswith("dxhub_session=")


def test_short_secret_refused_in_production():
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(env="production", secret_key="x" * 31)
    assert Settings(env="production", secret_key="x" * 32).secret_key == "x" * 32
    assert Settings(env="production", secret_key="비밀" * 6).env == "production"  # 36 bytes in UTF-8
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(env="production", secret_keys=[LONG, "old-short-key"])  # every listed key
    # Tests and development may use short keys (the default one stays refused outside development).
    assert Settings(env="test", secret_key="test-secret-key-0123456789").env == "test"


def test_secret_keys_from_the_environment_newest_first(monkeypatch):
    monkeypatch.setenv("DXHUB_SECRET_KEYS", f" {LONG}-new , {LONG}-old ")
    monkeypatch.setenv("DXHUB_SECRET_KEY", "ignored-when-a-list-is-given")
    settings = Settings(env="production")
    assert settings.secret_keys == [f"{LONG}-new", f"{LONG}-old"]
    assert settings.secret_key == f"{LONG}-new"  # the one that signs
    monkeypatch.delenv("DXHUB_SECRET_KEYS")
    assert Settings(env="production", secret_key=LONG).secret_keys == [LONG]


def test_command_refuses_to_run_with_a_short_secret_in_production(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("DXHUB_ENV", "production")
    monkeypatch.setenv("DXHUB_SECRET_KEY", "too-short")
    monkeypatch.setenv("DXHUB_DATABASE_URL", f"sqlite:///{tmp_path / 'refused.db'}")
    get_settings.cache_clear()
    try:
        assert dxhub(["migrate"]) == 2
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert "at least 32 bytes" in err and "Traceback" not in err
    assert not (tmp_path / "refused.db").exists()
