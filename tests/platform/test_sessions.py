"""Sessions that end: signing out ends the session on the server, so a saved cookie is worthless;
viewers may sign out; a password, role or activation change signs the user out of every browser and
every staff token."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.core.tenancy import SYSTEM
from app.platform.models import AuditLog, UserSession
from tests.conftest import api_headers, csrf_of, web_login

COOKIE = "dxhub_session"


def _replay(app, cookie: str) -> TestClient:
    """A second browser holding a copy of the cookie (as an attacker who saved it would)."""
    return TestClient(app, cookies={COOKIE: cookie})


def _signed_in(client: TestClient) -> bool:
    r = client.get("/", follow_redirects=False)
    assert r.status_code in (200, 303), r.text
    return r.status_code == 200


def _sessions(database) -> int:
    with database.unit_of_work(principal=SYSTEM) as s:
        return s.scalar(select(func.count()).select_from(UserSession))


def test_a_cookie_saved_before_sign_out_is_signed_out_when_replayed(client, world, database):
    token = web_login(client, "cw.staff")
    saved = client.cookies[COOKIE]
    assert _signed_in(_replay(client.app, saved))
    assert _sessions(database) == 1

    r = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert _sessions(database) == 0
    assert not _signed_in(client)
    replayed = _replay(client.app, saved)
    assert not _signed_in(replayed)  # the server no longer knows that session
    with database.unit_of_work(principal=SYSTEM) as s:
        assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "sign_out")) == 1


def test_sign_out_needs_the_pages_csrf_token_while_signed_in(client, world):
    web_login(client, "cw.staff")
    assert client.post("/logout", data={}).status_code == 403  # another site cannot sign people out
    assert _signed_in(client)
    # Once the session is gone, the sign-out button still just leads to the sign-in page.
    stranger = TestClient(client.app)
    r = stranger.post("/logout", data={}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_viewers_can_sign_out(client, world):
    web_login(client, "cw.viewer")
    token = csrf_of(client, "/programs")
    assert client.post("/programs/new", data={"csrf_token": token, "title": "x"}).status_code == 403
    r = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert not _signed_in(client)


def test_each_sign_in_is_its_own_session(client, world, database):
    web_login(client, "cw.staff")
    other = TestClient(client.app)
    token = web_login(other, "cw.staff")
    assert client.cookies[COOKIE] != other.cookies[COOKIE] and _sessions(database) == 2
    other.post("/logout", data={"csrf_token": token})
    assert _signed_in(client) and not _signed_in(other)  # signing out on one browser leaves the other
    before = client.cookies[COOKIE]
    web_login(client, "cw.admin")  # signing in again replaces the browser's session
    assert _sessions(database) == 1 and not _signed_in(_replay(client.app, before))


@pytest.mark.parametrize("change", [{"password": "a-new-long-password"}, {"role": "viewer"},
                                    {"is_active": False}])
def test_password_role_and_activation_changes_end_every_session_and_token(client, world, change):
    browser_a, browser_b = TestClient(client.app), TestClient(client.app)
    web_login(browser_a, "cw.staff")
    web_login(browser_b, "cw.staff")
    token = api_headers(client, "cw.staff")
    bystander = TestClient(client.app)
    web_login(bystander, "cw.viewer")

    admin = api_headers(client, "cw.admin")
    r = client.patch(f"/api/v1/users/{world.users['cw.staff'].id}", headers=admin, json=change)
    assert r.status_code == 200, r.text

    assert not _signed_in(browser_a) and not _signed_in(browser_b)
    assert client.get("/api/v1/me", headers=token).status_code == 401
    assert _signed_in(bystander)  # other users keep their sessions


def test_a_change_that_ends_nothing_keeps_sessions(client, world):
    browser = TestClient(client.app)
    web_login(browser, "cw.staff")
    admin = api_headers(client, "cw.admin")
    r = client.patch(f"/api/v1/users/{world.users['cw.staff'].id}", headers=admin,
                     json={"display_name": "창원 직원", "role": "staff"})
    assert r.status_code == 200
    assert _signed_in(browser)
