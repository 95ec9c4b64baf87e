"""The MQTT link against the machine's Mosquitto: bridges receive what devices publish, and what a
transaction publishes leaves only when it commits."""

from __future__ import annotations

import threading
import uuid

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from app.core import mqtt
from app.core.mqtt import Bridge, MqttLink, parse_url, publish_after_commit
from tests.conftest import wait_until


def test_broker_urls_are_read_with_their_credentials_and_tls():
    plain = parse_url("mqtt://127.0.0.1")
    assert (plain.host, plain.port, plain.tls, plain.username) == ("127.0.0.1", 1883, False, None)
    secure = parse_url("mqtts://user%40city:p%3Ass@broker.example:8884")
    assert (secure.host, secure.port, secure.tls, secure.username, secure.password) == (
        "broker.example", 8884, True, "user@city", "p:ss")
    with pytest.raises(ValueError, match="not an MQTT URL"):
        parse_url("http://broker:1883")


class Listener:
    """An independent subscriber (plain paho client) that records what reaches the broker."""

    def __init__(self, url: str, topic_filter: str) -> None:
        address = parse_url(url)
        self.received: list[tuple[str, bytes]] = []
        self.ready = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"listener-{uuid.uuid4().hex[:8]}")
        self.client.on_connect = lambda c, *_: (c.subscribe(topic_filter, qos=1), None)[1]
        self.client.on_subscribe = lambda *_: self.ready.set()
        self.client.on_message = lambda c, u, m: self.received.append((m.topic, bytes(m.payload)))
        self.client.connect(address.host, address.port)
        self.client.loop_start()
        assert self.ready.wait(5), "the listener could not subscribe"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.parametrize("group", ["", "shared"], ids=["own-subscription", "shared-subscription"])
def test_a_bridge_receives_the_messages_of_its_topics_in_order_and_survives_a_bad_one(mqtt_url, database, settings,
                                                                                     group):
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    seen: list[tuple[str, object]] = []

    def handle(ctx, message):
        seen.append((message.topic, message.json()))  # raises on a payload that is not JSON

    settings = settings.model_copy(update={"mqtt_url": mqtt_url, "mqtt_shared_group": group and f"{prefix}-group"})
    bridge = Bridge(key="test.bridge", topics=lambda s: [f"{prefix}/+/state"], handle=handle)
    link = MqttLink(settings, database, bridges=[bridge])
    sender = MqttLink(settings, role="sender")
    try:
        assert link.start() and sender.start()
        sender.publish(f"{prefix}/v1/state", {"n": 1}, qos=1)
        sender.publish(f"{prefix}/v1/state", b"not json", qos=1)
        sender.publish(f"{prefix}/v1/other", {"n": 99}, qos=1)  # not the bridge's topic
        sender.publish(f"{prefix}/v2/state", {"n": 2}, qos=1)
        wait_until(lambda: len(seen) == 2, what="both good messages handled")
        wait_until(link.idle, what="the dispatcher idle")
        assert seen == [(f"{prefix}/v1/state", {"n": 1}), (f"{prefix}/v2/state", {"n": 2})]
    finally:
        link.stop()
        sender.stop()


def test_a_message_published_in_a_transaction_leaves_only_if_it_commits(mqtt_url, database, settings):
    topic = f"test-{uuid.uuid4().hex[:8]}/order"
    settings = settings.model_copy(update={"mqtt_url": mqtt_url})
    listener = Listener(mqtt_url, topic)
    try:
        with pytest.raises(RuntimeError), database.unit_of_work() as s:
            publish_after_commit(s, settings, topic, {"orderId": "rolled-back"})
            raise RuntimeError("the dispatch failed")
        with database.unit_of_work() as s:
            publish_after_commit(s, settings, topic, {"orderId": "kept"})
        wait_until(lambda: listener.received, what="the committed message")
        assert [payload for _, payload in listener.received] == [b'{"orderId":"kept"}']
    finally:
        listener.close()
        mqtt.close_publisher()


def test_nothing_is_published_or_queued_when_mqtt_is_off(database, settings):
    with database.unit_of_work() as s:
        publish_after_commit(s, settings, "anything", {"x": 1})
        assert "mqtt_outbox" not in s.info
    assert mqtt.publisher(settings) is None
