"""Virtual VDA 5050 vehicles on an MQTT broker (`dxhub robots simulate --vda5050`), for demos, trying the
bridge locally and the MQTT benchmark.

Each vehicle is its own MQTT client, with a CONNECTIONBROKEN last will and a retained ONLINE on
``{interface}/v2/{manufacturer}/{serial}/connection``; it publishes its state every tick (and at once on
a change), its factsheet when asked (``factsheetRequest``), drives the nodes of the orders it receives
at a walking pace (marking each node traversed and finishing the node's actions), and obeys
``startPause``, ``stopPause``, ``cancelOrder``, ``startCharging``, ``stopCharging`` and ``stateRequest``.
Everything it publishes is checked against the official schemas first.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time as systime
import uuid
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from app.core.db import utcnow
from app.core.mqtt import parse_url
from app.kt.robots import vda5050

INSTANT = ("startPause", "stopPause", "cancelOrder", "startCharging", "stopCharging", "stateRequest",
           "factsheetRequest")


@dataclass
class SimVehicle:
    manufacturer: str
    serial: str
    interface: str
    map_id: str
    x: float
    y: float
    battery: float = 90.0
    charging: bool = False
    paused: bool = False
    order_id: str = ""
    order_update_id: int = 0
    nodes: list[dict[str, Any]] = field(default_factory=list)  # not yet traversed
    last_node_id: str = ""
    last_node_seq: int = 0
    actions: dict[str, dict[str, Any]] = field(default_factory=dict)  # actionId -> actionState
    headers: dict[str, int] = field(default_factory=dict)
    kinds: tuple[str, ...] = ("guide", "patrol", "care")
    client: paho.Client | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def topic(self, subtopic: str) -> str:
        return vda5050.topic_of(self.interface, self.manufacturer, self.serial, subtopic)

    def head(self, subtopic: str) -> dict[str, Any]:
        n = self.headers.get(subtopic, 0)
        self.headers[subtopic] = n + 1
        return vda5050.header(header_id=n, manufacturer=self.manufacturer, serial_number=self.serial, now=utcnow())

    # --- messages ---------------------------------------------------------------------------
    def connection(self, state: str) -> dict[str, Any]:
        return {**self.head("connection"), "connectionState": state}

    def state(self) -> dict[str, Any]:
        return {**self.head("state"), "orderId": self.order_id, "orderUpdateId": self.order_update_id,
                "lastNodeId": self.last_node_id, "lastNodeSequenceId": self.last_node_seq,
                "nodeStates": [{"nodeId": n["nodeId"], "sequenceId": n["sequenceId"], "released": True}
                               for n in self.nodes],
                "edgeStates": [], "driving": bool(self.nodes) and not self.paused, "paused": self.paused,
                "actionStates": list(self.actions.values()), "operatingMode": "AUTOMATIC",
                "agvPosition": {"x": round(self.x, 3), "y": round(self.y, 3), "theta": 0.0, "mapId": self.map_id,
                                "positionInitialized": True},
                "batteryState": {"batteryCharge": round(self.battery, 1), "charging": self.charging},
                "errors": [], "safetyState": {"eStop": "NONE", "fieldViolation": False}}

    def factsheet(self) -> dict[str, Any]:
        actions = ([{"actionType": k, "actionScopes": ["NODE"]} for k in self.kinds]
                   + [{"actionType": t, "actionScopes": ["INSTANT"]} for t in INSTANT])
        return {**self.head("factsheet"),
                "typeSpecification": {"seriesName": "DXHub SimBot", "agvKinematic": "DIFF", "agvClass": "CARRIER",
                                      "maxLoadMass": 0, "localizationTypes": ["NATURAL"],
                                      "navigationTypes": ["AUTONOMOUS"]},
                "physicalParameters": {"speedMin": 0.0, "speedMax": 1.2, "accelerationMax": 0.5,
                                       "decelerationMax": 0.5, "heightMax": 1.3, "width": 0.6, "length": 0.7},
                "protocolLimits": {"maxStringLens": {}, "maxArrayLens": {},
                                   "timing": {"minOrderInterval": 0.5, "minStateInterval": 0.1}},
                "protocolFeatures": {"optionalParameters": [], "agvActions": actions},
                "agvGeometry": {}, "loadSpecification": {}}

    def publish(self, subtopic: str, message: dict[str, Any], *, retain: bool = False,
                qos: int = 0) -> paho.MQTTMessageInfo:
        vda5050.validate(subtopic, message)
        assert self.client is not None
        return self.client.publish(self.topic(subtopic), json.dumps(message, ensure_ascii=False), qos=qos,
                                   retain=retain)

    # --- what it receives ------------------------------------------------------------------------
    def on_order(self, order: dict[str, Any]) -> None:
        self.order_id, self.order_update_id = order["orderId"], order["orderUpdateId"]
        self.nodes = [n for n in order["nodes"] if n.get("released", True)]
        self.actions = {a["actionId"]: {"actionId": a["actionId"], "actionType": a["actionType"],
                                        "actionStatus": "WAITING"} for n in self.nodes for a in n["actions"]}

    def on_instant_actions(self, message: dict[str, Any]) -> bool:
        """Apply the actions; True when the factsheet was asked for."""
        factsheet = False
        for action in message["actions"]:
            kind = action["actionType"]
            status = "FINISHED"
            if kind == "startPause":
                self.paused = True
            elif kind == "stopPause":
                self.paused = False
            elif kind == "cancelOrder":
                if self.nodes:
                    self.nodes = []
                    for state in self.actions.values():
                        if state["actionStatus"] in ("WAITING", "RUNNING"):
                            state["actionStatus"] = "FAILED"
                else:
                    status = "FAILED"
            elif kind in ("startCharging", "stopCharging"):
                self.charging = kind == "startCharging"
            elif kind == "factsheetRequest":
                factsheet = True
            elif kind != "stateRequest":
                status = "FAILED"
            self.actions[action["actionId"]] = {"actionId": action["actionId"], "actionType": kind,
                                                "actionStatus": status}
        return factsheet

    # --- time passing --------------------------------------------------------------------------------
    def step(self, dt: float, speed: float) -> None:
        if self.charging:
            self.battery = min(100.0, self.battery + 0.5 * dt)
        if not self.nodes or self.paused:
            return
        target = self.nodes[0]
        tx, ty = target["nodePosition"]["x"], target["nodePosition"]["y"]
        distance = math.hypot(tx - self.x, ty - self.y)
        reach = speed * dt
        self.battery = max(0.0, self.battery - 0.02 * dt)
        if distance > reach:
            self.x += (tx - self.x) * reach / distance
            self.y += (ty - self.y) * reach / distance
            return
        self.x, self.y = tx, ty
        self.last_node_id, self.last_node_seq = target["nodeId"], target["sequenceId"]
        self.nodes.pop(0)
        for action in target["actions"]:
            self.actions[action["actionId"]]["actionStatus"] = "FINISHED"


class VdaFleet:
    """``n`` vehicles on one broker; :meth:`run` ticks them until the time is up."""

    def __init__(self, *, broker_url: str, n: int, manufacturer: str = "DXHubSim", interface: str = "uagv",
                 map_id: str = "floor-1", width_m: float = 30.0, height_m: float = 20.0, speed_m_s: float = 1.0,
                 seed: int = 7, serial_prefix: str = "SIM") -> None:
        self.address = parse_url(broker_url)
        self.speed = speed_m_s
        rng = random.Random(seed)
        self.vehicles = [SimVehicle(manufacturer=manufacturer, serial=f"{serial_prefix}-{i + 1:03d}",
                                    interface=interface, map_id=map_id, x=rng.uniform(0, width_m),
                                    y=rng.uniform(0, height_m),
                                    battery=rng.uniform(60, 100)) for i in range(n)]

    def connect(self) -> None:
        for v in self.vehicles:
            client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"{v.serial}-{uuid.uuid4().hex[:6]}")
            if self.address.username:
                client.username_pw_set(self.address.username, self.address.password)
            if self.address.tls:
                client.tls_set()
            will = v.connection("CONNECTIONBROKEN")
            client.will_set(v.topic("connection"), json.dumps(will), qos=1, retain=True)
            client.on_message = self._receiver(v)
            v.client = client
            client.connect(self.address.host, self.address.port, keepalive=15)
            client.subscribe([(v.topic("order"), 1), (v.topic("instantActions"), 1)])
            client.loop_start()
            v.publish("connection", v.connection("ONLINE"), retain=True, qos=1)

    def _receiver(self, v: SimVehicle):
        def on_message(client, userdata, msg) -> None:  # noqa: ANN001
            try:
                message = json.loads(msg.payload)
            except ValueError:
                return
            with v.lock:
                if msg.topic.endswith("/order"):
                    v.on_order(message)
                    send_factsheet = False
                else:
                    send_factsheet = v.on_instant_actions(message)
                if send_factsheet:
                    v.publish("factsheet", v.factsheet())
                v.publish("state", v.state())
        return on_message

    def tick(self, dt: float) -> None:
        for v in self.vehicles:
            with v.lock:
                v.step(dt, self.speed)
                v.publish("state", v.state())

    def run(self, *, duration_s: float, interval_s: float = 1.0) -> None:
        end = systime.monotonic() + duration_s
        while systime.monotonic() < end:
            started = systime.monotonic()
            self.tick(interval_s)
            systime.sleep(max(0.0, interval_s - (systime.monotonic() - started)))

    def close(self, *, goodbye: bool = True) -> None:
        for v in self.vehicles:
            if v.client is None:
                continue
            if goodbye:
                with v.lock:
                    info = v.publish("connection", v.connection("OFFLINE"), retain=True, qos=1)
                info.wait_for_publish(2)
            v.client.disconnect()
            v.client.loop_stop()
