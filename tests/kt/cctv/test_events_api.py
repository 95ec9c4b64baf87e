"""Ingestion: merging by detected_at, quiet windows, severity, parking dwell, idempotency, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import api_headers
from tests.kt.cctv.conftest import NO_PARKING, RESTRICTED, event, make_camera, t0

EVENTS = "/api/v1/kt/cctv/events"


def incidents(client, headers, **params) -> list[dict]:
    r = client.get("/api/v1/kt/cctv/incidents", headers=headers, params={"limit": 200, **params})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_detections_merge_by_detected_at_until_the_quiet_window_passes(cctv, ulsan):
    cam = make_camera(cctv, ulsan)
    start = t0()
    r = cctv.post(EVENTS, headers=ulsan, json=[event(cam, "e1", "fire", start),
                                               event(cam, "e2", "fire", start + timedelta(seconds=60)),
                                               event(cam, "e3", "fire", start + timedelta(seconds=170))])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 3 and body["duplicates"] == 0
    assert len(body["incidents_opened"]) == 1 and body["incidents_joined"] == []
    first = body["incidents_opened"][0]
    assert first["event_count"] == 3 and first["severity"] == "alert" and first["type"] == "fire"

    # 170 s + 121 s: past the 120 s quiet window, counted by detected_at: a new incident
    r = cctv.post(EVENTS, headers=ulsan, json=event(cam, "e4", "fire", start + timedelta(seconds=291)))
    second = r.json()["incidents_opened"][0]
    assert second["id"] != first["id"]

    # a late arrival detected inside the first incident's window joins the first, not the newest
    r = cctv.post(EVENTS, headers=ulsan, json=event(cam, "e5", "fire", start + timedelta(seconds=30)))
    assert [i["id"] for i in r.json()["incidents_joined"]] == [first["id"]]

    # another type on the same camera is its own incident
    r = cctv.post(EVENTS, headers=ulsan, json=event(cam, "e6", "smoke", start + timedelta(seconds=40)))
    assert len(r.json()["incidents_opened"]) == 1

    listed = {i["id"]: i for i in incidents(cctv, ulsan, status="new")}
    assert listed[first["id"]]["event_count"] == 4
    assert listed[first["id"]]["started_at"].startswith(start.isoformat()[:19])
    assert listed[second["id"]]["event_count"] == 1
    assert len(incidents(cctv, ulsan, type="fire")) == 2
    assert len(incidents(cctv, ulsan, camera_id=cam, type="smoke")) == 1
    events = cctv.get(EVENTS, headers=ulsan, params={"incident_id": first["id"]}).json()
    assert events["total"] == 4


def test_a_retried_batch_is_stored_once(cctv, ulsan):
    cam = make_camera(cctv, ulsan)
    start = t0()
    batch = [event("US-001", f"r{i}", "fall", start + timedelta(seconds=10 * i)) for i in range(5)]
    first = cctv.post(EVENTS, headers=ulsan, json=batch).json()
    assert first["accepted"] == 5 and len(first["incidents_opened"]) == 1
    again = cctv.post(EVENTS, headers=ulsan, json=batch + [batch[0]]).json()
    assert again == {"accepted": 0, "duplicates": 6, "incidents_opened": [], "incidents_joined": []}
    assert cctv.get(EVENTS, headers=ulsan).json()["total"] == 5
    [incident] = incidents(cctv, ulsan)
    assert incident["event_count"] == 5 and incident["camera_id"] == cam


def test_severity_by_type_confidence_and_required_zone(cctv, ulsan):
    cam = make_camera(cctv, ulsan, zones=[{"name": "변전소", "type": "restricted", "polygon": RESTRICTED}])
    start = t0()
    r = cctv.post(EVENTS, headers=ulsan, json=[
        event(cam, "low", "fire", start, confidence=0.2),  # stored, no incident
        event(cam, "smoke", "smoke", start, confidence=0.5),  # detection
        event(cam, "out", "intrusion", start, confidence=0.95, bbox=[0.1, 0.6, 0.1, 0.2]),  # outside the zone
    ])
    assert r.json()["accepted"] == 3
    by_type = {i["type"]: i for i in incidents(cctv, ulsan)}
    assert set(by_type) == {"smoke", "intrusion"}
    assert by_type["smoke"]["severity"] == "detection"
    assert by_type["intrusion"]["severity"] == "detection"
    # bottom-centre inside the restricted zone: the same incident becomes an alert
    r = cctv.post(EVENTS, headers=ulsan, json=event(cam, "in", "intrusion", start + timedelta(seconds=20),
                                                    confidence=0.95, bbox=[0.6, 0.1, 0.2, 0.2]))
    assert r.json()["incidents_joined"][0]["severity"] == "alert"
    r = cctv.post(EVENTS, headers=ulsan, json=event(cam, "fall", "fall", start, confidence=0.61))
    assert r.json()["incidents_opened"][0]["severity"] == "alert"


def test_illegal_parking_needs_the_dwell_time_inside_a_no_parking_zone(cctv, ulsan):
    cam = make_camera(cctv, ulsan, zones=[{"name": "버스정류장", "type": "no_parking", "polygon": NO_PARKING}])
    start = t0()
    inside = [0.1, 0.6, 0.2, 0.2]  # bottom-centre (0.2, 0.8): inside
    outside = [0.6, 0.6, 0.2, 0.2]  # bottom-centre (0.7, 0.8): outside
    first = [event(cam, f"a{i}", "illegal_parking", start + timedelta(seconds=60 * i), bbox=inside, track_id="car-a",
                   attributes={"plate": "12가3456"}) for i in range(5)]  # 0..240 s
    first += [event(cam, f"b{i}", "illegal_parking", start + timedelta(seconds=60 * i), bbox=outside,
                    track_id="car-b") for i in range(12)]
    r = cctv.post(EVENTS, headers=ulsan, json=first)
    assert r.json()["accepted"] == 17 and r.json()["incidents_opened"] == []
    # 300 s after the track entered the zone (counted across batches): the incident opens
    r = cctv.post(EVENTS, headers=ulsan, json=event(cam, "a5", "illegal_parking", start + timedelta(seconds=300),
                                                    bbox=inside, track_id="car-a"))
    [opened] = r.json()["incidents_opened"]
    [incident] = incidents(cctv, ulsan)
    assert incident["id"] == opened["id"] and incident["track_id"] == "car-a"
    assert incident["started_at"].startswith(start.isoformat()[:19])  # parked since the first sighting
    # a second car in the zone is its own incident once it has dwelt long enough
    r = cctv.post(EVENTS, headers=ulsan, json=[
        event(cam, f"c{i}", "illegal_parking", start + timedelta(seconds=100 * i), bbox=inside, track_id="car-c")
        for i in range(4)])
    assert len(r.json()["incidents_opened"]) == 1
    assert len(incidents(cctv, ulsan, type="illegal_parking")) == 2
    # a car that drives out of the zone and back starts its dwell again from when it came back
    seen = [(0, inside), (120, inside), (240, outside), (300, inside), (420, inside), (540, inside)]
    r = cctv.post(EVENTS, headers=ulsan, json=[
        event(cam, f"d{s}", "illegal_parking", start + timedelta(seconds=s), bbox=box, track_id="car-d")
        for s, box in seen])
    assert r.json()["accepted"] == 6 and r.json()["incidents_opened"] == []  # in at 300 s, 240 s since
    r = cctv.post(EVENTS, headers=ulsan, json=event(cam, "d600", "illegal_parking", start + timedelta(seconds=600),
                                                    bbox=inside, track_id="car-d"))  # the stored exit counts too
    [opened] = r.json()["incidents_opened"]
    back = next(i for i in incidents(cctv, ulsan, type="illegal_parking") if i["track_id"] == "car-d")
    assert back["started_at"].startswith((start + timedelta(seconds=300)).isoformat()[:19])


def test_bad_events_reject_the_whole_batch_naming_every_row(cctv, ulsan):
    cam = make_camera(cctv, ulsan)
    start = t0()
    future = datetime.now(UTC) + timedelta(hours=3)
    bad = [
        event(cam, "ok", "fire", start),
        event(cam, "t", "meteor", start),
        event(cam, "c", "fire", start, confidence=1.7),
        event(cam, "b", "fire", start, bbox=[0.9, 0.1, 0.3, 0.1]),
        event(cam, "f", "fire", future),
        event(99999, "u", "fire", start),
        event("NOPE", "x", "fire", start),
        {**event(cam, "n", "fire", start), "detected_at": "2026-01-01T00:00:00"},
        {**event(cam, "e", "fire", start), "colour": "red"},
    ]
    r = cctv.post(EVENTS, headers=ulsan, json=bad)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    locs = {tuple(e["loc"][:3]) for e in r.json()["errors"]}
    assert ("rows", 1, "type") in locs and ("rows", 2, "confidence") in locs and ("rows", 3, "bbox") in locs
    assert ("rows", 7, "detected_at") in locs and ("rows", 8, "colour") in locs
    # rows that pass the schema are checked against cameras and the clock, all named together
    too_old = event(cam, "o", "fire", datetime.now(UTC) - timedelta(days=40))
    r = cctv.post(EVENTS, headers=ulsan, json=[bad[0], bad[4], bad[5], bad[6], too_old])
    assert r.status_code == 422
    assert {tuple(e["loc"]) for e in r.json()["errors"]} == {
        ("rows", 1, "detected_at"), ("rows", 2, "camera_id"), ("rows", 3, "camera_external_id"),
        ("rows", 4, "detected_at")}
    assert cctv.get(EVENTS, headers=ulsan).json()["total"] == 0
    assert incidents(cctv, ulsan) == []

    headers = {**ulsan, "content-type": "application/json"}
    assert cctv.post(EVENTS, headers=headers, content=b"{not json").status_code == 422
    assert cctv.post(EVENTS, headers=ulsan, json=[]).status_code == 422
    assert cctv.post(EVENTS, headers=ulsan, json="fire").status_code == 422
    r = cctv.post(EVENTS, headers=headers, content=b"[" + b" " * (10 * 1024 * 1024) + b"]")
    assert r.status_code == 413 and r.json()["status"] == 413
    both = {**event(cam, "z", "fire", start), "camera_external_id": "US-001"}
    assert cctv.post(EVENTS, headers=ulsan, json=both).status_code == 422
    assert cctv.get(EVENTS, headers=ulsan).json()["total"] == 0

    batch = [event(cam, f"m{i}", "loitering", start + timedelta(seconds=i), confidence=0.3) for i in range(1001)]
    r = cctv.post(EVENTS, headers=ulsan, json=batch)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body"]
    r = cctv.post(EVENTS, headers=ulsan, json=batch[:1000])
    assert r.status_code == 200 and r.json()["accepted"] == 1000


def test_cameras_zones_and_heartbeats(cctv, ulsan, cctv_settings):
    cam = make_camera(cctv, ulsan)
    r = cctv.post("/api/v1/kt/cctv/cameras", headers=ulsan, json={
        "external_id": "US-001", "name": "중복", "lat": 35.5, "lon": 129.3})
    assert r.status_code == 409
    r = cctv.post("/api/v1/kt/cctv/cameras", headers=ulsan, json={
        "external_id": "US-002", "name": "x", "lat": 95, "lon": 129.3, "extra": 1})
    assert r.status_code == 422 and {tuple(e["loc"]) for e in r.json()["errors"]} == {("body", "lat"),
                                                                                       ("body", "extra")}
    bad_zone = {"zones": [{"name": "a", "type": "no_parking", "polygon": [[0, 0], [1.2, 0], [1, 1]]},
                          {"name": "b", "type": "parking", "polygon": [[0, 0], [1, 0]]}]}
    r = cctv.put(f"/api/v1/kt/cctv/cameras/{cam}/zones", headers=ulsan, json=bad_zone)
    assert r.status_code == 422
    dup = {"zones": [{"name": "a", "type": "watch", "polygon": NO_PARKING}] * 2}
    assert cctv.put(f"/api/v1/kt/cctv/cameras/{cam}/zones", headers=ulsan, json=dup).status_code == 422
    zones = {"zones": [{"name": "정류장", "type": "no_stopping", "polygon": NO_PARKING}]}
    first = cctv.put(f"/api/v1/kt/cctv/cameras/{cam}/zones", headers=ulsan, json=zones).json()
    zones["zones"][0]["polygon"] = RESTRICTED
    second = cctv.put(f"/api/v1/kt/cctv/cameras/{cam}/zones", headers=ulsan, json=zones).json()
    assert first[0]["id"] == second[0]["id"] and second[0]["polygon"] == RESTRICTED  # same name keeps its id

    camera = cctv.get(f"/api/v1/kt/cctv/cameras/{cam}", headers=ulsan).json()
    assert camera["online"] is False and camera["municipality_code"] == "3100000000"
    r = cctv.post("/api/v1/kt/cctv/heartbeats", headers=ulsan, json=[{"camera_external_id": "US-001"},
                                                                      {"camera_id": 424242}])
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["rows", 1, "camera_id"]
    assert cctv.get(f"/api/v1/kt/cctv/cameras/{cam}", headers=ulsan).json()["online"] is False
    r = cctv.post("/api/v1/kt/cctv/heartbeats", headers=ulsan, json={"camera_external_id": "US-001"})
    assert r.status_code == 200 and r.json()["updated"] == 1
    assert cctv.get(f"/api/v1/kt/cctv/cameras/{cam}", headers=ulsan).json()["online"] is True
    old = (datetime.now(UTC) - timedelta(seconds=cctv_settings.offline_after_s + 60)).isoformat()
    cctv.post("/api/v1/kt/cctv/heartbeats", headers=ulsan, json={"camera_id": cam, "at": old})
    assert cctv.get(f"/api/v1/kt/cctv/cameras/{cam}", headers=ulsan).json()["online"] is True  # never goes back


def test_an_analyser_api_key_registers_cameras_in_its_municipality_and_sends_events(cctv):
    admin = api_headers(cctv, "us.admin")
    r = cctv.post("/api/v1/api-keys", headers=admin, json={
        "name": "KT 영상분석 서버", "municipality_code": "3100000000", "scopes": ["kt.cctv:write"]})
    assert r.status_code == 201, r.text
    key = {"Authorization": f"Bearer {r.json()['secret']}"}
    r = cctv.post("/api/v1/kt/cctv/cameras", headers=key, json={"external_id": "AN-1", "name": "분석 카메라",
                                                                 "lat": 35.5, "lon": 129.3})
    assert r.status_code == 201 and r.json()["municipality_code"] == "3100000000"
    r = cctv.post(EVENTS, headers=key, json=event("AN-1", "k1", "fall", t0()))
    assert r.status_code == 200 and r.json()["incidents_opened"][0]["severity"] == "alert"
    assert cctv.post("/api/v1/kt/cctv/cameras", headers=key, json={
        "external_id": "AN-2", "name": "x", "lat": 35.5, "lon": 129.3, "municipality_code": "4812000000"}
    ).status_code == 422  # another municipality is unknown to this key
    read_only = cctv.post("/api/v1/api-keys", headers=admin, json={
        "name": "대시보드", "municipality_code": "3100000000", "scopes": ["kt.cctv:read"]}).json()["secret"]
    ro = {"Authorization": f"Bearer {read_only}"}
    assert cctv.get("/api/v1/kt/cctv/incidents", headers=ro).json()["total"] == 1
    assert cctv.post(EVENTS, headers=ro, json=event("AN-1", "k2", "fall", t0())).status_code == 403

    spec = cctv.get("/openapi.json").json()["paths"][EVENTS]["post"]  # vendors integrate from the docs
    body = spec["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert "event_id" in body[0]["properties"] and body[1]["maxItems"] == 1000
    assert {"200", "413", "422"} <= set(spec["responses"])


def test_another_municipality_cannot_see_or_feed_a_camera(cctv, ulsan):
    cam = make_camera(cctv, ulsan)
    cctv.post(EVENTS, headers=ulsan, json=event(cam, "e1", "fire", t0()))
    [incident] = incidents(cctv, ulsan)
    changwon = api_headers(cctv, "cw.staff")
    assert cctv.get(f"/api/v1/kt/cctv/cameras/{cam}", headers=changwon).status_code == 404
    assert cctv.get(f"/api/v1/kt/cctv/incidents/{incident['id']}", headers=changwon).status_code == 404
    assert cctv.post(f"/api/v1/kt/cctv/incidents/{incident['id']}/acknowledge",
                     headers=changwon).status_code == 404
    assert incidents(cctv, changwon) == []
    assert cctv.get(EVENTS, headers=changwon).json()["total"] == 0
    assert cctv.get("/api/v1/kt/cctv/cameras", headers=changwon).json()["total"] == 0
    r = cctv.post(EVENTS, headers=changwon, json=event(cam, "e2", "fire", t0()))
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["rows", 0, "camera_id"]
    assert cctv.get("/api/v1/kt/cctv/stats", headers=changwon).json()["per_type_per_day"] == []
    viewer = api_headers(cctv, "us.viewer")
    assert cctv.post(EVENTS, headers=viewer, json=event(cam, "e3", "fire", t0())).status_code == 403
    assert cctv.get(f"/api/v1/kt/cctv/cameras/{cam}", headers=viewer).status_code == 200
