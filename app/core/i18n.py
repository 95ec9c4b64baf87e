"""Korean-first translations.

Messages are written in English in code and templates (``_("Programs")``). Each package may keep a
Babel catalogue at ``<package>/translations/ko.po``; a module's catalogue is its own domain, looked up
first on that module's pages and API (see :func:`korean_translations`). The locale and the domain of a
request live in context variables set by :class:`LocaleMiddleware`, so templates, macros and services
all translate without passing them around.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import date, datetime
from functools import lru_cache
from gettext import NullTranslations
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_compact_decimal, format_decimal, format_percent
from babel.support import Translations
from markupsafe import Markup

SUPPORTED_LOCALES = ("ko", "en")
SEOUL = ZoneInfo("Asia/Seoul")


def today_seoul() -> date:
    """Today for the people using the platform: the date in Seoul, whatever the server's time zone
    (``date.today()`` is the server's date, yesterday in Seoul from midnight to 09:00 on a UTC host)."""
    return datetime.now(SEOUL).date()
APP_DIR = Path(__file__).resolve().parents[1]

current_locale: ContextVar[str] = ContextVar("current_locale", default="ko")


@lru_cache(maxsize=64)
def korean_holidays(year: int) -> dict[date, str]:
    """Public holidays of one year in Korea, named in Korean: lunar 설날/추석 and substitute days included
    (the ``holidays`` package)."""
    import holidays

    return dict(holidays.country_holidays("KR", years=[year], language="ko").items())


current_domain: ContextVar[str | None] = ContextVar("current_domain", default=None)

SHARED_CATALOGUES = (APP_DIR / "core" / "translations" / "ko.po", APP_DIR / "platform" / "translations" / "ko.po")


def module_catalogues() -> dict[str, Path]:
    """Each module's Korean catalogue by domain (its package, ``kt.worknet``)."""
    return {".".join(path.parent.parent.relative_to(APP_DIR).parts): path
            for path in sorted(APP_DIR.rglob("translations/ko.po")) if path not in SHARED_CATALOGUES}


def _compile(po_path: Path) -> Translations:
    """A ``.po`` catalogue compiled in memory into Babel's gettext translations (no ``.mo`` file to keep
    up to date: the ``.po`` files are the source and ``make run`` works on a fresh checkout). Fuzzy
    entries are left out."""
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale="ko")
    buffer = BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer, domain=po_path.parent.parent.name)


def _chain(*links: Translations) -> Translations:
    for link in links[1:]:
        links[0].add_fallback(link)
    return links[0]


@lru_cache
def korean_translations() -> tuple[Translations, dict[str, Translations]]:
    """(shared, per-module) Korean translations.

    The same English word may need different Korean in different programs ("Assigned" is 배정됨 for a
    robot task and 지급 for a router), so each module's catalogue is a domain of its own. A module's words
    win on its own pages, then the shared words of the core and platform, then any module's catalogue
    (for a module's message shown elsewhere, e.g. on the home page). Within one domain, one English word
    with two Korean ones is told apart by a context (``pgettext``).
    """
    domains = module_catalogues()
    shared = _chain(*(_compile(path) for path in SHARED_CATALOGUES if path.exists()),
                    *(_compile(path) for path in domains.values()))
    modules = {domain: _chain(_compile(path), shared) for domain, path in domains.items()}
    return shared, modules


_ENGLISH = NullTranslations()


def translations() -> NullTranslations:
    """The gettext translations for the current request's locale and module domain."""
    if current_locale.get() != "ko":
        return _ENGLISH
    shared, modules = korean_translations()
    domain = current_domain.get()
    return modules.get(domain, shared) if domain else shared


