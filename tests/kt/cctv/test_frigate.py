"""Frigate NVR events into the control centre: Frigate's documented payloads (tests/kt/cctv/fixtures) go
through the bridge's handler, and through Mosquitto to a running bridge; one Frigate event is one stored
event; labels map per municipality; unknown cameras are counted; snapshots come from Frigate's HTTP API
(a real HTTP server in the test stands in for Frigate's)."""

from __future__ import annotations

import copy
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from app.core.mqtt import Message, MqttLink
from app.core.tenancy import SYSTEM
from app.kt.cctv import bridge
from app.kt.cctv.models import CctvEvent, CctvFrigateUnknownCamera, CctvIncident, CctvSnapshot
from tests.conftest import api_headers, wait_until, web_login
from tests.kt.cctv.conftest import JPEG, NO_PARKING, RESTRICTED, make_camera

FIXTURES = Path(__file__).parent / "fixtures"
EVENT_DOC = json.loads((FIXTURES / "frigate_events_update.json").read_text())
REVIEW_DOC = json.loads((FIXTURES / "frigate_reviews_update.json").read_text())


def start() -> datetime:
    return (datetime.now(UTC) - timedelta(minutes=30)).replace(microsecond=0)


def frigate(kind: str, *, id: str, camera: str, label: str, at: datetime, seconds: float = 0.0, score: float = 0.8,
            top_score: float | None = None, zones: list[str] | None = None, entered: list[str] | None = None,
            **after) -> bytes:
    """A ``frigate/events`` message: the documented one with this scenario's values."""
    doc = copy.deepcopy(EVENT_DOC)
    doc["type"] = kind
    for side, offset in (("before", max(seconds - 1.0, 0.0)), ("after", seconds)):
        obj = doc[side]
        obj.update(id=id, camera=camera, label=label, sub_label=None, start_time=at.timestamp(),
                   frame_time=at.timestamp() + offset, score=score, top_score=top_score or score,
                   current_zones=zones or [], entered_zones=sorted(set((entered or []) + (zones or []))),
                   has_snapshot=False, end_time=None, false_positive=False)
    doc["after"].update(after)
    if kind == "end" and doc["after"]["end_time"] is None:
        doc["after"]["end_time"] = at.timestamp() + seconds
    return json.dumps(doc).encode()


def send(database, cctv_settings, payload: bytes, topic: str = "frigate/events", data_dir: Path | None = None):
    message = Message(topic=topic, payload=payload)
    if topic.endswith("/reviews"):
        return bridge.handle_review(database, message, settings=cctv_settings)
    return bridge.handle_event(database, message, settings=cctv_settings, data_dir=data_dir or Path("."))


def stored(database) -> tuple[list[CctvEvent], list[CctvIncident]]:
    with database.unit_of_work(principal=SYSTEM) as s:
        events = list(s.scalars(select(CctvEvent).order_by(CctvEvent.id)))
        incidents = list(s.scalars(select(CctvIncident).order_by(CctvIncident.id)))
        s.expunge_all()
    return events, incidents


@pytest.fixture
def ulsan_cam(cctv, ulsan) -> int:
    return make_camera(cctv, ulsan, "front_door", zones=[
        {"name": "driveway", "type": "no_parking", "polygon": NO_PARKING},
        {"name": "substation", "type": "restricted", "polygon": RESTRICTED}])


