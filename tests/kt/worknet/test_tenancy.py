"""Every route of the module, called by a user of another municipality, finds nothing of 창원시's."""

import re

from sqlalchemy import select

from app.core.tenancy import SYSTEM, bind_principal
from app.kt.worknet.demo import sample_data
from app.kt.worknet.manifest import MANIFEST
from app.kt.worknet.models import Alert, Lease, Policy, Pool, Router
from tests.conftest import api_headers, web_login

PARAMS = {"router_id": Router, "pool_id": Pool, "lease_id": Lease, "policy_id": Policy, "alert_id": Alert}


def _ids(database, world) -> dict[str, int]:
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        sample_data(s, world.changwon.id)
    with database.session(principal=SYSTEM) as s:
        return {name: s.scalar(select(model.id).order_by(model.id)) for name, model in PARAMS.items()}


def _routes(router, prefix: str):
    for route in router.routes:
        for method in sorted(route.methods - {"HEAD"}):
            yield method, prefix + route.path


def test_other_tenant_gets_404_on_objects_and_empty_lists(client, world, database):
    ids = _ids(database, world)
    h = api_headers(client, "us.staff")
    seen = 0
    for method, path in _routes(MANIFEST.api_router, MANIFEST.api_prefix):
        url = re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), path)
        r = client.request(method, url, headers=h, json={} if method != "GET" else None)
        assert r.status_code < 500, (method, path)
        if "{" in path:
            assert r.status_code == 404, (method, path, r.status_code, r.text[:200])
        elif method == "GET":
            assert r.status_code == 200, (method, path, r.text[:200])
            assert "S4812" not in r.text and "sample.user" not in r.text and "샘플" not in r.text, path
        seen += 1
    assert seen >= 30
    csrf = web_login(client, "us.staff")
    for method, path in _routes(MANIFEST.web_router, MANIFEST.web_prefix):
        if path.endswith("/stream"):
            continue  # an endless event stream; its topics are per municipality (test_access_api)
        url = re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), path)
        r = client.request(method, url, data={"csrf_token": csrf} if method == "POST" else None)
        assert r.status_code < 500, (method, path)
        if "{" in path:
            assert r.status_code == 404, (method, path, r.status_code)
        elif method == "GET":
            assert r.status_code == 200, path
            assert "S4812" not in r.text and "sample.user" not in r.text and "샘플" not in r.text, path
