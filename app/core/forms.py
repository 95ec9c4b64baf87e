"""HTML forms validated by the same Pydantic schemas as the API, with messages in the user's language.

Every web form's POST ends in :func:`answer_form`: validate, run the service, then either roll back and show
the form again (400, the user's values kept) or flash what was done and redirect (303)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import URL, FormData
from starlette.responses import Response

from app.core.errors import DomainError, InvalidInput, at_lines, field_error
from app.core.i18n import gettext
from app.core.templating import flash, see_other

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")

_MESSAGES = {
    "missing": "This field is required.",
    "string_too_short": "This field is required.",
    "string_too_long": "At most {max_length} characters.",
    "too_long": "At most {max_length} items.",
    "too_short": "Choose at least {min_length}.",
    "string_pattern_mismatch": "The format is not valid.",
    "int_parsing": "Enter a whole number.",
    "float_parsing": "Enter a number.",
    "finite_number": "Enter a number.",
    "greater_than_equal": "Must be at least {ge}.",
    "less_than_equal": "Must be at most {le}.",
    "greater_than": "Must be greater than {gt}.",
    "less_than": "Must be less than {lt}.",
    "date_from_datetime_parsing": "Enter a date as YYYY-MM-DD.",
    "date_parsing": "Enter a date as YYYY-MM-DD.",
    "date_type": "Enter a date as YYYY-MM-DD.",
    "literal_error": "Choose one of the offered values.",
    "enum": "Choose one of the offered values.",
    "bool_parsing": "Choose yes or no.",
    "extra_forbidden": "This field is not accepted.",
}


def form_to_dict(form: FormData, *, lists: tuple[str, ...] = (), words: tuple[str, ...] = ()) -> dict[str, Any]:
    """Form fields as a dict for a schema: blanks become absent, ``lists`` keep every value (checkboxes,
    multiple selects), ``words`` split one text field on commas and spaces ("guide, patrol delivery")."""
    data: dict[str, Any] = {}
    for key in set(form.keys()):
        if key == "csrf_token":
            continue
        if key in lists:
            data[key] = [v for v in form.getlist(key) if isinstance(v, str) and v.strip()]
            continue
        value = form.get(key)
        if isinstance(value, str) and value.strip() == "":
            continue
        if key in words and isinstance(value, str):
            data[key] = [w for w in re.split(r"[,\s]+", value) if w]
            continue
        data[key] = value
    for key in lists:
        data.setdefault(key, [])
    return data


def error_template(err: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The English template and parameters of a Pydantic error, ready for :func:`gettext`."""
    template = _MESSAGES.get(err.get("type", ""))
    ctx = err.get("ctx") or {}
    if err.get("type") == "string_too_short" and ctx.get("min_length", 1) > 1:
        template = "At least {min_length} characters."
    if template:
        params = {k: v for k, v in ctx.items() if isinstance(v, int | float | str)}
        try:
            template.format(**params)
        except (KeyError, IndexError):
            return template, {}
        return template, params
    return str(err.get("msg", "")).removeprefix("Value error, "), {}


def translate_error(err: dict[str, Any]) -> str:
    template, params = error_template(err)
    return gettext(template, **params)


def _field_of(loc: tuple | list) -> str:
    parts = [str(p) for p in loc if not isinstance(p, int)]
    return parts[0] if parts else "__all__"


def validate_form(schema: type[M], data: dict[str, Any]) -> tuple[M | None, dict[str, str]]:
    try:
        return schema.model_validate(data), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            errors.setdefault(_field_of(err["loc"]), translate_error(dict(err)))
        return None, errors


def _error_text(err: dict[str, Any]) -> str:
    """A service's field error in the user's language: a schema error (pydantic's type, kept by the service) in
    the shared wording of :func:`translate_error`, any other by its template and params."""
    if err.get("type") in _MESSAGES:  # its bounds: pydantic's ctx, or the params the service kept
        return translate_error({**err, "ctx": err.get("ctx") or err.get("params") or {}})
    return gettext(err["template"], **err.get("params", {})) if "template" in err else str(err.get("msg", ""))


def domain_errors(exc: DomainError) -> dict[str, str]:
    """Field errors of a rule broken in a service, for re-rendering a form."""
    if not exc.errors:
        return {"__all__": exc.message()}
    errors: dict[str, str] = {}
    for err in exc.errors:
        errors.setdefault(_field_of(err.get("loc", [])), _error_text(err))
    return errors


def row_errors(exc: DomainError) -> list[dict[str, str]]:
    """The errors of a refused file (a CSV upload) as its page lists them, one a row: ``line`` in the file (row i
    of the batch is on line i + 2, under the header), ``field`` and ``msg`` translated (a schema error in the
    shared wording); the exception's own message when it names no row."""
    rows = []
    for err in at_lines(exc.errors):
        loc = list(err.get("loc", []))
        line = str(loc[1]) if len(loc) > 1 and loc[0] == "line" else ""
        rows.append({"line": line, "field": " · ".join(str(p) for p in (loc[2:] if line else loc) if p != ""),
                     "msg": _error_text(err)})
    return rows or file_problem(exc.message())


