import asyncio
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from app.core.live import broker
from app.core.tenancy import SYSTEM, bind_principal
from app.kt.worknet import access
from app.platform import accounts
from app.platform.schemas import ApiKeyIn
from tests.conftest import api_headers

API = "/api/v1/kt/worknet"
SEOUL = ZoneInfo("Asia/Seoul")


def _last_weekday(hour: int, minute: int = 0, weekday: int = 2) -> datetime:
    """A recent Seoul time on the given weekday (0 = Monday), in the past."""
    day = datetime.now(SEOUL).date() - timedelta(days=7)
    while day.weekday() != weekday:
        day -= timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SEOUL)


def _setup(client, h, new_router):
    mine = new_router(h, "CW5G-0001")["id"]
    new_router(h, "CW5G-0002")
    lost = new_router(h, "CW5G-0003")["id"]
    client.post(f"{API}/routers/{mine}/assign", headers=h, json={"assignee_username": "cw2001",
                                                                  "assignee_name": "김민준", "department": "건설과"})
    client.post(f"{API}/routers/{lost}/status", headers=h, json={"status": "lost"})
    r = client.post(f"{API}/policies", headers=h, json={"department": "건설과", "weekdays": [0, 1, 2, 3, 4],
                                                        "start": "07:00", "end": "22:00", "failure_threshold": 3,
                                                        "failure_window_minutes": 5})
    assert r.status_code == 201, r.text
    return r.json()


def _event(cid, at, result="success", serial="CW5G-0001", user="cw2001", **extra):
    return {"client_id": cid, "occurred_at": at.isoformat(), "username": user, "router_serial": serial,
            "ip": "10.48.31.2", "result": result, **extra}


def test_policy_judges_events_and_raises_alerts_once(client, world, new_router):
    h = api_headers(client, "cw.staff")
    policy = _setup(client, h, new_router)
    assert policy["version"] == 1 and policy["start"] == "07:00"
    wed = _last_weekday(10)
    batch = [
        _event("e1", wed),                                         # fine
        _event("e2", wed.replace(hour=23, minute=30)),             # off hours
        _event("e3", wed + timedelta(minutes=5), serial="CW5G-0002"),  # not this user's router
        _event("e4", wed + timedelta(minutes=6), serial="ZZ5G-0404"),  # unregistered
        _event("e5", wed + timedelta(minutes=7), serial="CW5G-0003"),  # reported lost
        *[_event(f"f{i}", wed + timedelta(minutes=20, seconds=30 * i), result="failure", reason="bad password")
          for i in range(4)],                                        # a burst of failures
    ]
    r = client.post(f"{API}/access-events", json=batch, headers=h)
    assert r.status_code == 200, r.text
    assert r.json() == {"received": 9, "accepted": 9, "duplicates": 0, "alerts": 5}
    alerts = client.get(f"{API}/alerts", headers=h).json()
    kinds = sorted(a["kind"] for a in alerts["items"])
    assert kinds == ["failure_burst", "inactive_router", "off_hours", "unknown_router", "wrong_router"]
    off = next(a for a in alerts["items"] if a["kind"] == "off_hours")
    assert "23:30" in off["message"] and off["department"] == "건설과"
    burst = next(a for a in alerts["items"] if a["kind"] == "failure_burst")
    assert burst["params"]["count"] == 3

    # The integrator retries the same batch, and sends one more failure: no alert is raised twice.
    retry = [*batch, _event("f9", wed + timedelta(minutes=22), result="failure")]
    r = client.post(f"{API}/access-events", json=retry, headers=h)
    assert r.json() == {"received": 10, "accepted": 1, "duplicates": 9, "alerts": 0}
    assert client.get(f"{API}/alerts", headers=h).json()["total"] == 5

    events = client.get(f"{API}/access-events?flagged=true", headers=h).json()
    assert events["total"] == 4 and all(e["policy_version"] == 1 for e in events["items"])
    assert client.get(f"{API}/access-events?result=failure&username=cw2001", headers=h).json()["total"] == 5
    day = wed.date().isoformat()
    assert client.get(f"{API}/access-events?date_from={day}&date_to={day}", headers=h).json()["total"] == 10

    # A new policy version: later events are judged by it and say so.
    body = {k: policy[k] for k in ("department", "weekdays", "start", "failure_threshold", "failure_window_minutes")}
    r = client.put(f"{API}/policies/{policy['id']}", json={**body, "end": "24:00"}, headers=h)
    assert r.json()["version"] == 2
    assert client.put(f"{API}/policies/{policy['id']}", json={**body, "end": "24:00"}, headers=h).json()["version"] == 2
    versions = client.get(f"{API}/policies/{policy['id']}/versions", headers=h).json()
    assert [v["version"] for v in versions] == [2, 1] and versions[1]["rules"]["end_minute"] == 1320
    r = client.post(f"{API}/access-events", json=[_event("late", wed.replace(hour=23, minute=45))], headers=h)
    assert r.json()["alerts"] == 0
    late = client.get(f"{API}/access-events?limit=1", headers=h).json()["items"][0]
    assert late["client_id"] == "late" and late["policy_version"] == 2 and late["flags"] == []


