"""Every module page shows the same sub-navigation: its manifest's entries (writers' entries hidden from
viewers), the page's own marked current, and no module keeps a second, hand-written list of its pages."""

from __future__ import annotations

import re
from pathlib import Path

from app.core.manifest import installed
from tests.conftest import web_login

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def _subnav(html: str) -> list[tuple[str, bool]]:
    navs = re.findall(r'<nav class="subnav"[^>]*>(.*?)</nav>', html, re.S)
    assert len(navs) == 1, f"{len(navs)} sub-navigations"
    return [(href, bool(current)) for href, current in
            re.findall(r'<a href="([^"]+)"( class="current" aria-current="page")?>', navs[0])]


def test_each_module_page_shows_its_manifest_entries_with_its_own_marked(client, world):
    for username in ("cw.staff", "cw.viewer"):
        client.cookies.clear()
        web_login(client, username)
        for manifest in installed().values():
            shown = [e for e in manifest.nav if username == "cw.staff" or not e.write]
            paths = [client.app.url_path_for(e.route_name) for e in shown]
            for entry, path in zip(shown, paths, strict=True):
                r = client.get(path)
                assert r.status_code == 200, (username, path, r.status_code)
                tabs = _subnav(r.text)
                assert [href for href, _c in tabs] == paths, (username, path)
                assert [href for href, current in tabs if current] == [path], (username, entry.route_name)
                assert r.text.count('aria-current="page"') == 2  # the tab and the sidebar's link


def test_a_page_under_a_module_entry_marks_that_entry_and_other_pages_show_none(client, world):
    web_login(client, "cw.staff")
    tabs = _subnav(client.get("/kt/voicebot/calls?page=1").text)
    assert [h for h, current in tabs if current] == ["/kt/voicebot/calls"]
    tabs = _subnav(client.get("/kt/robots/sites/new").text)  # under the fleet's path: the fleet's tab
    assert [h for h, current in tabs if current] == ["/kt/robots/"]
    for path in ("/", "/programs"):
        assert '<nav class="subnav"' not in client.get(path).text, path


def test_no_template_keeps_its_own_list_of_a_modules_pages():
    routes = {e.route_name for m in installed().values() for e in m.nav}
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        for nav in re.findall(r"<nav\b.*?</nav>", text, re.S):
            listed = {name for name in routes if f'"{name}"' in nav or f"'{name}'" in nav}
            assert len(listed) < 2, f"{template.relative_to(TEMPLATES)} lists module pages: {sorted(listed)}"
