"""Histories people can read: the presenter (titles, labels, values, system actions), the audit page's
filters and reach, the home page's activity. Presentation only: the audit chain still verifies."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.core.db import utcnow
from app.core.jobs import system_principal
from app.core.manifest import ObjectKind
from app.core.tenancy import SYSTEM, bind_principal
from app.kt.cctv import service as cctv_service
from app.kt.cctv.config import CctvSettings
from app.platform import auditchain, history
from app.platform.models import AuditLog
from tests.conftest import api_headers, web_login
from tests.kt.cctv.conftest import event, make_camera

API = "/api/v1/kt/cctv"


@pytest.fixture
def cctv(client, world):
    """The test client with the world's users (no snapshots here, so the module's default settings)."""
    return client


@pytest.fixture
def ulsan(cctv) -> dict[str, str]:
    return api_headers(cctv, "us.staff")


def _incident(client, headers) -> tuple[int, int]:
    cam = make_camera(client, headers)
    at = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    r = client.post(f"{API}/events", headers=headers, json=event(cam, "e1", "fire", at))
    assert r.status_code == 200, r.text
    return cam, r.json()["incidents_opened"][0]["id"]


def _escalate(database, minutes: int = 60) -> None:
    """The worker's escalation duty, as the worker runs it (its own system actor)."""
    with database.unit_of_work() as s:
        bind_principal(s, system_principal("kt.cctv.escalate"))
        cctv_service.escalate_overdue(s, settings=CctvSettings(), now=utcnow() + timedelta(minutes=minutes))


def _entries(database, **where) -> list[AuditLog]:
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        stmt = select(AuditLog).order_by(AuditLog.id)
        for k, v in where.items():
            stmt = stmt.where(getattr(AuditLog, k) == v)
        rows = list(s.scalars(stmt))
        s.expunge_all()
        return rows


def test_values_read_as_people_write_them():
    kind = ObjectKind("x", "X", values={"status": {"new": "New"}})
    assert history.format_value(None) == "—" and history.format_value("") == "—"
    assert history.format_value(True) == "예" and history.format_value(False) == "아니요"
    # stored ISO text with microseconds, UTC: shown in Seoul to the minute
    assert history.format_value("2026-12-05T05:35:18.832516+00:00") == "2026-12-05 14:35"
    assert history.format_value(datetime(2026, 12, 31, 15, 0, tzinfo=UTC)) == "2027-01-01 00:00"
    assert history.format_value("new", kind, "status") == "신규"
    assert history.format_value("other", kind, "status") == "other"
    assert history.format_value(0.90000) == "0.9" and history.format_value(1234567) == "1,234,567"
    assert history.field_label(None, "created_at") == "생성 시각"


def test_actors_are_named_for_who_they_are_and_what_the_system_did():
    work = {"kt.cctv.silent_cameras": ("Silent camera check", "")}
    users = {"us.staff": "김울산"}
    assert history.actor_label("user:us.staff", users=users, work=work) == "김울산"
    assert history.actor_label("user:gone", users=users, work=work) == "gone"
    assert history.actor_label("api_key:frigate", users=users, work=work) == "API 키 · frigate"
    assert history.actor_label("system:worker:kt.cctv.silent_cameras", users=users,
                               work=work) == "자동 처리 · 미응답 카메라 점검"
    assert history.actor_label("system:system", users=users, work=work) == "시스템"


def test_an_escalated_incident_reads_with_its_title_labels_and_the_duty_that_did_it(cctv, ulsan, database):
    cam, iid = _incident(cctv, ulsan)
    _escalate(database)
    entries = [e for e in _entries(database) if (e.object_type, e.object_id) in
               {("kt_cctv_incident", str(iid)), ("kt_cctv_camera", str(cam))}]
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        lines = {e.action + ":" + e.actor: line for e, line in zip(entries, history.present(s, entries), strict=True)}
    created = lines["create:user:us.staff"]
    assert created.title == f"CCTV 카메라 #{cam} · 카메라 US-001"
    assert created.who == "us.staff" and created.what == "추가" and created.changes == ()
    escalated = lines["update:system:worker:kt.cctv.escalate"]
    assert escalated.title == f"CCTV 사건 #{iid} · 카메라 US-001 화재"
    assert escalated.who == "자동 처리 · 미확인 경보 점검"
    assert escalated.what == "경보 자동 상향"
    (change,) = escalated.changes
    assert change.field == "상향 시각" and change.before == "—"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", change.after)  # KST to the minute, no microseconds
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", escalated.when)


