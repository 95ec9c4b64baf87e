from sqlalchemy import select

from app.core.tenancy import SYSTEM
from app.kt.worknet import sealing
from app.kt.worknet.models import Router
from tests.conftest import api_headers
from tests.kt.worknet.conftest import iccid, imei, router_body

API = "/api/v1/kt/worknet"


def test_register_assign_and_history(client, world, database):
    h = api_headers(client, "cw.staff")
    secret_iccid = iccid()
    r = client.post(f"{API}/routers", json=router_body("gj5g-0001", iccid=secret_iccid), headers=h)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["serial"] == "GJ5G-0001" and body["status"] == "in_stock"
    assert body["iccid_masked"].startswith("8982") and body["iccid_masked"].endswith(secret_iccid[-4:])
    assert secret_iccid not in r.text
    with database.session(principal=SYSTEM) as s:
        row = s.scalar(select(Router))
        assert secret_iccid not in row.iccid_sealed
        assert sealing.unseal(row.iccid_sealed, municipality_id=row.municipality_id, serial=row.serial) == secret_iccid
    rid = body["id"]

    r = client.post(f"{API}/routers/{rid}/assign", headers=h, json={
        "assignee_username": "cw2001", "assignee_name": "김민준", "department": "안전총괄과"})
    assert r.status_code == 200 and r.json()["status"] == "assigned" and r.json()["department"] == "안전총괄과"
    r = client.post(f"{API}/routers/{rid}/assign", headers=h, json={
        "assignee_username": "cw2002", "assignee_name": "이서연", "department": "건설과"})
    assert r.json()["assignee_username"] == "cw2002"
    r = client.post(f"{API}/routers/{rid}/unassign", headers=h)
    assert r.json()["status"] == "in_stock" and r.json()["assignee_username"] is None
    r = client.post(f"{API}/routers/{rid}/status", json={"status": "lost", "note": "출장 중 분실"}, headers=h)
    assert r.json()["status"] == "lost"
    r = client.post(f"{API}/routers/{rid}/assign", headers=h, json={
        "assignee_username": "cw2003", "assignee_name": "박도윤", "department": "건설과"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["status"]
    history = client.get(f"{API}/routers/{rid}/history", headers=h).json()
    assert [e["action"] for e in history] == ["lost", "returned", "reassigned", "assigned", "registered"]
    assert history[0]["actor"] == "user:cw.staff"

    listed = client.get(f"{API}/routers?status=lost", headers=h).json()
    assert listed["total"] == 1 and listed["items"][0]["serial"] == "GJ5G-0001"
    assert client.get(f"{API}/routers?q=gj5g", headers=h).json()["total"] == 1


def test_bad_router_input_is_refused_and_nothing_saved(client, world):
    h = api_headers(client, "cw.staff")
    good = router_body("CW5G-0001")
    bad_imei = good["imei"][:-1] + str((int(good["imei"][-1]) + 1) % 10)
    r = client.post(f"{API}/routers", json=dict(good, imei=bad_imei, iccid="1234", extra=1), headers=h)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    locs = {tuple(e["loc"]) for e in r.json()["errors"]}
    assert {("body", "imei"), ("body", "iccid"), ("body", "extra")} <= locs
    r = client.post(f"{API}/routers", json=dict(good, serial="a b"), headers=h)
    assert r.status_code == 422
    r = client.post(f"{API}/routers", json=dict(good, municipality_code="3100000000"), headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["municipality_code"]
    assert client.get(f"{API}/routers", headers=h).json()["total"] == 0
    assert client.post(f"{API}/routers", json=good, headers=h).status_code == 201
    r = client.post(f"{API}/routers", json=dict(good, serial="CW5G-0002"), headers=h)
    assert r.status_code == 409 and "imei" in r.json()["detail"]
    r = client.post(f"{API}/routers", json=router_body("CW5G-0001"), headers=h)
    assert r.status_code == 409
    assert client.get(f"{API}/routers/999999", headers=h).status_code == 404
    assert client.get(f"{API}/routers/abc", headers=h).status_code == 422


def test_import_json_and_csv_all_or_nothing(client, world):
    h = api_headers(client, "cw.staff")
    rows = [router_body(f"CW5G-{i:04d}") for i in range(3)]
    bad = [rows[0], dict(rows[1], imei="123"), dict(rows[2], serial=rows[0]["serial"])]
    r = client.post(f"{API}/routers/import", json=bad, headers=h)
    assert r.status_code == 422
    locs = [e["loc"] for e in r.json()["errors"]]
    assert ["rows", 1, "imei"] in locs and ["rows", 2, "serial"] in locs
    assert client.get(f"{API}/routers", headers=h).json()["total"] == 0

    r = client.post(f"{API}/routers/import", json=rows, headers=h)
    assert r.status_code == 201 and len(r.json()) == 3
    csv_text = "serial,model,imei,iccid,note\n" + "\n".join(
        f"CW5G-1{i:03d},5G 에그 E700,{imei()},{iccid()},비고" for i in range(2))
    r = client.post(f"{API}/routers/import", content=csv_text.encode(), headers={**h, "content-type": "text/csv"})
    assert r.status_code == 201, r.text
    assert client.get(f"{API}/routers", headers=h).json()["total"] == 5
    r = client.post(f"{API}/routers/import", content=csv_text.encode(), headers={**h, "content-type": "text/csv"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["rows", 0, "serial"]
    r = client.post(f"{API}/routers/import", content=b"serial,model\nX,Y", headers={**h, "content-type": "text/csv"})
    assert r.status_code == 422
    r = client.post(f"{API}/routers/import", content=b"{oops", headers={**h, "content-type": "application/json"})
    assert r.status_code == 422
    r = client.post(f"{API}/routers/import", content=b"\xff\xfe", headers={**h, "content-type": "text/csv"})
    assert r.status_code == 422
    assert client.post(f"{API}/routers/import", json=[], headers=h).status_code == 422
    assert client.post(f"{API}/routers/import", json=[1, "x"], headers=h).status_code == 422


def test_viewer_reads_but_cannot_write_and_other_tenant_sees_nothing(client, world, new_router):
    staff = api_headers(client, "cw.staff")
    rid = new_router(staff, "CW5G-0001")["id"]
    viewer = api_headers(client, "cw.viewer")
    assert client.get(f"{API}/routers/{rid}", headers=viewer).status_code == 200
    assert client.post(f"{API}/routers", json=router_body("CW5G-0009"), headers=viewer).status_code == 403
    assert client.post(f"{API}/routers/{rid}/unassign", headers=viewer).status_code == 403
    other = api_headers(client, "us.staff")
    assert client.get(f"{API}/routers/{rid}", headers=other).status_code == 404
    assert client.get(f"{API}/routers/{rid}/history", headers=other).status_code == 404
    assert client.post(f"{API}/routers/{rid}/status", json={"status": "lost"}, headers=other).status_code == 404
    assert client.get(f"{API}/routers", headers=other).json()["total"] == 0
    # A province's staff reaches the city's routers; the platform admin must name the municipality.
    assert client.get(f"{API}/routers/{rid}", headers=api_headers(client, "gn.admin")).status_code == 200
    root = api_headers(client, "root")
    r = client.post(f"{API}/routers", json=router_body("X5G-0001"), headers=root)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["municipality_code"]
    r = client.post(f"{API}/routers", json=router_body("X5G-0001", municipality_code="3100000000"), headers=root)
    assert r.status_code == 201
    assert client.get(f"{API}/routers", headers=other).json()["total"] == 1


def test_edit_router_and_openapi_describes_the_module(client, world, new_router):
    h = api_headers(client, "cw.staff")
    rid = new_router(h, "CW5G-0001")["id"]
    r = client.patch(f"{API}/routers/{rid}", json={"model": "5G 에그 E700", "note": "배터리 교체"}, headers=h)
    assert r.status_code == 200 and r.json()["model"] == "5G 에그 E700" and r.json()["note"] == "배터리 교체"
    assert client.patch(f"{API}/routers/{rid}", json={"serial": "X"}, headers=h).status_code == 422
    paths = client.get("/openapi.json").json()["paths"]
    assert f"{API}/pools/{{pool_id}}/allocate" in paths and f"{API}/access-events" in paths
