"""The Frigate MQTT bridge (``kt.cctv.frigate``): ``<prefix>/events`` and ``<prefix>/reviews`` into the
CCTV service, and each event's snapshot from Frigate's HTTP API when ``DXHUB_KT_CCTV_FRIGATE_URL`` is set.

Each message is one unit of work as the system; a snapshot is fetched after that commits (no transaction
waits on Frigate) and stored in a second one, under the module's snapshot retention.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import quote

from pydantic import ValidationError

from app.core.db import Database, utcnow
from app.core.errors import DomainError
from app.core.mqtt import Bridge, BridgeContext, Message
from app.core.tenancy import SYSTEM
from app.kt.cctv import frigate, service
from app.kt.cctv.config import CctvSettings, get_cctv_settings
from app.kt.cctv.schemas import CameraRef

log = logging.getLogger("dxhub.kt.cctv.frigate")

KEY = "kt.cctv.frigate"


def frigate_bridge(cctv_settings: Callable[[], CctvSettings] = get_cctv_settings) -> Bridge:
    """The bridge the manifest declares; tests pass their own module settings."""

    def topics(_settings) -> list[str]:  # noqa: ANN001
        prefix = cctv_settings().frigate_topic_prefix.strip("/")
        return [f"{prefix}/events", f"{prefix}/reviews"]

    def handle(ctx: BridgeContext, message: Message) -> None:
        settings = cctv_settings()
        if message.topic.endswith("/reviews"):
            handle_review(ctx.database, message, settings=settings)
        else:
            handle_event(ctx.database, message, settings=settings, data_dir=ctx.settings.data_dir)

    return Bridge(key=KEY, topics=topics, handle=handle, qos=1)


def _parse(model: type, message: Message, kind: str):  # noqa: ANN202
    try:
        return model.model_validate(message.json())
    except (ValueError, ValidationError) as exc:
        frigate.MESSAGES.labels(kind, "invalid").inc()
        log.warning("Frigate %s message on %s is not in Frigate's shape: %s", kind, message.topic,
                    str(exc).splitlines()[0][:200])
        return None


def handle_event(database: Database, message: Message, *, settings: CctvSettings, data_dir) -> frigate.Outcome | None:  # noqa: ANN001
    """One ``frigate/events`` message: the event stored or revised, then its snapshot fetched once."""
    parsed = _parse(frigate.FrigateEventMessage, message, "events")
    if parsed is None:
        return None
    try:
        with database.unit_of_work(principal=SYSTEM) as db:
            outcome = frigate.ingest_event_message(db, message=parsed, settings=settings, now=utcnow())
    except DomainError as exc:  # e.g. a start time outside the accepted window: refused like the REST API's
        frigate.MESSAGES.labels("events", "refused").inc()
        log.warning("Frigate event %s refused: %s", parsed.after.id, exc)
        return frigate.Outcome("refused")
    frigate.MESSAGES.labels("events", outcome.outcome).inc()
    if settings.frigate_url and outcome.has_snapshot and outcome.outcome in ("stored", "revised"):
        keep_snapshot(database, outcome, settings=settings, root=settings.snapshot_root(data_dir))
    return outcome


def handle_review(database: Database, message: Message, *, settings: CctvSettings) -> frigate.Outcome | None:
    parsed = _parse(frigate.FrigateReviewMessage, message, "reviews")
    if parsed is None:
        return None
    with database.unit_of_work(principal=SYSTEM) as db:
        outcome = frigate.ingest_review_message(db, message=parsed, now=utcnow())
    frigate.MESSAGES.labels("reviews", outcome.outcome).inc()
    return outcome


def _has_snapshot(database: Database, outcome: frigate.Outcome) -> bool:
    with database.unit_of_work(principal=SYSTEM, write=False) as db:
        return service.event_has_snapshot(db, camera_id=outcome.camera_id, event_id=outcome.event_id)


def keep_snapshot(database: Database, outcome: frigate.Outcome, *, settings: CctvSettings, root) -> bool:  # noqa: ANN001
    """Fetch the event's snapshot from Frigate (``/api/events/<id>/snapshot.jpg``) once, and keep it like an
    uploaded one. A failure is logged and counted; the event stays."""
    import httpx  # imported on first use: the app starts without it

    if _has_snapshot(database, outcome):
        return False
    try:
        content = fetch_snapshot(settings, outcome.event_id or "")
    except (httpx.HTTPError, ValueError) as exc:
        frigate.MESSAGES.labels("snapshots", "failed").inc()
        log.warning("Frigate snapshot of %s not fetched: %s", outcome.event_id, exc)
        return False
    try:
        with database.unit_of_work(principal=SYSTEM) as db:
            service.store_snapshot(db, ref=CameraRef(camera_id=outcome.camera_id), event_id=outcome.event_id or "",
                                   content=content, root=root, settings=settings)
    except DomainError as exc:
        frigate.MESSAGES.labels("snapshots", "refused").inc()
        log.warning("Frigate snapshot of %s refused: %s", outcome.event_id, exc)
        return False
    frigate.MESSAGES.labels("snapshots", "stored").inc()
    return True


def fetch_snapshot(settings: CctvSettings, event_id: str) -> bytes:
    """The JPEG Frigate serves for an event, refused beyond ``snapshot_max_bytes`` (read as a stream, so a
    larger answer is never held whole)."""
    url = f"{(settings.frigate_url or '').rstrip('/')}/api/events/{quote(event_id, safe='')}/snapshot.jpg"
    import httpx

    limit = settings.snapshot_max_bytes
    with httpx.Client(timeout=settings.frigate_timeout_s, follow_redirects=False) as client, \
            client.stream("GET", url, params={"bbox": 0}) as response:
        response.raise_for_status()
        if int(response.headers.get("content-length") or 0) > limit:
            raise ValueError(f"the snapshot is larger than {limit} bytes")
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > limit:
                raise ValueError(f"the snapshot is larger than {limit} bytes")
    return bytes(body)