def file_problem(msg: str) -> list[dict[str, str]]:
    """A refused file's one problem that is no row's (no file chosen, the file too large), as :func:`row_errors`."""
    return [{"line": "", "field": "", "msg": msg}]




def validated(schema: type[M], data: dict[str, Any]) -> M:
    """``data`` validated by ``schema`` inside a form's action, for a form whose fields are not the input's
    (dates for times, one follow-up for a list): its errors are raised as the form's, by field."""
    result, errors = validate_form(schema, data)
    if result is None:
        raise InvalidInput("Some of what you entered is not valid.",
                           errors=[field_error(field, text) for field, text in errors.items()])
    return result


def submit_form(db: Session, schema: type[M], values: dict[str, Any], action: Callable[[M], R]
                ) -> tuple[R | None, dict[str, str]]:
    """Validate ``values`` with ``schema`` and run ``action`` on the result.

    Returns ``(result, {})`` on success, or ``(None, errors by field)`` when the input is invalid or
    ``action`` breaks a rule; in that case whatever ``action`` had changed is rolled back, so the form
    can be shown again with nothing half-saved.
    """
    data, errors = validate_form(schema, values)
    if data is None:
        return None, errors
    try:
        return action(data), {}
    except DomainError as exc:
        db.rollback()
        return None, domain_errors(exc)


Target = str | URL
Message = str | tuple[str, str]  # the text, or the text and the flash's category ("success" by default)


def answer_form(request: Request, db: Session, schema: type[M] | None, data: dict[str, Any],
                action: Callable[[Any], R], *, done: Target | Callable[[R], Target],
                message: Message | Callable[[R], Message] | None,
                page: Callable[[dict[str, str]], Response] | None = None,
                errors: dict[str, str] | None = None,
                map_errors: Callable[[dict[str, str]], dict[str, str]] | None = None,
                flash_rules: bool = False, back: Target | None = None) -> Response:
    """The answer to a web form's POST, in one call.

    ``data`` is validated with ``schema`` (``None``: passed to ``action`` as is) and ``action`` runs on the
    result. ``errors`` are ones the caller found before (e.g. a text field parsed by hand): they are shown
    with the schema's, and ``action`` does not run. On any error whatever ``action`` changed is rolled back and
    ``map_errors`` (if given) may move the messages to the fields the form shows; then ``page(errors)`` is
    answered with status 400 (it renders the form again with the values the user typed), or, for a form
    without a page of its own (a button), the first message is flashed and the browser sent ``back`` (by
    default to ``done``).
    With ``flash_rules`` a rule ``action`` breaks (the fields were right, the object's state forbids it)
    is flashed that way too, while bad fields still show the page.
    On success ``message`` (if any) is flashed and the browser redirected (303) to ``done``; both may be functions
    of ``action``'s result.
    """
    failed = dict(errors or {})
    result: Any = None
    if schema is not None:
        validated, field_errors = validate_form(schema, data)
        failed.update((k, v) for k, v in field_errors.items() if k not in failed)  # the caller's come first
    else:
        validated = data
    by_rule = False
    if not failed:
        try:
            result = action(validated)
        except DomainError as exc:
            db.rollback()
            failed, by_rule = domain_errors(exc), True
    if failed:
        if map_errors is not None:
            failed = map_errors(failed)
        if page is not None and not (by_rule and flash_rules):
            response = page(failed)
            response.status_code = 400
            return response
        flash(request, next(iter(failed.values())), "error")
        return see_other(str(back if back is not None else done))
    return _done(request, result, message, done)


def answer_file(request: Request, db: Session, action: Callable[[], R], *,
                page: Callable[[list[dict[str, str]]], Response], done: Target | Callable[[R], Target],
                message: Message | Callable[[R], Message] | None, problem: str | None = None) -> Response:
    """The answer to an uploaded file (a CSV import), in one call: as :func:`answer_form`, but a refused file
    lists its bad rows (:func:`row_errors`, drawn by the ``ui.row_errors`` macro) on
    ``page``, with 400, or 413 for a file too large. ``problem`` is the caller's own (no file chosen): shown
    the same way, and ``action`` does not run."""
    errors, status = file_problem(problem) if problem else [], 400
    if not errors:
        try:
            result = action()
        except DomainError as exc:
            db.rollback()
            errors, status = row_errors(exc), 413 if exc.status == 413 else 400
    if errors:
        response = page(errors)
        response.status_code = status
        return response
    return _done(request, result, message, done)


def _done(request: Request, result: Any, message: Message | Callable[[Any], Message] | None,
          done: Target | Callable[[Any], Target]) -> Response:
    """A form's work done: say so (a flash) and send the browser on (303)."""
    text = message(result) if callable(message) else message
    if text:
        text, category = text if isinstance(text, tuple) else (text, "success")
        flash(request, text, category)
    return see_other(str(done(result) if callable(done) else done))
