"""notify_at_commit: a transaction's notifications reach listeners in order, only if it commits."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from app.core.live import notify_at_commit
from app.core.tenancy import SYSTEM

CHANNEL = "dxhub_test_notify"


def test_notifications_leave_in_order_at_commit_and_never_after_a_rollback(database):
    if database.is_sqlite:
        pytest.skip("NOTIFY is PostgreSQL's; on SQLite live messages stay in-process")
    import psycopg

    dsn = make_url(database.url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        with database.unit_of_work(principal=SYSTEM) as session:
            for n in range(3):
                notify_at_commit(session, CHANNEL, f"message {n}")
        try:
            with database.unit_of_work(principal=SYSTEM) as session:
                notify_at_commit(session, CHANNEL, "rolled back")
                raise RuntimeError("the request failed")
        except RuntimeError:
            pass
        with database.unit_of_work(principal=SYSTEM) as session:
            notify_at_commit(session, CHANNEL, "after")
        got = []
        for note in listener.notifies(timeout=5, stop_after=4):
            got.append(note.payload)
    assert got == ["message 0", "message 1", "message 2", "after"]
