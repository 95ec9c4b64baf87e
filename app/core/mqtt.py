"""MQTT bridges: devices that speak their own standards over a broker (VDA 5050 vehicles, Frigate NVRs).

A module declares :class:`Bridge` objects in its manifest: the topic filters it listens to (from the
settings, so a deployment can rename its interface or prefix) and a handler. ``dxhub worker`` runs one
:class:`MqttLink` per process when ``DXHUB_MQTT_URL`` is set: it subscribes every enabled bridge's
filters and hands each message to its bridge on one dispatch thread, in the broker's order. A handler
feeds the module's own service functions, the same ones its REST API calls, in its own unit of work.

Several workers share a broker through MQTT shared subscriptions (``$share/<group>/<filter>``): the broker
gives each message to one of them. Handlers stay idempotent all the same (the broker redelivers at QoS 1).

Any process may publish (a dispatch from a web request sends a VDA 5050 order): :func:`publish_after_commit`
queues the message on the session and sends it only if the transaction commits, through a process-wide
link that connects on first use.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client import Counter
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import Database

log = logging.getLogger("dxhub.mqtt")

MESSAGES = Counter("dxhub_mqtt_messages", "MQTT messages handled by the bridges, by bridge and outcome.",
                   ["bridge", "outcome"])
PUBLISHED = Counter("dxhub_mqtt_published", "MQTT messages published, by bridge.", ["bridge"])

Payload = bytes | str | dict[str, Any] | list[Any]


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    retain: bool = False

    def json(self) -> Any:
        """The payload as JSON; raises ``ValueError`` when it is not."""
        return json.loads(self.payload.decode("utf-8"))


@dataclass
class BridgeContext:
    database: Database
    settings: Settings
    publish: Callable[..., None]  # publish(topic, payload, qos=0, retain=False)


@dataclass(frozen=True)
class Bridge:
    key: str  # e.g. "kt.robots.vda5050"
    topics: Callable[[Settings], list[str]]  # topic filters, e.g. ["uagv/v2/+/+/state"]
    handle: Callable[[BridgeContext, Message], None]
    qos: int = 1
    enabled: Callable[[Settings], bool] | None = None


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False


def parse_url(url: str) -> BrokerAddress:
    """``mqtt://user:pass@host:1883`` or ``mqtts://host:8883`` as a broker address."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
        raise ValueError(f"not an MQTT URL (mqtt://host:port): {url!r}")
    tls = parts.scheme in ("mqtts", "ssl")
    return BrokerAddress(host=parts.hostname, port=parts.port or (8883 if tls else 1883),
                         username=unquote(parts.username) if parts.username else None,
                         password=unquote(parts.password) if parts.password else None, tls=tls)


def encode(payload: Payload) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8")
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def topic_matches(topic_filter: str, topic: str) -> bool:
    return paho.topic_matches_sub(topic_filter, topic)


def _shared(topic_filter: str, group: str) -> str:
    return f"$share/{group}/{topic_filter}" if group else topic_filter


