"""VDA 5050 v2 messages: the official JSON schemas, what a vehicle's state means to the platform, and
the orders and instant actions the platform sends. No database, no MQTT: the bridge (``bridge.py``)
and the service use these pure functions.

The schemas are the official VDA 5050 2.1.0 JSON schemas (github.com/VDA5050/VDA5050, tag 2.1.0,
``json_schemas/``, MIT licence, © VDA), as the ``vda5050-sdk`` distribution ships them; their digests
are pinned below, so a package update that changed them is refused rather than silently followed.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

PROTOCOL_VERSION = "2.1.0"
SUBTOPICS_IN = ("connection", "state", "factsheet", "visualization")
# SHA-256 of each schema as canonical JSON (sorted keys, no spaces): the official 2.1.0 files.
SCHEMA_DIGESTS = {
    "connection": "9454d21c248334aaf374e5f79b1044f1ac53eaf041ed71205a55faac77cd4d7e",
    "state": "68d19b1af6670951883a4cdb3c54c2098f197893e8546799d60856a854741a04",
    "order": "afc9211b3edfa3551d7c07747f339da85cf53c71b576db5e825ff06a48ed2298",
    "instantActions": "6eb3b85ddf457e4bcfb453890a8e4d2f2d831eca535af4f1c7244d0f82b0c883",
    "factsheet": "a832fe0bf54918294fed64f143bb7abc88c9ace704c838c44223514a6e47fb6a",
    "visualization": "6c23761cb1cb22c4390fe124e0a95a2bafe06d2371d0b4168fa514cffbb3b96e",
}
# The platform's instant actions for an operator's command (VDA 5050 predefined action types).
COMMAND_ACTIONS = {"pause": ["startPause"], "resume": ["stopPause"], "dock": ["cancelOrder"],
                   "charge": ["startCharging"]}
RUNNING_ACTION = ("WAITING", "INITIALIZING", "RUNNING", "PAUSED")
START_DEVIATION_M = 1.0  # how far from its last reported position the vehicle may stand at an order's start
ORDER_ID = re.compile(r"^dxhub-task-(\d+)-(\d+)$")


class InvalidMessage(ValueError):
    """A message that does not validate against its VDA 5050 schema."""


def canonical_digest(document: Any) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@cache
def schema(name: str) -> dict[str, Any]:
    """The official schema of one topic (``state``, ``order``...), checked against its pinned digest."""
    document = json.loads((files("vda5050.validation") / "schemas" / f"{name}.json").read_text("utf-8"))
    if canonical_digest(document) != SCHEMA_DIGESTS[name]:
        raise RuntimeError(f"the installed VDA 5050 {name} schema is not the official {PROTOCOL_VERSION} one")
    return document


@cache
def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schema(name), format_checker=FormatChecker())


def validate(name: str, message: Any) -> None:
    """Raise :class:`InvalidMessage` naming every problem when ``message`` breaks the ``name`` schema."""
    problems = sorted(_validator(name).iter_errors(message), key=lambda e: list(e.absolute_path))
    if problems:
        raise InvalidMessage("; ".join(f"{'/'.join(map(str, p.absolute_path)) or '(message)'}: {p.message}"
                                       for p in problems[:10]))


def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, as VDA 5050 writes times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- topics ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Topic:
    interface: str
    version: str
    manufacturer: str
    serial_number: str
    subtopic: str


def parse_topic(topic: str) -> Topic | None:
    parts = topic.split("/")
    if len(parts) != 5 or not all(parts):
        return None
    return Topic(*parts)


def topic_of(interface: str, manufacturer: str, serial_number: str, subtopic: str) -> str:
    return f"{interface}/v2/{manufacturer}/{serial_number}/{subtopic}"


def subscriptions(interface: str) -> list[str]:
    return [f"{interface}/v2/+/+/{sub}" for sub in SUBTOPICS_IN]


# --- reading a vehicle's state ------------------------------------------------------------------

def task_of_order(order_id: str) -> int | None:
    """The task an order of the platform carries out (``dxhub-task-<task id>-<attempt>``)."""
    match = ORDER_ID.match(order_id or "")
    return int(match.group(1)) if match else None


def order_id_of(task_id: int, attempt: int) -> str:
    return f"dxhub-task-{task_id}-{attempt}"


@dataclass(frozen=True)
class OrderProgress:
    """What a state says about one order: underway (with a share of nodes traversed), done, failed."""

    status: str  # underway | completed | failed
    progress: float
    failure_reason: str = ""


def order_progress(state: dict[str, Any], *, order_id: str, nodes: int, was_started: bool) -> OrderProgress | None:
    """How far the vehicle got with ``order_id`` (of ``nodes`` nodes), from its ``nodeStates`` and
    ``actionStates``; None while it has not taken the order up. An order the vehicle dropped (its
    ``orderId`` cleared or replaced) after it had started fails."""
    if state.get("orderId") != order_id:
        if was_started:
            return OrderProgress("failed", 0.0, "the vehicle dropped the order")
        return None
    pending = [n for n in state.get("nodeStates", []) if n.get("released", True)]
    actions = [a for a in state.get("actionStates", []) if a.get("actionId", "").startswith(order_id + "-")]
    failed = [a for a in actions if a.get("actionStatus") == "FAILED"]
    if failed:
        reason = failed[0].get("resultDescription") or f"action {failed[0].get('actionType', '')} failed"
        return OrderProgress("failed", 0.0, str(reason)[:500])
    done = max(0, nodes - len(pending))
    if not pending and all(a.get("actionStatus") == "FINISHED" for a in actions):
        return OrderProgress("completed", 100.0)
    return OrderProgress("underway", round(100.0 * done / max(nodes, 1), 1))


def is_idle(state: dict[str, Any]) -> bool:
    """No order to carry out, not driving, no action running (VDA 5050 section 6.10)."""
    return (not state.get("nodeStates") and not state.get("driving", False)
            and not any(a.get("actionStatus") in RUNNING_ACTION[1:] for a in state.get("actionStates", [])))


def errors_of(state: dict[str, Any]) -> list[dict[str, str]]:
    return [{"type": (e.get("errorType") or "error")[:60], "level": e.get("errorLevel", "WARNING").lower(),
             "description": (e.get("errorDescription") or "")[:500]} for e in state.get("errors", [])[:50]]


def capabilities_of(factsheet: dict[str, Any], *, task_kinds: tuple[str, ...]) -> list[str]:
    """The robot's capabilities from its factsheet: the action types it lists, in the platform's words
    (a task kind such as ``guide``; ``dock`` for ``startCharging``)."""
    actions = {a.get("actionType", "") for a in factsheet.get("protocolFeatures", {}).get("agvActions", [])}
    found = {kind for kind in task_kinds if kind in actions}
    if "startCharging" in actions:
        found.add("dock")
    return sorted(found)


# --- what the platform sends -----------------------------------------------------------------------

def header(*, header_id: int, manufacturer: str, serial_number: str, now: datetime) -> dict[str, Any]:
    return {"headerId": header_id, "timestamp": timestamp(now), "version": PROTOCOL_VERSION,
            "manufacturer": manufacturer, "serialNumber": serial_number}


def route_of(waypoints: list[dict[str, Any]], *, order_id: str, start: dict[str, float] | None) -> list[dict[str, Any]]:
    """The order's nodes: where the vehicle stands first (a new order must begin at a node the vehicle is
    on or within ``allowedDeviationXY`` of, section 6.6.1), then the task's waypoints."""
    here = [{"name": f"{order_id}-start", "x": start["x"], "y": start["y"], "start": True}] if start else []
    return here + list(waypoints)


