"""HTML forms validated by the same Pydantic schemas as the API, with messages in the user's language."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from app.core.errors import DomainError
from app.core.i18n import gettext

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


def domain_errors(exc: DomainError) -> dict[str, str]:
    """Field errors of a rule broken in a service, for re-rendering a form."""
    if not exc.errors:
        return {"__all__": gettext(exc.template, **exc.params)}
    errors: dict[str, str] = {}
    for err in exc.errors:
        text = gettext(err["template"], **err.get("params", {})) if "template" in err else err.get("msg", "")
        errors.setdefault(_field_of(err.get("loc", [])), text)
    return errors


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
