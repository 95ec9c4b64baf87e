"""Staff reveal a router's full ICCID once, with an access record; a value that does not open says so."""

from __future__ import annotations

from sqlalchemy import select, text

from app.core.tenancy import SYSTEM
from app.platform.models import AccessLog, AuditLog
from tests.conftest import api_headers, web_login
from tests.kt.worknet.conftest import iccid, router_body

API = "/api/v1/kt/worknet"
WEB = "/kt/worknet"


def test_iccid_reveal_is_for_staff_recorded_and_survives_a_pasted_value(client, world, database):
    h = api_headers(client, "cw.staff")
    number = iccid()
    rid = client.post(f"{API}/routers", json=router_body("cw-0001", iccid=number), headers=h).json()["id"]
    other = client.post(f"{API}/routers", json=router_body("cw-0002"), headers=h).json()["id"]

    csrf = web_login(client, "cw.staff")
    page = client.get(f"{WEB}/routers/{rid}")
    assert "전체 ICCID 보기" in page.text and number not in page.text
    r = client.post(f"{WEB}/routers/{rid}/iccid", data={"csrf_token": csrf})
    assert r.status_code == 200 and number in r.text and "접속기록에 남았습니다" in r.text
    assert r.headers["cache-control"] == "no-store"
    with database.unit_of_work(principal=SYSTEM) as s:
        (row,) = s.scalars(select(AccessLog).where(AccessLog.action == "reveal")).all()
        assert (row.actor, row.subject_type, row.subject_id, row.source) == (
            "user:cw.staff", "worknet_router", str(rid), "web")
        assert number not in str(row.detail)
    client.post("/logout", data={"csrf_token": csrf})

    csrf = web_login(client, "cw.viewer")
    assert "전체 ICCID 보기" not in client.get(f"{WEB}/routers/{rid}").text
    assert client.post(f"{WEB}/routers/{rid}/iccid", data={"csrf_token": csrf}).status_code == 403
    client.post("/logout", data={"csrf_token": csrf})

    with database.scoped_connection(SYSTEM) as conn:  # the other router's sealed ICCID, pasted onto this one
        conn.execute(text("UPDATE worknet_router SET iccid_sealed = (SELECT iccid_sealed FROM worknet_router "
                          "WHERE id = :other) WHERE id = :id"), {"other": other, "id": rid})
    csrf = web_login(client, "cw.staff")
    r = client.post(f"{WEB}/routers/{rid}/iccid", data={"csrf_token": csrf})
    assert r.status_code == 200 and "암호화된 값을 읽을 수 없습니다" in r.text
    with database.unit_of_work(principal=SYSTEM) as s:
        failed = s.scalars(select(AuditLog).where(AuditLog.action == "unseal_failed")).all()
        assert [(f.object_type, f.object_id) for f in failed] == [("worknet_router", str(rid))]
        assert s.scalars(select(AccessLog.id).where(AccessLog.action == "reveal")).all() == [row.id]
