"""Garbage from an analyser or a browser gets a clear 4xx, never a 500."""

from __future__ import annotations

from tests.conftest import web_login
from tests.kt.cctv.conftest import PNG, event, make_camera, t0

API = "/api/v1/kt/cctv"


def test_garbage_never_answers_500(cctv, ulsan):
    cam = make_camera(cctv, ulsan)
    failures = []

    def check(r, what):
        if not 400 <= r.status_code < 500 and what[0] != "ok":
            failures.append((what, r.status_code, r.text[:160]))
        if r.status_code >= 500:
            failures.append((what, r.status_code, r.text[:160]))

    for q in ["since=garbage", "since=2026-01-01T00:00:00", "until=2026-13-01T00:00:00Z", "camera_id=99999999999",
              "camera_id=-1", "type=meteor", "status=x", "limit=0", "limit=100000", "offset=-5", "severity=high",
              "since=2027-01-01T00:00:00Z&until=2026-01-01T00:00:00Z"]:
        for path in ("incidents", "events", "stats"):
            r = cctv.get(f"{API}/{path}?{q}", headers=ulsan)
            if r.status_code != 200:  # unknown query parameters are ignored
                check(r, (path, q))
    json_headers = {**ulsan, "content-type": "application/json"}
    for body in [b"", b"null", b"123", b"[1,2]", b"[null]", b'{"a":1}', b"[[]]", b'[{"camera_id": 1e400}]',
                 b'[{"camera_id": 99999999999999999999}]', b"\xff\xfe", b"[" * 5000, b'{"event_id": "\\u0000"}']:
        check(cctv.post(f"{API}/events", headers=json_headers, content=body), ("events", body[:20]))
        check(cctv.post(f"{API}/heartbeats", headers=json_headers, content=body), ("heartbeats", body[:20]))
    good = event(cam, "x", "fire", t0())
    for key, value in [("camera_id", 2**63), ("bbox", [0.1, 0.1]), ("bbox", "abc"),
                       ("detected_at", "0001-01-01T00:00:00Z"), ("detected_at", "9999-12-31T23:59:59+14:00"),
                       ("attributes", {"a": {"b": [1] * 1000}}), ("track_id", "x" * 1000), ("event_id", "한글"),
                       ("confidence", -0.1), ("type", None)]:
        check(cctv.post(f"{API}/events", headers=ulsan, json={**good, key: value}), ("event", key))
    for data in [{}, {"event_id": "x"}, {"event_id": "x", "camera_id": "0"}, {"event_id": "x", "camera_id": "9" * 30},
                 {"event_id": "x", "camera_external_id": "a b"},
                 {"event_id": "x", "camera_id": str(cam), "camera_external_id": "US-001"}]:
        check(cctv.post(f"{API}/snapshots", headers=ulsan, data=data, files={"file": ("a.png", PNG)}),
              ("snapshot", str(data)))
    check(cctv.post(f"{API}/snapshots", headers=ulsan, data={"event_id": "x", "camera_id": str(cam)}),
          ("snapshot", "no file"))
    check(cctv.put(f"{API}/cameras/{cam}/zones", headers=ulsan,
                   json={"zones": [{"name": "a", "type": "watch", "polygon": [[0, 0]] * 100}]}), ("zones", "long"))
    check(cctv.patch(f"{API}/cameras/{cam}", headers=ulsan, json={"lat": 200}), ("camera", "lat"))
    for path in ("cameras/0", "cameras/abc", "incidents/99999999999", "snapshots/1/meta", "snapshots/99999999999"):
        check(cctv.get(f"{API}/{path}", headers=ulsan), ("get", path))
    long_department = {"target": "department", "department": "x" * 500}
    check(cctv.post(f"{API}/incidents/1/dispatch", headers=ulsan, json=long_department), ("dispatch", "long"))

    cctv.cookies.clear()
    web_login(cctv, "us.staff")
    for url in ["/kt/cctv/?camera_id=99999999999&type=x&status=y&page=0", "/kt/cctv/?page=99999999",
                "/kt/cctv/stats?since=0001-01-01&until=9999-12-31", "/kt/cctv/stats?since=x&until=y",
                "/kt/cctv/stats.csv?since=9999-12-31", "/kt/cctv/incidents/rows?camera_id=1e9"]:
        r = cctv.get(url)
        if r.status_code >= 500:
            failures.append((url, r.status_code))
    assert not failures, failures
