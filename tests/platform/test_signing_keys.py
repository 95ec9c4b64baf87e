"""Rotation of the signing keys: cookies and staff tokens signed with an older key still verify while it
is listed; the newest key signs; once the old key is dropped, what it signed no longer works."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.main import create_app
from tests.conftest import api_headers, web_login

OLD = "the-old-signing-key-0123456789abcdef"
NEW = "the-new-signing-key-0123456789abcdef"
COOKIE = "dxhub_session"


def _app(settings, database, *keys: str):
    return create_app(settings.model_copy(update={"secret_keys": list(keys), "secret_key": keys[0]}), database)


def _signed_in(app, cookie: str) -> bool:
    return TestClient(app, cookies={COOKIE: cookie}).get("/", follow_redirects=False).status_code == 200


def _me(app, headers) -> int:
    return TestClient(app).get("/api/v1/me", headers=headers).status_code


def test_rotation_keeps_old_signatures_until_the_old_key_goes(settings, database, world):
    before = _app(settings, database, OLD)
    rotated = _app(settings, database, NEW, OLD)
    after = _app(settings, database, NEW)

    old_browser = TestClient(before)
    web_login(old_browser, "cw.staff")
    old_cookie = old_browser.cookies[COOKIE]
    old_token = api_headers(TestClient(before), "cw.staff")
    assert _signed_in(rotated, old_cookie) and _me(rotated, old_token) == 200  # still verifies

    new_browser = TestClient(rotated)
    web_login(new_browser, "cw.admin")
    new_cookie = new_browser.cookies[COOKIE]
    new_token = api_headers(TestClient(rotated), "cw.admin")
    # The newest key signed them: valid with it alone, not with the old one alone.
    assert _signed_in(after, new_cookie) and _me(after, new_token) == 200
    assert not _signed_in(before, new_cookie) and _me(before, new_token) == 401

    # The old key is removed: what it signed is no longer read.
    assert not _signed_in(after, old_cookie) and _me(after, old_token) == 401
