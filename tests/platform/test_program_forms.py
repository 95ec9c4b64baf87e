"""The staff forms refuse bad input with a Korean message beside the field, keep what was typed and save nothing."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest
import time_machine

from tests.conftest import PASSWORD, api_headers, csrf_of, web_login

FORM = {"title": "경로당 디지털 교육", "description": "어르신 스마트폰 교육", "municipality_code": "4812000000",
        "partner_codes": ["skt"], "status": "planned", "start_date": "2026-03-01", "end_date": "2026-12-31",
        "budget_krw": "50000000"}

BAD = [
    ("end before start", {"end_date": "2026-01-31"}, "end_date", "종료일은 시작일보다 빠를 수 없습니다."),
    ("negative budget", {"budget_krw": "-1"}, "budget_krw", "0 이상이어야 합니다."),
    ("budget not a number", {"budget_krw": "오천만"}, "budget_krw", "정수를 입력하세요."),
    ("unknown municipality", {"municipality_code": "9999999999"}, "municipality_code",
     "알 수 없는 지자체 코드입니다: 9999999999"),
    ("another tenant's municipality", {"municipality_code": "3100000000"}, "municipality_code",
     "알 수 없는 지자체 코드입니다: 3100000000"),
    ("unknown partner", {"partner_codes": ["skt", "nobody"]}, "partner_codes",
     "알 수 없는 협력 기관 코드입니다: nobody"),
    ("oversized title", {"title": "가" * 201}, "title", "최대 200자까지 입력할 수 있습니다."),
    ("oversized description", {"description": "가" * 5001}, "description", "최대 5000자까지 입력할 수 있습니다."),
    ("unknown status", {"status": "done"}, "status", "제시된 값 중에서 고르세요."),
    ("impossible date", {"start_date": "2026-02-30"}, "start_date", "날짜를 YYYY-MM-DD 형식으로 입력하세요."),
]


def _field_errors(page: str) -> dict[str, str]:
    return {k: html.unescape(v) for k, v in re.findall(r'id="(\w+)-error">([^<]+)<', page)}


def _program_count(client) -> int:
    return client.get("/api/v1/programs", headers=api_headers(client, "root")).json()["total"]


@pytest.fixture
def staff(client, world):
    token = web_login(client, "cw.staff")
    return client, token


def test_register_form_refuses_each_bad_input_and_keeps_the_values(staff):
    client, token = staff
    for case, change, field, message in BAD:
        r = client.post("/programs/new", data={**FORM, **change, "csrf_token": token}, follow_redirects=False)
        assert r.status_code == 400, case
        errors = _field_errors(r.text)
        assert errors.get(field) == message, (case, errors)
        kept = change.get("title", FORM["title"])
        assert f'value="{kept}"' in r.text, case  # what was typed comes back
    assert _program_count(client) == 0  # nothing half-saved

    r = client.post("/programs/new", data={**FORM, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and _program_count(client) == 1


def test_edit_form_and_status_change_refuse_bad_input(staff):
    client, token = staff
    r = client.post("/programs/new", data={**FORM, "csrf_token": token}, follow_redirects=False)
    detail = r.headers["location"]
    edit = {k: v for k, v in FORM.items() if k not in ("municipality_code", "status")}
    for change, field, message in [({"end_date": "2025-12-31"}, "end_date", "종료일은 시작일보다 빠를 수 없습니다."),
                                   ({"budget_krw": "-5"}, "budget_krw", "0 이상이어야 합니다."),
                                   ({"title": ""}, "title", "필수 항목입니다."),
                                   ({"partner_codes": ["nobody"]}, "partner_codes",
                                    "알 수 없는 협력 기관 코드입니다: nobody")]:
        r = client.post(f"{detail}/edit", data={**edit, **change, "csrf_token": token}, follow_redirects=False)
        assert r.status_code == 400 and _field_errors(r.text).get(field) == message, change

    # planned -> completed is not an allowed transition: refused, named in Korean, status unchanged.
    r = client.post(f"{detail}/status", data={"status": "completed", "csrf_token": token})
    assert "사업 상태를 계획에서 완료(으)로 바꿀 수 없습니다. 가능한 상태: 진행 중, 중단" in r.text
    r = client.post(f"{detail}/status", data={"status": "nonsense", "csrf_token": token})
    assert "제시된 값 중에서 고르세요." in r.text
    program = client.get(f"/api/v1/programs/{detail.rsplit('/', 1)[1]}", headers=api_headers(client, "root")).json()
    assert program["status"] == "planned" and program["budget_krw"] == 50000000
    assert program["end_date"] == "2026-12-31" and program["partner_codes"] == ["skt"]

    r = client.post(f"{detail}/kpis", data={"name": "수강생", "target": "많이", "csrf_token": token})
    assert r.status_code == 400 and _field_errors(r.text).get("target") == "숫자를 입력하세요."
    r = client.post(f"{detail}/milestones", data={"title": "개강", "due_date": "언젠가", "csrf_token": token})
    assert r.status_code == 400 and "날짜를 YYYY-MM-DD 형식으로 입력하세요." in r.text
    assert program == client.get(f"/api/v1/programs/{program['id']}", headers=api_headers(client, "root")).json()
    audit = client.get(f"/api/v1/programs/{program['id']}/audit", headers=api_headers(client, "root")).json()
    assert [(e["action"], e["actor"]) for e in audit["items"]] == [("create", "user:cw.staff")]  # refusals leave none


@time_machine.travel(datetime(2026, 12, 5, 9, 0, tzinfo=UTC), tick=False)
def test_web_sign_in_holds_an_address_back_after_repeated_failures(client, world):
    token = csrf_of(client)
    for _ in range(3):  # the test settings hold an address back after 3 failures for one username
        r = client.post("/login", data={"username": "cw.staff", "password": "wrong", "csrf_token": token})
        assert r.status_code == 400 and "아이디 또는 비밀번호가 맞지 않습니다." in r.text
    # The right password is refused too while the wait lasts, and the form keeps the username.
    r = client.post("/login", data={"username": "cw.staff", "password": PASSWORD, "csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 429 and r.headers["retry-after"] == "600"
    assert "로그인 시도가 너무 많습니다. 10분 후에 다시 시도해 주십시오." in r.text and 'value="cw.staff"' in r.text
    assert client.get("/programs", follow_redirects=False).status_code == 303  # still signed out
    # Another account is not affected.
    web_login(client, "cw.admin")
