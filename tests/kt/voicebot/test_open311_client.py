"""An independent Open311 client from PyPI (``georeport``) drives a real uvicorn server in both formats.

``georeport`` lists services, reads definitions and reads requests (JSON, or XML parsed by ``xmltodict``);
it cannot file requests, so filing is a plain multipart POST (``requests``) whose XML answer is read by
``xmltodict`` as well: no parser of ours is on the reading side.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.kt.cctv.simulate import frame_png
from app.kt.voicebot.config import get_voicebot_settings
from tests.conftest import seoul_now
from tests.e2e.conftest import live_server  # noqa: F401  (the real server fixture)

georeport = pytest.importorskip("georeport", reason="the dev extra installs georeport (pip install -e .[dev])")
xmltodict = pytest.importorskip("xmltodict")
requests = pytest.importorskip("requests")


def _records(value) -> list[dict]:
    """xmltodict gives one element as a dict, several as a list."""
    return value if isinstance(value, list) else [value]


def _as_text(view: dict) -> dict:
    return {k: (None if v is None else str(v).lower() if isinstance(v, bool) else str(v)) for k, v in view.items()}


@pytest.fixture
def open311_env(monkeypatch, tmp_path):
    """The server's voicebot settings from the environment, as a deployment sets them."""
    monkeypatch.setenv("DXHUB_KT_VOICEBOT_OPEN311_MEDIA_DIR", str(tmp_path / "media"))
    get_voicebot_settings.cache_clear()
    yield monkeypatch
    get_voicebot_settings.cache_clear()


def test_a_georeport_client_lists_reads_and_follows_requests_in_both_formats(
        vb_world, api_key, open311_env, live_server, clock, tmp_path):  # noqa: F811
    root = f"{live_server}/open311/v2"
    day = seoul_now().date() + timedelta(days=3)
    pickup = (day + timedelta(days=1) if day.weekday() == 6 else day).isoformat()
    seen: dict[str, dict] = {}
    for fmt in ("json", "xml"):
        if fmt == "xml":  # this pass leaves jurisdiction_id out: the server's default serves
            open311_env.setenv("DXHUB_KT_VOICEBOT_OPEN311_JURISDICTION_ID", "4812000000")
            get_voicebot_settings.cache_clear()
        client = georeport.GeoReport(root, jurisdiction="4812000000" if fmt == "json" else None,
                                     api_key=api_key, output_format=fmt)
        services = [_as_text(s) for s in client.get_service_list()]
        assert {s["service_code"] for s in services} == {"bulky_waste", "night_duty", "illegal_parking"}
        definition = client.get_service_definition("bulky_waste")
        attributes = definition["attributes"] if fmt == "json" else definition["attributes"]["attribute"]
        item = next(a for a in attributes if a["code"] == "item")
        values = item["values"] if fmt == "json" else item["values"]["value"]
        assert {"key": "소파", "name": "소파"} in [dict(v) for v in values]
        assert str(item["required"]).lower() == "true"

        filed = requests.post(f"{root}/requests.{fmt}", timeout=10, data={
            "api_key": api_key, "jurisdiction_id": "4812000000", "service_code": "bulky_waste",
            "address_string": "창원시 성산구 상남동 12", "lat": "35.2212345", "long": "128.6812345",
            "description": f"소파 수거 ({fmt})", "attribute[item]": "소파", "attribute[size]": "3인용",
            "attribute[quantity]": "1", "attribute[pickup_date]": pickup,
            "first_name": "길동", "last_name": "홍", "phone": "010-9876-5432"},
            files={"media": ("sofa.png", frame_png(5, 48, 32), "image/png")})
        assert filed.status_code == 200, filed.text
        answer = filed.json()[0] if fmt == "json" else xmltodict.parse(filed.content)["service_requests"]["request"]
        assert answer["service_notice"].startswith("수수료 12,000원, 납부번호 BW")
        rid = answer["service_request_id"]

        clock.shift(timedelta(hours=2))  # bulky waste is published an hour after it is filed
        one = _as_text(client.get_service_request(rid))
        assert one["service_request_id"] == rid and one["status"] == "open"
        assert one["service_code"] == "bulky_waste" and one["agency_responsible"]
        # What the client reads is the public, masked view: no photo, no payment reference, a coarse place.
        assert one["media_url"] is None and one["service_notice"] == "수수료 12,000원"
        assert one["address"] == "창원시 성산구 상남동" and (one["lat"], one["long"]) == ("35.221", "128.681")
        assert one["expected_datetime"] == f"{date.fromisoformat(pickup) - timedelta(days=1)}T15:00:00Z"
        listed = client.get_service_requests(service_code="bulky_waste", status="open")
        listed = [_as_text(r) for r in (listed if fmt == "json" else _records(listed))]
        assert rid in {r["service_request_id"] for r in listed}
        by_id = client.get_service_requests(service_request_id=rid)
        assert [r["service_request_id"] for r in _records(by_id)] == [rid]
        if fmt == "json":  # (the client cannot read an empty XML list: it indexes into None)
            assert client.get_service_requests(service_code="bulky_waste", status="closed") == []
        seen[fmt] = one
    # Both formats said the same of their requests, field by field.
    assert set(seen["json"]) == set(seen["xml"])
    for key in ("status", "service_name", "service_code", "agency_responsible", "service_notice", "address"):
        assert seen["json"][key] == seen["xml"][key], key
    assert len(list((tmp_path / "media").rglob("*.png"))) == 2
