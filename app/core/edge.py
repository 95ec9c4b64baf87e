"""Input refused at the edge, before any route sees it: control characters in a request's path, query,
form or JSON body. PostgreSQL cannot store NUL in text (a 500 deep in a flush), and no one types the
other C0 controls; tab, line feed and carriage return stay allowed. One rule for every door: the API
answers 422 problem+json naming the part, a web form a 400 page in the user's language.

A JSON body is scanned as bytes for escaped controls (``\\u0000``) and lone surrogates (which no text
encoding can store), so the check costs one regular-expression pass, not a second parse.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

# C0 controls but tab, LF and CR.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# In JSON text: an escape (after an even run of backslashes) of such a control, or a lone surrogate.
_ESCAPED = re.compile(
    rb"(?<!\\)(?:\\\\)*\\u(?:00(?:0[0-8bBcCeEfF]|1[0-9a-fA-F])"
    rb"|[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2}\\u)[dD][c-fC-F][0-9a-fA-F]{2})")
# A raw control byte cannot be part of valid JSON text at all; the parser refuses it as invalid JSON.
MESSAGE = "Control characters are not allowed"


def has_control_characters(text: str) -> bool:
    return CONTROL_CHARACTERS.search(text) is not None


def json_has_control_characters(raw: bytes) -> bool:
    return _ESCAPED.search(raw) is not None


def _refused_query(query_string: bytes) -> str | None:
    """The first query parameter (name or value) carrying a control character."""
    text = query_string.decode("latin-1")
    if "%" not in text and not has_control_characters(text):
        return None
    for name, value in parse_qsl(text, keep_blank_values=True, errors="replace"):
        if has_control_characters(name) or has_control_characters(value):
            return CONTROL_CHARACTERS.sub("\ufffd", name)
    return None


def _refused_form(body: bytes) -> str | None:
    return _refused_query(body)


def _media_type(scope: dict[str, Any]) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return value.decode("latin-1").split(";")[0].strip().lower()
    return ""


def _scanned(media_type: str) -> bool:
    return media_type == "application/x-www-form-urlencoded" or media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json"))


class ControlCharacterGuard:
    """Pure ASGI: refuses a request whose path, query or (form, JSON) body carries a control character.
    A scanned body is read whole first (the routes parse such bodies whole anyway) and replayed."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if has_control_characters(scope.get("path", "")):
            return await self._refuse(scope, receive, send, ["path"])
        if (name := _refused_query(scope.get("query_string", b""))) is not None:
            return await self._refuse(scope, receive, send, ["query", name])
        media_type = _media_type(scope)
        if not _scanned(media_type):
            return await self.app(scope, receive, send)

        messages, chunks = [], []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if media_type == "application/x-www-form-urlencoded":
            if (name := _refused_form(body)) is not None:
                return await self._refuse(scope, receive, send, ["body", name])
        elif json_has_control_characters(body):
            return await self._refuse(scope, receive, send, ["body"])

        pending = iter(messages)

        async def replay():
            message = next(pending, None)
            return message if message is not None else await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(scope, receive, send, loc: list[str]) -> None:
        from starlette.requests import Request

        from app.core.errors import is_api_path, problem

        request = Request(scope, receive)
        if is_api_path(scope.get("path", "")):
            response = problem(422, "Unprocessable content", MESSAGE,
                               errors=[{"loc": loc, "msg": MESSAGE, "type": "control_character"}])
        else:
            from app.core.i18n import gettext
            from app.core.templating import render_error_page

            response = render_error_page(request, 400, gettext(MESSAGE))
        await response(scope, receive, send)


class HeadAsGet:
    """``HEAD`` answered as the ``GET`` of the same URL without its body (RFC 9110 §9.3.2): the same status
    and headers (``Content-Length`` included), so monitors and link checkers that probe with ``HEAD`` see
    what a browser would. FastAPI routes declare ``GET`` only; this serves every one of them, pages and
    API alike. A GET changes nothing, so neither does a HEAD. Once the headers are out the route is told
    the client left, which ends a stream (server-sent events) at once."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        done = False

        async def receive_until_done():
            if done:
                return {"type": "http.disconnect"}
            return await receive()

        async def send_headers_only(message) -> None:
            nonlocal done
            if done:
                return
            if message["type"] == "http.response.start":
                await send(message)
            elif message["type"] == "http.response.body":
                done = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        await self.app(dict(scope, method="GET"), receive_until_done, send_headers_only)
