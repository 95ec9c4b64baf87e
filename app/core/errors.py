"""Domain errors and their rendering: RFC 9457 problem+json for the API, Korean pages for the web."""

from __future__ import annotations

import logging
import re
from functools import cache
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
logger = logging.getLogger("dxhub")


class DomainError(Exception):
    """A rule of the platform was broken; ``status`` says how an HTTP caller sees it."""

    status = 400
    title = "Bad request"
    headers: dict[str, str] = {}  # sent with the answer (e.g. Retry-After)

    def __init__(self, message: str, *, errors: list[dict[str, Any]] | None = None, plural: str | None = None,
                 **params: Any) -> None:
        """``message`` is an English template; ``params`` fill it, and the UI translates the template. With
        ``plural`` (the English for ``n`` other than 1, ``n`` given in ``params``) it is a count's message."""
        self.template = message
        self.plural = plural
        self.params = params
        english = plural if plural is not None and params.get("n") != 1 else message
        self.detail = english.format(**params) if params else english
        super().__init__(self.detail)
        self.errors = errors or []

    def message(self) -> str:
        """The message in the current language (the singular or plural form for a count's)."""
        from app.core.i18n import gettext, ngettext

        if self.plural is not None:
            return ngettext(self.template, self.plural, self.params["n"], **self.params)
        return gettext(self.template, **self.params)


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Conflict(DomainError):
    status = 409
    title = "Conflict"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


class Unauthorized(DomainError):
    status = 401
    title = "Unauthorized"


class InvalidInput(DomainError):
    """Input that passed the schema but breaks a rule; ``errors`` name the fields."""

    status = 422
    title = "Unprocessable content"

    @classmethod
    def field(cls, loc: str | list[str | int], msg: str, **params: Any) -> InvalidInput:
        exc = cls(msg, **params)
        exc.errors = [field_error(loc, msg, **params)]
        return exc


def field_error(loc: str | list[str | int], msg: str, **params: Any) -> dict[str, Any]:
    """One bad field: ``msg`` is an English template that ``params`` fill."""
    loc_list = [loc] if isinstance(loc, str) else list(loc)
    text = msg.format(**params) if params else msg
    return {"loc": loc_list, "msg": text, "type": "value_error", "template": msg, "params": params}


CSV_FIRST_ROW_LINE = 2  # line 1 of a CSV file is its header: its first row is on line 2


def at_lines(errors: list[dict[str, Any]], *, first_line: int = CSV_FIRST_ROW_LINE) -> list[dict[str, Any]]:
    """``errors`` of a batch read from a file, those naming a row (``["rows", i, ...]``, 0-based) naming it by
    its line in the file instead (``["line", i + first_line, ...]``), the batch's first row being on
    ``first_line``; the others as they are."""
    return [{**e, "loc": ["line", e["loc"][1] + first_line, *e["loc"][2:]]} if _names_row(e) else e for e in errors]


def _names_row(error: dict[str, Any]) -> bool:
    loc = list(error.get("loc", ()))
    return len(loc) > 1 and loc[0] == "rows" and isinstance(loc[1], int)


def public_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k not in ("template", "params")} for e in errors]


class SignInRequired(Exception):
    """Raised by web dependencies: the browser is sent to the sign-in page."""


def is_api_path(path: str) -> bool:
    return path.startswith(("/api/", "/open311/")) or path in ("/healthz", "/livez")


def problem(status: int, title: str, detail: str | None = None, *, headers: dict[str, str] | None = None,
            **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    headers = dict(headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers or None)


def unexpected_error_response(request: Request, exc: BaseException) -> Response:
    """A 500: its traceback logged once, then problem+json (API) or the error page (web)."""
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    if is_api_path(request.url.path):
        return problem(500, "Internal server error", "An unexpected error occurred; it has been logged.")
    from app.core.templating import render_error_page

    try:
        return render_error_page(request, 500, None)
    except Exception:  # the page itself failed: plain text still answers
        return Response("Internal server error", status_code=500, media_type="text/plain")


class UnexpectedErrorMiddleware:
    """Pure ASGI, inside the session and locale middleware: an exception no handler took becomes a 500
    answer here. Starlette's own last resort re-raises after answering, so the server would log it a
    second time and close the keep-alive connection; answered here, the connection stays usable."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def send_tracking(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as exc:
            if started:  # too late for another answer: the server closes the stream
                raise
            from starlette.requests import Request as StarletteRequest

            response = unexpected_error_response(StarletteRequest(scope, receive), exc)
            await response(scope, receive, send)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at this path (Starlette names only the first route's)."""
    from fastapi.routing import iter_route_contexts

    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        if route.methods and route.path and _path_regex(route.path).match(request.url.path):
            methods |= route.methods
    return sorted(methods)


@cache
def _path_regex(path: str) -> re.Pattern[str]:
    from starlette.routing import compile_path

    return compile_path(path)[0]


def _clean_validation_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cleaned = []
    for err in errors:
        item = {"loc": list(err.get("loc", [])), "msg": err.get("msg", ""), "type": err.get("type", "")}
        ctx = err.get("ctx")
        if ctx:
            item["ctx"] = {k: (v if isinstance(v, int | float | str | bool) else str(v)) for k, v in ctx.items()}
        cleaned.append(item)
    return cleaned


def install_error_handlers(app: FastAPI) -> None:
    from app.core.templating import render_error_page

    @app.exception_handler(DomainError)
    def _domain(request: Request, exc: DomainError) -> Response:
        if is_api_path(request.url.path):
            extra = {"errors": public_errors(exc.errors)} if exc.errors else {}
            response = problem(exc.status, exc.title, exc.detail, **extra)
        else:
            response = render_error_page(request, exc.status, exc.message())
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = _clean_validation_errors(list(exc.errors()))
        if is_api_path(request.url.path):
            return problem(422, "Unprocessable content", "The request has invalid fields.", errors=errors)
        return render_error_page(request, 400, None)

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        if is_api_path(request.url.path):
            titles = {404: "Not found", 405: "Method not allowed", 401: "Unauthorized", 403: "Forbidden"}
            detail = exc.detail if isinstance(exc.detail, str) else None
            return problem(exc.status_code, titles.get(exc.status_code, "Error"), detail, headers=headers)
        response = render_error_page(request, exc.status_code, None)
        response.headers.update(headers)
        return response

    @app.exception_handler(SignInRequired)
    def _sign_in(request: Request, exc: SignInRequired) -> Response:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        from urllib.parse import quote

        if request.headers.get("HX-Request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    # An error raised outside ``UnexpectedErrorMiddleware`` (in the session or locale middleware) still
    # answers problem+json or the error page; Starlette then re-raises it to the server.
    app.add_exception_handler(Exception, unexpected_error_response)


def flush_or_conflict(db: Session, message: str, **params: object) -> None:
    """Flush pending changes inside a savepoint; a unique-constraint clash becomes a 409 with ``message``."""
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError as exc:
        raise Conflict(message, **params) from exc
