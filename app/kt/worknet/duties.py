"""The work network's work on a clock, run by ``dxhub worker`` (declared in the manifest)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.jobs import Duty, DutyContext
from app.kt.worknet import radius
from app.kt.worknet.sealing import worknet_settings
from app.platform.models import Municipality


def radius_feed_configured(_session: Session, _settings: Settings) -> bool:
    config = worknet_settings()
    return bool(config.radius_detail and config.radius_municipality)


def _follow_radius_detail(ctx: DutyContext) -> None:
    """Ingest the accounting records FreeRADIUS appended to its detail files since the last round."""
    config = worknet_settings()
    if not (config.radius_detail and config.radius_municipality):
        return
    municipality = ctx.session.scalar(select(Municipality).where(Municipality.code == config.radius_municipality))
    if municipality is None:
        raise LookupError(f"DXHUB_WORKNET_RADIUS_MUNICIPALITY {config.radius_municipality} is not a municipality")
    radius.follow(ctx.session, municipality=municipality, pattern=config.radius_detail)


DUTIES = (Duty("kt.worknet.radius_detail", 10.0, _follow_radius_detail, enabled=radius_feed_configured),)
