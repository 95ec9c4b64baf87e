"""Security headers: a Content-Security-Policy that allows the app's own scripts and styles only (and the
templates give it nothing inline to refuse), HSTS in production only, ``no-store`` on everything but the
static files, and no ``server`` header when ``dxhub serve`` runs uvicorn."""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.core.config import ROOT_DIR, Settings
from app.main import create_app
from tests.conftest import PASSWORD, api_headers, web_login

TEMPLATES = ROOT_DIR / "templates"


def _csp(response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    return {d.split()[0]: d.split(maxsplit=1)[1] if " " in d.strip() else "" for d in
            (x.strip() for x in policy.split(";")) if d}


def test_pages_carry_a_policy_of_own_scripts_and_styles_only(client, world):
    for r in (client.get("/login"), client.get("/docs"), client.get("/nowhere")):
        csp = _csp(r)
        assert csp["default-src"] == "'self'" and csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
        assert csp["object-src"] == "'none'" and csp["frame-ancestors"] == "'none'"
        assert csp["base-uri"] == "'self'" and csp["form-action"] == "'self'"
        assert "unsafe" not in r.headers["content-security-policy"]
    web_login(client, "cw.staff")
    assert "content-security-policy" in client.get("/").headers


def test_docs_start_swagger_ui_from_a_static_script(client):
    html = client.get("/docs").text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script on /docs"
    assert 'data-openapi-url="/openapi.json"' in html
    assert client.get("/static/js/swagger-init.js").status_code == 200


# Anything the policy would refuse: a <script> without src (a JSON data island is data, allowed), an inline
# event handler, a style attribute or a <style> element.
INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/(ld\+)?json\")[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I), "inline event handler"),
    (re.compile(r"<[a-z][^>]*\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"<style[\s>]", re.I), "<style> element"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def test_templates_have_nothing_inline_for_the_policy_to_refuse():
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = re.sub(r"{#.*?#}", "", path.read_text(encoding="utf-8"), flags=re.S)
        found += [f"{path.relative_to(TEMPLATES)}: {what}" for pattern, what in INLINE if pattern.search(text)]
    assert not found, found


def test_hsts_in_production_only(database):
    production = Settings(env="production", database_url=database.url, secret_key="p" * 40)
    test = Settings(env="test", database_url=database.url, secret_key="t" * 40)
    with TestClient(create_app(production, database), base_url="https://testserver") as c:
        assert c.get("/livez").headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"
        assert "strict-transport-security" in c.get("/login").headers
    with TestClient(create_app(test, database)) as c:
        assert "strict-transport-security" not in c.get("/livez").headers


def test_no_store_on_pages_and_api_but_static_files_cache(client, world):
    assert client.get("/login").headers["cache-control"] == "no-store"
    web_login(client, "cw.staff")
    for path in ("/", "/programs", "/programs.csv"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store", path
    bearer = api_headers(client, "cw.staff", PASSWORD)
    r = client.get("/api/v1/programs", headers=bearer)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    unauthorised = client.get("/api/v1/programs", headers={"Authorization": "Bearer nonsense"})
    assert unauthorised.status_code == 401 and unauthorised.headers["cache-control"] == "no-store"
    static = client.get("/static/css/dxhub.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("cache-control", "")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dxhub_serve_sends_no_server_header(tmp_path: Path):
    port = _free_port()
    env = {**os.environ, "DXHUB_ENV": "test", "DXHUB_SECRET_KEY": "serve-test-secret-0123456789abcdef",
           "DXHUB_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}", "DXHUB_DATA_DIR": str(tmp_path / "var")}
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())",
                             "serve", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:  # wait for the server to listen (start-up, not a timing assertion)
            if proc.poll() is not None:
                pytest.fail(f"dxhub serve exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/livez")
                response = conn.getresponse()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("dxhub serve did not start listening")
                time.sleep(0.2)
        assert response.status == 200
        names = {name.lower() for name, _ in response.getheaders()}
        assert "server" not in names, response.getheaders()
        assert "content-security-policy" in names
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
