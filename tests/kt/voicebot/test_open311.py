"""A civic app files and follows requests through Open311 GeoReport v2."""

from datetime import timedelta

from app.core.i18n import SEOUL
from tests.conftest import api_headers, seoul_now
from tests.kt.voicebot.conftest import CALLER

V2 = "/open311/v2"
CW = {"jurisdiction_id": "4812000000"}


def _next_weekday(days: int = 2) -> str:
    day = seoul_now().date() + timedelta(days=days)
    return (day + timedelta(days=1) if day.weekday() == 6 else day).isoformat()


def test_discovery_services_and_definitions_are_public_per_jurisdiction(client, vb_world):
    d = client.get(f"{V2}/discovery.json").json()
    assert d["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"
    services = client.get(f"{V2}/services.json", params=CW).json()
    assert {s["service_code"] for s in services} == {"bulky_waste", "night_duty", "illegal_parking"}
    assert all(s["metadata"] is True and s["type"] == "realtime" for s in services)
    definition = client.get(f"{V2}/services/bulky_waste.json", params=CW).json()
    item = next(a for a in definition["attributes"] if a["code"] == "item")
    assert item["datatype"] == "singlevaluelist" and {"key": "소파", "name": "소파"} in item["values"]
    r = client.get(f"{V2}/services.json")
    assert r.status_code == 400 and r.json() == [{"code": 400, "description": r.json()[0]["description"]}]
    assert client.get(f"{V2}/services.json", params={"jurisdiction_id": "9999999999"}).status_code == 404
    assert client.get(f"{V2}/services/nothing.json", params=CW).json()[0]["code"] == 404


def test_file_and_follow_requests_with_the_spec_errors(client, vb_world, api_key):
    base = {"api_key": api_key, "jurisdiction_id": "4812000000"}
    r = client.post(f"{V2}/requests.json", data={"jurisdiction_id": "4812000000", "service_code": "night_duty",
                                                "lat": "35.22", "long": "128.68"})
    assert r.status_code == 403 and r.json()[0]["code"] == 403
    r = client.post(f"{V2}/requests.json", data={**base, "lat": "35.22", "long": "128.68"})
    assert r.status_code == 400 and "service_code" in r.json()[0]["description"]
    r = client.post(f"{V2}/requests.json", data={**base, "service_code": "night_duty"})
    assert r.status_code == 400 and "location" in r.json()[0]["description"]
    r = client.post(f"{V2}/requests.json", data={**base, "service_code": "illegal_parking",
                                                "address_string": "창전동 1", "attribute[plate]": "12갸3456"})
    assert r.status_code == 400 and "plate" in r.json()[0]["description"]
    r = client.post(f"{V2}/requests.json", data={**base, "service_code": "night_duty", "lat": "abc", "long": "1"})
    assert r.status_code == 400
    r = client.post(f"{V2}/requests.json", data={**base, "service_code": "night_duty", "address_string": "창전동\x00 1",
                                                "first_name": "\x00", "attribute[category]": "noise\x00"})
    assert r.status_code == 422, r.text  # control characters refused at the edge: PostgreSQL cannot store NUL
    assert client.get(f"{V2}/tokens/a%00.json", params=CW).status_code == 422

    r = client.post(f"{V2}/requests.json", data={
        **base, "service_code": "illegal_parking", "address_string": "창원시 상남동 12", "lat": "35.22",
        "long": "128.68", "attribute[plate]": "12가3456", "description": "소화전 앞 주차",
        "phone": CALLER, "client_request_id": "app-7"})
    assert r.status_code == 200, r.text
    filed = r.json()[0]
    again = client.post(f"{V2}/requests.json", data={
        **base, "service_code": "illegal_parking", "address_string": "창원시 상남동 12",
        "attribute[plate]": "12가3456", "client_request_id": "app-7"}).json()[0]
    assert again["service_request_id"] == filed["service_request_id"]  # a retry files nothing new
    r = client.post(f"{V2}/requests.json", data={
        **base, "service_code": "bulky_waste", "address_string": "창원시 중앙동 5", "attribute[item]": "소파",
        "attribute[size]": "3인용", "attribute[quantity]": "2", "attribute[pickup_date]": _next_weekday()})
    assert r.status_code == 200, r.text
    assert r.json()[0]["service_notice"].startswith("수수료 24,000원")

    token = client.get(f"{V2}/tokens/{filed['token']}.json", params=CW).json()
    assert token == [{"service_request_id": filed["service_request_id"], "token": filed["token"]}]
    full = {**CW, "api_key": api_key}  # the key reads the full requests (a stranger: see test_open311_privacy)
    one = client.get(f"{V2}/requests/{filed['service_request_id']}.json", params=full).json()[0]
    assert one["status"] == "open" and one["interface_used"] == "open311"
    assert one["agency_responsible"] == "교통행정과 주정차단속팀" and one["requested_datetime"].endswith("Z")
    assert "phone" not in one and CALLER not in str(one)

    # The staff closes it: GeoReport shows it closed; filters by status and service work.
    h = api_headers(client, "cw.staff")
    client.post(f"/api/v1/kt/voicebot/requests/{filed['service_request_id']}/status", headers=h,
                json={"status": "resolved", "note": "계도 조치"})
    closed = client.get(f"{V2}/requests.json", params={**full, "status": "closed"}).json()
    assert [x["service_request_id"] for x in closed] == [filed["service_request_id"]]
    assert closed[0]["status_notes"] == "계도 조치"
    assert len(client.get(f"{V2}/requests.json", params={**full, "service_code": "bulky_waste"}).json()) == 1
    assert client.get(f"{V2}/requests.json", params={**CW, "start_date": "yesterday"}).status_code == 400
    assert client.get(f"{V2}/requests.json", params={**CW, "status": "pending"}).status_code == 400

    # A DX Hub caller may leave out jurisdiction_id: its own scope applies.
    assert client.get(f"{V2}/requests/{filed['service_request_id']}.json", headers=h).status_code == 200
    us = api_headers(client, "us.staff")
    assert client.get(f"{V2}/requests/{filed['service_request_id']}.json", headers=us).status_code == 404
    assert client.get(f"{V2}/requests.json", headers={"Authorization": "Bearer nonsense"}).status_code == 401

    # Another jurisdiction does not see 창원시's requests.
    ulsan = {"jurisdiction_id": "3100000000"}
    assert client.get(f"{V2}/requests.json", params=ulsan).json() == []
    assert client.get(f"{V2}/requests/{filed['service_request_id']}.json", params=ulsan).status_code == 404
    assert client.get(f"{V2}/tokens/{filed['token']}.json", params=ulsan).status_code == 404
    r = client.post(f"{V2}/requests.json", data={**base, "jurisdiction_id": "3100000000",
                                                "service_code": "night_duty", "address_string": "울산 1"})
    assert r.status_code in (400, 404) and isinstance(r.json(), list)


def test_a_pickup_date_counts_from_tomorrow_in_seoul(client, vb_world, api_key, clock_instant):
    today = clock_instant.astimezone(SEOUL).date()

    def book(day) -> int:
        return client.post(f"{V2}/requests.json", data={
            "api_key": api_key, "jurisdiction_id": "4812000000", "service_code": "bulky_waste",
            "address_string": "창원시 중앙동 5", "attribute[item]": "소파", "attribute[size]": "3인용",
            "attribute[pickup_date]": day.isoformat()}).status_code

    assert book(today) == 400  # today in Seoul is too late, even where it is still yesterday in UTC
    tomorrow = today + timedelta(days=1)
    assert book(tomorrow) == (400 if tomorrow.weekday() == 6 else 200)
    monday = tomorrow + timedelta(days=(7 - tomorrow.weekday()) % 7)
    assert book(monday) == 200 and book(today + timedelta(days=31)) == 400

