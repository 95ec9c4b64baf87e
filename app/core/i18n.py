"""Korean-first translations.

Messages are written in English in code and templates (``_("Programs")``). Each package may keep a
Babel catalogue at ``<package>/translations/ko.po``; all of them are merged at start. The locale of a
request lives in a context variable set by :class:`LocaleMiddleware`, so templates, macros and services
all translate without passing it around.
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
APP_DIR = Path(__file__).resolve().parents[1]

current_locale: ContextVar[str] = ContextVar("current_locale", default="ko")


@lru_cache
def korean_catalogue() -> dict[str, str]:
    messages: dict[str, str] = {}
    # The shared catalogues come first and win: a module cannot retranslate the platform's words.
    shared = [APP_DIR / "core" / "translations" / "ko.po", APP_DIR / "platform" / "translations" / "ko.po"]
    modules = sorted(p for p in APP_DIR.rglob("translations/ko.po") if p not in shared)
    for po_path in [p for p in shared if p.exists()] + modules:
        with po_path.open("rb") as fh:
            catalog = read_po(fh, locale="ko")
        for message in catalog:
            if message.id and message.string and not message.fuzzy:
                key = message.id if isinstance(message.id, str) else message.id[0]
                value = message.string if isinstance(message.string, str) else message.string[0]
                messages.setdefault(key, value)
    return messages


def gettext(message: str, **params: object) -> str:
    """Translate ``message`` into the current locale, then fill ``{name}`` placeholders."""
    text = korean_catalogue().get(message, message) if current_locale.get() == "ko" else message
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
