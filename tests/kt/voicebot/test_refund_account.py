"""A refund account held by a request (filed before accounts stopped being taken by voice) is sealed; staff
reveal it, audited; masked elsewhere. The bot never takes an account by voice."""

import re

import pytest
from sqlalchemy import text

from app.core.sealing import Unreadable
from app.core.tenancy import SYSTEM
from app.kt.voicebot import service
from app.kt.worknet.sealing import ICCID
from tests.conftest import api_headers, web_login
from tests.kt.voicebot.conftest import BIRTH, refund_request_with_account
from tests.kt.voicebot.test_calls_api import BASE, say, start

WEB = "/kt/voicebot"
ACCOUNT = "302-1234-5678-91"
HIDDEN = ("302-1234-5678", "30212345678", "1234-5678")  # any of these would give the number away


def _rows(database, sql: str, **params) -> str:
    with database.scoped_connection(SYSTEM) as conn:
        return " ".join(str(tuple(r)) for r in conn.execute(text(sql), params))


def _reveals(database, request_id: int) -> list[tuple]:
    with database.scoped_connection(SYSTEM) as conn:
        return list(conn.execute(text("SELECT actor, occurred_at, detail FROM access_log WHERE action = 'reveal' "
                                      "AND subject_type = 'vb_request' AND subject_id = :id"), {"id": str(request_id)}))


def test_refund_account_is_sealed_revealed_to_staff_once_audited_and_masked_elsewhere(client, vb_world, database):
    h = api_headers(client, "cw.staff")
    request_id = refund_request_with_account(client, h, database, ACCOUNT)
    call = {"id": _rows(database, "SELECT call_id FROM vb_request WHERE id = :id", id=request_id).strip("(),")}

    # The database: sealed on the request, nowhere in clear (request, call, turns, audit log).
    sealed = _rows(database, "SELECT account_sealed FROM vb_request WHERE id = :id", id=request_id)
    assert sealed.startswith("('s2:") and not any(x in sealed for x in HIDDEN)
    everything = " ".join(_rows(database, sql) for sql in (
        "SELECT * FROM vb_request", "SELECT * FROM vb_call", "SELECT * FROM vb_turn", "SELECT * FROM vb_tax_refund",
        "SELECT * FROM vb_note", "SELECT * FROM audit_log", "SELECT * FROM access_log"))
    assert "-91" in everything and not any(x in everything for x in HIDDEN)

    # API answers and Open311 show only the masked number.
    for url in (f"{BASE}/requests/{request_id}", f"{BASE}/requests", f"{BASE}/calls/{call['id']}"):
        r = client.get(url, headers=h)
        assert r.status_code == 200 and not any(x in r.text for x in HIDDEN), url
    r = client.get(f"/open311/v2/requests/{request_id}.json", headers=h)
    assert r.status_code == 200 and not any(x in r.text for x in HIDDEN)

    # The staff page: masked, with the reveal button; the POST shows it once, not cached, audited.
    csrf = web_login(client, "cw.staff")
    page = client.get(f"{WEB}/requests/{request_id}")
    assert "전체 계좌번호 보기" in page.text and not any(x in page.text for x in HIDDEN)
    assert _reveals(database, request_id) == []
    r = client.post(f"{WEB}/requests/{request_id}/account", data={"csrf_token": csrf})
    assert r.status_code == 200 and ACCOUNT in r.text and "접속기록에 남았습니다" in r.text
    assert r.headers["cache-control"] == "no-store"
    (actor, occurred_at, after), = _reveals(database, request_id)
    assert "cw.staff" in actor and occurred_at is not None and not any(x in str(after) for x in HIDDEN)
    assert ACCOUNT not in client.get(f"{WEB}/requests/{request_id}").text  # once: the page is masked again
    assert ACCOUNT in client.post(f"{WEB}/requests/{request_id}/account", data={"csrf_token": csrf}).text
    assert len(_reveals(database, request_id)) == 2  # every reveal is written
    assert "Show the full account number" in client.get(f"{WEB}/requests/{request_id}?lang=en").text
    client.post("/logout", data={"csrf_token": csrf})

    # A viewer sees no button and is refused; another municipality's staff get a 404.
    csrf = web_login(client, "cw.viewer")
    page = client.get(f"{WEB}/requests/{request_id}")
    assert page.status_code == 200 and "전체 계좌번호 보기" not in page.text
    r = client.post(f"{WEB}/requests/{request_id}/account", data={"csrf_token": csrf})
    assert r.status_code == 403 and ACCOUNT not in r.text
    client.post("/logout", data={"csrf_token": csrf})
    csrf = web_login(client, "us.staff")
    r = client.post(f"{WEB}/requests/{request_id}/account", data={"csrf_token": csrf})
    assert r.status_code == 404 and ACCOUNT not in r.text
    assert len(_reveals(database, request_id)) == 2


def test_a_request_without_an_account_has_nothing_to_reveal(client, vb_world):
    h = api_headers(client, "cw.staff")
    call = start(client, h)
    for said in ["불법 주차 신고요", "창전동 이마트 앞", "12가 3456", "방금이요"]:
        say(client, h, call["id"], said)
    request_id = say(client, h, call["id"], "네")["request_id"]
    csrf = web_login(client, "cw.staff")
    assert "전체 계좌번호 보기" not in client.get(f"{WEB}/requests/{request_id}").text
    r = client.post(f"{WEB}/requests/{request_id}/account", data={"csrf_token": csrf})
    assert r.status_code == 404 and "환급 계좌가 없습니다" in r.text


def test_sealing_detects_tampering_and_keeps_rows_and_purposes_apart():
    sealed = service.REQUEST_ACCOUNT.seal(ACCOUNT, row=("tok1",))
    assert ACCOUNT not in sealed and service.REQUEST_ACCOUNT.unseal(sealed, row=("tok1",)) == ACCOUNT
    assert service.REQUEST_ACCOUNT.seal(ACCOUNT, row=("tok1",)) != sealed  # a fresh nonce each time
    raw = bytearray(sealed.encode())
    raw[12] = ord("A") if raw[12] != ord("A") else ord("B")
    with pytest.raises(Unreadable):
        service.REQUEST_ACCOUNT.unseal(raw.decode(), row=("tok1",))
    with pytest.raises(Unreadable):  # pasted onto another request
        service.REQUEST_ACCOUNT.unseal(sealed, row=("tok2",))
    with pytest.raises(Unreadable):  # pasted into another purpose's column
        ICCID.unseal(sealed, row=(1, "tok1"))
    assert re.fullmatch(r"[0-9a-f]{64}", ICCID.digest(ACCOUNT))


def test_an_account_said_to_the_bot_is_never_taken(client, vb_world, database):
    h = api_headers(client, "cw.staff")
    call = start(client, h)
    for said in ["지방세 환급 받을 거 있나요", BIRTH]:
        say(client, h, call["id"], said)
    t = say(client, h, call["id"], f"농협 {ACCOUNT}으로 받을게요")
    assert t["state"] == "offer_claim" and "account" not in t["slots"]
    t = say(client, h, call["id"], "네")
    assert t["ended"] and t["request_id"]
    assert _rows(database, "SELECT account_sealed FROM vb_request WHERE id = :id", id=t["request_id"]) == "(None,)"
    everything = " ".join(_rows(database, sql) for sql in (
        "SELECT * FROM vb_request", "SELECT * FROM vb_call", "SELECT * FROM vb_turn", "SELECT * FROM audit_log"))
    assert not any(x in everything for x in HIDDEN)
