"""Live messages of the control centre, across processes.

On SQLite (one process) messages go through the core's in-process broker after commit. On PostgreSQL
they travel as ``NOTIFY`` inside the writing transaction (so they are delivered only if it commits),
and every process that serves a live screen runs one listener thread that ``LISTEN``s and hands each
message to its own broker: several uvicorn workers or hosts then all see every change.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.core.live import broker, notify_at_commit, publish_after_commit

CHANNEL = "dxhub_kt_cctv"
ALL_TOPIC = "kt.cctv:all"
log = logging.getLogger("dxhub.kt.cctv.live")


def topic_for(municipality_id: int) -> str:
    return f"kt.cctv:{municipality_id}"


def publish(db: Session, municipality_id: int, message: dict[str, Any]) -> None:
    topics = [topic_for(municipality_id), ALL_TOPIC]
    if db.get_bind().dialect.name == "postgresql":
        notify_at_commit(db, CHANNEL, json.dumps({"topics": topics, "message": message}, ensure_ascii=False,
                                                 default=str))
    else:
        for topic in topics:
            publish_after_commit(db, topic, message)


class _Listener(threading.Thread):
    def __init__(self, url: str) -> None:
        super().__init__(name="kt-cctv-listen", daemon=True)
        self.url = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.ready = threading.Event()
        self.stopping = threading.Event()

    def run(self) -> None:
        import psycopg

        outage = False  # the first failure of an outage is logged with its cause, the retries are not
        while not self.stopping.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.ready.set()
                    if outage:
                        log.warning("live listener reconnected")
                        outage = False
                    while not self.stopping.is_set():
                        for note in conn.notifies(timeout=2.0):
                            _deliver(note.payload)
            except Exception:  # the database restarted or the network dropped: listen again shortly
                self.ready.clear()
                if not outage:
                    log.warning("live listener lost its connection; reconnecting", exc_info=True)
                    outage = True
                self.stopping.wait(2.0)


def _deliver(payload: str) -> None:
    try:
        data = json.loads(payload)
        for topic in data["topics"]:
            broker.publish(topic, data["message"])
    except (ValueError, KeyError, TypeError):
        log.warning("ignored a malformed live message")


_listeners: dict[str, _Listener] = {}
_lock = threading.Lock()


def ensure_listener(database_url: str, *, wait_s: float = 0.0) -> bool:
    """Start this process's listener for ``database_url`` once (PostgreSQL only); True when listening."""
    if make_url(database_url).get_backend_name() != "postgresql":
        return False
    with _lock:
        listener = _listeners.get(database_url)
        if listener is None or not listener.is_alive():
            listener = _listeners[database_url] = _Listener(database_url)
            listener.start()
    return listener.ready.wait(wait_s) if wait_s else listener.ready.is_set()
