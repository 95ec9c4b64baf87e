"""Prometheus metrics: the metric objects every process shares, and the ``/metrics`` answer.

The web process records request latency (by route template, never the raw path, so an id in a URL
does not make a new series), ingestion counts per module, and the live-screen subscribers it holds; the
worker records its queue depth and each duty's lag through :func:`set_queue_depth` and
:func:`observe_duty_lag`.

Several processes (``dxhub serve --workers N``, web and worker side by side): set
``PROMETHEUS_MULTIPROC_DIR`` to an empty directory, the same for every process of the host, before they
start. prometheus-client then keeps each process's values in files there and ``/metrics`` adds them
up; empty the directory when the service (re)starts (the systemd units in docs/DEPLOY.md do).
"""

from __future__ import annotations

import ipaddress
import os
import secrets

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess
from sqlalchemy import event
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUEST_SECONDS = Histogram(
    "dxhub_http_request_duration_seconds", "Time to answer an HTTP request, by route template.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
INGESTED = Counter(
    "dxhub_ingested", "Items ingested and committed, per module and kind (events, states, rows).",
    ["module", "kind"],
)
LIVE_SUBSCRIBERS = Gauge(
    "dxhub_live_subscribers", "Live screens (server-sent event streams) connected.",
    multiprocess_mode="livesum",
)
QUEUE_DEPTH = Gauge(
    "dxhub_job_queue_depth", "Jobs and duties waiting in the task queue.", multiprocess_mode="livemax",
)
DUTY_LAG = Gauge(
    "dxhub_duty_lag_seconds", "How late a scheduled duty's last run started after its due time.",
    ["duty"], multiprocess_mode="livemax",
)

# Requests that matched no route share one label: a scan of random paths must not grow the series.
UNMATCHED_ROUTE = "<unmatched>"


def observe_request(*, method: str, route: str, status: int, seconds: float) -> None:
    REQUEST_SECONDS.labels(method, route, str(status)).observe(seconds)


def set_queue_depth(n: int) -> None:
    """The worker: how many jobs wait in the queue now."""
    QUEUE_DEPTH.set(n)


def observe_duty_lag(duty: str, seconds: float) -> None:
    """The worker: ``duty`` started ``seconds`` after it was due (0 when on time)."""
    DUTY_LAG.labels(duty).set(max(seconds, 0.0))


def live_subscribed(delta: int) -> None:
    LIVE_SUBSCRIBERS.inc(delta)


_INGESTED_KEY = "metrics_ingested"


def count_ingested(db: Session, *, module: str, kind: str, n: int) -> None:
    """Count ``n`` items of ``kind`` ingested by ``module``; counted only if the transaction commits."""
    if n:
        pending = db.info.setdefault(_INGESTED_KEY, {})
        pending[(module, kind)] = pending.get((module, kind), 0) + n


@event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    for (module, kind), n in session.info.pop(_INGESTED_KEY, {}).items():
        INGESTED.labels(module, kind).inc(n)


@event.listens_for(Session, "after_rollback")
def _drop_uncommitted(session: Session) -> None:
    session.info.pop(_INGESTED_KEY, None)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def mark_process_dead(pid: int | None = None) -> None:
    """Forget a stopped process's live gauges (multi-process mode only)."""
    if multiprocess_dir():
        _multiprocess.mark_process_dead(pid or os.getpid())


def exposition() -> bytes:
    """Every metric of this process, or of every process of the host in multi-process mode."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def scrape_allowed(request: Request, token: str | None) -> bool:
    """With a token: only a scraper sending ``Authorization: Bearer <token>``. Without one: only a client on
    this host talking to the app directly (a request that came through a proxy carries forwarding headers,
    and a proxy on this host would otherwise make every visitor look local)."""
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(given.strip().encode(), token.encode())
    forwarded = any(h in request.headers for h in ("x-forwarded-for", "forwarded", "x-real-ip"))
    return not forwarded and _is_loopback(request.client.host if request.client else None)


def metrics_response() -> Response:
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)
