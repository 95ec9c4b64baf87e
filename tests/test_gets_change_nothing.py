"""A GET never changes data: every page and every API GET, walked with real ids from the demo data, as a
staff member and as a platform admin, leaves every table as it was (row counts and a digest of the rows)
and writes no change to the audit trail. Clock work (escalations, offline sweeps) belongs to the worker.

Reads of personal data leave access records by design (an auditor must see who looked); those tables
and audit actions are the one named exception, each listed below with its reason."""

from __future__ import annotations

import hashlib
import itertools
import json
import re

from sqlalchemy import select
from starlette.testclient import TestClient

from app.core.db import Base
from app.core.tenancy import SYSTEM, bind_principal
from app.platform.demo import DEMO_PASSWORD
from app.platform.models import AuditLog, Municipality
from tests.conftest import api_headers, web_login
from tests.test_tenancy_walk import _candidates, _is_stream, _param_values, _params

SKIP_PATHS = {"/logout", "/docs", "/docs/oauth2-redirect", "/openapi.json"}
# Audit actions that record a read, not a change (who revealed an account).
READ_ACTIONS = {"view", "reveal_account"}
# The access records (접속기록) of personal-data reads, and their chain's head row: the named exception.
ACCESS_TABLES = {"access_log"}
ACCESS_CHAIN = "access_log"


def _get_routes(app) -> list:
    from fastapi.routing import iter_route_contexts

    return [r for r in iter_route_contexts(app.routes)
            if r.methods and "GET" in r.methods and r.path not in SKIP_PATHS and not r.path.startswith("/static")
            and not _is_stream(r)]


def _digest(session) -> dict[str, tuple[int, str]]:
    """Each table's row count and a digest of its rows in primary-key order."""
    out = {}
    for table in Base.metadata.sorted_tables:
        pk = list(table.primary_key.columns) or list(table.c)
        h, n = hashlib.sha256(), 0
        for row in session.execute(select(table).order_by(*pk)):
            if table.name == "audit_chain" and row.name == ACCESS_CHAIN:
                continue
            h.update(json.dumps(list(row), default=str).encode())
            n += 1
        out[table.name] = (n, h.hexdigest())
    return out


def _urls(route, ids, strings) -> list[str]:
    params = _params(route)
    if not params:
        return [route.path]
    values = [_param_values(p, ids, strings, p.endswith("_id"))[:3] for p in params]
    urls = []
    for combo in itertools.islice(itertools.product(*values), 4):
        url = route.path
        for p, v in zip(params, combo, strict=True):
            url = re.sub(r"\{" + p + r"(:[^}]*)?\}", str(v), url)
        urls.append(url)
    return urls


def test_no_page_or_api_get_changes_anything(app, demo_loaded):
    database = demo_loaded
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        ulsan = s.scalar(select(Municipality.id).where(Municipality.code == "3100000000"))
        ids, strings, _markers = _candidates(s, ulsan)
        before = _digest(s)
        last_audit = s.scalar(select(AuditLog.id).order_by(AuditLog.id.desc()).limit(1)) or 0
    routes = _get_routes(app)
    assert len(routes) > 50, "the walk found suspiciously few GET routes"

    calls = 0
    for username in ("ulsan.staff", "admin"):
        with TestClient(app) as api_client, TestClient(app) as web_client:
            api = api_headers(api_client, username, DEMO_PASSWORD)
            web_login(web_client, username, DEMO_PASSWORD)
            with database.unit_of_work() as s:  # signing in writes (last sign-in); the walk starts after
                bind_principal(s, SYSTEM)
                before = _digest(s)
                last_audit = s.scalar(select(AuditLog.id).order_by(AuditLog.id.desc()).limit(1)) or 0
            for route in routes:
                api_route = route.path.startswith(("/api/", "/open311/"))
                client, headers = (api_client, api) if api_route else (web_client, {})
                for url in _urls(route, ids, strings):
                    client.get(url, headers=headers, follow_redirects=False)
                    calls += 1
            with database.unit_of_work() as s:
                bind_principal(s, SYSTEM)
                after = _digest(s)
                written = s.execute(select(AuditLog.actor, AuditLog.action, AuditLog.object_type)
                                    .where(AuditLog.id > last_audit)).all()
        changes = [f"{t}: {before[t][0]} -> {after[t][0]} rows" + ("" if before[t][0] != after[t][0] else " (edited)")
                   for t in before if before[t] != after[t] and t != "audit_log" and t not in ACCESS_TABLES]
        changes += [f"audited {action} of {obj} by {actor}" for actor, action, obj in written
                    if action not in READ_ACTIONS]
        assert not changes, f"GETs as {username} ({calls} calls) changed data:\n" + "\n".join(changes[:30])
