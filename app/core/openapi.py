"""The OpenAPI document, completed once for every operation: each client error an API operation can
answer is documented as RFC 9457 ``application/problem+json``, so no route copies those declarations;
every write's request body carries an example an integrator can send as it is.

The problem responses are declared once under ``components.responses`` and each operation refers to
them (``$ref``), with its own description where it has one.

Examples: a body a route documents itself (``Body(openapi_examples=...)``) keeps its own; every other
write's body gets one built from its schema (:func:`example_of`): each required field (and each field
whose schema has ``examples``), the first of an enum, the schema's own ``examples`` or ``default``, a
value inside the bounds, a string matching the pattern. ``tests/core/test_openapi_document.py`` checks
every example against its schema.

Which errors an operation can answer follows from its shape: every API call may be refused (401, 403),
rate-limited (429), have invalid fields (422) or name something that is not there, in its path or its
query (404); a write may conflict (409) or break a rule (400). FastAPI's own 422 (``HTTPValidationError``
as plain JSON) is replaced wherever the app answers it as a problem (``is_api_path``), and a ``.csv``
download is documented as the ``text/csv`` it is.
"""

from __future__ import annotations

import csv
import io
import re
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

from fastapi import FastAPI

from app.core.errors import PROBLEM_JSON, is_api_path

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; ``errors`` lists each bad field.",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["loc", "msg"],
            "properties": {"loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                           "msg": {"type": "string"}, "type": {"type": "string"}}}},
    },
}
TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 409: "Conflict",
          413: "Content too large", 422: "Unprocessable content", 429: "Too many requests"}
RESPONSE_NAMES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
                  413: "ContentTooLarge", 422: "UnprocessableContent", 429: "TooManyRequests"}
WRITES = {"post", "put", "patch", "delete"}


def problems_of(path: str, method: str) -> list[int]:
    """The client errors an API operation can answer."""
    statuses = [401, 403, 404, 422, 429]
    if method in WRITES:
        statuses += [400, 409]
    return sorted(statuses)


