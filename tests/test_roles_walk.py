"""Walks the web pages as a viewer and proves the screen matches the role: a viewer is offered no write form,
no link to a form page, and the GET of every form page answers 403 (the Korean error page), while staff get
the same form. Pages are found by following the links of every page a viewer reaches from the routes that
need no path parameter, over the sample data of every module, so a new page or form is covered."""

from __future__ import annotations

import re
from collections import deque
from html.parser import HTMLParser
from urllib.parse import urlsplit

from fastapi.routing import iter_route_contexts
from sqlalchemy import select
from starlette.testclient import TestClient

from app.core.manifest import installed
from app.core.tenancy import SYSTEM, bind_principal
from app.platform.auth import is_write_route
from app.platform.models import Municipality, Program
from tests.conftest import web_login

MAX_PAGES = 600
SKIP = re.compile(r"(\.csv$|\.users$|/radius-users$|/stream$|/live$|/snapshots/|^/static/|^/api/|^/open311/|^/docs"
                  r"|^/openapi|^/metrics|^/healthz|^/livez|^/readyz|^/login|^/logout)")


class _Page(HTMLParser):
    """The links and the forms (method, action) of one page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.forms: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")
        elif tag == "form":
            self.forms.append(((a.get("method") or "get").lower(), a.get("action") or ""))
        elif tag in ("button", "input") and a.get("formmethod", "").lower() == "post":
            self.forms.append(("post", a.get("formaction") or ""))
        elif any(k in a for k in ("hx-post", "hx-put", "hx-patch", "hx-delete")):
            self.forms.append(("post", a.get("hx-post") or a.get("hx-put") or a.get("hx-patch") or ""))


def _web_routes(app):
    return [r for r in iter_route_contexts(app.routes) if r.methods and r.path and not SKIP.search(r.path)]


def _regex(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{(\w+)(?::[^}]*)?\}", r"(?P<\1>[^/]+)", path) + "$")


def _fill(path: str, known: dict[str, set[str]]) -> str | None:
    """The route's path with each parameter taken from a page the walk reached, or None if none was."""
    names = re.findall(r"\{(\w+)(?::[^}]*)?\}", path)
    if any(name not in known for name in names):
        return None
    return re.sub(r"\{(\w+)(?::[^}]*)?\}", lambda m: sorted(known[m.group(1)])[0], path)


def _sample_data(database) -> None:
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        changwon = s.scalar(select(Municipality).where(Municipality.code == "4812000000"))
        s.add(Program(title="창원 스마트 관제", description="", municipality_id=changwon.id, status="active"))
        for manifest in installed().values():
            if manifest.sample_data is not None:
                manifest.sample_data(s, changwon.id)


def _walk(client: TestClient, starts: list[str]) -> dict[str, _Page]:
    """Every page reached from ``starts`` by links, with what it offers (``None``: it answered no page)."""
    seen: dict[str, _Page | None] = {}
    queue = deque(starts)
    while queue and len(seen) < MAX_PAGES:
        url = queue.popleft()
        if url in seen:
            continue
        r = client.get(url, follow_redirects=False)
        seen[url] = None
        assert r.status_code < 500, f"GET {url}: {r.status_code}"
        if r.status_code != 200 or not r.headers.get("content-type", "").startswith("text/html"):
            continue
        seen[url] = page = _Page()
        page.feed(r.text)
        for href in page.links:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or not parts.path.startswith("/") or SKIP.search(parts.path):
                continue
            queue.append(parts.path + (f"?{parts.query}" if parts.query and "lang=" not in parts.query else ""))
    return {url: page for url, page in seen.items() if page is not None}


def _offers(url: str, page: _Page, form_paths) -> list[str]:
    """What ``page`` offers a viewer that it should not: a form that posts (signing out aside), a link to a
    form page."""
    found = [f"{url} shows a viewer a form posting to {action or '(itself)'}"
             for method, action in page.forms if method == "post" and urlsplit(action).path != "/logout"]
    for href in page.links:
        target = urlsplit(href).path
        hit = next((r for regex, r in form_paths if regex.match(target)), None)
        if hit is not None:
            found.append(f"{url} links a viewer to the form page {hit.name} ({target})")
        elif re.search(r"/(new|edit|import)$", target):
            found.append(f"{url} links a viewer to {target}")
    return found


def test_a_viewer_is_offered_no_write_form_and_form_pages_refuse_them(app, database, world):
    routes = _web_routes(app)
    writes = [r for r in routes if is_write_route(r)]
    form_pages = [r for r in writes if "GET" in r.methods]
    assert len(writes) > 40 and len(form_pages) >= 10, "the walk found suspiciously few write routes"
    form_paths = [(_regex(r.path), r) for r in form_pages]
    readable = [(_regex(r.path), r) for r in routes if "{" in r.path and "GET" in r.methods and not is_write_route(r)]
    starts = sorted({r.path for r in routes if "GET" in r.methods and "{" not in r.path and not is_write_route(r)})

    with TestClient(app) as viewer, TestClient(app) as staff:
        web_login(viewer, "cw.viewer")
        web_login(staff, "cw.staff")
        # first the empty screens (their "nothing yet: register one" links), then every module's objects
        failures = [f for url, page in _walk(viewer, starts).items() for f in _offers(url, page, form_paths)]
        _sample_data(database)
        pages = _walk(viewer, starts)
        assert len(pages) > 60, f"the walk reached only {len(pages)} pages"
        known: dict[str, set[str]] = {}
        for url, page in pages.items():
            for regex, _route in readable:  # the ids of the objects the viewer reached
                m = regex.match(urlsplit(url).path)
                if m:
                    for k, v in m.groupdict().items():
                        known.setdefault(k, set()).add(v)
            failures += _offers(url, page, form_paths)
        for route in form_pages:
            url = _fill(route.path, known)
            if url is None:
                failures.append(f"no page of the walk gave the parameters of {route.name} ({route.path})")
                continue
            r = viewer.get(url, follow_redirects=False)
            if r.status_code != 403 or "권한이 없습니다" not in r.text:
                failures.append(f"GET {url} ({route.name}) as a viewer: {r.status_code}, not the 403 page")
            s = staff.get(url, follow_redirects=False)
            if s.status_code != 200 or "<form" not in s.text:
                failures.append(f"GET {url} ({route.name}) as staff: {s.status_code}, not the form")
        assert not failures, "\n".join(failures)


def test_navigation_marks_every_link_to_a_form_page_as_a_writers_entry(app):
    by_name = {r.name: r for r in iter_route_contexts(app.routes) if r.name}
    wrong = [(m.key, e.route_name) for m in installed().values() for e in m.nav
             if e.route_name in by_name and is_write_route(by_name[e.route_name]) != e.write]
    assert not wrong, f"nav entries whose write flag differs from their route's requirement: {wrong}"
