"""The daily incident rollup: kept exact by every writer, and what the statistics read."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from app.core.i18n import SEOUL
from app.core.tenancy import SYSTEM, bind_principal
from app.kt.cctv import rollup
from app.kt.cctv.models import CctvIncident, CctvIncidentDaily
from tests.conftest import api_headers
from tests.kt.cctv.conftest import event, make_camera

API = "/api/v1/kt/cctv"


def _stored(database) -> dict:
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        rows = s.execute(select(CctvIncidentDaily.__table__)).mappings().all()
        return {(r["camera_id"], r["type"], r["day_date"]): dict(r) for r in rows}


def _recomputed(database) -> dict:
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        return {(r["camera_id"], r["type"], r["day_date"]): r for r in rollup.aggregate(s)}


def _post(client, headers, events) -> dict:
    r = client.post(f"{API}/events", headers=headers, json=events)
    assert r.status_code == 200, r.text
    return r.json()


def test_rollup_rows_stay_what_an_aggregate_of_the_incidents_says(cctv, ulsan, database):
    cams = [make_camera(cctv, ulsan, f"US-R{i}") for i in range(2)]
    base = (datetime.now(UTC) - timedelta(days=3)).replace(microsecond=0)
    ids = []
    for day in range(3):
        for k, cam in enumerate(cams):
            at = base + timedelta(days=day, hours=k)
            body = _post(cctv, ulsan, [event(cam, f"r-{day}-{k}-{j}", "fall", at + timedelta(seconds=j))
                                       for j in range(3)])
            ids += [i["id"] for i in body["incidents_opened"]]
    assert len(ids) == 6
    assert _stored(database) == _recomputed(database) and len(_stored(database)) > 0
    # The workflow changes closed, false-alarm and time counts; the rollup follows each step.
    assert cctv.post(f"{API}/incidents/{ids[0]}/acknowledge", headers=ulsan).status_code == 200
    assert cctv.post(f"{API}/incidents/{ids[0]}/resolve", headers=ulsan, json={"note": "ok"}).status_code == 200
    assert cctv.post(f"{API}/incidents/{ids[1]}/false-alarm", headers=ulsan, json={"note": "x"}).status_code == 200
    stored = _stored(database)
    assert stored == _recomputed(database)
    assert sum(r["closed"] for r in stored.values()) == 2
    assert sum(r["false_alarms"] for r in stored.values()) == 1
    assert sum(r["resolved"] for r in stored.values()) == 1


def test_a_late_detection_moves_its_incident_to_the_previous_day(cctv, ulsan, database, clock_instant):
    cam = make_camera(cctv, ulsan, "US-LATE")
    day = (datetime.now(SEOUL) - timedelta(days=2)).date()
    midnight = datetime.combine(day, time.min, tzinfo=SEOUL)
    _post(cctv, ulsan, [event(cam, "after", "fall", midnight + timedelta(seconds=30))])
    assert {k[2] for k in _stored(database)} == {day}
    body = _post(cctv, ulsan, [event(cam, "before", "fall", midnight - timedelta(seconds=10))])
    assert body["incidents_joined"] and not body["incidents_opened"]
    assert {k[2] for k in _stored(database)} == {day - timedelta(days=1)}
    assert _stored(database) == _recomputed(database)


def test_statistics_over_a_range_with_partial_days_match_the_incidents(cctv, ulsan, database):
    cam = make_camera(cctv, ulsan, "US-RANGE")
    start = (datetime.now(UTC) - timedelta(days=4)).replace(microsecond=0)
    for h in range(0, 96, 5):  # one incident every five hours over four days
        _post(cctv, ulsan, [event(cam, f"g-{h}", "smoke", start + timedelta(hours=h))])
    since, until = start + timedelta(hours=7, minutes=13), start + timedelta(hours=83)
    stats = cctv.get(f"{API}/stats", headers=ulsan,
                     params={"since": since.isoformat(), "until": until.isoformat()}).json()
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        started = s.scalars(select(CctvIncident.started_at).where(CctvIncident.camera_id == cam)).all()
    expected: dict[str, int] = {}
    for t in started:
        if since <= t < until:
            d = t.astimezone(SEOUL).date().isoformat()
            expected[d] = expected.get(d, 0) + 1
    assert {r["day"]: r["incidents"] for r in stats["per_type_per_day"]} == expected
    assert sum(expected.values()) == len([t for t in started if since <= t < until]) > 10


def test_median_is_interpolated_within_its_bucket():
    counts = [0] * (len(rollup.BUCKET_EDGES_S) + 1)
    assert rollup.median_from_buckets(counts) is None
    counts[2] = 4  # four times between 60 s and 120 s
    assert rollup.median_from_buckets(counts) == 90.0
    counts[-1] = 10  # most took longer than the last edge: the median is that edge
    assert rollup.median_from_buckets(counts) == float(rollup.BUCKET_EDGES_S[-1])


def test_statistics_show_only_the_callers_municipalities(cctv, ulsan, world):
    changwon = api_headers(cctv, "cw.staff")
    ulsan_cam = make_camera(cctv, ulsan, "US-TEN")
    changwon_cam = make_camera(cctv, changwon, "CW-TEN")
    at = datetime.now(UTC) - timedelta(days=2)
    _post(cctv, ulsan, [event(ulsan_cam, "u1", "fire", at)])
    later = at + timedelta(hours=1)  # past the quiet window: a second incident
    _post(cctv, changwon, [event(changwon_cam, "c1", "fall", at), event(changwon_cam, "c2", "fall", later)])
    mine = cctv.get(f"{API}/stats", headers=ulsan).json()
    assert [(r["type"], r["incidents"]) for r in mine["per_type_per_day"]] == [("fire", 1)]
    assert {f["camera_id"] for f in mine["false_alarms"]} == {ulsan_cam}
    theirs = cctv.get(f"{API}/stats", headers=changwon).json()
    assert {r["type"] for r in theirs["per_type_per_day"]} == {"fall"}
    assert sum(r["incidents"] for r in theirs["per_type_per_day"]) == 2
