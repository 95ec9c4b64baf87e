"""Robots that speak VDA 5050 over MQTT, against the machine's Mosquitto, with a vehicle played by an
independent implementation (``vda5050-sdk``'s vehicle client, in its own process: tests/kt/robots/
vda5050_vehicle.py): it connects and shows up unregistered, is registered at a site, sends its factsheet,
takes the order of a task and completes it, and its broken connection (the broker's last will) takes it
offline with an alert at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from app.core import mqtt
from app.core.db import utcnow
from app.core.mqtt import MqttLink
from app.core.tenancy import SYSTEM
from app.kt.robots import bridge, vda5050
from app.kt.robots.models import Robot, RobotAlert, RobotTask, RobotVdaVehicle
from app.kt.robots.simulator_vda5050 import VdaFleet
from tests.conftest import wait_until
from tests.core.test_mqtt import Listener

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def settings(settings, mqtt_url):
    """The app's settings with the broker on (own subscriptions: no other test's worker shares them)."""
    return settings.model_copy(update={"mqtt_url": mqtt_url, "mqtt_shared_group": ""})


@pytest.fixture
def bridge_link(settings, database):
    """What ``dxhub worker`` runs: the module's declared bridge on one MQTT link."""
    link = MqttLink(settings, database, bridges=[bridge.BRIDGE])
    assert link.start(), "the bridge could not connect to the broker"
    yield link
    link.stop()
    mqtt.close_publisher()


class Vehicle:
    def __init__(self, broker: str, manufacturer: str, serial: str) -> None:
        self.manufacturer, self.serial = manufacturer, serial
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.kt.robots.vda5050_vehicle", "--broker", broker,
             "--manufacturer", manufacturer, "--serial", serial, "--map-id", "f1", "--x", "2", "--y", "10",
             "--start-at", utcnow().isoformat(), "--state-interval", "0.3", "--step-s", "0.1"],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        """Die without a word: the broker publishes the vehicle's last will (CONNECTIONBROKEN)."""
        self.process.kill()
        self.process.wait(10)

    @staticmethod
    def clear(settings, manufacturer: str, serial: str) -> None:
        """Take the vehicle's retained connection message off the broker."""
        sender = MqttLink(settings, role="cleanup")
        if sender.start():
            sender.publish(vda5050.topic_of("uagv", manufacturer, serial, "connection"), b"", qos=1, retain=True)
            sender.stop()


@pytest.fixture
def vehicle(settings, mqtt_url):
    v = Vehicle(mqtt_url, "SimRobotics", f"SIM-{uuid.uuid4().hex[:8]}")
    yield v
    if v.process.poll() is None:
        v.kill()
    Vehicle.clear(settings, v.manufacturer, v.serial)


def _robot(database, robot_id):
    with database.unit_of_work(principal=SYSTEM) as s:
        return s.get(Robot, robot_id)


def _listed(client, headers, serial):
    r = client.get("/api/v1/kt/robots/vda5050/vehicles", headers=headers)
    assert r.status_code == 200, r.text
    return [v for v in r.json()["items"] if v["serial_number"] == serial]