def test_titles_load_in_one_query_per_kind_not_per_row(cctv, ulsan, database):
    from sqlalchemy import event as sa_event

    cam = make_camera(cctv, ulsan, "US-009")
    at = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    for n, kind in enumerate(["fire", "smoke", "fall", "intrusion"]):
        r = cctv.post(f"{API}/events", headers=ulsan, json=event(cam, f"q{n}", kind, at))
        assert r.status_code == 200
        iid = r.json()["incidents_opened"][0]["id"]
        assert cctv.post(f"{API}/incidents/{iid}/acknowledge", headers=ulsan).status_code == 200
    entries = _entries(database)
    assert sum(e.object_type == "kt_cctv_incident" for e in entries) >= 4
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        statements: list[str] = []

        def seen(_conn, _cursor, statement, *_rest) -> None:
            statements.append(statement)

        engine = s.get_bind()
        sa_event.listen(engine, "before_cursor_execute", seen)
        try:
            lines = history.present(s, entries)
        finally:
            sa_event.remove(engine, "before_cursor_execute", seen)
    incident_queries = [q for q in statements if "FROM kt_cctv_incident" in q]
    assert len(incident_queries) == 1
    assert {"카메라 US-009 화재", "카메라 US-009 연기"} <= {ln.title.split(" · ", 1)[-1] for ln in lines}


def test_audit_page_filters_by_kind_person_and_period_within_the_admins_reach(cctv, ulsan, database):
    _cam, iid = _incident(cctv, ulsan)
    _escalate(database)
    web_login(cctv, "us.admin")
    page = cctv.get("/admin/audit")
    assert page.status_code == 200
    assert f"CCTV 사건 #{iid} · 카메라 US-001 화재" in page.text
    assert "kt_cctv_incident #" not in page.text and "None →" not in page.text
    assert "경보 자동 상향" in page.text and "자동 처리 · 미확인 경보 점검" in page.text
    # the dropdowns: kinds from the manifests, people of the admin's reach, periods
    assert '<option value="kt_cctv_incident"' in page.text and "CCTV 사건</option>" in page.text
    assert '<option value="user:us.staff"' in page.text and 'value="user:cw.staff"' not in page.text
    assert "최근 7일" in page.text and "직접 지정" in page.text

    cameras = cctv.get("/admin/audit", params={"object_type": "kt_cctv_camera"})
    assert "CCTV 카메라 #" in cameras.text and f"CCTV 사건 #{iid}" not in cameras.text
    by_staff = cctv.get("/admin/audit", params={"actor": "user:us.staff", "period": "today"})
    assert "CCTV 카메라 #" in by_staff.text and "경보 자동 상향" not in by_staff.text
    long_ago = cctv.get("/admin/audit", params={"period": "custom", "start": "2025-01-01", "end": "2025-01-31"})
    assert "CCTV 카메라 #" not in long_ago.text and "경보 자동 상향" not in long_ago.text
    assert 'value="2025-01-01"' in long_ago.text  # the chosen dates kept in the form
    assert cctv.get("/admin/audit", params={"period": "yesterday"}).status_code in (400, 422)

    # another municipality's admin sees none of it; staff do not open the page at all
    cctv.cookies.clear()
    web_login(cctv, "cw.admin")
    assert "CCTV 카메라 #" not in cctv.get("/admin/audit").text
    cctv.cookies.clear()
    web_login(cctv, "us.staff")
    assert cctv.get("/admin/audit").status_code == 403

    # presentation only: the stored chain is untouched and still verifies
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        assert auditchain.verify(s, "audit_log").problem is None


def test_home_activity_shows_titles_not_tables(cctv, ulsan, database):
    _cam, iid = _incident(cctv, ulsan)
    _escalate(database)
    web_login(cctv, "us.staff")
    home = cctv.get("/")
    assert home.status_code == 200
    assert f"CCTV 사건 #{iid} · 카메라 US-001 화재" in home.text
    assert "자동 처리 · 미확인 경보 점검 · 경보 자동 상향" in home.text
    assert "kt_cctv_incident #" not in home.text and "user:us.staff" not in home.text
    # staff of another municipality see nothing of Ulsan's
    cctv.cookies.clear()
    web_login(cctv, "cw.staff")
    assert f"CCTV 사건 #{iid}" not in cctv.get("/").text


def test_program_history_reads_in_labels(client, world):
    admin = api_headers(client, "cw.admin")
    r = client.post("/api/v1/programs", headers=admin,
                    json={"title": "스마트 경로당", "municipality_code": "4812000000"})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    r = client.patch(f"/api/v1/programs/{pid}", headers=admin, json={"title": "스마트 경로당 2단계"})
    assert r.status_code == 200
    web_login(client, "cw.admin")
    page = client.get(f"/programs/{pid}")
    assert "사업명" in page.text
    assert "스마트 경로당 → 스마트 경로당 2단계" in page.text and "<code>title</code>" not in page.text


def test_incident_page_history_names_people_and_statuses(cctv, ulsan, database):
    _cam, iid = _incident(cctv, ulsan)
    _escalate(database)
    assert cctv.post(f"{API}/incidents/{iid}/acknowledge", headers=ulsan).status_code == 200
    web_login(cctv, "us.staff")
    page = cctv.get(f"/kt/cctv/incidents/{iid}")
    assert page.status_code == 200
    assert "자동 처리 · 미확인 경보 점검 · 경보 자동 상향" in page.text
    assert "상태: 신규 → 확인" in page.text and "확인자: — → us.staff" in page.text
    assert "None" not in page.text
