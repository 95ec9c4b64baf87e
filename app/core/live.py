"""In-process publish/subscribe for live screens (server-sent events).

Services publish with :func:`publish_after_commit`, so a screen never shows a change that was rolled
back. Subscribers are asyncio queues of the serving process; one uvicorn worker serves every screen
of a control centre (a multi-worker deployment would put a broker such as Redis behind this API).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Text, bindparam, event, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import StreamingResponse

from app.core import metrics

KEEPALIVE_S = 15.0
log = logging.getLogger("dxhub.live")
QUEUE_SIZE = 1000


class Broker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Queue]]] = {}

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        """Send ``message`` to every subscriber of ``topic``; safe to call from any thread."""
        with self._lock:
            targets = list(self._subscribers.get(topic, ()))
        for loop, queue in targets:
            loop.call_soon_threadsafe(_offer, queue, message)

    @asynccontextmanager
    async def subscribe(self, *topics: str) -> AsyncIterator[asyncio.Queue]:
        """One queue receiving the messages of every topic in ``topics``."""
        queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_SIZE)
        entry = (asyncio.get_running_loop(), queue)
        with self._lock:
            for topic in topics:
                self._subscribers.setdefault(topic, set()).add(entry)
        metrics.live_subscribed(1)
        try:
            yield queue
        finally:
            metrics.live_subscribed(-1)
            with self._lock:
                for topic in topics:
                    self._subscribers.get(topic, set()).discard(entry)

    def subscriber_count(self, topic: str) -> int:
        with self._lock:
            return len(self._subscribers.get(topic, ()))


def _offer(queue: asyncio.Queue, message: dict[str, Any]) -> None:
    if queue.full():  # a stalled screen loses the oldest message, never blocks the publisher
        queue.get_nowait()
    queue.put_nowait(message)


broker = Broker()


def publish_after_commit(db: Session, topic: str, message: dict[str, Any]) -> None:
    """Queue ``message`` for ``topic``; it is sent only if the session's transaction commits."""
    db.info.setdefault("live_outbox", []).append((topic, message))


_NOTIFY_KEY = "live_pg_notify"


def notify_at_commit(db: Session, channel: str, payload: str) -> None:
    """PostgreSQL: ``NOTIFY channel, payload`` as part of this transaction, so other processes hear of
    it only if it commits. A transaction's notifications go out together in one statement just before
    the commit, in their order (a batch of events can announce dozens of changes)."""
    db.info.setdefault(_NOTIFY_KEY, []).append((channel, payload))


@event.listens_for(Session, "before_commit")
def _send_notifications(session: Session) -> None:
    queued = session.info.pop(_NOTIFY_KEY, None)
    if queued:
        channels, payloads = (list(column) for column in zip(*queued, strict=True))
        rows = func.unnest(bindparam("channels", channels, type_=ARRAY(Text)),
                           bindparam("payloads", payloads, type_=ARRAY(Text))
                           ).table_valued("channel", "payload").render_derived()
        session.execute(select(func.pg_notify(rows.c.channel, rows.c.payload)).select_from(rows))


@event.listens_for(Session, "after_commit")
def _flush_outbox(session: Session) -> None:
    for topic, message in session.info.pop("live_outbox", []):
        broker.publish(topic, message)


@event.listens_for(Session, "after_rollback")
def _drop_outbox(session: Session) -> None:
    session.info.pop("live_outbox", None)
    session.info.pop(_NOTIFY_KEY, None)


def sse_response(request: Request, topics: list[str], *, keepalive_s: float = KEEPALIVE_S) -> StreamingResponse:
    """Stream messages of ``topics`` as server-sent events; each message's ``event`` key names it."""

    async def stream() -> AsyncIterator[str]:
        async with broker.subscribe(*topics) as queue:
            yield "retry: 3000\n\n"
            while not await request.is_disconnected():
                try:
                    message = await asyncio.wait_for(queue.get(), timeout=keepalive_s)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                name = message.get("event", "message")
                yield f"event: {name}\ndata: {json.dumps(message, ensure_ascii=False, default=str)}\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})



class PerDatabaseThread:
    """A background thread per database and process that runs while at least one live screen of this
    process needs it: started by the first ``watch``, told to stop (its ``stop`` event set) by the last
    ``unwatch``. ``run(database, stop, *args)`` is the thread's body."""

    def __init__(self, name: str, run: Callable[..., None]) -> None:
        self.name, self._body = name, run
        self._lock = threading.Lock()
        self._watchers: dict[int, int] = {}
        self._stops: dict[int, threading.Event] = {}

    def watch(self, database: Any, *args: Any) -> bool:
        """Count one more watcher; True when this call started the thread."""
        with self._lock:
            key = id(database)
            self._watchers[key] = self._watchers.get(key, 0) + 1
            if key in self._stops:
                return False
            stop = self._stops[key] = threading.Event()
        threading.Thread(target=self._body, args=(database, stop, *args), daemon=True, name=self.name).start()
        return True

    def unwatch(self, database: Any) -> None:
        with self._lock:
            key = id(database)
            self._watchers[key] = self._watchers.get(key, 1) - 1
            if self._watchers[key] <= 0:
                self._watchers.pop(key, None)
                stop = self._stops.pop(key, None)
                if stop is not None:
                    stop.set()