def test_alert_workflow(client, world, new_router):
    h = api_headers(client, "cw.staff")
    _setup(client, h, new_router)
    client.post(f"{API}/access-events", json=[_event("x", _last_weekday(3))], headers=h)
    alert = client.get(f"{API}/alerts?status=open", headers=h).json()["items"][0]
    r = client.patch(f"{API}/alerts/{alert['id']}", json={"status": "acknowledged", "note": "본인 확인 중"}, headers=h)
    assert r.json()["status"] == "acknowledged" and r.json()["handled_by"] == "user:cw.staff"
    r = client.patch(f"{API}/alerts/{alert['id']}", json={"status": "resolved"}, headers=h)
    assert r.json()["status"] == "resolved" and r.json()["note"] == "본인 확인 중"
    r = client.patch(f"{API}/alerts/{alert['id']}", json={"status": "acknowledged"}, headers=h)
    assert r.status_code == 422
    assert client.patch(f"{API}/alerts/{alert['id']}", json={"status": "open"}, headers=h).status_code == 422
    viewer = api_headers(client, "cw.viewer")
    assert client.patch(f"{API}/alerts/{alert['id']}", json={"status": "resolved"}, headers=viewer).status_code == 403
    other = api_headers(client, "us.staff")
    assert client.get(f"{API}/alerts/{alert['id']}", headers=other).status_code == 404
    assert client.get(f"{API}/alerts", headers=other).json()["total"] == 0
    assert client.get(f"{API}/access-events", headers=other).json()["total"] == 0


