"""Each module's words win on its own pages; shared words everywhere else."""

from __future__ import annotations

from app.core.i18n import current_domain, current_locale, domain_for_path, gettext, korean_catalogues


def test_request_paths_map_to_module_domains():
    assert domain_for_path("/kt/worknet/alerts") == "kt.worknet"
    assert domain_for_path("/api/v1/kt/cctv/incidents") == "kt.cctv"
    assert domain_for_path("/programs") is None
    assert domain_for_path("/api/v1/programs") is None
    assert domain_for_path("/") is None


def test_same_english_word_gets_each_modules_own_korean():
    shared, modules, _ = korean_catalogues()
    conflicting = [
        word for word in set(modules["kt.worknet"]) & set(modules["kt.robots"])
        if modules["kt.worknet"][word] != modules["kt.robots"][word]
    ]
    assert conflicting, "the catalogues no longer disagree on any word; pick another example"
    word = conflicting[0]
    locale_token = current_locale.set("ko")
    try:
        for domain in ("kt.worknet", "kt.robots"):
            token = current_domain.set(domain)
            try:
                assert gettext(word) == modules[domain][word]
            finally:
                current_domain.reset(token)
        token = current_domain.set(None)
        try:
            assert gettext("Programs") == shared["Programs"]
        finally:
            current_domain.reset(token)
    finally:
        current_locale.reset(locale_token)


def test_english_locale_leaves_messages_alone():
    token = current_locale.set("en")
    try:
        assert gettext("Programs") == "Programs"
        assert gettext("{n} rows", n=3) == "3 rows"
    finally:
        current_locale.reset(token)