def test_new_update_end_of_one_frigate_event_are_one_stored_event_and_one_incident(database, cctv_settings,
                                                                                   ulsan_cam, cctv, ulsan):
    at = start()
    fid = f"{at.timestamp()}-fire01"
    send(database, cctv_settings, frigate("new", id=fid, camera="front_door", label="fire", at=at, score=0.62))
    send(database, cctv_settings, frigate("update", id=fid, camera="front_door", label="fire", at=at, seconds=4,
                                          score=0.7, top_score=0.91, zones=["yard"], sub_label=["John Smith", 0.79]))
    send(database, cctv_settings, frigate("end", id=fid, camera="front_door", label="fire", at=at, seconds=40,
                                          score=0.5, top_score=0.91, zones=["porch"]))
    events, incidents = stored(database)
    assert len(events) == 1 and len(incidents) == 1
    event = events[0]
    assert (event.event_id, event.type, event.camera_id, event.track_id) == (fid, "fire", ulsan_cam, fid)
    assert event.confidence == pytest.approx(0.91)  # the best of Frigate's top_score
    assert event.detected_at == at
    assert event.attributes["zones"] == ["porch", "yard"]  # every zone the object was in
    assert event.attributes["ended_at"] == (at + timedelta(seconds=40)).isoformat()
    assert event.attributes["sub_label"] is None  # a name Frigate recognised is not kept unless mapped
    assert event.incident_id == incidents[0].id
    incident = incidents[0]
    assert (incident.type, incident.severity, incident.event_count) == ("fire", "alert", 1)
    assert incident.max_confidence == pytest.approx(0.91)
    # the incident is the REST API's own: listed, and moved along the same workflow
    listed = cctv.get("/api/v1/kt/cctv/incidents", headers=ulsan).json()
    assert [i["id"] for i in listed["items"]] == [incident.id]
    # a redelivered message (QoS 1) changes nothing
    send(database, cctv_settings, frigate("end", id=fid, camera="front_door", label="fire", at=at, seconds=40,
                                          score=0.5, top_score=0.91, zones=["porch"]))
    assert [len(x) for x in stored(database)] == [1, 1]


def test_a_person_becomes_an_intrusion_only_once_inside_a_restricted_zone(database, cctv_settings, ulsan_cam):
    at = start()
    fid = f"{at.timestamp()}-person1"
    outcome = send(database, cctv_settings, frigate("new", id=fid, camera="front_door", label="person", at=at,
                                                    score=0.9, zones=["street"]))
    assert outcome.outcome == "unmapped"
    assert stored(database) == ([], [])
    send(database, cctv_settings, frigate("update", id=fid, camera="front_door", label="person", at=at, seconds=9,
                                          score=0.9, zones=["substation"]))
    send(database, cctv_settings, frigate("update", id=fid, camera="front_door", label="person", at=at, seconds=15,
                                          score=0.95, zones=["street"], entered=["substation"]))
    events, incidents = stored(database)
    assert [(e.type, e.detected_at) for e in events] == [("intrusion", at + timedelta(seconds=9))]
    assert [(i.type, i.severity, i.event_count) for i in incidents] == [("intrusion", "alert", 1)]
    assert incidents[0].max_confidence == pytest.approx(0.95)


def test_a_car_in_a_no_parking_zone_opens_an_incident_once_it_has_stood_there_for_the_dwell(
        database, cctv_settings, ulsan_cam):
    assert cctv_settings.parking_dwell_s == 300
    at = start()
    fid = f"{at.timestamp()}-car001"

    def car(kind: str, seconds: float, zones: list[str]) -> None:
        send(database, cctv_settings, frigate(kind, id=fid, camera="front_door", label="car", at=at,
                                              seconds=seconds, score=0.85, zones=zones, stationary=True))

    car("new", 0, ["driveway"])
    car("update", 200, ["driveway"])
    assert len(stored(database)[0]) == 1 and stored(database)[1] == []
    car("update", 240, ["street"])  # drove out: the dwell starts again when it is back
    car("update", 260, ["driveway"])
    car("update", 500, ["driveway"])
    assert stored(database)[1] == []  # 240 s since it came back
    car("update", 561, ["driveway"])
    events, incidents = stored(database)
    assert len(events) == 1
    assert [(i.type, i.track_id, i.started_at) for i in incidents] == [
        ("illegal_parking", fid, at + timedelta(seconds=260))]
    assert events[0].incident_id == incidents[0].id and events[0].zone_id is not None