def test_bad_batches_are_refused_whole(client, world, new_router):
    h = api_headers(client, "cw.staff")
    _setup(client, h, new_router)
    wed = _last_weekday(10)
    bad = [_event("a", wed), _event("b", wed, ip="999.1.1.1"), {**_event("c", wed), "occurred_at": "2026-01-01T10:00"},
           _event("d", wed, result="maybe"), _event("e e", wed)]
    r = client.post(f"{API}/access-events", json=bad, headers=h)
    assert r.status_code == 422
    locs = {tuple(e["loc"][:3]) for e in r.json()["errors"]}
    assert {("body", 1, "ip"), ("body", 2, "occurred_at"), ("body", 3, "result"), ("body", 4, "client_id")} <= locs
    future = datetime.now(UTC) + timedelta(days=1)
    r = client.post(f"{API}/access-events", json=[_event("a", wed), _event("z", future),
                                                  _event("a", wed + timedelta(seconds=1))], headers=h)
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["errors"]] == [["rows", 1, "occurred_at"], ["rows", 2, "client_id"]]
    assert client.post(f"{API}/access-events", json=[], headers=h).status_code == 422
    assert client.post(f"{API}/access-events", json={"client_id": "x"}, headers=h).status_code == 422
    assert client.post(f"{API}/access-events", json=[_event("a", wed)] * 5001, headers=h).status_code == 422
    assert client.get(f"{API}/access-events", headers=h).json()["total"] == 0
    # Identical duplicates inside one batch are simply stored once.
    r = client.post(f"{API}/access-events", json=[_event("a", wed)] * 3, headers=h)
    assert r.json() == {"received": 3, "accepted": 1, "duplicates": 2, "alerts": 0}
    for bad_policy in [{"start": "22:00", "end": "07:00"}, {"start": "25:00"}, {"weekdays": [7]},
                       {"failure_threshold": 1}, {"user_routers": {"bad user": ["X"]}}]:
        r = client.post(f"{API}/policies", json={"department": "민원과", **bad_policy}, headers=h)
        assert r.status_code == 422, bad_policy
    r = client.post(f"{API}/policies", json={"department": "건설과"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["department"]
    pid = client.get(f"{API}/policies", headers=h).json()[0]["id"]
    r = client.put(f"{API}/policies/{pid}", json={"department": "다른과"}, headers=h)
    assert r.status_code == 422
    for query in ["result=maybe", "date_from=yesterday", "limit=0", "flagged=perhaps"]:
        assert client.get(f"{API}/access-events?{query}", headers=h).status_code == 422


def test_api_key_ingests_for_its_own_municipality(client, world, new_router, database):
    h = api_headers(client, "cw.staff")
    _setup(client, h, new_router)
    with database.unit_of_work() as s:
        bind_principal(s, SYSTEM)
        _key, secret = accounts.create_api_key(s, data=ApiKeyIn(name="KT 5G core", municipality_code="4812000000",
                                                                scopes=["kt.worknet:write"]))
        _k2, read_only = accounts.create_api_key(s, data=ApiKeyIn(name="viewer", municipality_code="4812000000",
                                                                  scopes=["kt.worknet:read"]))
    key = {"Authorization": f"Bearer {secret}"}
    r = client.post(f"{API}/access-events", json=[_event("k1", _last_weekday(9))], headers=key)
    assert r.status_code == 200 and r.json()["accepted"] == 1
    r = client.post(f"{API}/access-events?municipality_code=3100000000", json=[_event("k2", _last_weekday(9))],
                    headers=key)
    assert r.status_code == 422
    ro = {"Authorization": f"Bearer {read_only}"}
    assert client.get(f"{API}/access-events", headers=ro).json()["total"] == 1
    assert client.post(f"{API}/access-events", json=[_event("k3", _last_weekday(9))], headers=ro).status_code == 403
    # Client ids are per municipality: Ulsan's "k1" is another event.
    us = api_headers(client, "us.staff")
    r = client.post(f"{API}/access-events", json=[_event("k1", _last_weekday(9))], headers=us)
    assert r.json()["accepted"] == 1


def test_usage_statistics_and_csv(client, world, new_router, clock_instant):
    h = api_headers(client, "cw.staff")
    _setup(client, h, new_router)
    today = clock_instant.astimezone(SEOUL).replace(hour=0, minute=30, second=0, microsecond=0)
    client.post(f"{API}/access-events", headers=h, json=[
        _event("u1", today), _event("u2", today, user="cw2002", serial="CW5G-0002"),
        _event("u3", today, result="failure"), _event("u4", today - timedelta(days=1))])
    days = client.get(f"{API}/stats/usage?days=7", headers=h).json()
    assert len(days) == 7
    assert days[-1] == {"date": today.date().isoformat(), "successes": 2, "failures": 1, "users": 2, "flagged": 1}
    assert days[-2]["successes"] == 1
    r = client.get(f"{API}/stats/usage.csv?days=7", headers=h)
    assert r.text.splitlines()[0] == "\ufeffdate,successes,failures,users,flagged"  # BOM: Excel reads UTF-8
    assert r.text.splitlines()[-1] == f"{today.date().isoformat()},2,1,2,1"
    assert client.get(f"{API}/stats/usage?days=0", headers=h).status_code == 422
    assert client.get(f"{API}/stats/usage", headers=api_headers(client, "us.staff")).json()[-1]["successes"] == 0


def test_new_alerts_are_announced_live_to_their_municipality_only(client, world, new_router):
    h = api_headers(client, "cw.staff")
    _setup(client, h, new_router)
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    ready = threading.Event()

    async def first_message(topic: str, timeout: float):
        async with broker.subscribe(topic) as queue:
            ready.set()
            try:
                return await asyncio.wait_for(queue.get(), timeout)
            except TimeoutError:
                return None

    try:
        mine = asyncio.run_coroutine_threadsafe(first_message(access.alert_topics(world.changwon.id)[0], 10), loop)
        ready.wait(5)
        ready.clear()
        theirs = asyncio.run_coroutine_threadsafe(first_message(access.alert_topics(world.ulsan.id)[0], 1), loop)
        ready.wait(5)
        client.post(f"{API}/access-events", json=[_event("live", _last_weekday(3))], headers=h)
        assert mine.result(10) == {"event": "worknet-alerts", "count": 1, "kinds": ["off_hours"]}
        assert theirs.result(10) is None
    finally:
        loop.call_soon_threadsafe(loop.stop)


def test_hostile_values_get_a_clear_4xx_never_a_500(client, world, new_router):
    h = api_headers(client, "cw.staff")
    _setup(client, h, new_router)
    wed = _last_weekday(10)
    cases = [
        ("post", "/access-events", [_event("n1", wed, reason="a\x00b")]),
        ("post", "/access-events", [{**_event("n2", wed), "occurred_at": "0001-01-01T00:00:00+09:00"}]),
        ("post", "/access-events", [{**_event("n3", wed), "occurred_at": "9999-12-31T23:59:59-09:00"}]),
        ("post", "/routers", {"serial": "CW5G-0100", "model": "x\x00", "imei": "0", "iccid": "0"}),
        ("post", "/pools", {"name": "a\x00", "cidr": "10.1.0.0/24"}),
        ("post", "/pools/1/allocate", {"router_id": 2**40}),
        ("post", "/routers/99999999999/unassign", None),
        ("get", "/routers?q=%00", None),
        ("get", "/leases?router_id=99999999999", None),
        ("patch", "/alerts/1", {"status": "resolved", "note": "x" * 501}),
    ]
    for method, path, body in cases:
        r = client.request(method.upper(), f"{API}{path}", json=body, headers=h)
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text[:200])
    for query in ["date_from=0001-01-01", "date_to=9999-12-31", "date_from=2026-02-30"]:
        r = client.get(f"{API}/access-events?{query}", headers=h)
        assert r.status_code in (200, 422), (query, r.status_code)
    assert client.get(f"{API}/access-events", headers=h).json()["total"] == 0


def test_working_hours_are_judged_on_the_seoul_clock(client, world, new_router, clock_instant):
    """건설과 works Monday to Friday, 07:00-22:00 in Seoul: an event at the instant is judged in Seoul time
    (at each instant it is off hours in Seoul and within them in UTC)."""
    h = api_headers(client, "cw.staff")
    _setup(client, h, new_router)
    local = clock_instant.astimezone(SEOUL)
    off_hours = local.weekday() >= 5 or not 7 <= local.hour < 22
    r = client.post(f"{API}/access-events", json=[_event("now", clock_instant)], headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["alerts"] == int(off_hours)
    kinds = [a["kind"] for a in client.get(f"{API}/alerts", headers=h).json()["items"]]
    assert kinds == (["off_hours"] if off_hours else [])