def _problem_response(status: int) -> dict[str, Any]:
    return {"description": TITLES.get(status, "Client error"),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _problem_ref(status: int, description: str | None = None) -> dict[str, Any]:
    """A reference to the problem response of ``status`` declared once in ``components.responses``; an
    operation's own description of it (OpenAPI 3.1 lets a reference carry one) is kept."""
    if status not in RESPONSE_NAMES:
        return _problem_response(status) | ({"description": description} if description else {})
    ref: dict[str, Any] = {"$ref": f"#/components/responses/{RESPONSE_NAMES[status]}"}
    if description and description != TITLES[status]:
        ref["description"] = description
    return ref


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the problem responses to every API operation of ``schema`` (in place) and return it."""
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    components.setdefault("responses", {}).update(
        {name: _problem_response(status) for status, name in RESPONSE_NAMES.items()})
    for path, operations in schema.get("paths", {}).items():
        if not is_api_path(path):
            continue
        for method, operation in operations.items():
            if method not in WRITES | {"get", "head"}:
                continue
            responses = operation.setdefault("responses", {})
            if path.endswith(".csv") and "200" in responses:
                responses["200"]["content"] = {"text/csv": {"schema": {"type": "string"}}}
            if "422" in responses:
                responses["422"] = _problem_ref(422)
            if not path.startswith("/api/"):
                continue
            statuses = set(problems_of(path, method)) | {int(s) for s in responses if s.startswith("4")}
            for status in sorted(statuses):
                responses[str(status)] = _problem_ref(status, responses.get(str(status), {}).get("description"))
    return schema


# --- request examples ---------------------------------------------------------------------------------

# Values integrators recognise for the patterns the schemas share (the generic sampler below covers the rest).
PATTERN_EXAMPLES = {r"^\d{10}$": "4150000000", r"^\d{4}-(0[1-9]|1[0-2])$": "2026-12",
                    r"^([01]\d|2[0-4]):[0-5]\d$": "09:00", r"^0\d{1,2}-?\d{3,4}-?\d{4}$": "010-1234-5678",
                    r"^\d{3}-?\d{2}-?\d{5}$": "124-81-00998", r"^[a-z]+(\.[a-z_]+)?:(read|write)$": "kt.cctv:read",
                    r"^[a-z]+\.[a-z_]+$": "kt.cctv", r"^password$": "password"}
FORMAT_EXAMPLES = {"date": "2026-12-03", "date-time": "2026-12-03T10:00:00+09:00", "password": "correct-horse-battery",
                   "email": "staff@example.go.kr", "uri": "https://example.go.kr/", "uuid":
                   "3fa85f64-5717-4562-b3fc-2c963f66afa6", "binary": "(file contents)"}


def _sample_regex(pattern: str, repeat: int = 0) -> str | None:
    """A plain string ``pattern`` matches, from Python's own parse of it (None if it cannot say): each
    repetition as short as it may be, or ``repeat`` times where its bounds allow."""

    def walk(items) -> str:
        out = ""
        for op, arg in items:
            if op is sre_constants.LITERAL:
                out += chr(arg)
            elif op is sre_constants.IN:
                out += first_of(arg)
            elif op is sre_constants.ANY:
                out += "a"
            elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
                low, high, sub = arg
                out += walk(sub) * max(low, min(high, repeat))
            elif op is sre_constants.SUBPATTERN:
                out += walk(arg[-1])
            elif op is sre_constants.BRANCH:
                out += walk(arg[1][0])
            elif op is sre_constants.AT:
                continue
            else:
                raise ValueError(op)
        return out

    def first_of(choices) -> str:
        for op, arg in choices:
            if op is sre_constants.LITERAL:
                return chr(arg)
            if op is sre_constants.RANGE:
                return chr(arg[0])
            if op is sre_constants.CATEGORY and arg is sre_constants.CATEGORY_DIGIT:
                return "1"
            if op is sre_constants.CATEGORY and arg is sre_constants.CATEGORY_WORD:
                return "a"
        raise ValueError(choices)

    try:
        value = walk(sre_parse.parse(pattern))
    except (ValueError, TypeError, re.error):
        return None
    return value if re.search(pattern, value) else None


def _string_example(node: dict[str, Any]) -> str:
    if "pattern" in node:
        pattern = node["pattern"]
        low, high = node.get("minLength", 0), node.get("maxLength", 10**6)
        candidates = [PATTERN_EXAMPLES.get(pattern)] + [_sample_regex(pattern, n) for n in (0, 1, 2, 4, 8, 16, 32)]
        sampled = next((c for c in candidates if c is not None and low <= len(c) <= high), None)
        if sampled is not None:
            return sampled
    if node.get("format") in FORMAT_EXAMPLES:
        return FORMAT_EXAMPLES[node["format"]]
    if node.get("contentMediaType"):
        return FORMAT_EXAMPLES["binary"]
    low, high = node.get("minLength", 0), node.get("maxLength", 40)
    text = "예시"
    while len(text) < low:
        text += "예시"
    return text[:max(low, min(high, len(text)))]


def _number_example(node: dict[str, Any]) -> int | float:
    integer = node.get("type") == "integer"
    step = 1 if integer else 0.5
    value: float = 1
    if "minimum" in node:
        value = max(value, node["minimum"]) if node["minimum"] > 0 or "maximum" in node else node["minimum"]
    if "exclusiveMinimum" in node:
        value = max(value, node["exclusiveMinimum"] + step)
    if "maximum" in node:
        value = min(value, node["maximum"])
    if "exclusiveMaximum" in node:
        value = min(value, node["exclusiveMaximum"] - step)
    if "minimum" in node and value < node["minimum"]:
        value = node["minimum"]
    return int(value) if integer else float(value)


def example_of(node: dict[str, Any], schemas: dict[str, Any], depth: int = 0) -> Any:
    """A value ``node`` (a JSON Schema of the document, ``$ref`` into ``schemas``) accepts."""
    if depth > 8:
        return None
    if "$ref" in node:
        return example_of(schemas[node["$ref"].rsplit("/", 1)[-1]], schemas, depth + 1)
    for key in ("examples", "example"):
        if key in node:
            value = node[key]
            return value[0] if key == "examples" and isinstance(value, list) and value else value
    if "const" in node:
        return node["const"]
    if node.get("enum"):
        return node["enum"][0]
    if node.get("default") is not None:
        return node["default"]
    for key in ("anyOf", "oneOf"):
        if key in node:
            branches = [b for b in node[key] if b.get("type") != "null"] or node[key]
            return example_of(branches[0], schemas, depth + 1)
    if "allOf" in node:
        return example_of(node["allOf"][0], schemas, depth + 1)
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        props = node.get("properties", {})
        wanted = [k for k in props if k in node.get("required", ()) or _has_example(props[k], schemas)]
        return {k: example_of(props[k], schemas, depth + 1) for k in wanted or list(props)[:2]}
    if "prefixItems" in node:  # a tuple: [x, y]
        return [example_of(item, schemas, depth + 1) for item in node["prefixItems"]]
    if kind == "array":
        item = example_of(node.get("items", {}), schemas, depth + 1)
        return [item] * max(1, node.get("minItems", 1))
    if kind in ("integer", "number"):
        return _number_example(node)
    if kind == "boolean":
        return True
    if kind == "string":
        return _string_example(node)
    return None


def _has_example(node: dict[str, Any], schemas: dict[str, Any]) -> bool:
    return "examples" in node or "example" in node


def _csv_example(value: Any) -> str:
    rows = value if isinstance(value, list) else [value]
    if not rows or not isinstance(rows[0], dict):
        return "value\n예시\n"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    return out.getvalue()


def document_examples(schema: dict[str, Any]) -> dict[str, Any]:
    """Give every POST/PUT/PATCH request body without examples one built from its schema (in place)."""
    schemas = schema.get("components", {}).get("schemas", {})
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            body = operation.get("requestBody") if method in ("post", "put", "patch") else None
            if not body:
                continue
            content = body.get("content", {})
            json_value = None
            if "application/json" in content:
                json_value = example_of(content["application/json"].get("schema", {}), schemas)
            for media_type, media in content.items():
                if "examples" in media or "example" in media:
                    continue
                if media_type == "text/csv":
                    value: Any = _csv_example(json_value)
                elif media_type == "application/json":
                    value = json_value
                else:
                    value = example_of(media.get("schema", {}), schemas)
                media["examples"] = {"example": {"summary": "A valid request", "value": value}}
    return schema


def install_openapi(app: FastAPI) -> None:
    """``app.openapi()`` answers the completed document (built once, then cached like FastAPI's)."""

    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            # FastAPI's builder caches the document it returns; completed in place
            document_examples(document_problems(build()))
        return app.openapi_schema


    app.openapi = openapi  # type: ignore[method-assign]
