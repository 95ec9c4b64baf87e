"""Under the Content-Security-Policy, in a real Chromium, as the platform admin on the demo data: every
page of the menu (every module, the administration, the API docs) loads without a single CSP violation,
and what the moved scripts do still happens: charts draw, per-response sizes apply, HTMX swaps, live
screens connect."""

from __future__ import annotations

import re

import pytest

from app.platform.demo import DEMO_PASSWORD
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e

# Recorded by the page itself, from before its first script: every violation the browser reports.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + e.sourceFile + ":" + e.lineNumber);
});
"""


def _check(page, url: str, console: list[str]) -> list[str]:
    """Opens ``url`` and returns what the policy refused there (empty when nothing)."""
    console.clear()
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)
    page.wait_for_load_state("load")
    # Charts draw on load: give each canvas the chance to be drawn before looking.
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    refused = page.evaluate("window.__csp")
    return [f"{url}: {v}" for v in refused] + [f"{url}: console: {m}" for m in console]


def _works(page, url: str) -> None:
    """What the static scripts do on this page did happen."""
    for box in page.locator(".chart-box[data-h]").all():
        assert box.evaluate("b => b.style.height") == box.get_attribute("data-h") + "px", url
    for bar in page.locator("[data-bar]").all():
        assert bar.evaluate("b => b.style.width").endswith("%"), url
    drawn = page.evaluate("""() => typeof Chart === 'undefined' ? null :
        Array.from(document.querySelectorAll('canvas')).map(c => !!Chart.getChart(c))""")
    if drawn is not None:
        assert all(drawn), (url, "a chart was not drawn", drawn)


def _shape(href: str) -> str:
    """Pages that differ only by ids or query values share one shape: one of each is visited."""
    return re.sub(r"\d+", "N", href.split("?")[0])


def _page_links(page) -> list[str]:
    # Same-origin links, as paths (url_for writes absolute URLs).
    hrefs = page.eval_on_selector_all("main a[href], nav.sidebar a[href]", """as => as
        .filter(a => a.origin === location.origin).map(a => a.pathname + a.search)""")
    return [h for h in hrefs if h.startswith("/") and not h.startswith(("/static", "/logout", "/api/"))
            and not h.split("?")[0].endswith((".csv", "/stream", "/live", "/radius-users", "/snapshot"))
            and "lang=" not in h]


def test_every_page_loads_without_a_policy_violation(page, live_server, demo_loaded):
    """The menu's pages, then one page of each kind linked from them (details, forms, reports)."""
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)
    page.add_init_script(RECORD_VIOLATIONS)
    sign_in(page, "admin", password=DEMO_PASSWORD)
    menu = _page_links(page)
    assert len(menu) >= 15, menu  # every module's pages, and the administration's
    seen: dict[str, str] = {}
    refused: list[str] = []
    for url in [*menu, "/docs"]:
        seen.setdefault(_shape(url), url)
    queue = list(seen.values())
    for depth_url in list(queue):
        if depth_url == "/docs":
            continue
        page.goto(depth_url)
        for href in _page_links(page):
            if _shape(href) not in seen:
                seen[_shape(href)] = href
                queue.append(href)
    for url in queue:
        refused += _check(page, url, console)
        if url != "/docs":
            _works(page, url)
    assert not refused, refused
    assert len(queue) > len({_shape(u) for u in menu}) + 10, queue  # detail pages and forms were reached too

    # Swagger UI starts from its static script.
    page.goto("/docs")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "DX Hub API" in page.inner_text(".swagger-ui .info .title")


def test_live_screens_and_htmx_work_under_the_policy(page, live_server, demo_loaded):
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)
    page.add_init_script(RECORD_VIOLATIONS)
    sign_in(page, "admin", password=DEMO_PASSWORD)

    # The CCTV console: its script connects to the live stream and says so with its Korean label.
    page.goto("/kt/cctv/")
    page.wait_for_function("() => document.getElementById('live-state').textContent.includes('실시간')")
    assert page.inner_text("#sound-toggle").startswith(("🔔", "🔕"))

    # A robot site: live, and an HTMX swap of its panels (as a server-sent change triggers it).
    page.goto("/kt/robots/")
    site = page.eval_on_selector_all("a[href*='/kt/robots/sites/']", "as => as.map(a => a.getAttribute('href'))"
                                     ".find(h => /\\/sites\\/\\d+$/.test(h))")
    page.goto(site)
    page.wait_for_function("() => document.getElementById('live-state').textContent.includes('실시간')")
    with page.expect_response(lambda r: "/panels" in r.url and r.status == 200):
        page.evaluate("htmx.trigger(document.getElementById('panels'), 'robots-changed')")
    page.wait_for_function("() => !document.getElementById('panels').classList.contains('htmx-request')")
    for bar in page.locator("#panels [data-bar]").all():
        assert bar.evaluate("b => b.style.width").endswith("%")

    # HTMX did not inject its indicator <style>: the policy would have refused it.
    assert page.evaluate("document.querySelectorAll('style').length") == 0

    assert page.evaluate("window.__csp") == [] and console == [], (page.evaluate("window.__csp"), console)
