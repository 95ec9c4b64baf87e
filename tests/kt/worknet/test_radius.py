"""The network side: the exported users file loads in (and is served by) Debian's FreeRADIUS, and the
accounting it writes to detail files comes back as sessions, judged like the API's events."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.cli import main
from app.core.config import get_settings
from app.core.errors import InvalidInput
from app.core.tenancy import SYSTEM
from app.core.worker import run_duty_now
from app.kt.worknet import radius, service
from app.kt.worknet.models import AccessEvent, Alert, RadiusFeed
from app.kt.worknet.sealing import worknet_settings
from tests.conftest import api_headers, web_login
from tests.kt.worknet import freeradius_conf
from tests.kt.worknet.conftest import iccid, imei, router_body

API = "/api/v1/kt/worknet"
SEOUL = ZoneInfo("Asia/Seoul")
FIXTURES = Path(__file__).parent / "fixtures" / "radius"
SAMPLE = (FIXTURES / "detail-sample").read_text()
IMSI, MSISDN = "450081234567890", "821012345678"


def _network(client, clock, database, *, imsi: str | None = IMSI, msisdn: str | None = "010-1234-5678") -> dict:
    """A router with its SIM, assigned in 건설과 (Mon-Fri 07:00-22:00), holding 10.48.31.2 since September."""
    h = api_headers(client, "cw.staff")
    extra = {k: v for k, v in (("imsi", imsi), ("msisdn", msisdn)) if v}
    r = client.post(f"{API}/routers", json=router_body("CW5G-0001", **extra), headers=h)
    assert r.status_code == 201, r.text
    router = r.json()
    client.post(f"{API}/routers/{router['id']}/assign", headers=h,
                json={"assignee_username": "cw2001", "assignee_name": "김민준", "department": "건설과"})
    r = client.post(f"{API}/policies", headers=h, json={"department": "건설과", "weekdays": [0, 1, 2, 3, 4],
                                                        "start": "07:00", "end": "22:00"})
    assert r.status_code == 201, r.text
    pool = client.post(f"{API}/pools", headers=h, json={"name": "건설과 5G", "cidr": "10.48.31.0/24"}).json()
    now = datetime.now(SEOUL)
    clock.move_to(datetime(2026, 9, 1, 10, tzinfo=SEOUL), tick=False)
    with database.unit_of_work(principal=SYSTEM) as s:  # staff tokens of December are not valid yet
        lease, _new = service.allocate(s, pool=service.get_pool(s, pool_id=pool["id"]), router_id=router["id"])
        assert lease.ip == "10.48.31.2"
    clock.move_to(now, tick=False)
    return {"h": h, "router": router, "pool": pool}


def _alerts(database) -> list[tuple[str, str, str | None]]:
    with database.unit_of_work(principal=SYSTEM, write=False) as s:
        return sorted(tuple(r) for r in s.execute(select(Alert.kind, Alert.username, Alert.router_serial)))


def _events(database) -> int:
    with database.unit_of_work(principal=SYSTEM, write=False) as s:
        return s.scalar(select(func.count()).select_from(AccessEvent))


# --- the users file --------------------------------------------------------------------------

def test_routers_carry_their_sim_validated_and_once(client, world):
    h = api_headers(client, "cw.staff")
    r = client.post(f"{API}/routers", json=router_body("CW5G-0001", imsi=IMSI, msisdn="+82 10-1234-5678"), headers=h)
    assert r.status_code == 201 and (r.json()["imsi"], r.json()["msisdn"]) == (IMSI, MSISDN)
    for field, value in (("imsi", "31026123456789"), ("imsi", "310260123456789"), ("msisdn", "02-123-4567"),
                         ("msisdn", "010-12-34")):
        r = client.post(f"{API}/routers", json=router_body("CW5G-0009", **{field: value}), headers=h)
        assert r.status_code == 422 and r.json()["errors"][0]["loc"][-1] == field, (field, value, r.text)
    r = client.post(f"{API}/routers", json=router_body("CW5G-0002", imsi=IMSI), headers=h)
    assert r.status_code == 409 and "CW5G-0001" in r.json()["detail"]
    other = client.post(f"{API}/routers", json=router_body("CW5G-0003"), headers=h).json()
    r = client.patch(f"{API}/routers/{other['id']}", json={"msisdn": "01012345678"}, headers=h)
    assert r.status_code == 409, r.text
    r = client.patch(f"{API}/routers/{other['id']}", json={"imsi": "450081234567891", "msisdn": "010-9876-5432"},
                     headers=h)
    assert r.status_code == 200 and r.json()["msisdn"] == "821098765432"


def test_the_router_form_takes_the_sim(client, world):
    csrf = web_login(client, "cw.staff")
    form = {"csrf_token": csrf, "serial": "CW5G-0001", "model": "5G 에그", "imei": imei(), "iccid": iccid()}
    r = client.post("/kt/worknet/routers/new", data={**form, "imsi": "12345", "msisdn": ""})
    assert r.status_code == 400 and 'value="12345"' in r.text
    r = client.post("/kt/worknet/routers/new", data={**form, "imsi": IMSI, "msisdn": "010-1234-5678"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"]).text
    assert IMSI in page and MSISDN in page and "USIM 전화번호(MSISDN)" in page


def test_export_is_keyed_by_the_sim(client, world, clock, database):
    net = _network(client, clock, database)
    h = net["h"]
    client.post(f"{API}/routers", json=router_body("CW5G-0002"), headers=h)  # no SIM numbers
    second = client.get(f"{API}/routers", params={"q": "CW5G-0002"}, headers=h).json()["items"][0]
    client.post(f"{API}/pools/{net['pool']['id']}/allocate", headers=h, json={"router_id": second["id"]})
    text = client.get(f"{API}/pools/{net['pool']['id']}/radius-users", headers=h).text
    assert f'"{IMSI}" Auth-Type := Accept, Calling-Station-Id == "{MSISDN}"\n\tFramed-IP-Address = 10.48.31.2,\n' \
           "\tFramed-IP-Netmask = 255.255.255.0\n" in text
    assert "# CW5G-0002 has no IMSI registered: not exported (10.48.31.3)" in text
    assert '"CW5G-0002"' not in text and '"CW5G-0001"' not in text


def _exported(client, clock, database) -> str:
    net = _network(client, clock, database)
    return client.get(f"{API}/pools/{net['pool']['id']}/radius-users", headers=net["h"]).text


def test_exported_users_file_passes_freeradius_config_check(client, world, clock, database, tmp_path):
    if reason := freeradius_conf.unavailable():
        pytest.skip(reason)
    users = _exported(client, clock, database)
    raddb = freeradius_conf.copy_config(tmp_path / "raddb", users=users)
    result = freeradius_conf.check(raddb)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "Configuration appears to be OK" in result.stdout
    assert f"{raddb}/mods-config/files/authorize" in result.stdout  # our file is the one it read

    broken = tmp_path / "broken"
    broken_users = users.replace("Framed-IP-Address", "Framed-IP-Adress")
    result = freeradius_conf.check(freeradius_conf.copy_config(broken, users=broken_users))
    assert result.returncode != 0 and 'Unknown name "Framed-IP-Adress"' in result.stdout


def _radclient(port: int, kind: str, attributes: dict[str, str]) -> subprocess.CompletedProcess:
    body = "".join(f'{k} = "{v}"\n' for k, v in attributes.items())
    return subprocess.run(["radclient", "-x", "-r", "1", "-t", "3", f"127.0.0.1:{port}", kind, "testing123"],
                          input=body, capture_output=True, text=True, timeout=30)


def test_freeradius_serves_the_export_accepting_the_sim_and_rejecting_others(client, world, clock, database, tmp_path):
    if reason := freeradius_conf.unavailable():
        pytest.skip(reason)
    if shutil.which("radclient") is None:
        pytest.skip("radclient (freeradius-utils) is not installed")
    raddb = freeradius_conf.copy_config(tmp_path / "raddb", users=_exported(client, clock, database))
    auth_port = freeradius_conf.free_port()
    freeradius_conf.listen_on(raddb, auth_port, freeradius_conf.free_port())
    log = raddb / "log" / "server.log"
    server = subprocess.Popen(["freeradius", "-f", "-d", str(raddb), "-l", str(log)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not (log.exists() and "Ready to process requests" in log.read_text()):
            assert server.poll() is None and time.monotonic() < deadline, log.read_text() if log.exists() else ""
            time.sleep(0.05)
        ok = _radclient(auth_port, "auth", {"User-Name": IMSI, "Calling-Station-Id": MSISDN})
        assert ok.returncode == 0 and "Access-Accept" in ok.stdout, ok.stdout + ok.stderr
        assert "Framed-IP-Address = 10.48.31.2" in ok.stdout
        for attributes in ({"User-Name": IMSI, "Calling-Station-Id": "821099999999"},  # the SIM in another line
                           {"User-Name": "450089999999999", "Calling-Station-Id": MSISDN},  # an unknown SIM
                           {"User-Name": "CW5G-0001"}):  # the serial the old export used
            no = _radclient(auth_port, "auth", attributes)
            assert no.returncode != 0 and "Access-Reject" in no.stdout, (attributes, no.stdout + no.stderr)
    finally:
        server.terminate()
        server.wait(timeout=10)


# --- accounting from detail files ------------------------------------------------------------

def test_detail_file_is_parsed_as_freeradius_writes_it():
    records, errors = radius.parse_detail(SAMPLE)
    assert not errors and len(records) == 7
    first = records[0]
    assert (first.number, first.line, first.written_at) == (1, 1, "Sat Dec  5 10:56:58 2026")
    assert first.attributes["Event-Timestamp"] == "Dec  2 2026 00:00:00 UTC"
    assert first.attributes["Acct-Session-Id"] == "0A63000200000001"
    events = radius.events_of(records)
    assert [e.kind for e in events] == ["start", "interim", "stop", "start", "start", "start"]  # Accounting-On left
    assert events[0].occurred_at == datetime(2026, 12, 2, 9, tzinfo=SEOUL)
    assert events[0].client_id == f"0A63000200000001:s:{int(events[0].occurred_at.timestamp())}"
    assert events[2].reason == "RADIUS Stop: User-Request"
    # Quoted values keep FreeRADIUS's escapes: \" \\ and octal bytes.
    (record,), _ = radius.parse_detail('Sat Dec  5 10:56:58 2026\n\tReply-Message = "say \\"hi\\" \\101\\\\"\n')
    assert record.attributes["Reply-Message"] == 'say "hi" A\\'


def test_detail_import_judges_sessions_and_is_idempotent(client, world, clock, database):
    _network(client, clock, database)
    with database.unit_of_work(principal=SYSTEM) as s:
        result = radius.import_detail(s, municipality=world.changwon, text=SAMPLE)
    assert result == {"records": 7, "received": 6, "accepted": 6, "duplicates": 0, "alerts": 3}
    assert _alerts(database) == [("ip_mismatch", "cw2001", "CW5G-0001"), ("off_hours", "cw2001", "CW5G-0001"),
                                 ("unknown_router", "450089999999999", None)]
    h = api_headers(client, "cw.staff")
    alerts = {a["kind"]: a for a in client.get(f"{API}/alerts", headers=h).json()["items"]}
    assert alerts["ip_mismatch"]["params"] == {"ip": "10.48.31.99", "router": "CW5G-0001", "lease_ip": "10.48.31.2"}
    assert "한글날" in alerts["off_hours"]["params"]["hours"]
    assert alerts["unknown_router"]["params"] == {"router": "IMSI 450089999999999"}
    events = client.get(f"{API}/access-events", headers=h, params={"username": "cw2001"}).json()["items"]
    assert {(e["kind"], e["session_id"], e["ip"]) for e in events} >= {
        ("start", "0A63000200000001", "10.48.31.2"), ("stop", "0A63000200000001", "10.48.31.2")}
    with database.unit_of_work(principal=SYSTEM) as s:
        again = radius.import_detail(s, municipality=world.changwon, text=SAMPLE)
    assert again == {"records": 7, "received": 6, "accepted": 0, "duplicates": 6, "alerts": 0}
    assert _events(database) == 6 and len(_alerts(database)) == 3


def test_a_bad_record_rejects_the_whole_file_naming_it(world, database):
    broken = SAMPLE + "Sat Dec  5 10:57:00 2026\n\tUser-Name = \"450081234567890\"\n\tAcct-Status-Type = Start\n" \
                      "\tFramed-IP-Address = 10.48.31.300\n\tAcct-Session-Id = \"X1\"\n\tTimestamp = 1796166000\n\n"
    with database.unit_of_work(principal=SYSTEM) as s, pytest.raises(InvalidInput) as exc:
        radius.import_detail(s, municipality=world.changwon, text=broken)
    (error,) = exc.value.errors
    assert error["loc"] == ["records", 8] and error["msg"].startswith("record 8 (line 84): Framed-IP-Address")
    for bad, expected in (("\tnot an attribute line\n", "line 86 is not 'Attribute = value'"),
                          ("\tUser-Name = \"CW5G-0001\"\n", "User-Name CW5G-0001 is not an IMSI")):
        text = SAMPLE + "Sat Dec  5 10:57:00 2026\n\tAcct-Status-Type = Start\n" + bad + "\n"
        with database.unit_of_work(principal=SYSTEM) as s, pytest.raises(InvalidInput) as exc:
            radius.import_detail(s, municipality=world.changwon, text=text)
        assert expected in exc.value.errors[0]["msg"], exc.value.errors
    assert _events(database) == 0


def test_import_radius_detail_from_the_command_line(client, world, clock, database, monkeypatch, capsys, tmp_path):
    _network(client, clock, database)
    monkeypatch.setenv("DXHUB_DATABASE_URL", database.url)
    get_settings.cache_clear()
    try:
        detail = tmp_path / "detail-20261202"
        detail.write_text(SAMPLE)
        assert main(["worknet", "import-radius-detail", str(detail), "--municipality", "4812000000"]) == 0
        assert json.loads(capsys.readouterr().out)["accepted"] == 6
        assert main(["worknet", "import-radius-detail", str(detail), "--municipality", "4812000000"]) == 0
        assert json.loads(capsys.readouterr().out)["duplicates"] == 6
        detail.write_text(SAMPLE.replace("Acct-Status-Type = Stop", "Acct-Status-Type = Paused"))
        assert main(["worknet", "import-radius-detail", str(detail), "--municipality", "4812000000"]) == 2
        assert "record 3 (line 26): Acct-Status-Type Paused" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()
    assert _events(database) == 6


def test_the_worker_follows_the_detail_files(client, world, clock, database, job_queue, monkeypatch, tmp_path):
    _network(client, clock, database)
    folder = tmp_path / "radacct" / "127.0.0.1"
    folder.mkdir(parents=True)
    monkeypatch.setenv("DXHUB_WORKNET_RADIUS_DETAIL", str(tmp_path / "radacct" / "*" / "detail-*"))
    monkeypatch.setenv("DXHUB_WORKNET_RADIUS_MUNICIPALITY", "4812000000")
    worknet_settings.cache_clear()
    try:
        records = SAMPLE.split("\n\n")
        detail = folder / "detail-20261202"
        # FreeRADIUS is halfway through writing the third record: only the first two are complete.
        detail.write_text("\n\n".join(records[:2]) + "\n\n" + records[2][:80])
        assert run_duty_now(job_queue, "kt.worknet.radius_detail")
        assert _events(database) == 2
        with database.unit_of_work(principal=SYSTEM, write=False) as s:
            feed = s.scalar(select(RadiusFeed))
            assert (feed.path, feed.records, feed.last_error) == (str(detail), 2, "")
            assert feed.position == len(("\n\n".join(records[:2]) + "\n\n").encode())
        detail.write_text(SAMPLE)
        clock.shift(timedelta(seconds=15))
        assert run_duty_now(job_queue, "kt.worknet.radius_detail")
        assert _events(database) == 6 and len(_alerts(database)) == 3
        # A bad record stops the file where it is, with the reason kept; fixing it lets the feed go on.
        bad = SAMPLE + "Sat Dec  5 10:57:00 2026\n\tAcct-Status-Type = Start\n\tUser-Name = \"nobody\"\n\n"
        detail.write_text(bad)
        clock.shift(timedelta(seconds=15))
        assert run_duty_now(job_queue, "kt.worknet.radius_detail")
        with database.unit_of_work(principal=SYSTEM, write=False) as s:
            feed = s.scalar(select(RadiusFeed))
            assert feed.position == len(SAMPLE.encode()) and "record 1 (line 1)" in feed.last_error
        # Rotated: a shorter file is read from its start; what was stored is not stored again.
        detail.write_text("\n\n".join(records[:4]) + "\n\n")
        clock.shift(timedelta(seconds=15))
        assert run_duty_now(job_queue, "kt.worknet.radius_detail")
        with database.unit_of_work(principal=SYSTEM, write=False) as s:
            feed = s.scalar(select(RadiusFeed))
            assert feed.last_error == "" and feed.records == 11
        assert _events(database) == 6
    finally:
        worknet_settings.cache_clear()


# --- the same rules for the REST API ---------------------------------------------------------

def test_api_sessions_off_their_lease_or_on_a_holiday_raise_alerts(client, world, clock, database):
    net = _network(client, clock, database)
    h = net["h"]
    wed = datetime(2026, 12, 2, 10, tzinfo=SEOUL)
    batch = [
        {"client_id": "a1", "occurred_at": wed.isoformat(), "username": "cw2001", "router_serial": "CW5G-0001",
         "ip": "10.48.31.2", "result": "success"},
        {"client_id": "a2", "occurred_at": (wed + timedelta(minutes=1)).isoformat(), "username": "cw2001",
         "router_serial": "CW5G-0001", "ip": "10.48.31.99", "result": "success"},
        {"client_id": "a3", "occurred_at": datetime(2026, 10, 9, 10, tzinfo=SEOUL).isoformat(), "imsi": IMSI,
         "ip": "10.48.31.2", "result": "success", "kind": "start", "session_id": "S3"},
        {"client_id": "a4", "occurred_at": (wed + timedelta(minutes=2)).isoformat(), "imsi": IMSI,
         "ip": "10.48.31.2", "result": "success", "kind": "stop", "session_id": "S3"},
        # Before the lease existed (allocated on 2026-09-01): no address to compare with.
        {"client_id": "a5", "occurred_at": datetime(2026, 8, 31, 10, tzinfo=SEOUL).isoformat(),
         "username": "cw2001", "router_serial": "CW5G-0001", "ip": "10.48.31.77", "result": "success"},
    ]
    r = client.post(f"{API}/access-events", json=batch, headers=h)
    assert r.status_code == 200 and r.json()["alerts"] == 2, r.text
    assert _alerts(database) == [("ip_mismatch", "cw2001", "CW5G-0001"), ("off_hours", "cw2001", "CW5G-0001")]
    r = client.post(f"{API}/access-events", headers=h, json=[{"client_id": "a6", "occurred_at": wed.isoformat(),
                                                              "result": "success"}])
    assert r.status_code == 422 and "username or imsi" in r.text
    usage = client.get(f"{API}/stats/usage", headers=h, params={"days": 30}).json()
    assert sum(d["successes"] for d in usage) == 2  # sign-ins and session starts, not stops
