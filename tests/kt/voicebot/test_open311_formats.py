"""Open311 in both of the spec's formats: every operation in XML as in JSON, errors included, a default
jurisdiction, and photos filed as multipart ``media``."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.core.tenancy import SYSTEM, bind_principal
from app.kt.cctv.simulate import frame_png
from app.kt.voicebot.config import VoicebotSettings, get_voicebot_settings
from app.kt.voicebot.models import VoicebotRequest
from app.platform.models import AccessLog
from tests.conftest import seoul_now
from tests.kt.voicebot.test_open311_privacy import HOME, PLANTED, _plant

V2 = "/open311/v2"
CW = {"jurisdiction_id": "4812000000"}


def _xml(r) -> ET.Element:
    assert r.headers["content-type"].startswith("text/xml"), r.headers["content-type"]
    assert r.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<')
    return ET.fromstring(r.content)


def _plain(element: ET.Element) -> dict:
    """An XML record as the JSON shows it (text of each child; empty elements are null)."""
    return {child.tag: child.text for child in element}


def _as_text(view: dict) -> dict:
    return {k: (None if v is None else str(v).lower() if isinstance(v, bool) else str(v)) for k, v in view.items()}


def _errors(r, code: int) -> str:
    """The spec's XML error: ``<errors><error><code/><description/></error></errors>`` with the status."""
    assert r.status_code == code, r.text
    root = _xml(r)
    assert root.tag == "errors" and [e.tag for e in root] == ["error"]
    assert root.find("error/code").text == str(code)
    return root.find("error/description").text


def _weekday_ahead(days: int = 3) -> str:
    day = seoul_now().date() + timedelta(days=days)
    return (day + timedelta(days=1) if day.weekday() == 6 else day).isoformat()


def test_every_operation_answers_the_specs_xml_with_the_jsons_values(client, vb_world, api_key):
    discovery = _xml(client.get(f"{V2}/discovery.xml"))
    assert discovery.tag == "discovery"
    endpoint = discovery.find("endpoints/endpoint")
    assert endpoint.find("specification").text == "http://wiki.open311.org/GeoReport_v2"
    assert [f.text for f in endpoint.find("formats")] == ["text/xml", "application/json"]

    services = _xml(client.get(f"{V2}/services.xml", params=CW))
    assert services.tag == "services" and {s.tag for s in services} == {"service"}
    json_services = client.get(f"{V2}/services.json", params=CW).json()
    assert [_plain(s) for s in services] == [_as_text(s) for s in json_services]
    assert services.find("service/metadata").text == "true"

    definition = _xml(client.get(f"{V2}/services/bulky_waste.xml", params=CW))
    assert definition.tag == "service_definition" and definition.find("service_code").text == "bulky_waste"
    item = next(a for a in definition.find("attributes") if a.find("code").text == "item")
    assert item.tag == "attribute" and item.find("datatype").text == "singlevaluelist"
    assert {"key": "소파", "name": "소파"} in [_plain(v) for v in item.find("values")]
    assert [v.tag for v in item.find("values")] == ["value"] * len(item.find("values"))

    filed = client.post(f"{V2}/requests.xml", data={
        "api_key": api_key, **CW, "service_code": "bulky_waste", "address_string": "창원시 중앙동 5",
        "attribute[item]": "소파", "attribute[size]": "3인용", "attribute[pickup_date]": _weekday_ahead()})
    root = _xml(filed)
    assert root.tag == "service_requests" and [e.tag for e in root] == ["request"]
    answer = _plain(root.find("request"))
    assert set(answer) == {"service_request_id", "token", "service_notice", "account_id"}
    assert answer["service_notice"].startswith("수수료 12,000원") and answer["account_id"] is None
    rid = answer["service_request_id"]

    full = {**CW, "api_key": api_key}
    one = _xml(client.get(f"{V2}/requests/{rid}.xml", params=full))
    as_json = client.get(f"{V2}/requests/{rid}.json", params=full).json()
    assert [_plain(r) for r in one] == [_as_text(r) for r in as_json]
    mine = _plain(one.find("request"))
    assert mine["status"] == "open" and mine["agency_responsible"] == as_json[0]["agency_responsible"]
    # The pickup is expected from the start of its day in Seoul (15:00 UTC the day before).
    assert mine["expected_datetime"].endswith("T15:00:00Z") and mine["media_url"] is None

    listed = _xml(client.get(f"{V2}/requests.xml", params={**full, "service_code": "bulky_waste",
                                                           "status": "open"}))
    assert [r.find("service_request_id").text for r in listed] == [rid]
    assert len(_xml(client.get(f"{V2}/requests.xml", params={**full, "status": "closed"}))) == 0
    token = _xml(client.get(f"{V2}/tokens/{answer['token']}.xml", params=CW))
    assert [_plain(r) for r in token] == [{"service_request_id": rid, "token": answer["token"]}]


