"""Reads of callers' data leave access records (who, when, from where, what, whose); a sealed account
that does not open is said so on the screen and in the audit trail, never a 500."""

from __future__ import annotations

import json

from sqlalchemy import select, text

from app.core.db import Base
from app.core.tenancy import SYSTEM, bind_principal
from app.kt.voicebot.service import REQUEST_ACCOUNT
from app.platform.models import AccessLog, AuditLog
from tests.conftest import api_headers, web_login
from tests.kt.voicebot.conftest import refund_request_with_account
from tests.kt.voicebot.test_calls_api import BASE, say, start

WEB = "/kt/voicebot"
ACCOUNT = "302-1234-5678-91"


def _access(database) -> list[AccessLog]:
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        rows = s.scalars(select(AccessLog).order_by(AccessLog.id)).all()
        s.expunge_all()
        return rows


def _everything_but_access_records(database) -> dict[str, list[str]]:
    """Every row of every table, except the access records a GET is allowed to write (access_log and
    its chain head)."""
    snap = {}
    with database.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name == "access_log":
                continue
            rows = conn.execute(select(table).order_by(*table.primary_key.columns)).mappings()
            snap[table.name] = [json.dumps(dict(r), default=str, sort_keys=True) for r in rows
                                if not (table.name == "audit_chain" and r["name"] == "access_log")]
    return snap


def test_transcripts_and_caller_lists_leave_access_records_and_nothing_else(client, vb_world, database):
    h = api_headers(client, "cw.staff")
    call = start(client, h)
    say(client, h, call["id"], "대형 폐기물 버리려고요")
    web_login(client, "cw.staff")
    before = _everything_but_access_records(database)

    page = client.get(f"{WEB}/calls/{call['id']}", headers={"User-Agent": "Mozilla/5.0 test"})
    assert page.status_code == 200
    assert client.get(f"{BASE}/calls/{call['id']}", headers=h).status_code == 200
    assert client.get(f"{WEB}/calls").status_code == 200
    assert client.get(f"{BASE}/calls", headers=h).status_code == 200
    assert _everything_but_access_records(database) == before  # the GETs changed no business data

    view, api_view, listed, api_listed = _access(database)
    assert (view.actor, view.action, view.subject_type, view.subject_id) == (
        "user:cw.staff", "view_transcript", "vb_call", str(call["id"]))
    assert (view.source, view.origin, view.ip, view.user_agent) == (
        "web", f"GET {WEB}/calls/{call['id']}", "testclient", "Mozilla/5.0 test")
    assert view.data_subject and "*" in view.data_subject and view.municipality_id == vb_world.changwon.id
    assert (api_view.source, api_view.action) == ("api", "view_transcript")
    assert listed.action == "list_callers" and listed.detail["call_ids"] == [call["id"]]
    assert api_listed.source == "api" and listed.data_subject == "1 callers"
    assert all(r.seq and r.entry_hash for r in (view, api_view, listed, api_listed))

    # Another municipality's staff reach nothing, and leave no record of a read that did not happen.
    other = api_headers(client, "us.staff")
    assert client.get(f"{BASE}/calls/{call['id']}", headers=other).status_code == 404
    assert len(_access(database)) == 4


def _unseal_failures(database) -> list[tuple[str, str]]:
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        return [(r.object_type, r.object_id)
                for r in s.scalars(select(AuditLog).where(AuditLog.action == "unseal_failed"))]


def _audit_after(database):
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        return s.scalar(select(AuditLog.after).where(AuditLog.action == "unseal_failed"))


def test_a_refund_account_that_does_not_open_says_so_in_korean(client, vb_world, database):
    h = api_headers(client, "cw.staff")
    request_id = refund_request_with_account(client, h, database, ACCOUNT)
    with database.scoped_connection(SYSTEM) as conn:  # sealed for another request: the associated data refuses it
        conn.execute(text("UPDATE vb_request SET account_sealed = :v WHERE id = :id"),
                     {"v": REQUEST_ACCOUNT.seal(ACCOUNT, row=("another-token",)), "id": request_id})
    csrf = web_login(client, "cw.staff")
    r = client.post(f"{WEB}/requests/{request_id}/account", data={"csrf_token": csrf})
    assert r.status_code == 200 and ACCOUNT not in r.text
    assert "암호화된 값을 읽을 수 없습니다" in r.text
    assert _unseal_failures(database) == [("vb_request", str(request_id))]
    with database.unit_of_work() as s:  # no reveal is recorded: nothing was shown
        bind_principal(s, SYSTEM)
        assert s.scalars(select(AccessLog).where(AccessLog.action == "reveal")).all() == []
