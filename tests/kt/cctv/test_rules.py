"""A municipality tunes its own incident rules; another municipality's stay as they were."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import api_headers, web_login
from tests.kt.cctv.conftest import event, make_camera, t0

API = "/api/v1/kt/cctv"


def test_a_municipality_tunes_its_rules_by_api_and_form(cctv, ulsan, clock_instant):
    cam = make_camera(cctv, ulsan)
    rules = {r["type"]: r for r in cctv.get(f"{API}/rules", headers=ulsan).json()}
    assert rules["smoke"] == {"type": "smoke", "quiet_s": 120, "min_confidence": 0.4, "alert_confidence": 0.7,
                              "required_zones": [], "municipality_code": "3100000000", "customised": False}
    # smoke at 0.5 opens an incident under the default rule
    r = cctv.post(f"{API}/events", headers=ulsan, json=event(cam, "s1", "smoke", t0(), confidence=0.5))
    assert len(r.json()["incidents_opened"]) == 1

    bad = cctv.put(f"{API}/rules/smoke", headers=ulsan, json={"quiet_s": 60, "min_confidence": 0.8,
                                                              "alert_confidence": 0.5})
    assert bad.status_code == 422
    assert cctv.put(f"{API}/rules/meteor", headers=ulsan, json={"quiet_s": 60, "min_confidence": 0.8}
                    ).status_code == 422
    r = cctv.put(f"{API}/rules/smoke", headers=ulsan, json={"quiet_s": 60, "min_confidence": 0.6,
                                                            "alert_confidence": 0.9, "required_zones": ["watch"]})
    assert r.status_code == 200
    smoke = next(x for x in r.json() if x["type"] == "smoke")
    assert smoke["customised"] is True and smoke["quiet_s"] == 60 and smoke["required_zones"] == ["watch"]

    later = t0() + timedelta(minutes=30)
    r = cctv.post(f"{API}/events", headers=ulsan, json=event(cam, "s2", "smoke", later, confidence=0.5))
    assert r.json()["accepted"] == 1 and r.json()["incidents_opened"] == []  # now below the minimum
    r = cctv.post(f"{API}/events", headers=ulsan, json=[
        event(cam, "s3", "smoke", later, confidence=0.95), event(cam, "s4", "smoke", later + timedelta(seconds=61))])
    opened = r.json()["incidents_opened"]
    assert len(opened) == 2 and opened[0]["severity"] == "detection"  # 61 s > the 60 s window; no watch zone

    changwon = api_headers(cctv, "cw.staff")
    assert next(x for x in cctv.get(f"{API}/rules", headers=changwon).json() if x["type"] == "smoke")[
        "customised"] is False
    assert cctv.get(f"{API}/rules", headers=changwon, params={"municipality_code": "3100000000"}).status_code == 422
    assert cctv.delete(f"{API}/rules/smoke", headers=changwon, params={"municipality_code": "3100000000"}
                       ).status_code == 422
    assert cctv.get(f"{API}/rules", headers=api_headers(cctv, "root")).status_code == 422  # whose rules?
    viewer = api_headers(cctv, "us.viewer")
    assert cctv.put(f"{API}/rules/smoke", headers=viewer, json={"quiet_s": 60, "min_confidence": 0.1}
                    ).status_code == 403

    cctv.cookies.clear()
    token = web_login(cctv, "us.staff")
    page = cctv.get("/kt/cctv/stats")
    assert "자체 기준" in page.text and 'id="rule-smoke"' in page.text
    r = cctv.post("/kt/cctv/rules/fire", data={"csrf_token": token, "quiet_s": "90", "min_confidence": "70",
                                               "alert_confidence": "50"})
    assert r.status_code == 400 and "경보 기준은 최소 신뢰도보다 낮을 수 없습니다" in r.text and 'value="90"' in r.text
    r = cctv.post("/kt/cctv/rules/fire", data={"csrf_token": token, "quiet_s": "90", "min_confidence": "50",
                                               "alert_confidence": "80"}, follow_redirects=False)
    assert r.status_code == 303
    fire = next(x for x in cctv.get(f"{API}/rules", headers=ulsan).json() if x["type"] == "fire")
    assert fire["quiet_s"] == 90 and fire["min_confidence"] == 0.5 and fire["alert_confidence"] == 0.8
    r = cctv.post("/kt/cctv/rules/smoke", data={"csrf_token": token, "reset": "1"}, follow_redirects=False)
    assert r.status_code == 303
    smoke = next(x for x in cctv.get(f"{API}/rules", headers=ulsan).json() if x["type"] == "smoke")
    assert smoke["customised"] is False and smoke["min_confidence"] == 0.4
