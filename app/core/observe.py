"""One line of log and one latency observation per HTTP request (pure ASGI: streams pass untouched).

The request id is the client's ``X-Request-ID`` when it is a plain short token, otherwise a new one; it
is echoed in the response and bound to the log context, so every record logged while serving the
request names it. The route is the matched route's template (``/api/v1/programs/{program_id}``), never
the raw path.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from fastapi.routing import iter_route_contexts

from app.core.logging import log_context, valid_request_id
from app.core.metrics import UNMATCHED_ROUTE, observe_request

log = logging.getLogger("dxhub.request")
REQUEST_ID_HEADER = b"x-request-id"


_TEMPLATES_ATTR = "_dxhub_route_templates"


def _templates(router: Any) -> dict[int, str]:
    """Each route's full template (prefixes of included routers joined), by the route object: an included
    router's route knows only its own part (``/cameras/{camera_id}``). Rebuilt when the routes change."""
    cached = getattr(router, _TEMPLATES_ATTR, None)
    if cached is not None and cached[0] == len(router.routes):
        return cached[1]
    templates = {id(ctx.original_route): ctx.path_format for ctx in iter_route_contexts(router.routes)
                 if ctx.path_format}
    setattr(router, _TEMPLATES_ATTR, (len(router.routes), templates))
    return templates


def route_template(scope: dict[str, Any]) -> str:
    """The matched route's template, e.g. ``/api/v1/kt/cctv/cameras/{camera_id}``; one label for no match."""
    route = scope.get("route")
    if route is None:
        return UNMATCHED_ROUTE
    app = scope.get("app")
    router = getattr(app, "router", None)
    template = _templates(router).get(id(route)) if router is not None else None
    return template or getattr(route, "path_format", None) or UNMATCHED_ROUTE


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


class RequestObservationMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = valid_request_id(_header(scope, REQUEST_ID_HEADER)) or uuid.uuid4().hex
        status = 500
        started = time.perf_counter()
        recorded = False

        def record() -> None:
            nonlocal recorded
            if not recorded:
                recorded = True
                self._record(scope, status, time.perf_counter() - started)

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER, request_id.encode())]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                # Recorded before the last part leaves: once the client has its answer, its next request
                # (perhaps to another process) already finds this one counted.
                record()
            await send(message)

        with log_context(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                record()  # no answer finished (an error, a client gone mid-stream)

    @staticmethod
    def _record(scope: dict[str, Any], status: int, seconds: float) -> None:
        route = route_template(scope)
        observe_request(method=scope["method"], route=route, status=status, seconds=seconds)
        principal = (scope.get("state") or {}).get("principal")
        log.info("request", extra={
            "method": scope["method"], "route": route, "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "principal": principal.label if principal is not None else None,
            "tenant": principal.municipality_id if principal is not None else None,
        })
