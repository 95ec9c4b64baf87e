"""Digital-education sessions held per 행정동: the API (writers only, per-field 422s, tenant-scoped), the staff
page (empty state, rows, attendance against the expected reach, no form for a viewer) and the audit trail."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select

from app.core.tenancy import SYSTEM, bind_principal
from app.platform import history
from app.platform.models import AuditLog
from app.skt.isolation.models import IsoEducationSession
from tests.conftest import api_headers, csrf_of, web_login
from tests.skt.isolation.conftest import cell, load_cells

URL = "/api/v1/skt/isolation/education-sessions"
PAGE = "/skt/isolation/education"


def _session(dong: str = "4812151000", **over) -> dict:
    body = {"dong_code": dong, "held_date": "2026-11-20", "title": "스마트폰 기초 교실", "attendees_65plus": 12,
            "attendees_total": 15}
    return {**body, **over}


def _fields(r) -> dict[str, str]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return {e["loc"][-1]: e["msg"] for e in r.json()["errors"]}


def test_a_writer_records_lists_reads_and_deletes_sessions(client, iso):
    h = api_headers(client, "cw.staff")
    r = client.post(URL, headers=h, json=_session(note="경로당 2층"))
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["dong_code"] == "4812151000" and first["dong_name"] == "의창동" and first["attendees_65plus"] == 12
    second = client.post(URL, headers=h, json=_session("4812351000", held_date="2026-12-01", title="키오스크 교실",
                                                       attendees_65plus=7, attendees_total=7)).json()
    listed = client.get(URL, headers=h).json()
    assert listed["total"] == 2 and [i["id"] for i in listed["items"]] == [second["id"], first["id"]]  # newest first
    assert client.get(URL, headers=h, params={"since": "2026-12-01"}).json()["total"] == 1
    assert client.get(URL, headers=h, params={"dong_code": "4812151000"}).json()["items"][0]["id"] == first["id"]
    assert client.get(URL, headers=h, params={"limit": 1}).json()["items"] == [listed["items"][0]]
    assert client.get(f"{URL}/{first['id']}", headers=h).json()["note"] == "경로당 2층"
    assert client.delete(f"{URL}/{first['id']}", headers=h).status_code == 204
    assert client.get(f"{URL}/{first['id']}", headers=h).status_code == 404


def test_bad_fields_are_refused_one_by_one(client, iso):
    h = api_headers(client, "cw.staff")
    assert "attendees_total" in _fields(client.post(URL, headers=h, json=_session(attendees_total=11)))
    assert set(_fields(client.post(URL, headers=h, json=_session(attendees_65plus=-1, title="")))) == {
        "attendees_65plus", "title"}
    # Ulsan's dong, and a dong nobody registered: not one of 창원시's dongs.
    for code in ("3111051000", "4812199900"):
        assert _fields(client.post(URL, headers=h, json=_session(code))) == {
            "dong_code": f"Dong {code} is not one of the municipality's dongs"}
    # The clock stands on 2026-12-03 in Seoul: a session is recorded once held.
    assert "held_date" in _fields(client.post(URL, headers=h, json=_session(held_date="2026-12-04")))
    assert client.get(URL, headers=h).json()["total"] == 0


def test_a_viewer_is_refused_and_another_municipality_sees_nothing(client, iso):
    created = client.post(URL, headers=api_headers(client, "cw.staff"), json=_session()).json()
    viewer = api_headers(client, "cw.viewer")
    r = client.post(URL, headers=viewer, json=_session())
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
    assert client.delete(f"{URL}/{created['id']}", headers=viewer).status_code == 403
    assert client.get(URL, headers=viewer).json()["total"] == 1  # reading is allowed
    us = api_headers(client, "us.staff")
    assert client.get(f"{URL}/{created['id']}", headers=us).status_code == 404
    assert client.delete(f"{URL}/{created['id']}", headers=us).status_code == 404
    assert client.get(URL, headers=us).json()["total"] == 0


def test_the_page_shows_an_empty_state_then_sessions_and_attendance_against_the_expected_reach(client, iso):
    database = iso["database"]
    load_cells(database, [cell(d, age=a, sex=s, population=200, low_communication=80, low_outing=40, isolated=20,
                               messenger_minutes=m) for d, m in (("4812151000", 5.0), ("4812152000", 30.0))
                          for a in ("65-69", "70-74") for s in ("M", "F")])
    token = web_login(client, "cw.staff")
    html = client.get(PAGE).text
    assert "기록된 디지털 교육이 없습니다" in html and 'name="attendees_65plus"' in html
    assert "의창동" in html  # a target dong, with its expected reach and nobody yet
    r = client.post(PAGE, data={"csrf_token": token, **_session(attendees_65plus=30, attendees_total=20)})
    assert r.status_code == 400 and "65세 이상 참여 인원보다 적을 수 없습니다" in r.text
    r = client.post(PAGE, data={"csrf_token": token, **_session(attendees_65plus=24, attendees_total=30,
                                                                  note="")}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"]).text
    assert "스마트폰 기초 교실" in page and "기록되었습니다" in page
    assert "<strong>24</strong>" in page  # 의창동's attendees 65+ in its target row
    # expected reach: (80 - 20) x 4 cells x 30% uptake = 72; 24 of 72 came
    assert "33.3%" in page
    # The KPI link's period (since/until) bounds the sessions shown.
    assert "기록된 디지털 교육이 없습니다" in client.get(PAGE, params={"since": "2026-01-01",
                                                               "until": "2026-10-31"}).text
    # The targets page links to the sessions.
    assert f'href="{PAGE}"' in client.get("/skt/isolation/targets").text
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        row = s.scalar(select(IsoEducationSession))
        entries = list(s.scalars(select(AuditLog).where(AuditLog.object_type == "iso_education_session")))
        (line,) = history.present(s, entries)
    assert line.title == f"디지털 교육 #{row.id} · 스마트폰 기초 교실" and line.who == "cw.staff"
    token = csrf_of(client, PAGE)
    r = client.post(f"{PAGE}/{row.id}/delete", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert "기록된 디지털 교육이 없습니다" in client.get(PAGE).text


def test_a_viewer_sees_the_sessions_but_no_form(client, iso):
    client.post(URL, headers=api_headers(client, "cw.staff"), json=_session())
    web_login(client, "cw.viewer")
    html = client.get(PAGE).text
    assert "스마트폰 기초 교실" in html
    assert 'name="attendees_65plus"' not in html and "/delete" not in html
    token = csrf_of(client, PAGE) if 'name="csrf_token"' in html else csrf_of(client, "/")
    assert client.post(PAGE, data={"csrf_token": token, **_session()}).status_code == 403


def test_held_date_defaults_to_today_in_the_form(client, iso):
    web_login(client, "cw.staff")
    assert f'value="{date(2026, 12, 3).isoformat()}"' in client.get(PAGE).text


def test_the_demo_records_changwons_sessions_in_its_rural_target_dongs(client, world):
    from app.platform.models import Municipality
    from app.skt.isolation import demo, service

    database = client.app.state.db
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        mid = s.scalar(select(Municipality.id).where(Municipality.code == demo.CHANGWON))
        demo.load(s, municipality_id=mid, dongs=demo.dong_rows(), n_months=1, seed=4812, until=date(2026, 11, 1))
        assert demo.education_sessions(s, until=date(2026, 12, 3)) == 7
        attendance = service.education_attendance(s, since=date(2026, 9, 1), until=date(2026, 12, 3))
        # one held on the demo's day: the month under way has a figure for the program's KPI bound to them
        assert service.education_attendees(s, since=date(2026, 12, 1), until=date(2026, 12, 31)) == 13
    assert attendance["sessions"] == 7 and attendance["attendees_65plus"] == 84
    assert attendance["attendees_total"] >= attendance["attendees_65plus"]
    web_login(client, "cw.viewer")
    html = client.get(PAGE, params={"since": "2026-09-01", "until": "2026-12-03"}).text
    assert re.search(r'data-metric="skt.isolation.education_attendees">84\xa0명<', html)
    assert "진전면" in html and "키오스크 주문 따라 하기" in html


# --- correcting a recorded session ----------------------------------------------------------------

def _audit(database, action: str) -> list[AuditLog]:
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        return list(s.scalars(select(AuditLog).where(AuditLog.object_type == "iso_education_session",
                                                     AuditLog.action == action).order_by(AuditLog.id)))


def test_a_writer_corrects_a_session_through_the_api_and_the_change_is_audited(client, iso):
    h = api_headers(client, "cw.staff")
    created = client.post(URL, headers=h, json=_session()).json()
    r = client.patch(f"{URL}/{created['id']}", headers=h, json={"attendees_65plus": 14, "attendees_total": 18})
    assert r.status_code == 200, r.text
    assert r.json()["attendees_65plus"] == 14 and r.json()["title"] == "스마트폰 기초 교실"  # the rest kept
    moved = client.patch(f"{URL}/{created['id']}", headers=h, json={"dong_code": "4812351000",
                                                                    "held_date": "2026-11-21"}).json()
    assert (moved["dong_code"], moved["dong_name"], moved["held_date"]) == ("4812351000", "반송동", "2026-11-21")
    assert client.get(URL, headers=h, params={"dong_code": "4812351000"}).json()["total"] == 1
    first, second = _audit(iso["database"], "update")
    assert first.actor == "user:cw.staff" and first.object_id == str(created["id"])
    assert (first.before["attendees_65plus"], first.after["attendees_65plus"]) == (12, 14)
    assert second.after["held_date"] == "2026-11-21"


def test_a_correction_keeps_the_rules_of_a_recorded_session(client, iso):
    h = api_headers(client, "cw.staff")
    created = client.post(URL, headers=h, json=_session()).json()  # 12 aged 65+ of 15 in all
    at = f"{URL}/{created['id']}"
    # More aged 65+ than the 15 in all already recorded: the merged session is refused, at attendees_total.
    assert _fields(client.patch(at, headers=h, json={"attendees_65plus": 20})) == {
        "attendees_total": "The attendees in all cannot be fewer than those aged 65 and over"}
    assert "held_date" in _fields(client.patch(at, headers=h, json={"held_date": "2026-12-04"}))
    assert _fields(client.patch(at, headers=h, json={"dong_code": "3111051000"})) == {
        "dong_code": "Dong 3111051000 is not one of the municipality's dongs"}
    # Nothing may be emptied; the dong's code (no column of the session) neither.
    assert set(_fields(client.patch(at, headers=h, json={"title": None, "dong_code": None, "note": None}))) == {
        "title", "dong_code", "note"}
    assert "place" in _fields(client.patch(at, headers=h, json={"place": "경로당"}))
    assert client.get(at, headers=h).json() == created
    assert _audit(iso["database"], "update") == []


def test_a_viewer_cannot_correct_a_session_and_another_municipality_cannot_find_it(client, iso):
    created = client.post(URL, headers=api_headers(client, "cw.staff"), json=_session()).json()
    r = client.patch(f"{URL}/{created['id']}", headers=api_headers(client, "cw.viewer"), json={"title": "바뀜"})
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
    r = client.patch(f"{URL}/{created['id']}", headers=api_headers(client, "us.staff"), json={"title": "바뀜"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert client.get(f"{URL}/{created['id']}", headers=api_headers(client, "cw.staff")).json()["title"] == (
        "스마트폰 기초 교실")


def test_the_api_documents_the_correction_with_examples(client):
    operation = client.get("/openapi.json").json()["paths"][f"{URL}/{{education_session_id}}"]["patch"]
    examples = operation["requestBody"]["content"]["application/json"]["examples"]
    assert examples["attendance"]["value"] == {"attendees_65plus": 14, "attendees_total": 18}
    assert "422" in operation["responses"] and "404" in operation["responses"]


def test_a_writer_corrects_a_session_on_its_form_reached_from_the_list(client, iso):
    created = client.post(URL, headers=api_headers(client, "cw.staff"), json=_session(note="경로당 2층")).json()
    edit = f"{PAGE}/{created['id']}/edit"
    web_login(client, "cw.staff")
    assert f'href="{edit}"' in client.get(PAGE).text
    assert f'href="{edit}"' in client.get(f"{PAGE}/{created['id']}").text
    form = client.get(edit).text
    assert 'value="스마트폰 기초 교실"' in form and 'value="2026-11-20"' in form and "경로당 2층" in form
    assert re.search(r'<option value="4812151000"\s+selected', form)
    token = csrf_of(client, edit)
    fields = {"csrf_token": token, **_session(title="키오스크 교실", attendees_65plus=13, attendees_total=16,
                                              note="")}
    # An emptied title is refused in Korean, the values typed kept; more aged 65+ than in all likewise.
    r = client.post(edit, data={**fields, "title": ""})
    assert r.status_code == 400 and "필수 항목" in r.text and 'value="13"' in r.text
    r = client.post(edit, data={**fields, "attendees_total": "10"})
    assert r.status_code == 400 and "65세 이상 참여 인원보다 적을 수 없습니다" in r.text
    r = client.post(edit, data=fields, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == PAGE
    page = client.get(PAGE).text
    assert "키오스크 교실" in page and "수정했습니다" in page and "경로당 2층" not in page
    (entry,) = _audit(iso["database"], "update")
    assert entry.after["title"] == "키오스크 교실" and entry.after["note"] == ""


def test_a_session_of_another_year_is_shown_in_its_year_after_correcting_it(client, iso):
    created = client.post(URL, headers=api_headers(client, "cw.staff"),
                          json=_session(held_date="2025-06-02")).json()
    edit = f"{PAGE}/{created['id']}/edit"
    web_login(client, "cw.staff")
    r = client.post(edit, data={"csrf_token": csrf_of(client, edit), **_session(held_date="2025-06-03")},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{PAGE}?since=2025-01-01&until=2025-12-31"
    assert "2025-06-03" in client.get(r.headers["location"]).text


def test_a_viewer_gets_no_edit_form(client, iso):
    created = client.post(URL, headers=api_headers(client, "cw.staff"), json=_session()).json()
    web_login(client, "cw.viewer")
    assert "/edit" not in client.get(PAGE).text
    shown = client.get(f"{PAGE}/{created['id']}")  # the session itself, read-only
    assert shown.status_code == 200 and "스마트폰 기초 교실" in shown.text and "의창동" in shown.text
    assert "/edit" not in shown.text and "/delete" not in shown.text
    r = client.get(f"{PAGE}/{created['id']}/edit")
    assert r.status_code == 403 and 'name="title"' not in r.text
    web_login(client, "us.staff")
    assert client.get(f"{PAGE}/{created['id']}/edit").status_code == 404


# --- the period filter ----------------------------------------------------------------------------

def test_a_period_that_ends_before_it_starts_is_said_so_and_counts_nothing(client, iso):
    client.post(URL, headers=api_headers(client, "cw.staff"), json=_session())  # held 2026-11-20
    web_login(client, "cw.viewer")
    r = client.get(PAGE, params={"since": "2026-12-01", "until": "2026-11-01"})
    assert r.status_code == 200
    assert "시작일이 종료일보다 늦습니다" in r.text and 'aria-invalid="true"' in r.text
    # The dates stay as typed (not swapped), and no session is shown for them.
    assert 'name="since" type="date" value="2026-12-01"' in r.text and 'value="2026-11-01"' in r.text
    assert "스마트폰 기초 교실" not in r.text and "data-metric" not in r.text
    r = client.get(PAGE, params={"since": "2026-11-01", "until": "2026-12-01"})
    assert "시작일이 종료일보다 늦습니다" not in r.text and "스마트폰 기초 교실" in r.text
