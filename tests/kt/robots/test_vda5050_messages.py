"""VDA 5050 messages through the bridge's handler (no broker needed): what is refused, what an unknown
vehicle becomes, and how a state reads (errors by level, operating mode, progress of an order)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.core.db import utcnow
from app.core.mqtt import BridgeContext, Message
from app.core.tenancy import SYSTEM
from app.kt.robots import bridge, service, vda5050
from app.kt.robots.models import Robot, RobotAlert, RobotState, RobotVdaVehicle
from app.kt.robots.schemas import RobotIn
from app.platform.models import AuditLog
from tests.conftest import web_login


def vda_state(serial: str, *, manufacturer: str = "SimRobotics", x: float = 3.0, y: float = 4.0, errors=(),
              mode: str = "AUTOMATIC", order_id: str = "", node_states=(), action_states=(), driving=False,
              header_id: int = 1) -> dict:
    return {"headerId": header_id, "timestamp": vda5050.timestamp(utcnow()), "version": "2.1.0",
            "manufacturer": manufacturer, "serialNumber": serial, "orderId": order_id, "orderUpdateId": 0,
            "lastNodeId": "", "lastNodeSequenceId": 0, "nodeStates": list(node_states), "edgeStates": [],
            "driving": driving, "actionStates": list(action_states), "operatingMode": mode,
            "agvPosition": {"x": x, "y": y, "theta": 0.5, "mapId": "f1", "positionInitialized": True},
            "batteryState": {"batteryCharge": 77.5, "charging": False}, "errors": list(errors),
            "safetyState": {"eStop": "NONE", "fieldViolation": False}}


@pytest.fixture
def handle(database, settings):
    context = BridgeContext(database=database, settings=settings, publish=lambda *a, **k: None)

    def send(subtopic: str, payload, *, manufacturer="SimRobotics", serial="AGV-1") -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        bridge.handle(context, Message(topic=f"uagv/v2/{manufacturer}/{serial}/{subtopic}", payload=body))

    return send


def _count(database, model) -> int:
    with database.unit_of_work(principal=SYSTEM) as s:
        return s.scalar(select(func.count()).select_from(model))


def test_messages_that_break_their_schema_or_topic_are_refused_and_leave_nothing(database, fleet, handle):
    broken = vda_state("AGV-1")
    del broken["batteryState"]
    handle("state", broken)
    handle("state", {**vda_state("AGV-1"), "operatingMode": "TURBO"})
    handle("state", b"{not json")
    handle("state", vda_state("AGV-2"))  # the payload names another vehicle than the topic
    handle("order", vda_state("AGV-1"))  # a topic the platform sends, not one it reads
    assert _count(database, RobotVdaVehicle) == 0 and _count(database, RobotState) == 0
    with pytest.raises(vda5050.InvalidMessage, match="batteryState"):
        vda5050.validate("state", broken)


def test_an_unknown_vehicle_is_kept_for_platform_admins_and_given_to_no_robot(database, fleet, handle, client):
    robots_before = _count(database, Robot)
    handle("connection", {"headerId": 1, "timestamp": vda5050.timestamp(utcnow()), "version": "2.1.0",
                          "manufacturer": "SimRobotics", "serialNumber": "AGV-1", "connectionState": "ONLINE"})
    handle("state", vda_state("AGV-1"))
    assert _count(database, Robot) == robots_before and _count(database, RobotState) == 0
    with database.unit_of_work(principal=SYSTEM) as s:
        vehicle = s.scalars(select(RobotVdaVehicle)).one()
        assert (vehicle.robot_id, vehicle.connection_state, vehicle.messages) == (None, "ONLINE", 2)

    web_login(client, "cw.admin")
    assert client.get("/kt/robots/vehicles").status_code == 403
    client.cookies.clear()
    csrf = web_login(client, "root")
    assert "미등록 VDA 5050 차량" in client.get("/kt/robots/").text
    page = client.get("/kt/robots/vehicles")
    assert page.status_code == 200 and "AGV-1" in page.text and f"?vehicle={vehicle.id}" in page.text
    form = client.get(f"/kt/robots/robots/new?vehicle={vehicle.id}").text
    assert 'value="AGV-1"' in form and 'value="SimRobotics"' in form

    # Assigned to a site with the robot form: the vehicle is the robot's, the registration audited.
    r = client.post("/kt/robots/robots/new", follow_redirects=False, data={
        "csrf_token": csrf, "external_id": "AGV-1", "name": "VDA 1호", "vendor": "SimRobotics", "model": "VDA 5050",
        "type": "guide", "site_id": str(fleet.site_id)})
    assert r.status_code == 303, r.text
    assert "AGV-1" not in client.get("/kt/robots/vehicles").text
    with database.unit_of_work(principal=SYSTEM) as s:
        robot = s.scalars(select(Robot).where(Robot.external_id == "AGV-1")).one()
        assert s.scalars(select(RobotVdaVehicle.robot_id)).one() == robot.id
        actors = s.scalars(select(AuditLog.actor).where(AuditLog.object_type == "kt_robot",
                                                        AuditLog.object_id == str(robot.id))).all()
        assert actors and all("root" in a for a in actors)
    handle("state", vda_state("AGV-1", header_id=3))
    with database.unit_of_work(principal=SYSTEM) as s:
        assert s.get(Robot, robot.id).status == "idle"
    assert _count(database, RobotState) == 1


def test_a_state_reads_as_the_rest_api_reads_a_report(database, fleet, handle):
    with database.unit_of_work(principal=SYSTEM) as s:
        robot = service.register_robot(s, data=RobotIn(external_id="AGV-1", name="VDA", vendor="SimRobotics",
                                                       model="M", type="guide", site_id=fleet.site_id))
        robot_id = robot.id
    handle("state", vda_state("AGV-1", mode="SEMIAUTOMATIC", errors=[
        {"errorType": "bumper", "errorLevel": "WARNING", "errorDescription": "touched"}]))
    with database.unit_of_work(principal=SYSTEM) as s:
        robot = s.get(Robot, robot_id)
        assert (robot.x, robot.y, robot.theta, robot.map_id, robot.battery_pct) == (3.0, 4.0, 0.5, "f1", 77.5)
        assert robot.operating_mode == "semiautomatic" and robot.status == "idle"
        assert robot.errors == [{"type": "bumper", "level": "warning", "description": "touched"}]
    handle("state", vda_state("AGV-1", header_id=2, errors=[
        {"errorType": "motor", "errorLevel": "FATAL", "errorDescription": "overheated"}]))
    with database.unit_of_work(principal=SYSTEM) as s:
        assert s.get(Robot, robot_id).status == "error"
        alert = s.scalars(select(RobotAlert).where(RobotAlert.robot_id == robot_id)).one()
        assert alert.kind == "fatal_error" and "overheated" in alert.message
    # valid VDA 5050 but more than the platform holds (a map id of 61 characters): refused, nothing changes
    too_long = vda_state("AGV-1", header_id=3, x=9.0)
    too_long["agvPosition"]["mapId"] = "m" * 61
    handle("state", too_long)
    with database.unit_of_work(principal=SYSTEM) as s:
        assert (s.get(Robot, robot_id).x, s.get(Robot, robot_id).map_id) == (3.0, "f1")


def test_an_orders_progress_is_read_from_nodes_actions_and_its_id():
    order_id = vda5050.order_id_of(7, 1)
    pending = [{"nodeId": "b", "sequenceId": 4, "released": True}]
    action = {"actionId": f"{order_id}-guide", "actionType": "guide", "actionStatus": "WAITING"}
    assert vda5050.order_progress({"orderId": "other"}, order_id=order_id, nodes=3, was_started=False) is None
    underway = vda5050.order_progress({"orderId": order_id, "nodeStates": pending, "actionStates": [action]},
                                      order_id=order_id, nodes=3, was_started=False)
    assert (underway.status, underway.progress) == ("underway", 66.7)
    finished = {**action, "actionStatus": "FINISHED"}
    done = vda5050.order_progress({"orderId": order_id, "nodeStates": [], "actionStates": [finished]},
                                  order_id=order_id, nodes=3, was_started=True)
    assert (done.status, done.progress) == ("completed", 100.0)
    failed = {**action, "actionStatus": "FAILED", "resultDescription": "door closed"}
    assert vda5050.order_progress({"orderId": order_id, "nodeStates": [], "actionStates": [failed]},
                                  order_id=order_id, nodes=3, was_started=True).failure_reason == "door closed"
    dropped = vda5050.order_progress({"orderId": ""}, order_id=order_id, nodes=3, was_started=True)
    assert dropped.status == "failed"
    # another order's actions (dxhub-task-7-10) are not this one's (dxhub-task-7-1)
    other = {"actionId": "dxhub-task-7-10-guide", "actionStatus": "RUNNING"}
    assert vda5050.order_progress({"orderId": order_id, "nodeStates": [], "actionStates": [finished, other]},
                                  order_id=order_id, nodes=3, was_started=True).status == "completed"
    assert not vda5050.is_idle({"nodeStates": [], "driving": False, "actionStates": [other]})
    assert vda5050.is_idle({"nodeStates": [], "driving": False, "actionStates": [finished]})


def test_the_schemas_are_the_official_ones_and_what_the_platform_builds_passes_them():
    for name in vda5050.SCHEMA_DIGESTS:
        assert vda5050.schema(name)["$schema"].startswith("https://json-schema.org/")
    head = vda5050.header(header_id=3, manufacturer="M", serial_number="S", now=utcnow())
    order = vda5050.build_order(head=head, order_id="dxhub-task-1-1", kind="patrol", map_id="f1",
                                waypoints=[{"name": "a", "x": 1, "y": 2}, {"name": "b", "x": 3, "y": 4}],
                                start={"x": 0.5, "y": 2.0})
    assert [n["sequenceId"] for n in order["nodes"]] == [0, 2, 4] and order["timestamp"].endswith("Z")
    assert order["nodes"][-1]["actions"][0]["actionType"] == "patrol"
    with pytest.raises(vda5050.InvalidMessage):
        vda5050.build_instant_actions(head={k: v for k, v in head.items() if k != "version"},
                                      action_types=["startPause"], prefix="x")


def test_the_simulator_command_says_what_is_missing(capsys):
    from app.cli import main

    assert main(["robots", "simulate", "--token", "key"]) == 2
    assert "--site" in capsys.readouterr().err
    assert main(["robots", "simulate", "--vda5050", "--robots", "0"]) == 2
    assert main(["robots", "simulate", "--vda5050", "--map-size", "wide"]) == 2
