"""Each class of input that once ended in a 500 on PostgreSQL answers a clear 4xx, on both backends; a
500 that does happen logs its traceback once and keeps the connection; unknown methods answer 405."""

from __future__ import annotations

import http.client
import logging
import socket
import threading
from typing import Annotated, Any

import pytest
import uvicorn
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute
from pydantic import TypeAdapter

from app.core.edge import json_has_control_characters
from app.core.schemas import INT32_MAX, INT64_MAX
from tests.conftest import PASSWORD, api_headers, csrf_of
from tests.platform.test_programs_api import PROGRAM


def _problem(r, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return r.json()


def test_ids_and_offsets_past_their_column_types_are_422(client, world):
    h = api_headers(client, "root")
    for path in ["/api/v1/programs/549755813888", "/api/v1/programs/0", "/api/v1/programs?offset=105039827519539412992",
                 "/api/v1/skt/tdeal/subscribers?offset=105039827519539412992", "/api/v1/users/2147483648",
                 "/api/v1/lguplus/merchants/consulting?merchant_id=99999999999"]:
        body = _problem(client.get(path, headers=h), 422)
        assert body["errors"], path
    assert client.get("/api/v1/programs/2147483647", headers=h).status_code == 404


def test_control_characters_are_refused_at_every_door(client, world):
    r = client.post("/api/v1/auth/token", data={"username": "root\x00", "password": PASSWORD})
    assert _problem(r, 422)["errors"][0]["loc"] == ["body", "username"]
    h = api_headers(client, "cw.staff")
    assert _problem(client.get("/api/v1/programs?q=%00", headers=h), 422)["errors"][0]["loc"] == ["query", "q"]
    assert _problem(client.get("/api/v1/partners/a%00b", headers=h), 422)["errors"][0]["loc"] == ["path"]
    raw = b'{"title": "a\\u0000b", "municipality_code": "4812000000"}'
    r = client.post("/api/v1/programs", content=raw, headers={**h, "content-type": "application/json"})
    assert _problem(r, 422)["errors"][0]["loc"] == ["body"]
    # Written out (an escaped backslash, then "u0000") it is plain text, and tab and newline are allowed.
    r = client.post("/api/v1/programs", json=dict(PROGRAM, title="a\\u0000b", description="x\ty\nz"), headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["title"] == "a\\u0000b"

    token = csrf_of(client)
    r = client.post("/login", data={"username": "root\x00", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    assert "제어 문자" in r.text


@pytest.mark.parametrize(("raw", "refused"), [
    (b'"\\u0000"', True), (b'"\\u001f"', True), (b'"\\u001F"', True), (b'"\\\\\\u0007"', True),
    (b'"\\ud800"', True), (b'"\\udc00x"', True), (b'"\\ud83d\\ude00"', False), (b'"\\\\u0000"', False),
    (b'"\\u0009\\u000a\\u000d"', False), (b'"\\u0020"', False)])
def test_the_json_scan_reads_escapes_exactly(raw, refused):
    assert json_has_control_characters(raw) is refused


def test_non_finite_numbers_are_422(client, world):
    h = {**api_headers(client, "cw.staff"), "content-type": "application/json"}
    pid = client.post("/api/v1/programs", json=PROGRAM, headers=h).json()["id"]
    for number in (b"NaN", b"Infinity", b"-Infinity", b"1e400"):
        r = client.post(f"/api/v1/programs/{pid}/kpis", content=b'{"name": "n", "target": ' + number + b"}",
                        headers=h)
        assert _problem(r, 422)["errors"][0]["loc"] == ["body", "target"], number


def test_a_patch_cannot_empty_a_not_null_column(client, world):
    h = api_headers(client, "cw.staff")
    pid = client.post("/api/v1/programs", json=PROGRAM, headers=h).json()["id"]
    r = client.patch(f"/api/v1/programs/{pid}", json={"title": None}, headers=h)
    assert _problem(r, 422)["errors"][0]["loc"] == ["body", "title"]
    r = client.patch(f"/api/v1/programs/{pid}", json={"budget_krw": None}, headers=h)  # a nullable column
    assert r.status_code == 200 and r.json()["budget_krw"] is None


def test_unknown_methods_answer_405_with_allow(client, world):
    h = api_headers(client, "cw.staff")
    r = client.request("TRACE", "/api/v1/programs", headers=h)
    assert _problem(r, 405) and set(r.headers["allow"].split(", ")) == {"GET", "POST"}
    r = client.request("TRACE", "/login")
    assert r.status_code == 405 and "GET" in r.headers["allow"]


def test_a_500_logs_once_answers_problem_json_and_keeps_the_connection(app, world, caplog):
    def boom():
        raise RuntimeError("the disk is on fire")

    app.add_api_route("/api/v1/boom", boom)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            thread.join(0.01)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        with caplog.at_level(logging.ERROR):
            conn.request("GET", "/api/v1/boom")
            r = conn.getresponse()
            body = r.read()
        assert r.status == 500 and r.getheader("content-type").startswith("application/problem+json"), body
        conn.request("GET", "/livez")  # the same connection: the server did not drop it
        again = conn.getresponse()
        assert again.status == 200 and again.read()
        conn.close()
    finally:
        server.should_exit = True
        thread.join(10)
    logged = [rec for rec in caplog.records if rec.exc_info and "the disk is on fire" in str(rec.exc_info[1])]
    assert len(logged) == 1, [rec.getMessage() for rec in caplog.records]


def test_every_api_operation_documents_its_problems(app):
    schema = app.openapi()
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            for status in ("401", "403", "422"):
                response = operation["responses"][status]
                if "$ref" in response:  # declared once under components.responses
                    response = schema["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
                content = response["content"]
                assert list(content) == ["application/problem+json"], (method, path, status)


def _integer_bounds(field) -> list[tuple[Any, Any]]:
    info = field.field_info
    schema = TypeAdapter(Annotated[(info.annotation, *info.metadata)]).json_schema()
    branches = schema.get("anyOf", [schema])
    return [(b.get("minimum"), b.get("maximum")) for b in branches if b.get("type") == "integer"]


def test_every_integer_in_a_path_or_query_is_bounded(app):
    """One rule for all: an unbounded integer reaches PostgreSQL and fails there."""
    unbounded = []
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        for field in get_flat_params(route.dependant):
            # An id names a row of an INTEGER primary key: the core's ``Id``.
            top = INT32_MAX if field.name == "id" or field.name.endswith("_id") else INT64_MAX
            for low, high in _integer_bounds(field):
                if low is None or high is None or low < -INT64_MAX - 1 or high > top:
                    unbounded.append(f"{route.path} {field.name}: [{low}, {high}]")
    assert not unbounded, "\n".join(unbounded)