class MqttLink:
    """One connection to the broker: subscribes the bridges' filters, dispatches, publishes."""

    def __init__(self, settings: Settings, database: Database | None = None, *,
                 bridges: list[Bridge] | None = None, role: str = "worker") -> None:
        if not settings.mqtt_url:
            raise ValueError("DXHUB_MQTT_URL is not set")
        self.settings, self.database = settings, database
        self.bridges = [b for b in (bridges or []) if b.enabled is None or b.enabled(settings)]
        self.address = parse_url(settings.mqtt_url)
        self.connected = threading.Event()
        self._inbox: queue.Queue[tuple[Bridge, Message] | None] = queue.Queue()
        self._dispatcher: threading.Thread | None = None
        client_id = f"{settings.mqtt_client_prefix}-{role}-{uuid.uuid4().hex[:8]}"
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        if self.address.username:
            self.client.username_pw_set(self.address.username, self.address.password)
        if self.address.tls:
            self.client.tls_set()
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    # --- connection ---
    def start(self, *, wait_s: float = 10.0) -> bool:
        """Connect in the background (paho reconnects by itself); True when connected within ``wait_s``."""
        if self.bridges and self._dispatcher is None:
            self._dispatcher = threading.Thread(target=self._dispatch_loop, name="dxhub-mqtt-dispatch", daemon=True)
            self._dispatcher.start()
        self.client.connect_async(self.address.host, self.address.port, keepalive=30)
        self.client.loop_start()
        return self.connected.wait(wait_s)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        if self._dispatcher is not None:
            self._inbox.put(None)
            self._dispatcher.join(5)
            self._dispatcher = None

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        if reason_code.is_failure:
            log.warning("MQTT broker %s:%s refused the connection: %s", self.address.host, self.address.port,
                        reason_code)
            return
        group = self.settings.mqtt_shared_group
        for bridge in self.bridges:
            for topic_filter in bridge.topics(self.settings):
                client.subscribe(_shared(topic_filter, group), qos=bridge.qos)
        log.info("MQTT connected to %s:%s; bridges: %s", self.address.host, self.address.port,
                 ", ".join(b.key for b in self.bridges) or "none")
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        self.connected.clear()
        if reason_code.is_failure:
            log.warning("MQTT connection lost (%s); reconnecting", reason_code)

    # --- receiving ---
    def _on_message(self, client, userdata, msg) -> None:  # noqa: ANN001
        message = Message(topic=msg.topic, payload=bytes(msg.payload), retain=bool(msg.retain))
        for bridge in self.bridges:
            if any(topic_matches(f, msg.topic) for f in bridge.topics(self.settings)):
                self._inbox.put((bridge, message))
                return

    def _dispatch_loop(self) -> None:
        while (item := self._inbox.get()) is not None:
            try:
                self.handle(*item)
            finally:
                self._inbox.task_done()

    def handle(self, bridge: Bridge, message: Message) -> None:
        """Run one message through its bridge; a failure is logged and counted, never kills the link."""
        from app.core.logging import log_context
        from app.core.origin import origin_scope

        context = BridgeContext(database=self.database, settings=self.settings, publish=self.publish)
        try:
            with log_context(bridge=bridge.key), origin_scope("mqtt", bridge.key):
                bridge.handle(context, message)
        except Exception:
            MESSAGES.labels(bridge.key, "failed").inc()
            log.exception("MQTT bridge %s: message on %s failed", bridge.key, message.topic)
        else:
            MESSAGES.labels(bridge.key, "handled").inc()

    def idle(self) -> bool:
        """No message waiting for the dispatcher (tests wait on this before reading the database)."""
        return self._inbox.unfinished_tasks == 0

    # --- publishing ---
    def publish(self, topic: str, payload: Payload, qos: int = 0, retain: bool = False, *,
                bridge: str = "") -> None:
        info = self.client.publish(topic, encode(payload), qos=qos, retain=retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            log.warning("MQTT publish to %s not queued (rc %s)", topic, info.rc)
        PUBLISHED.labels(bridge or topic.split("/", 1)[0]).inc()


# --- publishing from any process, after commit ----------------------------------------------------

_publisher: MqttLink | None = None
_publisher_lock = threading.Lock()
_OUTBOX = "mqtt_outbox"


def publisher(settings: Settings) -> MqttLink | None:
    """This process's publishing link (connected on first use); None when MQTT is not configured."""
    global _publisher
    if not settings.mqtt_url:
        return None
    with _publisher_lock:
        if _publisher is None or _publisher.settings.mqtt_url != settings.mqtt_url:
            if _publisher is not None:
                _publisher.stop()
            _publisher = MqttLink(settings, role="pub")
            if not _publisher.start(wait_s=5.0):
                log.warning("MQTT broker not reachable yet; messages are queued until it is")
        return _publisher


def close_publisher() -> None:
    global _publisher
    with _publisher_lock:
        if _publisher is not None:
            _publisher.stop()
            _publisher = None


def publish_after_commit(db: Session, settings: Settings, topic: str, payload: Payload, *, qos: int = 1,
                         retain: bool = False) -> None:
    """Publish ``payload`` on ``topic`` only if ``db``'s transaction commits (nothing when MQTT is off)."""
    if settings.mqtt_url:
        db.info.setdefault(_OUTBOX, []).append((settings, topic, encode(payload), qos, retain))


@event.listens_for(Session, "after_commit")
def _send_outbox(session: Session) -> None:
    for settings, topic, payload, qos, retain in session.info.pop(_OUTBOX, []):
        link = publisher(settings)
        if link is not None:
            link.publish(topic, payload, qos=qos, retain=retain)


@event.listens_for(Session, "after_rollback")
def _drop_outbox(session: Session) -> None:
    session.info.pop(_OUTBOX, None)


# --- the worker's link ----------------------------------------------------------------------------

def start_bridges(settings: Settings, database: Database) -> MqttLink | None:
    """Start the bridges the installed modules declare (``dxhub worker``); None when MQTT is off."""
    from app.core.manifest import bridges

    declared = list(bridges().values())
    if not settings.mqtt_url or not declared:
        return None
    link = MqttLink(settings, database, bridges=declared)
    if not link.start():
        log.warning("MQTT broker %s not reachable yet; the bridges connect when it is", settings.mqtt_url)
    return link