def test_labels_map_per_municipality_and_a_municipality_edits_its_own(database, cctv_settings, cctv, ulsan,
                                                                      ulsan_cam):
    url = "/api/v1/kt/cctv/frigate/labels"
    defaults = cctv.get(url, headers=ulsan).json()
    assert {"label": "fire", "zone_type": "", "event_type": "fire", "customised": False} in defaults
    assert {"label": "person", "zone_type": "restricted", "event_type": "intrusion", "customised": False} in defaults
    viewer = api_headers(cctv, "us.viewer")
    assert cctv.put(url, headers=viewer, json={"labels": []}).status_code == 403
    r = cctv.put(url, headers=ulsan, json={"labels": [
        {"label": "person", "zone_type": "", "event_type": "loitering"},
        {"label": "fire", "event_type": "ignore"}]})
    assert r.status_code == 200, r.text
    mine = {(x["label"], x["zone_type"]): (x["event_type"], x["customised"]) for x in r.json()}
    assert mine[("person", "")] == ("loitering", True)
    assert ("person", "restricted") not in mine  # the label's own rows replace its defaults
    assert mine[("smoke", "")] == ("smoke", False)
    bad = cctv.put(url, headers=ulsan, json={"labels": [{"label": "dog", "event_type": "barking"}]})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    # Changwon keeps the defaults
    cw = cctv.get(url, headers=api_headers(cctv, "cw.staff")).json()
    assert all(not x["customised"] for x in cw)

    at = start()
    send(database, cctv_settings, frigate("new", id="p-1", camera="front_door", label="person", at=at, score=0.9))
    send(database, cctv_settings, frigate("new", id="f-1", camera="front_door", label="fire", at=at, score=0.9))
    events, _incidents = stored(database)
    assert [(e.event_id, e.type) for e in events] == [("p-1", "loitering")]
    assert cctv.put(url, headers=ulsan, json={"labels": []}).status_code == 200
    assert all(not x["customised"] for x in cctv.get(url, headers=ulsan).json())


def test_an_unknown_camera_is_counted_and_shown_to_admins_never_silently_dropped(database, cctv_settings, cctv,
                                                                                 ulsan, ulsan_cam):
    doc = json.dumps(EVENT_DOC).encode()  # the documented message as it is: camera "front_door", 2020
    outcome = send(database, cctv_settings, doc.replace(b'"front_door"', b'"garage_cam"'))
    assert outcome.outcome == "unknown_camera"
    send(database, cctv_settings, doc.replace(b'"front_door"', b'"garage_cam"'))
    with database.unit_of_work(principal=SYSTEM) as s:
        rows = [(r.name, r.reason, r.messages, r.last_event_id) for r in s.scalars(select(CctvFrigateUnknownCamera))]
    assert rows == [("garage_cam", "unknown", 2, "1607123955.475377-mxklsc")]
    admin = api_headers(cctv, "root")
    listed = cctv.get("/api/v1/kt/cctv/frigate/unknown-cameras", headers=admin)
    assert listed.status_code == 200 and [c["name"] for c in listed.json()] == ["garage_cam"]
    assert cctv.get("/api/v1/kt/cctv/frigate/unknown-cameras", headers=ulsan).status_code == 403
    # a known camera with the documented (years old) start time is refused like the REST API refuses it
    fire = doc.replace(b'"label": "person"', b'"label": "fire"')
    assert send(database, cctv_settings, fire).outcome == "refused"
    assert stored(database) == ([], [])


def test_a_false_positive_at_the_end_withdraws_the_event_and_closes_its_incident(database, cctv_settings,
                                                                                 ulsan_cam):
    at = start()
    send(database, cctv_settings, frigate("new", id="smk-1", camera="front_door", label="smoke", at=at, score=0.8))
    send(database, cctv_settings, frigate("end", id="smk-1", camera="front_door", label="smoke", at=at, seconds=5,
                                          score=0.8, false_positive=True))
    events, incidents = stored(database)
    assert events[0].attributes["false_positive"] is True
    assert [(i.status, i.close_note) for i in incidents] == [
        ("false_alarm", "Withdrawn by the analyser: false positive")]


