"""Walks every registered API and web route as a user of one municipality and proves that nothing of
another municipality crosses: objects answer 404 (or 403/405/422), lists show none of its data, and no
write changes any of its rows. Routes are discovered from the app, so every module is covered."""

from __future__ import annotations

import itertools
import json
import re

from fastapi.routing import RouteContext, iter_route_contexts
from sqlalchemy import String, Text, select
from starlette.testclient import TestClient

from app.core import security
from app.core.db import Base
from app.core.manifest import installed
from app.core.tenancy import SYSTEM, bind_principal
from app.platform.models import ApiKey, Kpi, KpiValue, Milestone, Municipality, Partner, Program, User
from tests.conftest import PASSWORD_HASH, api_headers, csrf_of, run_every_module, web_login

A_MUNICIPALITY_ID = 9_000_001
A_USER_ID = 9_000_002
SKIP_PATHS = {"/login", "/logout", "/docs", "/docs/oauth2-redirect", "/openapi.json", "/healthz", "/livez"}
ALLOWED_OBJECT_STATUSES = {401, 403, 404, 405, 422}


def _is_stream(route: RouteContext) -> bool:
    return bool(re.search(r"(stream|sse|live)(/|$)", route.path))


def _params(route: RouteContext) -> list[str]:
    return re.findall(r"\{(\w+)(?::[^}]*)?\}", route.path)


def _routes(app) -> list[RouteContext]:
    found = []
    for route in iter_route_contexts(app.routes):
        if not route.methods or route.path in SKIP_PATHS or route.path.startswith("/static"):
            continue
        if (getattr(route, "openapi_extra", None) or {}).get("x-tenant-scope") == "global":
            continue
        found.append(route)
    return found


def _tenant_tables():
    return [t for t in Base.metadata.sorted_tables if "municipality_id" in t.c]


def _snapshot(session, municipality_id: int) -> dict[str, list]:
    """Every row of every tenant table owned by ``municipality_id``, as comparable text."""
    snap = {}
    for table in _tenant_tables():
        pk = list(table.primary_key.columns)
        rows = session.execute(select(table).where(table.c.municipality_id == municipality_id).order_by(*pk))
        snap[table.name] = [json.dumps(dict(r._mapping), default=str, sort_keys=True) for r in rows]
    return snap


def _candidates(session, municipality_id: int):
    """Ids and string keys of the other tenant's rows, by table, and marker strings to look for."""
    ids: dict[str, set[int]] = {}
    strings: set[str] = set()
    markers: set[str] = set()
    for table in _tenant_tables():
        rows = session.execute(select(table).where(table.c.municipality_id == municipality_id)).mappings().all()
        pk = list(table.primary_key.columns)
        for row in rows:
            if len(pk) == 1 and isinstance(row[pk[0].name], int):
                ids.setdefault(table.name, set()).add(row[pk[0].name])
            for col in table.c:
                value = row[col.name]
                if isinstance(col.type, String | Text) and isinstance(value, str) and len(value) >= 4:
                    if col.unique or col.name.endswith(("code", "external_id", "_id", "token", "serial")):
                        strings.add(value)
                    if col.name not in ("password_hash", "secret_hash") and len(value) <= 200:
                        markers.add(value)
    return ids, strings, markers


def _param_values(param: str, ids: dict[str, set[int]], strings: set[str], is_int: bool) -> list:
    stem = param.removesuffix("_id") if param.endswith("_id") else None
    matching = [v for t, vals in ids.items() if stem and (t == stem or t.endswith("_" + stem)) for v in vals]
    all_ids = sorted({v for vals in ids.values() for v in vals})
    values = [v for v in (sorted(set(matching)) or all_ids) if v not in (A_MUNICIPALITY_ID, A_USER_ID)]
    if is_int:
        return values[:12]
    return sorted(strings)[:12] + [str(v) for v in values[:6]]


def _build_world(database):
    """Tenant A (empty but for its admin) and tenant B (울산광역시) with data of every module."""
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        s.add(Municipality(id=A_MUNICIPALITY_ID, code="4812000000", name_ko="창원시", name_en="Changwon",
                           level="basic"))
        s.flush()
        s.add(User(id=A_USER_ID, username="a.admin", display_name="A", role="municipal_admin",
                   municipality_id=A_MUNICIPALITY_ID, password_hash=PASSWORD_HASH))
        run_every_module(s, s.get(Municipality, A_MUNICIPALITY_ID))  # A reaches every module's routes


def _fill_tenant_b(database) -> int:
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        b = Municipality(code="3100000000", name_ko="울산광역시", name_en="Ulsan", level="metropolitan")
        partner = Partner(code="kt", name_ko="KT", name_en="KT", kind="telecom")
        s.add_all([b, partner])
        s.flush()
        s.add(User(username="b.staff", display_name="울산 담당자", role="staff", municipality_id=b.id,
                   password_hash=PASSWORD_HASH))
        program = Program(title="울산 CCTV 관제 사업", description="울산 전용", municipality_id=b.id, status="active",
                          partners=[partner])
        s.add(program)
        s.flush()
        kpi = Kpi(program_id=program.id, municipality_id=b.id, name="울산 오탐률", unit="%", baseline=30, target=10)
        s.add(kpi)
        s.flush()
        from datetime import date

        s.add(KpiValue(kpi_id=kpi.id, municipality_id=b.id, measured_date=date(2026, 5, 1), value=20))
        s.add(Milestone(program_id=program.id, municipality_id=b.id, title="울산 개통", due_date=date(2026, 9, 1)))
        _, prefix, secret_hash = security.new_api_key()
        s.add(ApiKey(name="울산 연동 키", prefix=prefix, secret_hash=secret_hash, scopes=["platform:read"],
                     municipality_id=b.id))
        for manifest in installed().values():
            if manifest.sample_data is not None:
                manifest.sample_data(s, b.id)
        return b.id


