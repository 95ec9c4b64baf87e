"""Live site screens: server-sent events (across processes through app.kt.robots.relay) and the site
screen's data shared between readers. Silent robots are marked offline by the worker's duty
(``app.kt.robots.duties``), whether or not a screen is open."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator

from sqlalchemy import event
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import StreamingResponse

from app.core.db import Database
from app.core.live import sse_response
from app.kt.robots import service
from app.kt.robots.relay import Relay


def site_stream(request: Request, site_id: int) -> StreamingResponse:
    response = sse_response(request, [service.topic(site_id)])
    database: Database = request.app.state.db
    inner = response.body_iterator

    async def body() -> AsyncIterator[str | bytes]:
        await asyncio.to_thread(Relay.watch, database)
        try:
            async for chunk in inner:
                yield chunk
        finally:
            Relay.unwatch(database)

    response.body_iterator = body()
    return response


class SiteCache:
    """The site screen's data, serialised once and shared by every reader for up to ``TTL_S``.

    A committed change to the site makes the next reader build a new copy (in this process; other
    workers wait out the TTL). Readers arriving while a copy is being built get the previous one at
    once rather than queueing behind the build: under a flood of state reports one request per change
    pays for the build, and the screens, which learn of changes by server-sent events, stay fast."""

    TTL_S = 1.0
    _lock = threading.Lock()
    _entries: dict[tuple[int, int], tuple[float, int, bytes]] = {}  # key -> (built at, generation, body)
    _generations: dict[tuple[int, int], int] = defaultdict(int)  # bumped by each committed change
    _building: dict[tuple[int, int], threading.Lock] = {}

    @classmethod
    def _fresh(cls, key: tuple[int, int]) -> tuple[float, int, bytes] | None:
        entry = cls._entries.get(key)
        if entry is not None and entry[1] == cls._generations[key] and time.monotonic() - entry[0] < cls.TTL_S:
            return entry
        return None

    @classmethod
    def get(cls, database: Database, site_id: int, build) -> bytes:
        key = (id(database), site_id)
        with cls._lock:
            fresh, previous = cls._fresh(key), cls._entries.get(key)
            build_lock = cls._building.setdefault(key, threading.Lock())
        if fresh is not None:
            return fresh[2]
        if not build_lock.acquire(blocking=previous is None):
            return previous[2]  # type: ignore[index]  # another reader is building: the previous copy serves
        try:
            with cls._lock:
                fresh, generation = cls._fresh(key), cls._generations[key]
            if fresh is not None:
                return fresh[2]
            started = time.monotonic()
            body = build()
            with cls._lock:  # a change committed during the build leaves this copy stale already
                cls._entries[key] = (started, generation, body)
            return body
        finally:
            build_lock.release()

    @classmethod
    def drop(cls, site_ids: set[int]) -> None:
        with cls._lock:
            for key in {k for k in (*cls._entries, *cls._building) if k[1] in site_ids}:
                cls._generations[key] += 1


@event.listens_for(Session, "after_commit")
def _drop_changed_sites(session: Session) -> None:
    changed = session.info.pop(service.CHANGED_SITES, None)
    if changed:
        SiteCache.drop(changed)


@event.listens_for(Session, "after_rollback")
def _forget_changed_sites(session: Session) -> None:
    session.info.pop(service.CHANGED_SITES, None)