def test_reviews_mark_the_events_they_group(database, cctv_settings, ulsan_cam):
    at = start()
    send(database, cctv_settings, frigate("new", id="r-fire", camera="front_door", label="fire", at=at))
    review = copy.deepcopy(REVIEW_DOC)
    review["after"].update(camera="front_door", start_time=at.timestamp())
    review["after"]["data"]["detections"] = ["r-fire", "not-stored"]
    outcome = send(database, cctv_settings, json.dumps(review).encode(), topic="frigate/reviews")
    assert outcome.outcome == "revised"
    event = stored(database)[0][0]
    assert (event.attributes["review_id"], event.attributes["review_severity"]) == (review["after"]["id"], "alert")


def test_bad_payloads_are_counted_and_store_nothing(database, cctv_settings, ulsan_cam):
    assert send(database, cctv_settings, b"not json") is None
    assert send(database, cctv_settings, json.dumps({"type": "new", "after": {"id": "x"}}).encode()) is None
    assert send(database, cctv_settings, frigate("gone", id="x", camera="front_door", label="fire",
                                                 at=start())) is None
    assert stored(database) == ([], [])


class FrigateApi:
    """A real HTTP server standing in for Frigate's API: serves ``/api/events/<id>/snapshot.jpg``."""

    def __init__(self, images: dict[str, bytes]) -> None:
        self.images, self.requests = images, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.requests.append(self.path)
                name = self.path.split("?")[0]
                for event_id, body in outer.images.items():
                    if name == f"/api/events/{event_id}/snapshot.jpg":
                        self.send_response(200)
                        self.send_header("Content-Type", "image/jpeg")
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
                        return
                self.send_error(404)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_snapshots_are_fetched_from_frigate_once_and_kept_under_retention(database, cctv_settings, ulsan_cam,
                                                                          cctv, ulsan, tmp_path):
    api = FrigateApi({"snap-1": JPEG, "big-1": JPEG[:3] + b"\x00" * 5000 + b"\xff\xd9"})
    settings = cctv_settings.model_copy(update={"frigate_url": api.url + "/"})
    try:
        at = start()
        send(database, settings, frigate("new", id="snap-1", camera="front_door", label="fire", at=at,
                                         has_snapshot=True))
        send(database, settings, frigate("update", id="snap-1", camera="front_door", label="fire", at=at,
                                         seconds=3, has_snapshot=True))
        send(database, settings, frigate("new", id="big-1", camera="front_door", label="smoke", at=at,
                                         has_snapshot=True))
        send(database, settings, frigate("new", id="gone-1", camera="front_door", label="smoke", at=at,
                                         has_snapshot=True))
    finally:
        api.close()
    assert [p.split("?")[0] for p in api.requests] == [
        "/api/events/snap-1/snapshot.jpg", "/api/events/big-1/snapshot.jpg", "/api/events/gone-1/snapshot.jpg"]
    with database.unit_of_work(principal=SYSTEM) as s:
        snaps = list(s.scalars(select(CctvSnapshot)))
        assert len(snaps) == 1  # the oversize and the missing image are refused; the events stay
        assert (settings.snapshot_root(Path(".")) / snaps[0].path).read_bytes() == JPEG
        snap_id = snaps[0].id
    assert len(stored(database)[0]) == 3
    r = cctv.get(f"/api/v1/kt/cctv/snapshots/{snap_id}", headers=ulsan)
    assert r.status_code == 200 and r.content == JPEG
    with database.unit_of_work(principal=SYSTEM) as s:  # retention: the module's purge takes it like any other
        from app.kt.cctv import service

        assert service.purge_snapshots(s, root=settings.snapshot_root(Path(".")), retention_days=0,
                                       now=datetime.now(UTC) + timedelta(seconds=1)) == 1