def domain_for_path(path: str) -> str | None:
    """The module domain a request path belongs to: ``/kt/worknet/...`` and ``/api/v1/kt/worknet/...``
    both give ``kt.worknet`` when that module has a catalogue."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        parts = parts[2:]
    domain = ".".join(parts[:2])
    return domain if domain in korean_translations()[1] else None


def _fill(text: str, params: dict[str, object]) -> str:
    return text.format(**params) if params else text


def gettext(message: str, /, **params: object) -> str:
    """Translate ``message`` into the current locale, then fill ``{name}`` placeholders."""
    return _fill(translations().gettext(message), params)


def pgettext(context: str, message: str, /, **params: object) -> str:
    """``gettext`` for an English word that has more than one Korean one: ``context`` tells which."""
    return _fill(translations().pgettext(context, message), params)


def ngettext(singular: str, plural: str, num: int, /, **params: object) -> str:
    """The singular or plural form for ``num`` (Korean has one form); ``{n}`` is ``num`` unless given
    (e.g. formatted: ``n=rows|count``)."""
    return _fill(translations().ngettext(singular, plural, num), {"n": num, **params})


def npgettext(context: str, singular: str, plural: str, num: int, /, **params: object) -> str:
    return _fill(translations().npgettext(context, singular, plural, num), {"n": num, **params})


_ = gettext


def _accepted_languages(header: str | None) -> list[str]:
    """The primary language subtags of an ``Accept-Language`` header, most wanted first."""
    weighted = []
    for position, item in enumerate((header or "").split(",")):
        tag, _sep, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _eq, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, position, tag.split("-")[0].lower()))
    return [language for _q, _p, language in sorted(weighted)]


def pick_locale(query_lang: str | None, cookie_lang: str | None, accept_language: str | None,
                default: str) -> str:
    """``?lang=``, then the ``lang`` cookie (a choice made), then the browser's ``Accept-Language``,
    then the site default."""
    for candidate in (query_lang, cookie_lang, *_accepted_languages(accept_language)):
        if candidate in SUPPORTED_LOCALES:
            return candidate
    return default


NBSP = "\u00a0"
# Units whose figures are whole things counted: shown without decimals.
COUNT_UNITS = frozenset({"건", "곳", "명", "대", "개", "회", "건/월", "명/월", "곳/월", "calls", "stores", "people"})
WON_UNITS = frozenset({"원", "KRW"})


# Units written against the figure ("81.2%", "1,500원", "2.31×": so many times).
TIGHT_UNITS = frozenset({"%", "원", "×"})


def _with_unit(number: str, unit: str) -> str:
    """A figure and its unit that never wrap apart: a non-breaking space between them (%, 원 and ×
    written against the figure)."""
    if not unit:
        return number
    return number + (unit if unit in TIGHT_UNITS else NBSP + unit)


def format_count(value: float | int | None, unit: str = "") -> str:
    """A count, without decimals ("1,900" / "1,900\u00a0명")."""
    if value is None:
        return "-"
    return _with_unit(format_decimal(round(value), format="#,##0", locale=current_locale.get()), unit)


def format_krw(value: float | int | None) -> str:
    """The exact amount in whole won: "222,959,700원" / "222,959,700\u00a0KRW" (tables, tooltips)."""
    if value is None:
        return "-"
    number = format_decimal(round(value), format="#,##0", locale=current_locale.get())
    return _with_unit(number, "원" if current_locale.get() == "ko" else "KRW")


def _trimmed(value: float) -> str:
    return format_decimal(value, format="#,##0.#" if abs(value) < 10 else "#,##0", locale="ko")


def format_krw_short(value: float | int | None) -> Markup:
    """A large amount as people read it on a card: 만/억/조 in Korean ("2.2억원", "3,500만원"), the
    compact form in English ("223M KRW"); the exact amount in the tooltip."""
    if value is None:
        return Markup("-")
    if current_locale.get() == "ko":
        amount = abs(value)
        for size, name in ((10**12, "조"), (10**8, "억"), (10**4, "만")):
            if amount >= size:
                short = ("-" if value < 0 else "") + _trimmed(round(amount / size, 1)) + name + "원"
                break
        else:
            short = format_krw(value)
    else:
        short = _with_unit(format_compact_decimal(value, locale="en", fraction_digits=1), "KRW")
    return Markup('<span class="nowrap" title="{}">{}</span>').format(format_krw(value), short)


def format_ratio(value: float | None, digits: int = 1) -> str:
    """A share (0.812) as a percentage ("81.2%")."""
    if value is None:
        return "-"
    return format_percent(value, format="#,##0" + ("." + "#" * digits if digits else "") + "%",
                          locale=current_locale.get())


def format_change(value: float | None, digits: int = 1) -> str:
    """A relative change (0.13: thirteen per cent more), signed: "+13%", "-4.5%"; a difference of two
    percentages is :func:`format_points`."""
    if value is None:
        return "-"
    body = "#,##0" + ("." + "#" * digits if digits else "") + "%"
    return format_percent(value, format=f"+{body};-{body}", locale=current_locale.get())


def format_points(value: float | None, digits: int = 1) -> str:
    """A difference of two percentages, in percentage points: "+3.2%p" / "+3.2\u00a0pp"."""
    if value is None:
        return "-"
    body = "#,##0" + ("." + "#" * digits if digits else "")
    number = format_decimal(value, format=f"+{body};-{body}", locale=current_locale.get())
    return number + ("%p" if current_locale.get() == "ko" else NBSP + "pp")


def format_measure(value: float | int | None, unit: str = "", digits: int = 1) -> str:
    """A figure with its unit, in the user's locale (Babel), never wrapped between number and unit:
    counts without decimals ("1,234\u00a0건"), won amounts as whole won ("1,234,000원" / "1,234,000 KRW"),
    percentages, ratios and other measures to ``digits`` decimals at most ("81.2%", "2.31×", "12.5\u00a0h").
    Without a unit (one named in the column's header), the bare figure: "0.73" with ``measure("", 2)``."""
    if unit in WON_UNITS:
        return format_krw(value)
    if unit in COUNT_UNITS:
        return format_count(value, unit)
    if value is None:
        return "-"
    body = "#,##0" + ("." + "#" * digits if digits else "")
    return _with_unit(format_decimal(value, format=body, locale=current_locale.get()), unit)


def format_datetime(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(SEOUL).strftime("%Y-%m-%d %H:%M")


def format_date(value: date | None) -> str:
    return value.isoformat() if value else "-"


class LocaleMiddleware:
    """Pure ASGI middleware: picks the locale (:func:`pick_locale`) and the module domain of a request."""

    def __init__(self, app, default: str = "ko") -> None:
        self.app = app
        self.default = default

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        from starlette.requests import HTTPConnection

        conn = HTTPConnection(scope)
        query_lang = conn.query_params.get("lang")
        locale = pick_locale(query_lang, conn.cookies.get("lang"), conn.headers.get("accept-language"),
                             self.default)
        token = current_locale.set(locale)
        domain_token = current_domain.set(domain_for_path(scope.get("path", "")))
        scope.setdefault("state", {})["locale"] = locale

        async def send_with_cookie(message):
            if message["type"] == "http.response.start" and query_lang in SUPPORTED_LOCALES:
                headers = list(message.get("headers", []))
                headers.append((b"set-cookie",
                                f"lang={query_lang}; Path=/; Max-Age=31536000; SameSite=Lax".encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_cookie)
        finally:
            current_locale.reset(token)
            current_domain.reset(domain_token)