def test_errors_answer_in_the_urls_format(client, vb_world, api_key):
    assert "jurisdiction_id" in _errors(client.get(f"{V2}/services.xml"), 400)
    assert "not found" in _errors(client.get(f"{V2}/services.xml", params={"jurisdiction_id": "9999999999"}), 404)
    assert "nothing" in _errors(client.get(f"{V2}/services/nothing.xml", params=CW), 404)
    assert "status" in _errors(client.get(f"{V2}/requests.xml", params={**CW, "status": "pending"}), 400)
    _errors(client.get(f"{V2}/requests/12345.xml", params=CW), 404)
    _errors(client.get(f"{V2}/tokens/nope.xml", params=CW), 404)
    _errors(client.get(f"{V2}/requests.xml", params={**CW, "api_key": "nope"}), 403)
    assert "api_key" in _errors(client.post(f"{V2}/requests.xml", data={"service_code": "night_duty"}), 403)
    description = _errors(client.post(f"{V2}/requests.xml", data={
        "api_key": api_key, "service_code": "illegal_parking", "address_string": "창전동 1",
        "attribute[plate]": "<b>12갸3456</b>"}), 400)
    assert "plate" in description
    # The same failures in JSON stay JSON.
    r = client.get(f"{V2}/services/nothing.json", params=CW)
    assert r.status_code == 404 and r.json() == [{"code": 404, "description": "service_code nothing not found"}]


def test_the_public_feed_is_masked_alike_in_xml(client, vb_world, database, api_key):
    public = _plant(database, vb_world, service_code="night_duty", age=timedelta(days=2))
    refund = _plant(database, vb_world, service_code="local_tax_refund", age=timedelta(days=2))
    r = client.get(f"{V2}/requests.xml", params=CW)
    feed = _xml(r)
    assert [x.find("service_request_id").text for x in feed] == [str(public)]
    for planted in ("홍길동", "김영희", "9876", "1234567", "5678-91", "12가3456", "대우아파트", "103동", "photo.jpg"):
        assert planted.encode() not in r.content, planted
    shown = _plain(feed.find("request"))
    assert shown == _as_text(client.get(f"{V2}/requests.json", params=CW).json()[0])
    assert shown["address"] == "경상남도 창원시 상남동" and shown["media_url"] is None
    _errors(client.get(f"{V2}/requests/{refund}.xml", params=CW), 404)
    full = _plain(_xml(client.get(f"{V2}/requests/{public}.xml", params={**CW, "api_key": api_key}))[0])
    assert full["description"] == PLANTED and full["address"] == HOME


@pytest.fixture
def vb_settings(app, tmp_path):
    """The voicebot's settings for this app (as DXHUB_KT_VOICEBOT_* would set them)."""
    current = VoicebotSettings(open311_media_max_bytes=200_000, open311_media_dir=tmp_path / "media")
    app.dependency_overrides[get_voicebot_settings] = lambda: current

    def configure(**values) -> VoicebotSettings:
        nonlocal current
        current = current.model_copy(update=values)
        return current

    yield configure
    app.dependency_overrides.pop(get_voicebot_settings, None)


def test_a_default_jurisdiction_serves_calls_that_name_none(client, vb_world, api_key, vb_settings):
    _errors(client.get(f"{V2}/services.xml"), 400)
    vb_settings(open311_jurisdiction_id="4812000000")
    assert {s.find("service_code").text for s in _xml(client.get(f"{V2}/services.xml"))} == {
        "bulky_waste", "night_duty", "illegal_parking"}
    assert client.get(f"{V2}/services/night_duty.json").json()["service_code"] == "night_duty"
    r = client.post(f"{V2}/requests.json", data={"api_key": api_key, "service_code": "night_duty",
                                                "address_string": "창원시 상남동 12"})
    assert r.status_code == 200, r.text
    rid = r.json()[0]["service_request_id"]
    assert client.get(f"{V2}/requests/{rid}.json", params={"api_key": api_key}).json()[0]["service_code"] == \
        "night_duty"
    # A named jurisdiction still wins over the default.
    assert client.get(f"{V2}/requests/{rid}.json", params={"jurisdiction_id": "3100000000"}).status_code == 404
    vb_settings(open311_jurisdiction_id="48120")  # a mistyped setting is the caller's 400, not a crash
    assert "10-digit" in _errors(client.get(f"{V2}/services.xml"), 400)


def _count(database) -> int:
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        return s.scalar(select(func.count()).select_from(VoicebotRequest))


