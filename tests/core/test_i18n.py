"""Translations on Babel: each module's words win on its own pages, every message has its Korean, contexts
and plurals, and the language a request is shown in."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.pofile import read_po

from app.core.i18n import (
    APP_DIR,
    SHARED_CATALOGUES,
    domain_for_path,
    gettext,
    korean_translations,
    module_catalogues,
    ngettext,
    pgettext,
    pick_locale,
)
from tests.conftest import in_language

ROOT = APP_DIR.parent
METHODS = [("**.py", "python"), ("**.html", "jinja2")]  # as babel.cfg
OPTIONS = {"**.html": {"trimmed": "true"}}


def _catalogue(path: Path):
    with path.open("rb") as fh:
        return read_po(fh, locale="ko")


def _sources(domain: str) -> list[Path]:
    """The code and templates whose messages a domain's catalogue holds (as the Makefile's i18n targets)."""
    folder = domain.replace(".", "/")
    if domain == "core":
        return [APP_DIR / "core", ROOT / "templates" / "macros", ROOT / "templates"]
    return [p for p in (APP_DIR / folder, ROOT / "templates" / folder) if p.exists()]


def _extracted(domain: str) -> set[tuple[str | None, str]]:
    found = set()
    for source in _sources(domain):
        if source == ROOT / "templates":  # the base templates only; the rest belong to their domains
            for name in ("base.html", "error.html"):
                messages = extract_from_file("jinja2", source / name, options=OPTIONS["**.html"])
                found |= {(ctx, msg if isinstance(msg, str) else msg[0]) for _n, msg, _c, ctx in messages}
            continue
        found |= {(ctx, msg if isinstance(msg, str) else msg[0])
                  for _f, _l, msg, _c, ctx in extract_from_dir(source, METHODS, options_map=OPTIONS)}
    return found


DOMAINS = ["core", "platform", *sorted(module_catalogues())]


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_message_has_a_korean_translation(domain):
    own = APP_DIR / domain.replace(".", "/") / "translations" / "ko.po"
    translated: set[tuple[str | None, str]] = set()
    for path in (own, *SHARED_CATALOGUES):
        for message in _catalogue(path):
            if message.id and not message.fuzzy and all(message.string if isinstance(message.string, tuple)
                                                        else [message.string]):
                translated.add((message.context, message.id if isinstance(message.id, str) else message.id[0]))
    missing = sorted(_extracted(domain) - translated, key=str)
    assert not missing, f"messages without Korean in {own.relative_to(ROOT)} or the shared catalogues: {missing}"


@pytest.mark.parametrize("path", [*SHARED_CATALOGUES, *module_catalogues().values()], ids=str)
def test_no_fuzzy_or_empty_translations(path):
    bad = [m.id for m in _catalogue(path) if m.id and (m.fuzzy or not all(
        m.string if isinstance(m.string, tuple) else [m.string]))]
    assert not bad, f"fuzzy or empty entries in {path}: {bad}"


def test_request_paths_map_to_module_domains():
    assert domain_for_path("/kt/worknet/alerts") == "kt.worknet"
    assert domain_for_path("/api/v1/kt/cctv/incidents") == "kt.cctv"
    assert domain_for_path("/programs") is None
    assert domain_for_path("/api/v1/programs") is None
    assert domain_for_path("/") is None


def test_same_english_word_gets_each_modules_own_korean():
    worknet, robots = (_catalogue(module_catalogues()[d]) for d in ("kt.worknet", "kt.robots"))
    conflicting = sorted(m.id for m in worknet if isinstance(m.id, str) and m.id in robots and not m.context
                         and robots[m.id].string != m.string)
    assert conflicting, "the catalogues no longer disagree on any word; pick another example"
    word = conflicting[0]
    assert in_language("ko", "kt.worknet", lambda: gettext(word)) == worknet[word].string
    assert in_language("ko", "kt.robots", lambda: gettext(word)) == robots[word].string
    assert in_language("ko", None, lambda: gettext("Programs")) == _catalogue(SHARED_CATALOGUES[1])["Programs"].string
    assert set(korean_translations()[1]) == set(module_catalogues())


def test_contexts_tell_one_english_word_from_another():
    # On the audit page "From" is both where a request came from and the start of a date range.
    assert in_language("ko", None, lambda: gettext("From")) == "접속지"
    assert in_language("ko", None, lambda: pgettext("date range", "From")) == "시작일"
    assert in_language("en", None, lambda: pgettext("date range", "From")) == "From"


def test_plurals():
    assert in_language("ko", "lguplus.citydata", lambda: ngettext("{n} row", "{n} rows", 1)) == "1행"
    assert in_language("ko", "lguplus.citydata", lambda: ngettext("{n} row", "{n} rows", 1200, n="1,200")) == "1,200행"
    assert in_language("en", "lguplus.citydata", lambda: ngettext("{n} row", "{n} rows", 1)) == "1 row"
    assert in_language("en", "lguplus.citydata", lambda: ngettext("{n} row", "{n} rows", 2)) == "2 rows"


def test_english_locale_leaves_messages_alone():
    assert in_language("en", None, lambda: gettext("Programs")) == "Programs"
    assert in_language("en", None, lambda: gettext("{n} rows", n=3)) == "3 rows"


@pytest.mark.parametrize(("query", "cookie", "header", "expected"), [
    (None, None, "en-US,en;q=0.9", "en"),
    (None, None, "ko-KR,ko;q=0.9,en-US;q=0.8", "ko"),
    (None, None, "fr-FR,en;q=0.5,ko;q=0.7", "ko"),
    (None, None, "fr-FR,de;q=0.5", "ko"),
    (None, None, "en;q=0, ko", "ko"),
    (None, None, "en;q=abc, *", "ko"),
    (None, "ko", "en-US,en;q=0.9", "ko"),
    ("en", "ko", "ko-KR", "en"),
])
def test_pick_locale(query, cookie, header, expected):
    assert pick_locale(query, cookie, header, "ko") == expected


def test_accept_language_is_honoured_when_no_choice_was_made(client):
    page = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "Sign in" in page.text and '<html lang="en"' in page.text
    client.cookies.set("lang", "ko")
    page = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "로그인" in page.text and '<html lang="ko"' in page.text


def test_language_switch_on_sign_in_page_keeps_next(client):
    page = client.get("/login?next=/programs%3Fstatus%3Dactive")
    switch = re.search(r'<p class="lang-switch">(.*?)</p>', page.text).group(1)
    links = [unescape(href) for href in re.findall(r'href="([^"]*)"', switch)]
    assert len(links) == 2
    for link, lang in zip(links, ("ko", "en"), strict=True):
        assert parse_qs(urlsplit(link).query) == {"next": ["/programs?status=active"], "lang": [lang]}
    english = client.get("/login" + links[1])
    assert "Sign in" in english.text
    assert '<input type="hidden" name="next" value="/programs?status=active">' in english.text


def test_update_appends_new_messages_and_keeps_the_rest(tmp_path):
    from app.core.i18n_update import add_missing

    po = tmp_path / "ko.po"
    po.write_text(module_catalogues()["kt.worknet"].read_text(encoding="utf-8"), encoding="utf-8")
    before = po.read_text(encoding="utf-8")
    pot = tmp_path / "kt.worknet.pot"
    pot.write_text('msgid ""\nmsgstr ""\n\nmsgid "Programs"\nmsgstr ""\n\nmsgid "A \\"new\\" word"\nmsgstr ""\n\n'
                   'msgctxt "date range"\nmsgid "Until"\nmsgstr ""\n\n'
                   'msgid "{n} robot"\nmsgid_plural "{n} robots"\nmsgstr[0] ""\n', encoding="utf-8")
    assert add_missing(pot, po) == 3  # "Programs" is in the shared catalogues
    after = po.read_text(encoding="utf-8")
    assert after.startswith(before.rstrip("\n"))
    added = {(m.context, m.id) for m in _catalogue(po)
             if m.id and not any(m.string if isinstance(m.string, tuple) else [m.string])}
    assert added == {(None, 'A "new" word'), ("date range", "Until"), (None, ("{n} robot", "{n} robots"))}
    assert add_missing(pot, po) == 0
