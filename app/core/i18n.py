"""Korean-first translations.

Messages are written in English in code and templates (``_("Programs")``). Each package may keep a
Babel catalogue at ``<package>/translations/ko.po``; a module's catalogue is its own domain, looked up
first on that module's pages and API (see :func:`korean_catalogues`). The locale and the domain of a
request live in context variables set by :class:`LocaleMiddleware`, so templates, macros and services
all translate without passing them around.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.messages.pofile import read_po

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


def _read_catalogue(po_path: Path) -> dict[str, str]:
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale="ko")
    messages: dict[str, str] = {}
    for message in catalog:
        if message.id and message.string and not message.fuzzy:
            key = message.id if isinstance(message.id, str) else message.id[0]
            value = message.string if isinstance(message.string, str) else message.string[0]
            messages.setdefault(key, value)
    return messages


@lru_cache
def korean_catalogues() -> tuple[dict[str, str], dict[str, dict[str, str]], dict[str, str]]:
    """(shared, per-module, everything) Korean catalogues.

    The same English word may need different Korean in different programs ("Assigned" is 배정됨 for a
    robot task and 지급 for a router), so each module's catalogue is a domain of its own, named by its
    package (``kt.worknet``). A module's words win on its own pages, then the shared words of the core
    and platform, then any catalogue (for a module's message shown elsewhere, e.g. on the home page).
    """
    shared_paths = [APP_DIR / "core" / "translations" / "ko.po", APP_DIR / "platform" / "translations" / "ko.po"]
    shared: dict[str, str] = {}
    for path in shared_paths:
        if path.exists():
            for key, value in _read_catalogue(path).items():
                shared.setdefault(key, value)
    modules: dict[str, dict[str, str]] = {}
    everything = dict(shared)
    for path in sorted(p for p in APP_DIR.rglob("translations/ko.po") if p not in shared_paths):
        domain = ".".join(path.parent.parent.relative_to(APP_DIR).parts)
        modules[domain] = _read_catalogue(path)
        for key, value in modules[domain].items():
            everything.setdefault(key, value)
    return shared, modules, everything


def domain_for_path(path: str) -> str | None:
    """The module domain a request path belongs to: ``/kt/worknet/...`` and ``/api/v1/kt/worknet/...``
    both give ``kt.worknet`` when that module has a catalogue."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        parts = parts[2:]
    domain = ".".join(parts[:2])
    return domain if domain in korean_catalogues()[1] else None


def translate_ko(message: str, domain: str | None = None) -> str:
    shared, modules, everything = korean_catalogues()
    own = modules.get(domain) if domain else None
    if own and message in own:
        return own[message]
    return shared.get(message) or everything.get(message, message)


def gettext(message: str, **params: object) -> str:
    """Translate ``message`` into the current locale, then fill ``{name}`` placeholders."""
    text = translate_ko(message, current_domain.get()) if current_locale.get() == "ko" else message
    return text.format(**params) if params else text


_ = gettext


def pick_locale(query_lang: str | None, cookie_lang: str | None, accept_language: str | None,
                default: str) -> str:
    for candidate in (query_lang, cookie_lang):
        if candidate in SUPPORTED_LOCALES:
            return candidate
    return default


def format_krw(value: int | None) -> str:
    if value is None:
        return "-"
    return f"{value:,}" + ("원" if current_locale.get() == "ko" else " KRW")


def format_number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


# Units whose figures are whole things counted: shown without decimals.
COUNT_UNITS = frozenset({"건", "곳", "명", "대", "개", "회", "건/월", "명/월", "곳/월", "calls", "stores", "people"})
WON_UNITS = frozenset({"원", "KRW"})
NBSP = "\u00a0"


def format_measure(value: float | int | None, unit: str = "") -> str:
    """A figure with its unit, in the user's locale (Babel), never wrapped between number and unit:
    counts without decimals ("1,234\u00a0건"), won amounts as whole won ("1,234,000원" / "1,234,000 KRW"),
    percentages and other measures to one decimal at most ("81.2%")."""
    from babel.numbers import format_decimal

    if value is None:
        return "-"
    locale = current_locale.get()
    if unit in WON_UNITS:
        number = format_decimal(round(value), format="#,##0", locale=locale)
        return number + ("원" if locale == "ko" else f"{NBSP}KRW")
    pattern = "#,##0" if unit in COUNT_UNITS else "#,##0.#"
    number = format_decimal(round(value) if unit in COUNT_UNITS else value, format=pattern, locale=locale)
    if not unit:
        return number
    return number + (unit if unit == "%" else NBSP + unit)


def format_datetime(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(SEOUL).strftime("%Y-%m-%d %H:%M")


def format_date(value: date | None) -> str:
    return value.isoformat() if value else "-"


class LocaleMiddleware:
    """Pure ASGI middleware: picks the locale from ``?lang=``, the ``lang`` cookie or the default."""

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
