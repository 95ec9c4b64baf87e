"""Live site screens: server-sent events (across processes through app.kt.robots.relay), a sweeper that
marks silent robots offline while anyone watches (``dxhub robots sweep --every 5`` does the same without
a screen open), and the site screen's data shared between readers."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator

from sqlalchemy import event
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import StreamingResponse

from app.core.db import Database
from app.core.live import sse_response
from app.core.tenancy import SYSTEM, bind_principal
from app.kt.robots import service
from app.kt.robots.relay import Relay

SWEEP_INTERVAL_S = 5.0
log = logging.getLogger("dxhub.kt.robots")


class Sweeper:
    """One thread per database, running while at least one live screen is open."""

    _lock = threading.Lock()
    _watchers: dict[int, int] = {}
    _stops: dict[int, threading.Event] = {}

    @classmethod
    def watch(cls, database: Database) -> None:
        with cls._lock:
            key = id(database)
            cls._watchers[key] = cls._watchers.get(key, 0) + 1
            if key not in cls._stops:
                stop = cls._stops[key] = threading.Event()
                threading.Thread(target=cls._run, args=(database, stop), daemon=True,
                                 name="kt-robots-sweeper").start()

    @classmethod
    def unwatch(cls, database: Database) -> None:
        with cls._lock:
            key = id(database)
            cls._watchers[key] = cls._watchers.get(key, 1) - 1
            if cls._watchers[key] <= 0:
                cls._watchers.pop(key, None)
                stop = cls._stops.pop(key, None)
                if stop is not None:
                    stop.set()

    @staticmethod
    def _run(database: Database, stop: threading.Event) -> None:
        while not stop.wait(SWEEP_INTERVAL_S):
            try:
                sweep_once(database)
            except Exception:  # keep sweeping: a failed round is logged and retried
                log.exception("offline sweep failed")


def sweep_once(database: Database) -> int:
    with database.unit_of_work() as session:
        bind_principal(session, SYSTEM)
        return service.sweep_offline(session)


def site_stream(request: Request, site_id: int) -> StreamingResponse:
    response = sse_response(request, [service.topic(site_id)])
    database: Database = request.app.state.db
    inner = response.body_iterator

    async def body() -> AsyncIterator[str | bytes]:
        Sweeper.watch(database)
        await asyncio.to_thread(Relay.watch, database)
        try:
            async for chunk in inner:
                yield chunk
        finally:
            Sweeper.unwatch(database)
            Relay.unwatch(database)

    response.body_iterator = body()
    return response


class SiteCache:
    """The site screen's data, serialised once and shared by every reader for up to ``TTL_S``; a
    committed change to the site drops it at once (in this process; other workers wait out the TTL)."""

    TTL_S = 1.0
    _lock = threading.Lock()
    _entries: dict[tuple[int, int], tuple[float, bytes]] = {}

    _building: dict[tuple[int, int], threading.Lock] = {}

    @classmethod
    def get(cls, database: Database, site_id: int, build) -> bytes:
        key = (id(database), site_id)
        with cls._lock:
            entry = cls._entries.get(key)
            build_lock = cls._building.setdefault(key, threading.Lock())
        if entry is not None and time.monotonic() - entry[0] < cls.TTL_S:
            return entry[1]
        with build_lock:  # one reader builds, the others wait for its copy
            with cls._lock:
                entry = cls._entries.get(key)
            if entry is not None and time.monotonic() - entry[0] < cls.TTL_S:
                return entry[1]
            started = time.monotonic()
            body = build()
            with cls._lock:
                cls._entries[key] = (started, body)
            return body

    @classmethod
    def drop(cls, site_ids: set[int]) -> None:
        with cls._lock:
            for key in [k for k in cls._entries if k[1] in site_ids]:
                del cls._entries[key]


@event.listens_for(Session, "after_commit")
def _drop_changed_sites(session: Session) -> None:
    changed = session.info.pop(service.CHANGED_SITES, None)
    if changed:
        SiteCache.drop(changed)


@event.listens_for(Session, "after_rollback")
def _forget_changed_sites(session: Session) -> None:
    session.info.pop(service.CHANGED_SITES, None)