def test_a_vehicle_is_registered_by_an_admin_takes_a_task_order_and_its_broken_connection_raises_an_alert(
        database, settings, fleet, client, auth, bridge_link, vehicle, mqtt_url):
    sent = Listener(mqtt_url, f"uagv/v2/{vehicle.manufacturer}/{vehicle.serial}/+")
    try:
        # It connects: listed for platform admins as unregistered, nobody else sees it, no robot gets it.
        wait_until(lambda: _listed(client, auth("root"), vehicle.serial), within_s=30,
                   what="the new vehicle listed as unregistered")
        listed = _listed(client, auth("root"), vehicle.serial)[0]
        assert listed["manufacturer"] == "SimRobotics" and listed["robot_id"] is None
        assert listed["connection_state"] == "ONLINE"
        assert client.get("/api/v1/kt/robots/vda5050/vehicles", headers=auth("cw.admin")).status_code == 403

        # An admin registers it at the site: its manufacturer is the vendor, its serial number the id.
        r = client.post("/api/v1/kt/robots", headers=auth("root"), json={
            "external_id": vehicle.serial, "name": "VDA 안내로봇", "vendor": "SimRobotics", "model": "SimBot",
            "type": "guide", "site_id": fleet.site_id, "capabilities": ["guide"]})
        assert r.status_code == 201, r.text
        robot_id = r.json()["id"]
        assert not _listed(client, auth("root"), vehicle.serial)

        # Its states bring it online where it stands; asked for its factsheet, it gives its capabilities.
        wait_until(lambda: _robot(database, robot_id).status == "idle", within_s=30, what="the robot online and idle")
        robot = _robot(database, robot_id)
        assert (robot.x, robot.y, robot.map_id, robot.battery_pct) == (2.0, 10.0, "f1", 90.0)
        wait_until(lambda: _robot(database, robot_id).capabilities == ["dock", "guide"],
                   within_s=30, what="the capabilities of the factsheet")

        # A task goes to it as an order; its progress comes back from the vehicle's state.
        r = client.post("/api/v1/kt/robots/tasks", headers=auth("cw.staff"), json={
            "site_id": fleet.site_id, "kind": "guide", "start": "정문", "destination": "휴게실"})
        assert r.status_code == 201, r.text
        task_id = r.json()["id"]
        assert r.json()["assigned_robot_id"] == robot_id

        def task():
            with database.unit_of_work(principal=SYSTEM) as s:
                return s.get(RobotTask, task_id)

        wait_until(lambda: task().status == "completed", within_s=40, what="the task completed by the vehicle")
        done = task()
        assert done.progress == 100.0 and done.started_at is not None and done.finished_at is not None
        assert _robot(database, robot_id).status == "idle"
        assert (_robot(database, robot_id).x, _robot(database, robot_id).y) == (28.0, 18.0)  # 휴게실

        # What the platform sent: valid messages, headerId counting up per topic.
        orders = [json.loads(p) for t, p in sent.received if t.endswith("/order")]
        actions = [json.loads(p) for t, p in sent.received if t.endswith("/instantActions")]
        assert [o["orderId"] for o in orders] == [vda5050.order_id_of(task_id, 1)]
        order_id = vda5050.order_id_of(task_id, 1)
        assert [n["nodeId"] for n in orders[0]["nodes"]] == [f"{order_id}-start", "정문", "휴게실"]
        assert [n["sequenceId"] for n in orders[0]["nodes"]] == [0, 2, 4]
        assert [e["sequenceId"] for e in orders[0]["edges"]] == [1, 3]
        assert orders[0]["nodes"][0]["nodePosition"] == {"x": 2.0, "y": 10.0, "mapId": "f1", "allowedDeviationXY": 1.0}
        assert [a["actions"][0]["actionType"] for a in actions] == ["factsheetRequest"]
        r = client.post(f"/api/v1/kt/robots/{robot_id}/commands", headers=auth("cw.staff"), json={"kind": "pause"})
        assert r.status_code == 201, r.text
        wait_until(lambda: sum(t.endswith("/instantActions") for t, _ in sent.received) == 2,
                   what="the pause sent as an instant action")
        actions = [json.loads(p) for t, p in sent.received if t.endswith("/instantActions")]
        assert [a["headerId"] for a in actions] == [1, 2] and actions[1]["actions"][0]["actionType"] == "startPause"
        for message in orders:
            vda5050.validate("order", message)
        for message in actions:
            vda5050.validate("instantActions", message)
            assert message["timestamp"].endswith("Z")

        # It dies: the broker's last will takes it offline at once, with an alert, no sweep needed.
        vehicle.kill()
        wait_until(lambda: not _robot(database, robot_id).online, within_s=30,
                   what="the robot offline after its last will")
        assert _robot(database, robot_id).status == "offline"
        with database.unit_of_work(principal=SYSTEM) as s:
            alert = s.scalars(select(RobotAlert).where(RobotAlert.robot_id == robot_id,
                                                       RobotAlert.kind == "offline")).one()
            assert "last will" in alert.message and alert.cleared_at is None
            assert s.scalars(select(RobotVdaVehicle.connection_state).where(
                RobotVdaVehicle.serial_number == vehicle.serial)).one() == "CONNECTIONBROKEN"
    finally:
        sent.close()


def test_the_simulator_speaks_the_same_vda5050_and_a_goodbye_takes_it_offline_at_once(
        database, settings, fleet, client, auth, bridge_link, mqtt_url):
    sim = VdaFleet(broker_url=mqtt_url, n=1, manufacturer="DXHubSim", map_id="f1", width_m=30, height_m=20,
                   speed_m_s=20.0, serial_prefix=f"T{uuid.uuid4().hex[:6]}")
    vehicle = sim.vehicles[0]
    stop = threading.Event()

    def drive():
        while not stop.is_set():
            sim.tick(0.1)
            stop.wait(0.1)

    sim.connect()
    driver = threading.Thread(target=drive, daemon=True)
    driver.start()
    try:
        wait_until(lambda: _listed(client, auth("root"), vehicle.serial), within_s=30,
                   what="the simulated vehicle listed")
        r = client.post("/api/v1/kt/robots", headers=auth("root"), json={
            "external_id": vehicle.serial, "name": "시뮬레이터", "vendor": "DXHubSim", "model": "SimBot",
            "type": "patrol", "site_id": fleet.site_id})
        robot_id = r.json()["id"]
        wait_until(lambda: _robot(database, robot_id).capabilities == ["care", "dock", "guide", "patrol"],
                   what="the factsheet's capabilities")
        wait_until(lambda: _robot(database, robot_id).status == "idle", what="the simulated robot idle")
        r = client.post("/api/v1/kt/robots/tasks", headers=auth("cw.staff"), json={
            "site_id": fleet.site_id, "kind": "patrol", "waypoints": ["여권 창구", "휴게실"], "robot_id": robot_id})
        assert r.status_code == 201, r.text
        task_id = r.json()["id"]

        def status():
            with database.unit_of_work(principal=SYSTEM) as s:
                return s.get(RobotTask, task_id).status

        wait_until(lambda: status() == "completed", within_s=40, what="the patrol completed")
    finally:
        stop.set()
        driver.join(5)
        sim.close()  # says OFFLINE before it leaves
    wait_until(lambda: not _robot(database, robot_id).online, what="the robot offline on its goodbye")
    with database.unit_of_work(principal=SYSTEM) as s:
        alert = s.scalars(select(RobotAlert).where(RobotAlert.robot_id == robot_id)).one()
        assert alert.kind == "offline" and "went offline" in alert.message
    Vehicle.clear(settings, "DXHubSim", vehicle.serial)