def test_a_photo_filed_as_media_is_kept_checked_and_shown_to_credentialed_readers(
        client, vb_world, database, api_key, vb_settings, tmp_path, clock):
    photo = frame_png(7, 64, 48)
    form = {"api_key": api_key, **CW, "service_code": "night_duty", "address_string": "창원시 상남동 12",
            "description": "가로등 고장", "attribute[category]": "streetlight", "client_request_id": "photo-1"}
    before = _count(database)
    # Refused in the spec's format, nothing filed: not an image, too large, empty, a photo and a link.
    description = _errors(client.post(f"{V2}/requests.xml", data=form,
                                      files={"media": ("lamp.png", b"GIF89a not a png", "image/png")}), 400)
    assert "JPEG or PNG" in description and description.startswith("media")
    vb_settings(open311_media_max_bytes=len(photo) - 1)
    assert "larger than" in _errors(client.post(f"{V2}/requests.xml", data=form,
                                                files={"media": ("lamp.png", photo, "image/png")}), 400)
    assert "larger than" in _errors(client.post(f"{V2}/requests.xml", data=form,
                                                files={"media": ("lamp.png", photo * 200, "image/png")}), 400)
    vb_settings(open311_media_max_bytes=200_000)
    assert "empty" in _errors(client.post(f"{V2}/requests.xml", data=form,
                                          files={"media": ("lamp.png", b"", "image/png")}), 400)
    assert "not both" in _errors(client.post(f"{V2}/requests.xml", data={**form, "media_url": "https://x.test/a.png"},
                                             files={"media": ("lamp.png", photo, "image/png")}), 400)
    r = client.post(f"{V2}/requests.json", data={**form, "media_url": "javascript:alert(1)"})
    assert r.status_code == 400 and "media_url" in r.json()[0]["description"]
    assert _count(database) == before
    assert not list((tmp_path / "media").rglob("*.png"))

    filed = client.post(f"{V2}/requests.xml", data=form, files={"media": ("lamp.png", photo, "image/png")})
    rid = _plain(_xml(filed).find("request"))["service_request_id"]
    again = client.post(f"{V2}/requests.json", data=form, files={"media": ("lamp.png", photo, "image/png")})
    assert again.json()[0]["service_request_id"] == rid  # a retry files nothing new, keeps no second copy
    assert len(list((tmp_path / "media").rglob("*.png"))) == 1

    full = {**CW, "api_key": api_key}
    link = client.get(f"{V2}/requests/{rid}.json", params=full).json()[0]["media_url"]
    assert link.startswith("http://testserver/open311/v2/media/") and link.endswith(".png")
    assert _plain(_xml(client.get(f"{V2}/requests/{rid}.xml", params=full))[0])["media_url"] == link
    served = client.get(link)
    assert served.status_code == 200 and served.content == photo
    assert served.headers["content-type"] == "image/png"
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        reads = s.scalars(select(AccessLog).where(AccessLog.subject_type == "vb_request_media")).all()
        assert [(a.subject_id, a.action) for a in reads] == [(rid, "view")]
    assert client.get(link.replace(".png", ".jpg")).status_code == 404
    assert client.get(f"{V2}/media/..%2F..%2Fsecret.png").status_code == 404

    # A stranger never sees the link, in either format.
    clock.shift(timedelta(hours=2))
    assert client.get(f"{V2}/requests/{rid}.json", params=CW).json()[0]["media_url"] is None
    assert _plain(_xml(client.get(f"{V2}/requests/{rid}.xml", params=CW))[0])["media_url"] is None


@pytest.mark.frozen_clock
def test_too_many_filings_are_refused_in_the_urls_format(settings, database, vb_world):
    from fastapi.testclient import TestClient

    from app.main import create_app

    app = create_app(settings.model_copy(update={"rate_limit_open311_ip": "1/minute"}), database)
    with TestClient(app) as client:
        _errors(client.post(f"{V2}/requests.xml", data={"service_code": "night_duty"}), 403)
        r = client.post(f"{V2}/requests.xml", data={"service_code": "night_duty"})
        _errors(r, 429)
        assert r.headers["retry-after"] == "60"


def test_markup_in_what_a_caller_wrote_stays_text_in_xml(client, vb_world, api_key):
    hostile = '<script>alert("x")</script> & ]]> <!-- --> 가로등이 <꺼졌어요>'
    r = client.post(f"{V2}/requests.xml", data={"api_key": api_key, **CW, "service_code": "night_duty",
                                               "address_string": "창원시 상남동 <12>", "description": hostile})
    rid = _xml(r).find("request/service_request_id").text
    r = client.get(f"{V2}/requests/{rid}.xml", params={**CW, "api_key": api_key})
    assert b"<script>" not in r.content and b"<12>" not in r.content
    shown = _plain(_xml(r)[0])
    assert shown["description"] == hostile and shown["address"] == "창원시 상남동 <12>"


def test_characters_xml_cannot_hold_are_left_out_of_stored_text():
    from app.kt.voicebot.open311 import to_xml

    raw = to_xml("errors", [{"code": 400, "description": "a\x01b\ufffe\ud800<c>&\U0001f600"}])
    assert ET.fromstring(raw).find("error/description").text == "ab<c>&\U0001f600"