def test_frigate_messages_through_mosquitto_reach_the_running_bridge(mqtt_url, database, settings, cctv_settings,
                                                                     ulsan_cam):
    prefix = f"frigate-{uuid.uuid4().hex[:8]}"
    module_settings = cctv_settings.model_copy(update={"frigate_topic_prefix": prefix})
    settings = settings.model_copy(update={"mqtt_url": mqtt_url, "mqtt_shared_group": ""})
    link = MqttLink(settings, database, bridges=[bridge.frigate_bridge(lambda: module_settings)])
    frigate_nvr = MqttLink(settings, role="frigate")
    try:
        assert link.start() and frigate_nvr.start()
        at = start()
        for kind, seconds, top in (("new", 0, 0.7), ("update", 2, 0.88), ("end", 9, 0.88)):
            frigate_nvr.publish(f"{prefix}/events", frigate(kind, id="mq-1", camera="front_door", label="fire",
                                                            at=at, seconds=seconds, top_score=top), qos=1)
        frigate_nvr.publish("frigate-other/events", frigate("new", id="mq-2", camera="front_door", label="fire",
                                                            at=at), qos=1)
        wait_until(lambda: (e := stored(database)[0]) and "ended_at" in e[0].attributes,
                   what="the end of the Frigate event stored")
        wait_until(link.idle, what="the bridge idle")
        events, incidents = stored(database)
        assert [(e.event_id, e.confidence) for e in events] == [("mq-1", pytest.approx(0.88))]
        assert len(incidents) == 1
    finally:
        link.stop()
        frigate_nvr.stop()


def test_the_label_page_offers_its_form_to_staff_and_not_to_viewers(cctv, world, ulsan_cam):
    viewer_token = web_login(cctv, "us.viewer")
    page = cctv.get("/kt/cctv/frigate")
    assert page.status_code == 200 and "person" in page.text and 'name="event_type"' not in page.text
    refused = cctv.post("/kt/cctv/frigate/labels", data={"csrf_token": viewer_token, "label": "person",
                                                         "event_type": "loitering"}, follow_redirects=False)
    assert refused.status_code == 403
    cctv.cookies.clear()
    token = web_login(cctv, "us.staff")
    page = cctv.get("/kt/cctv/frigate")
    assert 'name="event_type"' in page.text
    r = cctv.post("/kt/cctv/frigate/labels", data={"csrf_token": token, "label": "person", "zone_type": "watch",
                                                   "event_type": "loitering"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = cctv.get("/kt/cctv/frigate")
    assert "loitering" in page.text or "배회" in page.text
    r = cctv.post("/kt/cctv/frigate/labels", data={"csrf_token": token, "label": "", "event_type": "fire"})
    assert r.status_code == 400


def test_a_person_classified_as_fallen_is_a_fall_anywhere(database, cctv_settings, ulsan_cam):
    at = start()
    send(database, cctv_settings, frigate("new", id="fall-1", camera="front_door", label="person", at=at, score=0.9,
                                          sub_label=["fallen", 0.88], zones=["street"]))
    events, incidents = stored(database)
    assert [(e.type, e.attributes["sub_label"]) for e in events] == [("fall", "fallen")]
    assert [(i.type, i.severity) for i in incidents] == [("fall", "alert")]


def test_the_label_mapping_prefers_a_zone_row_and_a_sub_label_and_honours_ignore():
    from app.kt.cctv.frigate import DEFAULT_LABELS, LabelRule, map_label

    rules = [LabelRule("person", "watch", "loitering", True), LabelRule("person", "", "crowd", True),
             LabelRule("dog", "", "ignore", True)] + [LabelRule(*d) for d in DEFAULT_LABELS if d[0] != "person"]
    assert map_label(rules, label="person", sub_label=None, zone_types={"watch"}) == "loitering"
    assert map_label(rules, label="person", sub_label=None, zone_types=set()) == "crowd"
    assert map_label(rules, label="person", sub_label="fallen", zone_types={"watch"}) == "fall"
    assert map_label(rules, label="dog", sub_label=None, zone_types=set()) is None
    assert map_label(rules, label="car", sub_label=None, zone_types={"watch"}) is None
    assert map_label(rules, label="truck", sub_label=None, zone_types={"no_stopping"}) == "illegal_parking"
