"""The OpenAPI document, completed once for every operation: each client error an API operation can
answer is documented as RFC 9457 ``application/problem+json``, so no route copies those declarations.

Which errors an operation can answer follows from its shape: every API call may be refused (401, 403),
rate-limited (429), have invalid fields (422) or name something that is not there, in its path or its
query (404); a write may conflict (409) or break a rule (400). FastAPI's own 422 (``HTTPValidationError``
as plain JSON) is replaced wherever the app answers it as a problem (``is_api_path``), and a ``.csv``
download is documented as the ``text/csv`` it is.
"""

from __future__ import annotations

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


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the problem responses to every API operation of ``schema`` (in place) and return it."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
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
                responses["422"] = _problem_response(422)
            if not path.startswith("/api/"):
                continue
            statuses = set(problems_of(path, method)) | {int(s) for s in responses if s.startswith("4")}
            for status in sorted(statuses):
                responses[str(status)] = _problem_response(status) | {
                    "description": responses.get(str(status), {}).get("description") or TITLES.get(status, "")}
    return schema


def install_openapi(app: FastAPI) -> None:
    """``app.openapi()`` answers the completed document (built once, then cached like FastAPI's)."""

    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document_problems(build())  # FastAPI's builder caches the document it returns; completed in place
        return app.openapi_schema


    app.openapi = openapi  # type: ignore[method-assign]
