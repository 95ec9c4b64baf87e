"""Every kind of page, on a desk and on a phone, as the admin, as staff and as viewers (every module's pages,
each walked by people of a municipality that runs it; one page of each family at 1366 and 390 px, and as the
admin every other page at 390 px): axe-core finds no serious or critical accessibility violation (labels,
contrast, names, ``lang``, landmarks), and no page scrolls sideways, even at 390 px (wide tables scroll
inside their own box).

The pages are the application's own GET routes (JSON, CSV, streams and HTMX fragments aside); a route's
path parameters are filled from the demo data by following the links the pages themselves show."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from fastapi.routing import iter_route_contexts
from starlette.routing import compile_path

from app.core.manifest import installed
from app.platform.demo import DEMO_PASSWORD
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e

# What is not a page of its own: files, feeds, fragments HTMX swaps in, and the machine-facing Open311 door.
NOT_PAGES = re.compile(r"(\.csv|\.json|/stream|/radius-users|/panels|/rows|/progress|/live|/snapshots/\{[^}]+\})$"
                       r"|^/(healthz|readyz|livez|login|docs|redoc|openapi|metrics|static|api|open311)\b")
PHONE, DESK = 390, 1366
# Who signs in, by role. The admin sees every page; a staff member or a viewer only the modules their
# municipality runs (another module answers 404), so each role is walked by one person of each demo
# municipality that runs a module, and each family of pages (a module's list, detail, form) is checked once
# per role, by the first of them who reaches it.
PEOPLE = {
    "admin": ["admin"],
    "staff": ["changwon.staff", "gyeongbuk.staff", "icheon.staff", "chungbuk.staff", "seogu.staff",
              "hwasun.staff"],
    "viewer": ["changwon.viewer", "gyeongbuk.viewer", "icheon.viewer", "chungbuk.viewer", "seogu.viewer",
               "hwasun.viewer"],
}
# The admin's phone screenshots beside each role's home and first module page (pytest's tmp_path, phone/).
ADMIN_SHOTS = ("/", "/lguplus/citydata/", "/kt/cctv/", "/lguplus/merchants/report")


def _axe_script() -> str:
    try:
        import axe_playwright_python
    except ImportError:
        pytest.skip("axe-playwright-python is not installed (make test installs the dev extras)")
    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")


def _html_routes(app) -> list[tuple[str, re.Pattern]]:
    routes, seen = [], set()
    for route in iter_route_contexts(app.routes):
        path = route.path
        if "GET" not in (route.methods or ()) or NOT_PAGES.search(path) or path in seen:
            continue
        seen.add(path)
        routes.append((path, compile_path(path)[0]))
    return routes


def _fill(page, routes) -> tuple[dict[str, str], dict[str, int]]:
    """One concrete URL per route: parameterless ones as they are, the others from links the pages show
    (read as HTML through the signed-in browser's own requests, without drawing them); and the status each
    URL read answered (a URL left unread when every route was filled is not in it)."""
    urls = {path: path for path, _ in routes if "{" not in path}
    pending, answered = list(urls.values()), {}
    while pending and any("{" in p and p not in urls for p, _ in routes):
        url = pending.pop(0)
        if url in answered:
            continue
        response = page.request.get(url)
        answered[url] = response.status
        if response.status != 200 or "text/html" not in response.headers.get("content-type", ""):
            continue
        for href in re.findall(r'href="([^"?#]+)', response.text()):
            href = re.sub(r"^https?://[^/]+", "", href)
            for path, regex in routes:
                if path not in urls and regex.match(href):
                    urls[path] = href
                    pending.append(href)
    return urls, answered


def _family(path: str) -> str:
    """A module and a kind of page: its list, a detail, a form."""
    head = "/".join(s for s in path.split("/")[:3] if "{" not in s and s not in ("new", "edit"))
    kind = "form" if path.endswith(("/new", "/edit", "/import")) else "detail" if "{" in path else "list"
    return f"{head} {kind}"


AXE_RUN = """async () => {
  const r = await axe.run(document, {resultTypes: ['violations']});
  return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.impact + ' ' + v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
}"""


def _check(page, url: str, width: int, axe: str) -> tuple[int | None, list[str]]:
    """The page's status, and what is wrong with it (the refusal pages, 403 and 404, are pages too)."""
    page.set_viewport_size({"width": width, "height": 900 if width == DESK else 844})
    response = page.goto(url)
    status = response and response.status
    if status not in (200, 403, 404):
        return status, []
    page.wait_for_load_state("load")
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    problems = []
    # No page scrolls sideways, on a desk (the heat map once made its page 1459 px wide) or on a phone.
    scroll, client = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    if scroll > client + 1:
        # The outermost elements sticking out that no scrolling box of their own holds in.
        wide = page.evaluate("""w => {
            const scrolls = e => ['auto', 'scroll', 'hidden'].includes(getComputedStyle(e).overflowX);
            const held = e => { for (let a = e.parentElement; a; a = a.parentElement) if (scrolls(a)) return true;
                                return false; };
            return Array.from(document.querySelectorAll('body *'))
              .filter(e => e.getBoundingClientRect().right > w + 1 && !held(e)).slice(0, 3)
              .map(e => e.tagName.toLowerCase() + '.' + e.className + ' ' + (e.textContent || '').trim().slice(0, 40));
        }""", client)
        problems.append(f"{url} @{width}: scrollWidth {scroll} ({wide})")
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(axe)
    problems += [f"{url} @{width}: {v}" for v in page.evaluate(AXE_RUN)]
    return status, problems


def test_every_page_is_accessible_on_desk_and_phone(page, live_server, demo_loaded, tmp_path):
    from app.core.config import Settings
    from app.main import create_app  # the routes the server answers, collected as url_for indexes them

    if demo_loaded.url.startswith("postgresql"):
        pytest.skip("the pages render the same on both backends; once is enough for a three-minute browser walk")
    axe = _axe_script()
    app = create_app(Settings(env="test", database_url=demo_loaded.url, secret_key="e2e-secret-key-0123456789"),
                     demo_loaded)
    routes = _html_routes(app)
    sign_in(page, "admin", password=DEMO_PASSWORD)
    _phone_layout(page, live_server)
    urls, answered = _fill(page, routes)
    unfilled = sorted(p for p, _ in routes if p not in urls)
    # Pages the demo gives no link to (a running training's progress) are the only ones left out.
    assert len(unfilled) <= 3, unfilled
    problems: list[str] = []
    shots = tmp_path / "phone"
    shots.mkdir()
    timings: list[tuple[float, str]] = []
    checked: dict[str, set[str]] = {role: set() for role in PEOPLE}
    for role, people in PEOPLE.items():
        for username in people:
            if username != "admin":
                sign_in(page, username, password=DEMO_PASSWORD)
                urls, answered = _fill(page, routes)  # their own municipality's objects (another's are a 404)
            # One page of each family not yet checked for this role, among those the crawl saw answer. A staff
            # member or a viewer may be refused a page: 403 is the roles' business, 404 a module their
            # municipality does not run (tests/platform/test_modules_in_use.py); the family then waits for a page
            # that answers (or the role's next person), and the refusal page itself is checked once per role.
            families: dict[str, str] = {}
            for path, url in urls.items():
                status = answered.get(url, 200)
                if role != "admin" and path.startswith("/admin"):
                    continue
                if status == 200:
                    families.setdefault(_family(path), url)
                elif role != "admin" and status in (403, 404):
                    families.setdefault(f"{status} page", url)
                else:
                    problems.append(f"{username} {url}: answered {status}")
            for family, url in families.items():
                if family in checked[role]:
                    continue
                expected = int(family[:3]) if family.endswith(" page") else 200
                for width in (DESK, PHONE):
                    started = time.monotonic()
                    status, found = _check(page, url, width, axe)
                    timings.append((time.monotonic() - started, f"{username} {url} @{width}"))
                    problems += found + ([] if status == expected else [f"{username} {url}: answered {status}"])
                checked[role].add(family)
                if (url in ADMIN_SHOTS) if role == "admin" else _shot_wanted(checked[role], family):
                    name = re.sub(r"\W+", "_", url).strip("_") or "home"
                    page.screenshot(path=str(shots / f"{role}-{name}.png"), full_page=True)
            if role == "admin":
                # Every other page too, once, on a phone: where layouts break (axe's findings seldom depend on
                # the width); the calendars' contrast failed on pages no family's first page showed.
                for url in [u for u in dict.fromkeys(urls.values()) if u not in families.values()]:
                    started = time.monotonic()
                    status, found = _check(page, url, PHONE, axe)
                    timings.append((time.monotonic() - started, f"{username} {url} @{PHONE}"))
                    problems += found + ([] if status == 200 else [f"{username} {url}: answered {status}"])
    print(f"{len(timings)} checks; slowest:", sorted(timings, reverse=True)[:5])
    assert not problems, "\n".join(problems)
    # Every module's pages the admin saw were seen by a staff member too, and all but the forms by a viewer,
    # as were the refusal pages.
    municipal = {f for f in checked["admin"] if not f.startswith("/admin")}
    assert not municipal - checked["staff"], sorted(municipal - checked["staff"])
    assert not {f for f in municipal if not f.endswith(" form")} - checked["viewer"]
    assert {"403 page", "404 page"} <= checked["staff"] & checked["viewer"]
    assert {f.split()[0] for f in municipal} >= {_prefix(key) for key in installed()}


def _prefix(module_key: str) -> str:
    return "/" + module_key.replace(".", "/")


def _shot_wanted(checked: set[str], family: str) -> bool:
    """A role's phone screenshots: its home, and the first module page it checks."""
    if family == "/ list":
        return True
    module_pages = [f for f in checked if any(f.startswith(_prefix(key) + " ") for key in installed())]
    return module_pages == [family]


def _phone_layout(page, base_url: str) -> None:
    """On a phone the menu folds behind a real button that the keyboard opens; the skip link comes first;
    without scripts the menu stays open."""
    bare = page.context.browser.new_context(base_url=base_url, java_script_enabled=False, locale="ko-KR",
                                            viewport={"width": PHONE, "height": 844})
    bare.add_cookies(page.context.cookies())
    plain = bare.new_page()
    plain.goto("/")
    assert plain.locator("#main-menu").is_visible() and not plain.locator("button.menu-toggle").is_visible()
    bare.close()
    page.set_viewport_size({"width": PHONE, "height": 844})
    page.goto("/")
    toggle = page.locator("button.menu-toggle")
    assert toggle.get_attribute("aria-expanded") == "false" and not page.locator("#main-menu").is_visible()
    # "로그아웃" stays on one line (it used to break letter by letter).
    sign_out = page.locator(".topbar button.link")
    assert sign_out.evaluate("b => b.getBoundingClientRect().height < 2 * parseFloat(getComputedStyle(b).fontSize)")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.evaluate("document.activeElement.textContent") == "본문 바로가기"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "menu-toggle"
    page.keyboard.press("Enter")
    assert toggle.get_attribute("aria-expanded") == "true" and page.locator("#main-menu").is_visible()
    page.keyboard.press("Escape")
    assert toggle.get_attribute("aria-expanded") == "false" and not page.locator("#main-menu").is_visible()
    # The skip link moves the focus to the page's content.
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
