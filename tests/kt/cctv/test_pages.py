"""The control-centre pages: render in Korean, workflow by form, cameras and zones, statistics and CSV."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.core.tenancy import SYSTEM, bind_principal
from app.kt.cctv.demo import load_demo, sample_data
from app.platform.models import AccessLog
from tests.conftest import web_login
from tests.kt.cctv.conftest import NO_PARKING, PNG, event, make_camera, t0


def _setup(cctv, ulsan) -> tuple[int, int]:
    cam = make_camera(cctv, ulsan, zones=[{"name": "정류장", "type": "no_parking", "polygon": NO_PARKING}])
    r = cctv.post("/api/v1/kt/cctv/events", headers=ulsan, json=event(cam, "e1", "fire", t0()))
    iid = r.json()["incidents_opened"][0]["id"]
    cctv.post("/api/v1/kt/cctv/snapshots", headers=ulsan, data={"event_id": "e1", "camera_id": str(cam)},
              files={"file": ("a.png", PNG)})
    return cam, iid


def test_control_centre_pages_render_in_korean(cctv, ulsan, database):
    cam, iid = _setup(cctv, ulsan)
    cctv.cookies.clear()
    web_login(cctv, "us.staff")
    page = cctv.get("/kt/cctv/")
    assert page.status_code == 200 and "CCTV AI 관제센터" in page.text and "화재" in page.text
    assert f'id="incident-{iid}"' in page.text and "cctv-urgent" in page.text
    assert "js/cctv-console.js" in page.text and 'data-stream-url="' in page.text
    script = cctv.get("/static/js/cctv-console.js").text
    assert "AudioContext" in script and "EventSource" in script
    rows = cctv.get("/kt/cctv/incidents/rows", params={"type": "smoke"})
    assert rows.status_code == 200 and f'id="incident-{iid}"' not in rows.text
    detail = cctv.get(f"/kt/cctv/incidents/{iid}")
    assert detail.status_code == 200 and "확인" in detail.text
    assert re.search(r'<rect x="0.6" y="0.1" width="0.1" height="0.2"', detail.text)  # the box over the image
    snap = re.search(r'/kt/cctv/snapshots/(\d+)', detail.text)
    assert snap and cctv.get(snap.group(0)).content == PNG
    with database.unit_of_work(principal=SYSTEM) as s:  # each view of the image is logged: who and when
        views = s.scalars(select(AccessLog).where(AccessLog.subject_type == "kt_cctv_snapshot",
                                                  AccessLog.action == "view")).all()
        assert [(v.actor, v.subject_id) for v in views] == [("user:us.staff", snap.group(1))]
        assert views[0].occurred_at is not None
    cameras = cctv.get("/kt/cctv/cameras")
    assert cameras.status_code == 200 and "카메라 위치" in cameras.text and "<circle" in cameras.text
    camera = cctv.get(f"/kt/cctv/cameras/{cam}")
    assert camera.status_code == 200 and "<polygon" in camera.text
    stats = cctv.get("/kt/cctv/stats")
    assert stats.status_code == 200 and "유형별 일별 사건" in stats.text and "사건 판정 기준" in stats.text
    csv = cctv.get("/kt/cctv/stats.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "per_type_per_day" in csv.text and ",fire,1" in csv.text
    assert "CCTV AI 관제" in cctv.get("/").text  # the home widget
    assert cctv.get("/kt/cctv/incidents/999999").status_code == 404
    assert "Control centre" in cctv.get("/kt/cctv/?lang=en").text


def test_workflow_by_form(cctv, ulsan):
    _cam, iid = _setup(cctv, ulsan)
    cctv.cookies.clear()
    token = web_login(cctv, "us.staff")
    url = f"/kt/cctv/incidents/{iid}"
    r = cctv.post(f"{url}/dispatch", data={"csrf_token": token, "target": "119"}, follow_redirects=False)
    assert r.status_code == 303  # refused with a message: not acknowledged yet
    assert "지금은 할 수 없는 단계입니다: 사건이 신규 상태입니다." in cctv.get(url).text
    assert cctv.post(f"{url}/acknowledge", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    r = cctv.post(f"{url}/dispatch", data={"csrf_token": token, "target": "department", "note": "x"})
    assert r.status_code == 400 and 'value="department" selected' in r.text
    r = cctv.post(f"{url}/dispatch", data={"csrf_token": token, "target": "department", "department": "교통행정과"},
                  follow_redirects=False)
    assert r.status_code == 303
    page = cctv.get(url).text
    assert "교통행정과" in page and "출동" in page
    assert cctv.post(f"{url}/resolve", data={"csrf_token": token, "note": "조치 완료"},
                     follow_redirects=False).status_code == 303
    assert "조치 완료" in cctv.get(url).text
    assert cctv.post(f"{url}/acknowledge", data={}, follow_redirects=False).status_code == 403  # no CSRF token
    assert cctv.post(f"{url}/explode", data={"csrf_token": token}).status_code == 404

    other = cctv.post("/api/v1/kt/cctv/events", headers=ulsan, json=event(_cam, "e2", "smoke", t0(), confidence=0.5))
    other_id = other.json()["incidents_opened"][0]["id"]
    cctv.cookies.clear()
    token = web_login(cctv, "us.viewer")  # a viewer sees but cannot change
    page = cctv.get(f"/kt/cctv/incidents/{other_id}")
    assert page.status_code == 200 and "/acknowledge" not in page.text
    assert cctv.post(f"/kt/cctv/incidents/{other_id}/acknowledge", data={"csrf_token": token}).status_code == 403


def test_cameras_and_zones_by_form(cctv, ulsan):
    cctv.cookies.clear()
    token = web_login(cctv, "us.staff")
    r = cctv.post("/kt/cctv/cameras", data={"csrf_token": token, "external_id": "US-9", "name": "울산역",
                                            "lat": "135", "lon": "129.1"})
    assert r.status_code == 400 and 'value="울산역"' in r.text
    r = cctv.post("/kt/cctv/cameras", data={"csrf_token": token, "external_id": "US-9", "name": "울산역",
                                            "lat": "35.55", "lon": "129.13"}, follow_redirects=False)
    assert r.status_code == 303
    cam_url = r.headers["location"]
    r = cctv.post(f"{cam_url}/zones", data={"csrf_token": token, "zones_json": "[{oops"})
    assert r.status_code == 400 and "[{oops" in r.text
    bad = '[{"name": "정류장", "type": "no_parking", "polygon": [[0,0],[2,0],[1,1]]}]'
    r = cctv.post(f"{cam_url}/zones", data={"csrf_token": token, "zones_json": bad})
    assert r.status_code == 400
    r = cctv.post(f"{cam_url}/zones", follow_redirects=False, data={"csrf_token": token, "zones_json":
                                                                    '[{"name": "정류장", "type": "no_parking", '
                                                                    '"polygon": [[0,0.5],[0.5,0.5],[0.5,1]]}]'})
    assert r.status_code == 303
    assert "정류장" in cctv.get(cam_url).text


def test_demo_and_sample_data_load(cctv, database, world):
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        from app.platform.models import Municipality

        for code, ko in (("4167000000", "여주시"), ("4150000000", "이천시")):
            s.add(Municipality(code=code, name_ko=ko, name_en=ko, level="basic"))
        s.flush()
        load_demo(s, days=3)
        sample_data(s, world.changwon.id)
    cctv.cookies.clear()
    web_login(cctv, "us.staff")
    page = cctv.get("/kt/cctv/?status=all")
    assert page.status_code == 200 and "태화강" in page.text and "샘플" not in page.text
    assert cctv.get("/kt/cctv/stats").status_code == 200
    assert "에스컬레이션" in page.text  # the overdue demo fire is shown escalated (the demo agrees with its clock)
