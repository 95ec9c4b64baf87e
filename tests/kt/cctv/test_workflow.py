"""Workflow, escalation (by the worker), snapshots with their view log and retention, statistics, live messages."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select

from app.core.db import utcnow
from app.core.i18n import SEOUL
from app.core.images import sniff_image
from app.core.jobs import queue_for
from app.core.live import broker
from app.core.tenancy import SYSTEM, bind_principal
from app.core.worker import run_duty_now
from app.kt.cctv import duties, live, service
from app.kt.cctv.config import CctvSettings
from app.kt.cctv.models import CctvIncident, CctvIncidentDaily
from app.kt.cctv.schemas import EventIn
from app.platform.models import AccessLog, AuditLog
from tests.conftest import api_headers
from tests.kt.cctv.conftest import JPEG, PNG, event, make_camera, t0

API = "/api/v1/kt/cctv"


def _incident(client, headers, cam, type_="fire", eid="e1", **kw) -> int:
    r = client.post(f"{API}/events", headers=headers, json=event(cam, eid, type_, kw.pop("at", t0()), **kw))
    assert r.status_code == 200, r.text
    return r.json()["incidents_opened"][0]["id"]


def test_workflow_records_who_and_when_and_refuses_wrong_steps(cctv, ulsan):
    cam = make_camera(cctv, ulsan)
    iid = _incident(cctv, ulsan, cam)
    assert cctv.post(f"{API}/incidents/{iid}/dispatch", headers=ulsan,
                     json={"target": "119"}).status_code == 409  # not acknowledged yet
    viewer = api_headers(cctv, "us.viewer")
    assert cctv.post(f"{API}/incidents/{iid}/acknowledge", headers=viewer).status_code == 403

    r = cctv.post(f"{API}/incidents/{iid}/acknowledge", headers=ulsan)
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    assert r.json()["acknowledged_by"] == "user:us.staff" and r.json()["time_to_acknowledge_s"] >= 0
    assert r.json()["allowed_actions"] == ["dispatch", "resolve", "false_alarm"]
    assert cctv.post(f"{API}/incidents/{iid}/acknowledge", headers=ulsan).status_code == 409

    r = cctv.post(f"{API}/incidents/{iid}/dispatch", headers=ulsan, json={"target": "department"})
    assert r.status_code == 422  # a department must be named
    r = cctv.post(f"{API}/incidents/{iid}/dispatch", headers=ulsan, json={"target": "113"})
    assert r.status_code == 422
    r = cctv.post(f"{API}/incidents/{iid}/dispatch", headers=ulsan,
                  json={"target": "119", "note": "남구 삼산동 화재 의심, 소방 출동 요청"})
    assert r.status_code == 200 and r.json()["dispatch_target"] == "119" and r.json()["status"] == "dispatched"
    r = cctv.post(f"{API}/incidents/{iid}/resolve", headers=ulsan, json={"note": "진화 완료"})
    body = r.json()
    assert body["status"] == "resolved" and body["closed_by"] == "user:us.staff"
    assert body["time_to_resolve_s"] >= body["time_to_acknowledge_s"] >= 0 and body["allowed_actions"] == []
    assert cctv.post(f"{API}/incidents/{iid}/false-alarm", headers=ulsan, json={}).status_code == 409

    # a closed incident takes no more detections: the next one opens a new incident
    r = cctv.post(f"{API}/events", headers=ulsan, json=event(cam, "e2", "fire", t0() + timedelta(seconds=5)))
    assert r.json()["incidents_opened"][0]["id"] != iid

    other = _incident(cctv, ulsan, cam, type_="smoke", eid="s1", confidence=0.5)
    r = cctv.post(f"{API}/incidents/{other}/false-alarm", headers=ulsan, json={"note": "구름 그림자"})
    assert r.json()["status"] == "false_alarm" and r.json()["close_note"] == "구름 그림자"
    assert cctv.post(f"{API}/incidents/{other}/acknowledge", headers=ulsan).status_code == 409

    statuses = {i["id"]: i["status"] for i in cctv.get(f"{API}/incidents", headers=ulsan,
                                                        params={"status": "resolved"}).json()["items"]}
    assert statuses == {iid: "resolved"}
    stats = cctv.get(f"{API}/stats", headers=ulsan).json()
    smoke = next(r for r in stats["false_alarms"] if r["type"] == "smoke")
    assert smoke["false_alarm_rate"] == 1.0 and smoke["closed"] == 1
    fire = next(r for r in stats["false_alarms"] if r["type"] == "fire")
    assert fire["false_alarm_rate"] == 0.0
    assert sum(r["incidents"] for r in stats["per_type_per_day"]) == 3
    assert next(r for r in stats["response_times"] if r["type"] == "fire")["resolved"] == 1
    assert cctv.get(f"{API}/stats", headers=ulsan, params={"since": "2026-01-01T00:00:00"}).status_code == 422


def test_unacknowledged_alerts_escalate_by_the_worker_and_the_command_never_by_reading(
        app, cctv, ulsan, cctv_settings, database, monkeypatch, clock_instant):
    cam = make_camera(cctv, ulsan)
    alert = _incident(cctv, ulsan, cam)
    detection = _incident(cctv, ulsan, cam, type_="smoke", eid="s1", confidence=0.5)
    listed = cctv.get(f"{API}/incidents", headers=ulsan).json()["items"]
    assert all(i["escalated_at"] is None for i in listed)

    with database.unit_of_work(principal=SYSTEM) as s:
        bind_principal(s, SYSTEM)
        later = utcnow() + timedelta(minutes=cctv_settings.escalate_after_min + 1)
        escalated = service.escalate_overdue(s, settings=cctv_settings, now=later)
        assert [i.id for i in escalated] == [alert]  # detections never escalate
    with database.unit_of_work(principal=SYSTEM) as s:
        bind_principal(s, SYSTEM)
        assert service.escalate_overdue(s, settings=cctv_settings, now=later) == []  # once only
        logged = s.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.object_type == "kt_cctv_incident", AuditLog.object_id == str(alert),
            AuditLog.action == "update"))
        assert logged == 1

    second = _incident(cctv, ulsan, cam, type_="fall", eid="f1")
    cctv_settings.escalate_after_min = 0
    items = {i["id"]: i for i in cctv.get(f"{API}/incidents", headers=ulsan).json()["items"]}
    assert items[second]["escalated_at"] is None  # reading changes nothing
    monkeypatch.setattr(duties, "get_cctv_settings", lambda: cctv_settings)  # the worker's settings
    assert run_duty_now(queue_for(app.state.settings), "kt.cctv.escalate")
    items = {i["id"]: i for i in cctv.get(f"{API}/incidents", headers=ulsan).json()["items"]}
    assert items[second]["escalated_at"] is not None and items[detection]["escalated_at"] is None
    with database.unit_of_work(principal=SYSTEM) as s:
        actor = s.scalar(select(AuditLog.actor).where(AuditLog.object_type == "kt_cctv_incident",
                                                      AuditLog.object_id == str(second), AuditLog.action == "update"))
    assert actor == "system:worker:kt.cctv.escalate"


def test_escalate_and_purge_commands(cctv, ulsan, database, monkeypatch, cctv_settings, capsys):
    from app.cli import main
    from app.core.config import get_settings
    from app.kt.cctv.config import get_cctv_settings

    cam = make_camera(cctv, ulsan)
    _incident(cctv, ulsan, cam)
    r = cctv.post(f"{API}/snapshots", headers=ulsan, data={"event_id": "e1", "camera_id": str(cam)},
                  files={"file": ("a.png", PNG)})
    assert r.status_code == 201
    snapshot = r.json()["id"]
    assert len(list(cctv_settings.snapshot_dir.rglob("*.png"))) == 1
    monkeypatch.setenv("DXHUB_DATABASE_URL", database.url)
    monkeypatch.setenv("DXHUB_KT_CCTV_ESCALATE_AFTER_MIN", "0")
    monkeypatch.setenv("DXHUB_KT_CCTV_SNAPSHOT_DIR", str(cctv_settings.snapshot_dir))
    get_settings.cache_clear()
    get_cctv_settings.cache_clear()
    try:
        assert main(["cctv", "escalate"]) == 0
        assert "1 incident(s) escalated." in capsys.readouterr().out
        with database.unit_of_work(principal=SYSTEM) as s:  # a rollup emptied behind the platform's back is rebuilt
            s.execute(delete(CctvIncidentDaily.__table__))
        assert main(["cctv", "rollup"]) == 0
        assert "1 rollup row(s) written." in capsys.readouterr().out
        assert main(["cctv", "purge", "--days", "30"]) == 0  # the default retention keeps a fresh image
        assert "0 snapshot(s)" in capsys.readouterr().out
        assert cctv.get(f"{API}/snapshots/{snapshot}", headers=ulsan).status_code == 200
        assert main(["cctv", "purge", "--days", "-1"]) == 2
        assert main(["cctv", "purge", "--days", "0"]) == 0
        assert "1 snapshot(s)" in capsys.readouterr().out
        assert not list(cctv_settings.snapshot_dir.rglob("*.png"))  # the file is gone from the disk
        assert cctv.get(f"{API}/snapshots/{snapshot}", headers=ulsan).status_code == 404
        with database.unit_of_work(principal=SYSTEM) as s:
            purges = s.scalars(select(AuditLog).where(AuditLog.object_type == "kt_cctv_snapshot",
                                                      AuditLog.action == "purge")).all()
            assert [p.after["count"] for p in purges] == [1]
    finally:
        get_settings.cache_clear()
        get_cctv_settings.cache_clear()


def test_snapshot_upload_checks_content_and_logs_each_view(cctv, ulsan, cctv_settings, database):
    cam = make_camera(cctv, ulsan)
    iid = _incident(cctv, ulsan, cam)
    form = {"event_id": "e1", "camera_id": str(cam)}
    r = cctv.post(f"{API}/snapshots", headers=ulsan, data=form, files={"file": ("a.jpg", b"GIF89a not a jpeg")})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["file"]
    fake = b"\xff\xd8\xff" + b"x" * 100  # starts like a JPEG but is cut off
    assert cctv.post(f"{API}/snapshots", headers=ulsan, data=form, files={"file": ("a.jpg", fake)}).status_code == 422
    big = JPEG[:-2] + b"\x00" * cctv_settings.snapshot_max_bytes + b"\xff\xd9"
    assert cctv.post(f"{API}/snapshots", headers=ulsan, data=form, files={"file": ("a.jpg", big)}).status_code == 422
    r = cctv.post(f"{API}/snapshots", headers=ulsan, data={"event_id": "nope", "camera_id": str(cam)},
                  files={"file": ("a.jpg", JPEG)})
    assert r.status_code == 404
    assert not list((cctv_settings.snapshot_dir).rglob("*.jpg")) if cctv_settings.snapshot_dir.exists() else True

    r = cctv.post(f"{API}/snapshots", headers=ulsan, data={"event_id": "e1", "camera_external_id": "US-001"},
                  files={"file": ("a.png", PNG, "image/png")})
    assert r.status_code == 201, r.text
    snap = r.json()
    assert snap["content_type"] == "image/png" and snap["incident_id"] == iid and snap["bbox"] == [0.6, 0.1, 0.1, 0.2]
    again = cctv.post(f"{API}/snapshots", headers=ulsan, data=form, files={"file": ("a.png", PNG)})
    assert again.status_code == 200 and again.json()["id"] == snap["id"]
    other = cctv.post(f"{API}/snapshots", headers=ulsan, data=form, files={"file": ("a.jpg", JPEG)})
    assert other.status_code == 409

    r = cctv.get(f"{API}/snapshots/{snap['id']}", headers=ulsan)
    assert r.status_code == 200 and r.content == PNG and r.headers["content-type"] == "image/png"
    events = cctv.get(f"{API}/events", headers=ulsan, params={"incident_id": iid}).json()["items"]
    assert events[0]["snapshot_id"] == snap["id"]
    changwon = api_headers(cctv, "cw.staff")
    assert cctv.get(f"{API}/snapshots/{snap['id']}", headers=changwon).status_code == 404
    with database.unit_of_work(principal=SYSTEM) as s:
        views = s.scalars(select(AccessLog).where(AccessLog.subject_type == "kt_cctv_snapshot",
                                                  AccessLog.action == "view")).all()
        assert [v.actor for v in views] == ["user:us.staff"]

    with database.unit_of_work(principal=SYSTEM) as s:
        bind_principal(s, SYSTEM)
        root = cctv_settings.snapshot_dir
        assert service.purge_snapshots(s, root=root, retention_days=30) == 0
        assert service.purge_snapshots(s, root=root, retention_days=30, now=utcnow() + timedelta(days=31)) == 1
    assert not list(cctv_settings.snapshot_dir.rglob("*.png"))
    assert cctv.get(f"{API}/snapshots/{snap['id']}", headers=ulsan).status_code == 404


def test_concurrent_batches_never_open_two_incidents_for_one_camera_and_type(cctv, ulsan, database,
                                                                             cctv_settings):
    cam = make_camera(cctv, ulsan)
    start = t0()
    errors: list[BaseException] = []

    def send(n: int) -> None:
        rows = [EventIn.model_validate(event(cam, f"p{n}-{i}", "fire", start + timedelta(seconds=i)))
                for i in range(20)]
        try:
            with database.unit_of_work(principal=SYSTEM) as s:
                bind_principal(s, SYSTEM)
                service.ingest_events(s, events=rows, settings=cctv_settings)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with database.unit_of_work(principal=SYSTEM) as s:
        rows = s.scalars(select(CctvIncident)).all()
        assert len(rows) == 1 and rows[0].event_count == 80


def test_changes_are_published_to_the_municipality_after_commit(cctv, ulsan, world, database):
    live.ensure_listener(database.url, wait_s=10)  # PostgreSQL: the message comes back through LISTEN
    cam = make_camera(cctv, ulsan)
    topic = service.topic_for(world.ulsan.id)
    other_topic = service.topic_for(world.changwon.id)

    async def watch() -> tuple[dict, bool]:
        async with broker.subscribe(topic) as mine, broker.subscribe(other_topic) as theirs:
            loop = asyncio.get_running_loop()
            r = await loop.run_in_executor(None, lambda: cctv.post(
                f"{API}/events", headers=ulsan, json=event(cam, "live1", "fall", datetime.now(UTC))))
            assert r.status_code == 200
            message = await asyncio.wait_for(mine.get(), timeout=5)
            return message, theirs.empty()

    message, nothing_for_others = asyncio.run(watch())
    assert message["event"] == "incident" and message["change"] == "opened" and message["urgent"] is True
    assert nothing_for_others


def test_the_simulated_analyser_sends_valid_events():
    from app.kt.cctv.simulate import Analyser

    cameras = [{"id": 1, "zones": [{"type": "no_parking", "polygon": [[0, 0.5], [0.5, 0.5], [0.5, 1], [0, 1]]}]},
               {"id": 2, "zones": []}]
    analyser = Analyser(None, cameras, seed=7)  # type: ignore[arg-type]
    events = [e for t in range(600) for e in analyser.tick(float(t))]
    parsed = [EventIn.model_validate(e) for e in events]
    assert len({e.event_id for e in parsed}) == len(parsed)
    parking = [e for e in parsed if e.type == "illegal_parking"]
    assert parking and all(e.camera_id == 1 and e.track_id for e in parking)
    assert any(e.type in ("fire", "fall") and e.confidence >= 0.75 for e in parsed)
    from app.kt.cctv.simulate import frame_png

    frame = frame_png(3)  # the snapshot it uploads passes the content check
    assert sniff_image(frame) == "image/png" and len(frame) < CctvSettings().snapshot_max_bytes


def test_statistics_count_days_in_seoul_time(cctv, ulsan, clock_instant):
    cam = make_camera(cctv, ulsan)
    late_evening_utc = (datetime.now(UTC) - timedelta(days=2)).replace(hour=15, minute=30, second=0, microsecond=0)
    _incident(cctv, ulsan, cam, type_="fall", eid="midnight", at=late_evening_utc)
    stats = cctv.get(f"{API}/stats", headers=ulsan).json()
    seoul_day = (late_evening_utc + timedelta(hours=9)).date().isoformat()  # 00:30 the next day in Seoul
    assert stats["per_type_per_day"] == [{"day": seoul_day, "type": "fall", "incidents": 1}]
    assert stats["response_times"] == []


def test_an_incident_of_the_last_minutes_counts_on_today_in_seoul(cctv, ulsan, clock_instant):
    """Just past midnight in Seoul it is still yesterday in UTC: the statistics' default range ends with
    today in Seoul, and the incident is on today's row."""
    cam = make_camera(cctv, ulsan)
    at = clock_instant - timedelta(minutes=20)
    _incident(cctv, ulsan, cam, type_="fall", eid="recent", at=at)
    stats = cctv.get(f"{API}/stats", headers=ulsan).json()
    today = at.astimezone(SEOUL).date().isoformat()
    assert stats["per_type_per_day"] == [{"day": today, "type": "fall", "incidents": 1}]
