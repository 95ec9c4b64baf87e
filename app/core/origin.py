"""Where the work of this moment comes from: a web or API request (client IP, user agent), a CLI command,
or a background job. The audit trail and the access records write it on every entry.

A pure ASGI middleware sets it for each HTTP request; ``dxhub`` sets it for its command; a job runner
wraps each job in :func:`origin_scope`. Sync routes run in a thread pool that copies the context, so
the value reaches them (and the unit of work's commit) unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

from starlette.types import ASGIApp, Receive, Scope, Send

Source = Literal["web", "api", "cli", "job", "mqtt", "system"]


@dataclass(frozen=True)
class Origin:
    source: Source
    detail: str = ""  # "GET /path", the command line, the job's name
    ip: str | None = None
    user_agent: str | None = None


SYSTEM_ORIGIN = Origin(source="system")
_current: ContextVar[Origin] = ContextVar("dxhub_origin", default=SYSTEM_ORIGIN)


def current_origin() -> Origin:
    return _current.get()


@contextmanager
def origin_scope(source: Source, detail: str = "", *, ip: str | None = None,
                 user_agent: str | None = None) -> Iterator[Origin]:
    """Everything audited inside the block comes from ``source`` (e.g. ``origin_scope("job", "cctv.escalate")``)."""
    origin = Origin(source=source, detail=detail[:200], ip=ip, user_agent=(user_agent or None) and user_agent[:300])
    token = _current.set(origin)
    try:
        yield origin
    finally:
        _current.reset(token)


class OriginMiddleware:
    """Records each request's client address, user agent, method and path as its :class:`Origin`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        agent = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"user-agent"), None)
        client = scope.get("client")
        with origin_scope("api" if path.startswith("/api/") else "web", f"{scope.get('method', '')} {path}",
                          ip=client[0] if client else None, user_agent=agent):
            await self.app(scope, receive, send)
