"""A stranger reading the public Open311 feed learns nothing personal; credentials read the full requests."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta

from sqlalchemy import select

from app.core import privacy
from app.core.db import utcnow
from app.core.tenancy import SYSTEM, bind_principal
from app.kt.voicebot.models import VoicebotRequest
from app.platform.demo import DEMO_PASSWORD
from app.platform.models import AuditLog
from tests.conftest import api_headers, csrf_of, web_login

V2 = "/open311/v2"
CW = {"jurisdiction_id": "4812000000"}
NAME_AFTER_CUE = re.compile(r"(이름|성함|저는)\s*(?:은|는|이|:)?\s*[가-힣]{2}")
FULL_ADDRESS = re.compile(r"아파트|번지|\d+동|\d+호|\d+-\d+")
PERSONAL_NUMBERS = (privacy._PHONE, privacy._RRN, privacy._ACCOUNT, privacy._LONG_DIGITS, privacy._PLATE)


def _assert_nothing_personal(feed: list[dict]) -> None:
    for r in feed:
        words = " ".join(str(r.get(k) or "") for k in ("description", "status_notes", "address"))
        for pattern in PERSONAL_NUMBERS:
            assert not pattern.search(words), (pattern.pattern, words)
        assert not NAME_AFTER_CUE.search(words), words
        assert not FULL_ADDRESS.search(r.get("address") or ""), r["address"]
        for axis in ("lat", "long"):
            assert r[axis] is None or round(r[axis], 3) == r[axis]
        assert r["media_url"] is None and "납부번호" not in (r["service_notice"] or "")


def test_the_demo_feed_shows_a_stranger_nothing_personal(client, demo_loaded):
    with demo_loaded.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        stored = list(s.scalars(select(VoicebotRequest).where(VoicebotRequest.interface_used == "voicebot")))
        personal = {r.id for r in stored if r.service_code == "local_tax_refund"}
        full_addresses = {r.address for r in stored if r.address and FULL_ADDRESS.search(r.address)}
        plates = {r.attributes["plate"] for r in stored if r.attributes.get("plate")}
    assert personal and full_addresses and plates  # the demo holds what must not leak

    seen = 0
    for code in ("4150000000", "4831000000"):
        r = client.get(f"{V2}/requests.json", params={"jurisdiction_id": code})
        assert r.status_code == 200
        feed = r.json()
        seen += len(feed)
        _assert_nothing_personal(feed)
        assert {x["service_code"] for x in feed} <= {"bulky_waste", "night_duty", "illegal_parking"}
        text = json.dumps(feed, ensure_ascii=False)
        assert not any(a in text for a in full_addresses) and not any(p in text for p in plates)
        assert not {int(x["service_request_id"]) for x in feed} & personal
        for rid in sorted(personal)[:3]:
            assert client.get(f"{V2}/requests/{rid}.json", params={"jurisdiction_id": code}).status_code == 404
    assert seen > 0  # the public feed still publishes street problems

    # Staff of the municipality (signed in) read the full requests, the tax refunds among them.
    h = api_headers(client, "icheon.staff", DEMO_PASSWORD)
    full = client.get(f"{V2}/requests.json", headers=h).json()
    assert any(x["service_code"] == "local_tax_refund" for x in full)
    assert any(FULL_ADDRESS.search(x["address"] or "") for x in full)


PLANTED = ("제 이름은 홍길동이에요. 010-9876-5432로 연락 주세요. 주민번호 900101-1234567, "
           "계좌 302-1234-5678-91, 차는 12가3456, 저는 김영희입니다")
HOME = "경상남도 창원시 상남동 대우아파트 103동 202호"


def _plant(database, world, *, service_code: str, age: timedelta, **extra) -> int:
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        at = utcnow() - age
        r = VoicebotRequest(municipality_id=world.changwon.id, token=uuid.uuid4().hex, service_code=service_code,
                            department="당직실", description=PLANTED, address=HOME, lat=35.2212345,
                            long=128.6812345, attributes={}, interface_used="voicebot", status_notes=PLANTED,
                            media_url="https://example.org/photo.jpg", requested_at=at, updated_at=at, **extra)
        s.add(r)
        s.flush()
        return r.id


def test_planted_values_are_masked_and_coarsened_for_a_stranger_only(client, vb_world, database, api_key):
    public = _plant(database, vb_world, service_code="night_duty", age=timedelta(days=2))
    refund = _plant(database, vb_world, service_code="local_tax_refund", age=timedelta(days=2))
    feed = client.get(f"{V2}/requests.json", params=CW).json()
    assert [x["service_request_id"] for x in feed] == [str(public)]
    _assert_nothing_personal(feed)
    text = json.dumps(feed, ensure_ascii=False)
    for planted in ("홍길동", "김영희", "9876", "1234567", "5678-91", "12가3456", "대우아파트", "103동", "photo.jpg"):
        assert planted not in text, planted
    one = feed[0]
    assert one["address"] == "경상남도 창원시 상남동" and (one["lat"], one["long"]) == (35.221, 128.681)
    assert "010-****-5432" in one["description"] and "이름은 홍" in one["description"]
    assert client.get(f"{V2}/requests/{refund}.json", params=CW).status_code == 404

    # The key holding kt.voicebot:read for 창원시 reads both requests in full.
    full = client.get(f"{V2}/requests.json", params={**CW, "api_key": api_key}).json()
    assert {x["service_request_id"] for x in full} == {str(public), str(refund)}
    mine = next(x for x in full if x["service_request_id"] == str(public))
    assert mine["description"] == PLANTED and mine["address"] == HOME and mine["lat"] == 35.2212345
    assert client.get(f"{V2}/requests/{refund}.json", params={**CW, "api_key": api_key}).status_code == 200
    # A key of another tenant, or a wrong one, is refused in the spec's format.
    r = client.get(f"{V2}/requests.json", params={"jurisdiction_id": "3100000000", "api_key": api_key})
    assert r.status_code == 403 and r.json()[0]["code"] == 403
    assert client.get(f"{V2}/requests.json", params={**CW, "api_key": "nope"}).status_code == 403


def test_delay_review_and_hiding_decide_what_is_public(client, vb_world, database, api_key, clock):
    base = {"api_key": api_key, "jurisdiction_id": "4812000000"}
    night = client.post(f"{V2}/requests.json", data={**base, "service_code": "night_duty",
                                                    "address_string": "창원시 상남동 12", "description": "가로등 고장"})
    parking = client.post(f"{V2}/requests.json", data={**base, "service_code": "illegal_parking",
                                                      "address_string": "창원시 중앙동 5",
                                                      "attribute[plate]": "12가3456"})
    night_id, parking_id = night.json()[0]["service_request_id"], parking.json()[0]["service_request_id"]

    def public_ids() -> set[str]:
        return {x["service_request_id"] for x in client.get(f"{V2}/requests.json", params=CW).json()}

    assert public_ids() == set()  # newer than the 60-minute delay
    assert client.get(f"{V2}/requests/{night_id}.json", params=CW).status_code == 404
    clock.shift(timedelta(minutes=61))
    assert public_ids() == {night_id}  # parking waits for a staff check, however old
    h = api_headers(client, "cw.staff")
    r = client.post(f"/api/v1/kt/voicebot/requests/{parking_id}/moderation", headers=h, json={"action": "approve"})
    assert r.status_code == 200 and r.json()["reviewed_at"]
    assert public_ids() == {night_id, parking_id}

    r = client.post(f"/api/v1/kt/voicebot/requests/{night_id}/moderation", headers=h,
                    json={"action": "hide", "note": "주소가 구체적임"})
    assert r.status_code == 200 and r.json()["public_hidden"] is True
    assert r.json()["notes"][-1]["text"] == "공개 피드에서 숨김: 주소가 구체적임"
    assert public_ids() == {parking_id}
    assert client.get(f"{V2}/requests/{night_id}.json", params=CW).status_code == 404
    assert client.get(f"{V2}/requests/{night_id}.json", params={**CW, "api_key": api_key}).status_code == 200
    with database.unit_of_work() as s:  # the audit trail names who hid it
        bind_principal(s, SYSTEM)
        entries = s.scalars(select(AuditLog).where(AuditLog.object_type == "vb_request",
                                                   AuditLog.object_id == night_id, AuditLog.action == "update")).all()
        assert any((e.after or {}).get("public_hidden") is True and e.actor == "user:cw.staff" for e in entries)
    client.post(f"/api/v1/kt/voicebot/requests/{night_id}/moderation", headers=h, json={"action": "show"})
    assert public_ids() == {night_id, parking_id}
    r = client.post(f"/api/v1/kt/voicebot/requests/{night_id}/moderation", headers=h, json={"action": "publish"})
    assert r.status_code == 422


def test_services_are_per_jurisdiction_and_unknown_ones_are_the_spec_404(client, vb_world, api_key):
    h = api_headers(client, "us.staff")
    r = client.put("/api/v1/kt/voicebot/services", headers=h, json={"service_code": "bulky_waste", "enabled": False})
    assert r.status_code == 200 and r.json()["enabled"] is False
    r = client.put("/api/v1/kt/voicebot/services", headers=h,
                   json={"service_code": "local_tax_refund", "public": True, "publish_after_min": 0})
    assert r.json()["public"] is False and r.json()["personal"] is True  # never public
    ulsan = {"jurisdiction_id": "3100000000"}
    assert {s["service_code"] for s in client.get(f"{V2}/services.json", params=ulsan).json()} == {
        "night_duty", "illegal_parking"}
    assert client.get(f"{V2}/services/bulky_waste.json", params=ulsan).json()[0]["code"] == 404
    assert {s["service_code"] for s in client.get(f"{V2}/services.json", params=CW).json()} == {
        "bulky_waste", "night_duty", "illegal_parking"}

    for code in ("9999999999", "4800000000"):  # unknown; 경상남도 enabled no service
        r = client.get(f"{V2}/services.json", params={"jurisdiction_id": code})
        assert r.status_code == 404 and r.json() == [{"code": 404, "description": r.json()[0]["description"]}]
    assert client.get(f"{V2}/requests.json", params={"jurisdiction_id": "9999999999"}).status_code == 404

    # Filing a service the municipality does not offer is the spec's 404, and nothing is kept.
    r = client.post(f"{V2}/requests.json", data={"api_key": api_key, "jurisdiction_id": "4812000000",
                                                 "service_code": "bulky_waste", "address_string": "창원시 중앙동 5",
                                                 "attribute[item]": "소파", "attribute[size]": "3인용",
                                                 "attribute[pickup_date]": "2099-01-01"})
    assert r.status_code == 400  # 창원시 still offers it: the date is what is wrong
    cw = api_headers(client, "cw.staff")
    client.put("/api/v1/kt/voicebot/services", headers=cw, json={"service_code": "night_duty", "enabled": False})
    r = client.post(f"{V2}/requests.json", data={"api_key": api_key, "jurisdiction_id": "4812000000",
                                                 "service_code": "night_duty", "address_string": "창원시 중앙동 5"})
    assert r.status_code == 404 and r.json()[0]["code"] == 404
    full = client.get(f"{V2}/requests.json", params={**CW, "api_key": api_key}).json()
    assert full == []


def test_staff_pages_enable_services_and_moderate(client, vb_world, api_key):
    web_login(client, "cw.staff")
    page = client.get("/kt/voicebot/services")
    assert page.status_code == 200 and "4812000000" in page.text
    token = csrf_of(client, "/kt/voicebot/services")
    r = client.post("/kt/voicebot/services", data={"csrf_token": token, "municipality_code": "4812000000",
                                                   "service_code": "illegal_parking", "enabled": "true",
                                                   "publish_after_min": "abc"})
    assert r.status_code == 400
    r = client.post("/kt/voicebot/services", data={"csrf_token": token, "municipality_code": "4812000000",
                                                   "service_code": "illegal_parking", "publish_after_min": "0"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert "illegal_parking" not in {s["service_code"] for s in client.get(f"{V2}/services.json", params=CW).json()}

    filed = client.post(f"{V2}/requests.json", data={"api_key": api_key, "jurisdiction_id": "4812000000",
                                                    "service_code": "night_duty", "address_string": "창원시 상남동 1"})
    rid = filed.json()[0]["service_request_id"]
    detail = client.get(f"/kt/voicebot/requests/{rid}")
    assert 'value="hide"' in detail.text
    r = client.post(f"/kt/voicebot/requests/{rid}/moderation",
                    data={"csrf_token": csrf_of(client, f"/kt/voicebot/requests/{rid}"), "action": "hide"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert 'value="show"' in client.get(f"/kt/voicebot/requests/{rid}").text
