import pytest

from app.core import security
from tests.conftest import PASSWORD, api_headers, csrf_of, web_login


def test_repeated_failures_make_that_address_wait(client, world):
    for _ in range(3):  # the test settings hold an address back after 3 failures for one username
        r = client.post("/api/v1/auth/token", data={"username": "cw.staff", "password": "wrong-password"})
        assert r.status_code == 401
    r = client.post("/api/v1/auth/token", data={"username": "cw.staff", "password": PASSWORD})
    assert r.status_code == 429 and r.headers["content-type"].startswith("application/problem+json")
    assert 0 < int(r.headers["retry-after"]) <= 600 and "try again" in r.json()["detail"]


def test_web_sign_in_errors_are_korean_and_cookie_is_httponly(client, world):
    token = csrf_of(client)
    r = client.post("/login", data={"username": "cw.staff", "password": "nope", "csrf_token": token})
    assert r.status_code == 400 and "아이디 또는 비밀번호가 맞지 않습니다." in r.text
    r = client.post("/login", data={"username": "cw.staff", "password": PASSWORD, "csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_forms_without_csrf_token_are_refused(client, world):
    web_login(client, "cw.staff")
    r = client.post("/programs/new", data={"title": "x", "municipality_code": "4812000000"})
    assert r.status_code == 403
    assert client.get("/api/v1/programs").status_code == 200  # the session may read the API
    r = client.post("/api/v1/programs", json={"title": "x", "municipality_code": "4812000000"})
    assert r.status_code == 403  # ... but writes with a cookie need the CSRF header


def test_pages_require_sign_in(client, world):
    r = client.get("/programs", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/programs")


def test_api_keys_scopes_revocation_and_last_use(client, world):
    admin = api_headers(client, "cw.admin")
    r = client.post("/api/v1/api-keys", headers=admin, json={"name": "연동", "municipality_code": "4812000000",
                                                             "scopes": ["platform:read"]})
    assert r.status_code == 201
    key = r.json()
    assert key["secret"].startswith("dxh_")
    listed = client.get("/api/v1/api-keys", headers=admin).json()["items"][0]
    assert "secret" not in listed and listed["last_used_at"] is None

    h = {"Authorization": f"Bearer {key['secret']}"}
    assert client.get("/api/v1/programs", headers=h).status_code == 200
    r = client.post("/api/v1/programs", headers=h, json={"title": "x", "municipality_code": "4812000000"})
    assert r.status_code == 403
    assert client.get("/api/v1/users", headers=h).status_code == 403
    assert client.get(f"/api/v1/api-keys/{key['id']}", headers=admin).json()["last_used_at"] is not None

    assert client.delete(f"/api/v1/api-keys/{key['id']}", headers=admin).json()["revoked_at"] is not None
    assert client.get("/api/v1/programs", headers=h).status_code == 401

    bad = client.post("/api/v1/api-keys", headers=admin, json={"name": "k", "municipality_code": "4812000000",
                                                               "scopes": ["nosuch.module:read"]})
    assert bad.status_code == 422


def test_role_rules_for_user_management(client, world):
    cw_admin = api_headers(client, "cw.admin")
    r = client.post("/api/v1/users", headers=cw_admin, json={"username": "new.staff", "password": "long-enough-pw",
                                                             "role": "staff", "municipality_code": "4812000000"})
    assert r.status_code == 201
    r = client.post("/api/v1/users", headers=cw_admin, json={"username": "boss", "password": "long-enough-pw",
                                                             "role": "platform_admin"})
    assert r.status_code in (403, 422)
    assert client.get("/api/v1/users", headers=api_headers(client, "cw.staff")).status_code == 403
    usernames = [u["username"] for u in client.get("/api/v1/users?limit=200", headers=cw_admin).json()["items"]]
    assert "us.staff" not in usernames and "cw.viewer" in usernames

    # A password change ends the user's older tokens.
    staff_token = api_headers(client, "cw.staff")
    staff_id = next(u["id"] for u in client.get("/api/v1/users?q=cw.staff", headers=cw_admin).json()["items"])
    client.patch(f"/api/v1/users/{staff_id}", headers=cw_admin, json={"password": "another-long-pw"})
    assert client.get("/api/v1/programs", headers=staff_token).status_code == 401
    assert client.post("/api/v1/auth/token", data={"username": "cw.staff",
                                                   "password": "another-long-pw"}).status_code == 200


def test_admin_pages_render_and_viewer_cannot_post(client, world):
    web_login(client, "cw.admin")
    for path, text in [("/admin/users", "사용자"), ("/admin/api-keys", "API 키"),
                       ("/admin/municipalities", "지자체"), ("/admin/partners", "협력 기관"),
                       ("/admin/audit", "감사 기록"), ("/", "홈"), ("/programs", "사업")]:
        r = client.get(path)
        assert r.status_code == 200 and text in r.text, path
    token = csrf_of(client, "/admin/api-keys/new")
    r = client.post("/admin/api-keys/new", data={"csrf_token": token, "name": "CCTV 분석기",
                                                 "municipality_code": "4812000000", "scopes": ["platform:read"]})
    assert r.status_code == 201 and "dxh_" in r.text and "이번 한 번만 표시" in r.text
    r = client.post("/admin/users/new", data={"csrf_token": token, "username": "x", "password": "short",
                                              "role": "staff", "municipality_code": "4812000000"})
    assert r.status_code == 400 and "최소 10자" in r.text and "형식이 올바르지 않습니다" in r.text

    viewer = client.__class__(client.app)
    web_login(viewer, "cw.viewer")
    token = csrf_of(viewer, "/programs")
    r = viewer.post("/programs/new", data={"csrf_token": token, "title": "x", "municipality_code": "4812000000"})
    assert r.status_code == 403
    assert viewer.get("/admin/users").status_code == 403


def test_english_switch(client, world):
    web_login(client, "cw.staff")
    assert "사업" in client.get("/programs").text
    r = client.get("/programs?lang=en")
    assert "Programs" in r.text and "lang=en" in r.headers.get("set-cookie", "")
    assert "Register a program" in client.get("/programs").text


def test_api_key_scopes_are_per_module_and_bound_to_its_municipality(client, world):
    root = api_headers(client, "root")
    client.post("/api/v1/programs", headers=root, json={"title": "창원 사업", "municipality_code": "4812000000"})
    client.post("/api/v1/programs", headers=root, json={"title": "울산 사업", "municipality_code": "3100000000"})
    admin = api_headers(client, "cw.admin")
    key = client.post("/api/v1/api-keys", headers=admin, json={
        "name": "관제 연동", "municipality_code": "4812000000", "scopes": ["kt.cctv:read", "platform:write"]}).json()
    h = {"Authorization": f"Bearer {key['secret']}"}
    assert client.get("/api/v1/kt/cctv/cameras", headers=h).status_code == 200
    assert client.post("/api/v1/kt/cctv/cameras", headers=h, json={}).status_code == 403  # read only there
    assert client.get("/api/v1/skt/isolation/dongs", headers=h).status_code == 403  # no scope at all
    titles = [p["title"] for p in client.get("/api/v1/programs", headers=h).json()["items"]]
    assert titles == ["창원 사업"]  # platform:write implies read, within 창원 only
    r = client.post("/api/v1/programs", headers=h, json={"title": "키로 등록", "municipality_code": "4812000000"})
    assert r.status_code == 201
    r = client.post("/api/v1/programs", headers=h, json={"title": "남의 것", "municipality_code": "3100000000"})
    assert r.status_code == 422
    assert client.get("/api/v1/me", headers=h).json()["scopes"] == ["kt.cctv:read", "platform:write"]
    # The secret is shown once: neither the list nor the key's own page shows it again.
    assert "secret" not in client.get(f"/api/v1/api-keys/{key['id']}", headers=admin).json()
    r = client.post("/api/v1/auth/token", data={"username": "cw.staff", "password": PASSWORD})
    assert client.get("/api/v1/api-keys", headers={"Authorization": f"Bearer {r.json()['access_token']}"}
                      ).status_code == 403  # staff do not manage keys


@pytest.mark.frozen_clock
def test_what_a_host_a_little_ahead_signed_is_good_here(client, world, clock):
    """Behind a load balancer the next request may reach a host whose clock runs behind the one that signed:
    a cookie or token signed up to CLOCK_SKEW_S "in the future" is honoured, further ahead it is not."""
    web_login(client, "cw.staff")
    headers = api_headers(client, "cw.staff")
    clock.shift(-2)  # this host's clock is 2 s behind the one that signed both
    assert client.get("/programs", follow_redirects=False).status_code == 200
    assert client.get("/api/v1/programs", headers=headers).status_code == 200
    clock.shift(-security.CLOCK_SKEW_S)
    assert client.get("/api/v1/programs", headers=headers).status_code == 401
    r = client.get("/programs", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
