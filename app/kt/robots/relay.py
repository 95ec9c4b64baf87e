"""Live events across processes. On PostgreSQL every event of a site is also sent with ``pg_notify``
inside the writing transaction (so it leaves only if the transaction commits); each process that serves
a live screen LISTENs and hands events from other processes to its own in-process broker. On SQLite
(one process) the in-process broker alone is used."""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.core.db import Database
from app.core.live import PerDatabaseThread, broker, notify_at_commit

CHANNEL = "kt_robots_live"
ORIGIN = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
MAX_PAYLOAD = 7000  # PostgreSQL refuses notifications of 8,000 bytes or more
log = logging.getLogger("dxhub.kt.robots")


def notify(db: Session, topic: str, message: dict[str, Any]) -> None:
    """Queue ``message`` for other processes; a no-op on SQLite."""
    if db.get_bind().dialect.name != "postgresql":
        return
    payload = json.dumps({"origin": ORIGIN, "topic": topic, "message": message}, ensure_ascii=False, default=str)
    if len(payload.encode()) > MAX_PAYLOAD:  # big robot lists: tell the screens to fetch instead
        slim = {k: v for k, v in message.items() if not isinstance(v, list)} | {"truncated": True}
        payload = json.dumps({"origin": ORIGIN, "topic": topic, "message": slim}, ensure_ascii=False, default=str)
    notify_at_commit(db, CHANNEL, payload)


def _dsn(database: Database) -> str:
    url = make_url(database.url)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _listen(database: Database, stop: threading.Event, ready: threading.Event) -> None:
    import psycopg

    while not stop.is_set():
        try:
            with psycopg.connect(_dsn(database), autocommit=True) as conn:
                conn.execute(f"LISTEN {CHANNEL}")
                ready.set()
                while not stop.is_set():
                    for note in conn.notifies(timeout=1.0):
                        _deliver(note.payload)
        except Exception:  # the database went away: wait a little and listen again
            log.exception("live relay lost its connection")
            ready.set()
            stop.wait(2.0)


_listeners = PerDatabaseThread("kt-robots-relay", _listen)


class Relay:
    """One LISTEN connection per database and process, open while a live screen is (PostgreSQL only)."""

    @staticmethod
    def watch(database: Database, *, timeout_s: float = 5.0) -> None:
        if database.is_sqlite:
            return
        ready = threading.Event()
        if _listeners.watch(database, ready):
            ready.wait(timeout_s)

    @staticmethod
    def unwatch(database: Database) -> None:
        if not database.is_sqlite:
            _listeners.unwatch(database)


def _deliver(payload: str) -> None:
    try:
        data = json.loads(payload)
    except ValueError:
        return
    if data.get("origin") == ORIGIN or not isinstance(data.get("message"), dict):
        return  # this process's own events already went to its broker after the commit
    broker.publish(str(data.get("topic", "")), data["message"])
