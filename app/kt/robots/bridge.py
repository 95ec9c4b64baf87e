"""The VDA 5050 bridge: ``{interface}/v2/<manufacturer>/<serialNumber>/connection|state|factsheet|visualization``
from the broker into the robot platform (``dxhub worker`` runs it when ``DXHUB_MQTT_URL`` is set).

Each message is checked against its official schema, then handled in its own unit of work as the
system, in named steps: read the topic, read and validate the payload, note the vehicle, apply the
message. A message that fails a step is logged, counted and dropped; the link goes on.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from app.core.config import Settings
from app.core.db import utcnow
from app.core.errors import DomainError
from app.core.mqtt import MESSAGES, Bridge, BridgeContext, Message
from app.core.tenancy import SYSTEM
from app.kt.robots import vda5050, vehicles
from app.kt.robots.config import get_robots_settings

log = logging.getLogger("dxhub.kt.robots.vda5050")
KEY = "kt.robots.vda5050"


class Refused(Exception):
    """A message the bridge does not take (wrong topic, not JSON, against its schema)."""


def topics(settings: Settings) -> list[str]:
    return vda5050.subscriptions(get_robots_settings().vda5050_interface)


def read(message: Message) -> tuple[vda5050.Topic, dict[str, Any]]:
    """The topic's parts and the validated payload; raises :class:`Refused`."""
    topic = vda5050.parse_topic(message.topic)
    if topic is None or topic.version != "v2" or topic.subtopic not in vda5050.SUBTOPICS_IN:
        raise Refused(f"not a VDA 5050 v2 topic: {message.topic}")
    try:
        payload = message.json()
    except ValueError as exc:
        raise Refused(f"not JSON: {exc}") from None
    try:
        vda5050.validate(topic.subtopic, payload)
    except vda5050.InvalidMessage as exc:
        raise Refused(f"against the {topic.subtopic} schema: {exc}") from None
    if (payload["manufacturer"], payload["serialNumber"]) != (topic.manufacturer, topic.serial_number):
        raise Refused("manufacturer and serialNumber differ from the topic's")
    return topic, payload


def apply(ctx: BridgeContext, topic: vda5050.Topic, payload: dict[str, Any]) -> None:
    """Note the vehicle and let its message change the platform, in one transaction."""
    now = utcnow()
    with ctx.database.unit_of_work(principal=SYSTEM) as db:
        db.info["settings"] = ctx.settings
        vehicle = vehicles.seen(db, manufacturer=topic.manufacturer, serial_number=topic.serial_number, now=now)
        if topic.subtopic == "connection":
            vehicles.on_connection(db, vehicle=vehicle, message=payload, now=now)
        elif topic.subtopic == "state":
            vehicles.on_state(db, vehicle=vehicle, message=payload, now=now)
        elif topic.subtopic == "factsheet":
            vehicles.on_factsheet(db, vehicle=vehicle, message=payload)
        # visualization: the vehicle is seen; its position arrives with its state
        vehicles.heard(db, vehicle=vehicle, now=now, protocol_version=payload.get("version"),
                       connection_state=payload.get("connectionState"))


def handle(ctx: BridgeContext, message: Message) -> None:
    if not message.payload:
        return  # a retained message being cleared
    try:
        topic, payload = read(message)
        apply(ctx, topic, payload)
    except (Refused, DomainError, ValidationError) as exc:  # ValidationError: a value the platform cannot hold
        MESSAGES.labels(KEY, "refused").inc()
        log.warning("VDA 5050 message on %s refused: %s", message.topic, exc)


BRIDGE = Bridge(key=KEY, topics=topics, handle=handle)
