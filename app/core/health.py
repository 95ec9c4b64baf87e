"""Readiness: the checks ``/readyz`` runs, a small list others add to.

A check is ``check(app) -> None`` that raises (any exception) when its component cannot serve: the answer
names the failed check only (the probe is public), the log has the reason. ``/readyz`` answers 200 when
every check passes, 503 otherwise.
The core registers the database and the task queue; the worker may replace the queue check with one that
knows its storage exactly (``register("queue", check)``).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text

log = logging.getLogger("dxhub.health")

Check = Callable[[Any], None]
_checks: dict[str, Check] = {}


def register(name: str, check: Check) -> None:
    """Add (or replace) the readiness check ``name``."""
    _checks[name] = check


def check_database(app: Any) -> None:
    with app.state.db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def queue_dir(settings: Any) -> Path:
    """Where the embedded (SQLite) task queue keeps its file: beside a SQLite database, else the data dir."""
    url = settings.database_url
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url.removeprefix("sqlite:///")).resolve().parent
    return Path(settings.data_dir)


def check_queue(app: Any) -> None:
    """Redis answers PING when ``DXHUB_REDIS_URL`` is set; otherwise the embedded queue's directory is
    writable."""
    settings = app.state.settings
    if settings.redis_url:
        import redis

        client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
        return
    directory = queue_dir(settings)
    if not directory.is_dir():
        raise RuntimeError(f"queue directory {directory} does not exist")
    fd, probe = tempfile.mkstemp(prefix=".readyz-", dir=directory)
    os.close(fd)
    os.unlink(probe)


register("database", check_database)
register("queue", check_queue)


def readiness(app: Any) -> tuple[bool, dict[str, str]]:
    """Run every check: (all passed, {name: "ok" or "failed"})."""
    results: dict[str, str] = {}
    for name, check in _checks.items():
        try:
            check(app)
        except Exception:
            log.warning("readiness check %s failed", name, exc_info=True)
            results[name] = "failed"
        else:
            results[name] = "ok"
    return all(v == "ok" for v in results.values()), results