def build_order(*, head: dict[str, Any], order_id: str, kind: str, waypoints: list[dict[str, Any]],
                map_id: str, start: dict[str, float] | None = None) -> dict[str, Any]:
    """An order through ``waypoints`` from ``start`` (the vehicle's position), all released (the base is
    the whole route): nodes at even and edges at odd sequence ids; the task's own action (its kind) at
    the last node."""
    route = route_of(waypoints, order_id=order_id, start=start)
    nodes, edges = [], []
    for i, point in enumerate(route):
        last = i == len(route) - 1
        actions = ([{"actionType": kind, "actionId": f"{order_id}-{kind}", "blockingType": "HARD",
                     "actionDescription": point["name"]}] if last else [])
        position = {"x": float(point["x"]), "y": float(point["y"]), "mapId": map_id}
        if point.get("start"):
            position["allowedDeviationXY"] = START_DEVIATION_M
        nodes.append({"nodeId": point["name"], "sequenceId": 2 * i, "released": True,
                      "nodeDescription": point["name"], "nodePosition": position, "actions": actions})
        if i:
            edges.append({"edgeId": f"{route[i - 1]['name']}>{point['name']}", "sequenceId": 2 * i - 1,
                          "released": True, "startNodeId": route[i - 1]["name"], "endNodeId": point["name"],
                          "actions": []})
    message = {**head, "orderId": order_id, "orderUpdateId": 0, "nodes": nodes, "edges": edges}
    validate("order", message)
    return message


def build_instant_actions(*, head: dict[str, Any], action_types: list[str], prefix: str) -> dict[str, Any]:
    actions = [{"actionType": t, "actionId": f"{prefix}-{t}", "blockingType": "HARD"} for t in action_types]
    message = {**head, "actions": actions}
    validate("instantActions", message)
    return message
