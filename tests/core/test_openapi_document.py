"""The OpenAPI document an integrator can use alone: how to authenticate (and /docs' Authorize button),
which operations need it, the problem responses declared once, and a valid example on every write."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from app.core.config import Settings
from app.core.db import Database
from app.core.openapi import _sample_regex, example_of
from app.main import create_app
from tests.conftest import api_headers

PUBLIC_API = {("/api/v1/auth/token", "post")}  # the one API operation that needs no credentials
WRITES = ("post", "put", "patch")


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> dict[str, Any]:
    url = f"sqlite:///{tmp_path_factory.mktemp('openapi') / 'unused.db'}"
    app = create_app(Settings(env="test", database_url=url, secret_key="test-secret-key-0123456789"), Database(url))
    return TestClient(app).get("/openapi.json").json()


def _operations(spec):
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method in ("get", "post", "put", "patch", "delete", "head"):
                yield path, method, operation


def test_the_document_declares_bearer_keys_and_the_password_flow(spec):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["type"] == "http" and schemes["bearerAuth"]["scheme"] == "bearer"
    assert "dxh_" in schemes["bearerAuth"]["description"]
    flow = schemes["oauth2Password"]["flows"]["password"]
    assert "/" + flow["tokenUrl"] in spec["paths"] and "post" in spec["paths"]["/" + flow["tokenUrl"]]


def test_every_protected_operation_names_its_security_and_public_ones_none(spec):
    protected = public = 0
    for path, method, operation in _operations(spec):
        names = {name for requirement in operation.get("security", []) for name in requirement}
        if path.startswith("/api/") and (path, method) not in PUBLIC_API:
            assert names == {"bearerAuth", "oauth2Password"}, (method, path)
            assert len(operation["security"]) == 2  # alternatives: either one will do
            protected += 1
        else:
            assert not names, (method, path)  # Open311, health, the token endpoint stay open
            public += 1
    assert protected > 150 and public > 5


def test_a_token_from_the_declared_flow_opens_a_protected_operation(client, world, spec):
    """What the document says works: the password flow's token, sent as a bearer, is accepted."""
    assert client.get("/api/v1/kt/voicebot/faq").status_code == 401
    assert client.get("/api/v1/kt/voicebot/faq", headers=api_headers(client, "cw.staff")).status_code == 200


def test_problem_responses_are_declared_once_and_referenced(spec):
    responses = spec["components"]["responses"]
    for name in ("Unauthorized", "Forbidden", "NotFound", "UnprocessableContent", "Conflict", "BadRequest"):
        assert responses[name]["content"]["application/problem+json"]["schema"] == {
            "$ref": "#/components/schemas/Problem"}
    for path, method, operation in _operations(spec):
        if not path.startswith("/api/"):
            continue
        for status in ("401", "403", "404", "422"):
            ref = operation["responses"][status].get("$ref", "")
            assert ref.startswith("#/components/responses/") and ref.rsplit("/", 1)[1] in responses, (
                method, path, status)


def test_every_write_has_an_example_its_schema_accepts(spec):
    checked = 0
    for path, method, operation in _operations(spec):
        if method not in WRITES or "requestBody" not in operation:
            continue
        for media_type, media in operation["requestBody"]["content"].items():
            examples = media.get("examples") or ({"example": {"value": media["example"]}} if "example" in media
                                                 else {})
            assert examples, (method, path, media_type)
            if media_type != "application/json":
                continue
            validator = Draft202012Validator({**media["schema"], "components": spec["components"]})
            for example in examples.values():
                errors = [e.message for e in validator.iter_errors(example["value"])]
                assert not errors, (method, path, errors)
            checked += 1
    assert checked > 80


def test_the_generated_examples_follow_patterns_bounds_and_enums():
    assert _sample_regex(r"^[a-z][a-z0-9_]{1,39}$") == "aa"
    assert _sample_regex(r"^89\d{17,18}$") == "89" + "1" * 17
    assert example_of({"type": "string", "pattern": r"^\d{10}$"}, {}) == "4150000000"
    assert example_of({"type": "integer", "minimum": 5, "maximum": 9}, {}) == 5
    assert example_of({"type": "integer", "maximum": 0}, {}) == 0
    assert example_of({"anyOf": [{"type": "null"}, {"enum": ["a", "b"]}]}, {}) == "a"
    assert example_of({"type": "string", "minLength": 5, "maxLength": 6}, {}) == "예시예시예시"
    assert example_of({"$ref": "#/components/schemas/X"}, {"X": {"type": "object", "required": ["n"], "properties": {
        "n": {"type": "integer"}, "note": {"type": "string"}, "tag": {"type": "string", "examples": ["t"]}}}}) == {
        "n": 1, "tag": "t"}