def _call(client: TestClient, method: str, url: str, headers: dict, body: dict | None = None) -> tuple[int, str]:
    kwargs = {"headers": headers, "follow_redirects": False}
    if method in ("POST", "PUT", "PATCH"):
        if url.startswith(("/api/", "/open311/")):
            kwargs["json"] = body or {}
        else:
            kwargs["data"] = body or {}
    r = client.request(method, url, **kwargs)
    return r.status_code, r.text


def test_every_module_gives_the_walk_objects_to_try():
    """A module without ``sample_data`` would leave its routes walked with nothing of the other tenant's."""
    missing = [m.key for m in installed().values()
               if (m.api_router is not None or m.web_router is not None) and m.sample_data is None]
    assert not missing, f"modules without sample_data for the tenancy walk: {missing}"


def test_no_route_lets_one_municipality_reach_another(app, database):
    _build_world(database)
    routes = _routes(app)
    assert len(routes) > 20, "the route walk found suspiciously few routes"

    with TestClient(app) as api_client, TestClient(app) as web_client:
        api = api_headers(api_client, "a.admin")
        web_login(web_client, "a.admin")
        web_csrf = {"X-CSRF-Token": csrf_of(web_client, "/")}

        def client_for(route):
            return (api_client, api) if route.path.startswith(("/api/", "/open311/")) else (web_client, web_csrf)

        list_routes = [r for r in routes if not _params(r) and "GET" in r.methods and not _is_stream(r)]
        before = {}
        for route in list_routes:
            c, h = client_for(route)
            before[route.path] = _call(c, "GET", route.path, h)

        b_id = _fill_tenant_b(database)
        with database.unit_of_work() as s:
            bind_principal(s, SYSTEM)
            ids, strings, markers = _candidates(s, b_id)
            markers |= {"3100000000", "울산광역시"}
            snapshot_before = _snapshot(s, b_id)

        failures = []
        for route in list_routes:
            c, h = client_for(route)
            status, body = _call(c, "GET", route.path, h)
            if status >= 500:
                failures.append(f"GET {route.path}: {status}")
            leaked = sorted(m for m in markers if m in body and m not in before[route.path][1])
            if leaked:
                failures.append(f"GET {route.path} shows the other municipality's data: {leaked[:3]}")

        calls = 0
        for route in routes:
            params = _params(route)
            if not params:
                continue
            value_lists = [_param_values(p, ids, strings, p.endswith("_id")) for p in params]
            if len(params) == 1:
                combos = [(v,) for v in value_lists[0]]
            else:
                combos = list(itertools.product(*[v[:6] for v in value_lists]))
            for method in sorted(route.methods - {"HEAD"}):
                c, h = client_for(route)
                for combo in combos:
                    url = route.path
                    for p, v in zip(params, combo, strict=True):
                        url = re.sub(r"\{" + p + r"(:[^}]*)?\}", str(v), url)
                    status, body = _call(c, method, url, h)
                    calls += 1
                    if status not in ALLOWED_OBJECT_STATUSES:
                        failures.append(f"{method} {url}: {status} {body[:120]}")

        # Writes without an object in the path, aimed at the other municipality by its code: refused or
        # kept in the caller's own municipality (the snapshot below proves nothing of the other changed).
        for route in routes:
            if _params(route):
                continue
            for method in sorted(route.methods - {"GET", "HEAD"}):
                c, h = client_for(route)
                status, body = _call(c, method, route.path, h, {"municipality_code": "3100000000"})
                calls += 1
                if status >= 500:
                    failures.append(f"{method} {route.path}: {status} {body[:120]}")

        with database.unit_of_work() as s:
            bind_principal(s, SYSTEM)
            assert _snapshot(s, b_id) == snapshot_before, "a write changed another municipality's rows"
    assert not failures, f"{len(failures)} crossings in {calls} calls:\n" + "\n".join(failures[:40])


def test_creating_in_another_municipality_is_refused(client, world):
    h = api_headers(client, "cw.staff")
    r = client.post("/api/v1/programs", headers=h, json={"title": "남의 사업", "municipality_code": "3100000000"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["municipality_code"]
    admin = api_headers(client, "cw.admin")
    r = client.post("/api/v1/users", headers=admin, json={"username": "intruder", "password": "x" * 12,
                                                          "role": "staff", "municipality_code": "3100000000"})
    assert r.status_code == 422
    r = client.post("/api/v1/api-keys", headers=admin, json={"name": "k", "municipality_code": "3100000000",
                                                             "scopes": ["platform:read"]})
    assert r.status_code == 422
    assert client.get("/api/v1/municipalities/3100000000", headers=h).status_code == 404


def test_province_admin_reaches_its_cities(client, world):
    root = api_headers(client, "root")
    client.post("/api/v1/programs", headers=root, json={"title": "창원 사업", "municipality_code": "4812000000"})
    client.post("/api/v1/programs", headers=root, json={"title": "울산 사업", "municipality_code": "3100000000"})
    gn = api_headers(client, "gn.admin")
    titles = [p["title"] for p in client.get("/api/v1/programs", headers=gn).json()["items"]]
    assert titles == ["창원 사업"]
    cw = api_headers(client, "cw.staff")
    codes = [m["code"] for m in client.get("/api/v1/municipalities", headers=cw).json()["items"]]
    assert codes == ["4812000000"]
