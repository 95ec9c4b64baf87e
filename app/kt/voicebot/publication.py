"""Which services a municipality offers, and what a stranger may read of their requests.

The anonymous Open311 feed is a publication: a request appears there only when its service is enabled and
``public`` (never ``personal``, never ``local_tax_refund``), staff have not hidden it, and it is older than
the service's ``publish_after_min`` or, for services with ``requires_review``, staff checked it. What
appears is masked (:func:`public_view`): the description without personal numbers or names, the address
cut to its 읍/면/동 and the coordinates rounded to about 100 m. Moderation changes are audited by the
audit log's flush hook, and each leaves a note on the request.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.privacy import coarse_address, coarse_coordinate, coarse_places, mask_pii
from app.core.tenancy import principal_of
from app.kt.voicebot import service
from app.kt.voicebot.models import VoicebotNote, VoicebotRequest, VoicebotServiceSetting
from app.kt.voicebot.schemas import ModerationIn, ServiceSettingIn

# Services whose requests are personal by nature: never published, whatever their setting says.
ALWAYS_PERSONAL = frozenset({"local_tax_refund"})
# What the demo and a new municipality start from: street problems public after an hour (parking
# reports after a staff check, since they name a car), the tax refund personal.
DEFAULTS: dict[str, dict[str, Any]] = {
    "bulky_waste": {"public": True, "publish_after_min": 60, "requires_review": False},
    "night_duty": {"public": True, "publish_after_min": 60, "requires_review": False},
    "illegal_parking": {"public": True, "publish_after_min": 60, "requires_review": True},
    "local_tax_refund": {"public": False, "personal": True, "publish_after_min": 0, "requires_review": False},
}


def default_rows(municipality_id: int) -> list[dict[str, Any]]:
    """Rows of :data:`DEFAULTS` for a bulk insert (demo loaders, sample data)."""
    now = utcnow()
    return [{"municipality_id": municipality_id, "service_code": code, "enabled": True, "personal": False,
             **values, "updated_at": now} for code, values in DEFAULTS.items()]


def list_settings(db: Session, *, municipality_ids: list[int] | frozenset[int] | None = None
                  ) -> list[VoicebotServiceSetting]:
    stmt = select(VoicebotServiceSetting).order_by(VoicebotServiceSetting.municipality_id,
                                                   VoicebotServiceSetting.service_code)
    if municipality_ids is not None:
        stmt = stmt.where(VoicebotServiceSetting.municipality_id.in_(list(municipality_ids)))
    return list(db.scalars(stmt))


def offered(db: Session, *, municipality_id: int) -> dict[str, VoicebotServiceSetting]:
    """The services a municipality has enabled, by code."""
    return {s.service_code: s for s in list_settings(db, municipality_ids=[municipality_id]) if s.enabled}


def put_setting(db: Session, *, data: ServiceSettingIn) -> VoicebotServiceSetting:
    """Create or replace a municipality's setting of one service (a personal service is never public)."""
    municipality_id = service._municipality_for_write(db, data.municipality_code)
    setting = db.scalar(select(VoicebotServiceSetting).where(
        VoicebotServiceSetting.municipality_id == municipality_id,
        VoicebotServiceSetting.service_code == data.service_code))
    if setting is None:
        setting = VoicebotServiceSetting(municipality_id=municipality_id, service_code=data.service_code)
        db.add(setting)
    personal = data.personal or data.service_code in ALWAYS_PERSONAL
    setting.enabled, setting.personal = data.enabled, personal
    setting.public = data.public and not personal
    setting.publish_after_min, setting.requires_review = data.publish_after_min, data.requires_review
    setting.updated_at = utcnow()
    db.flush()
    return setting


def is_published(setting: VoicebotServiceSetting | None) -> bool:
    return bool(setting and setting.enabled and setting.public and not setting.personal
                and setting.service_code not in ALWAYS_PERSONAL)


def public_condition(db: Session, *, municipality_ids: frozenset[int] | None,
                     now: datetime | None = None) -> ColumnElement[bool]:
    """The SQL condition a request meets to be in the anonymous feed (one clause per published service)."""
    now = now or utcnow()
    clauses = []
    for s in list_settings(db, municipality_ids=municipality_ids):
        if not is_published(s):
            continue
        timing = (VoicebotRequest.reviewed_at.is_not(None) if s.requires_review
                  else VoicebotRequest.requested_at <= now - timedelta(minutes=s.publish_after_min))
        clauses.append(and_(VoicebotRequest.municipality_id == s.municipality_id,
                            VoicebotRequest.service_code == s.service_code, timing))
    if not clauses:
        return false()
    return and_(VoicebotRequest.public_hidden.is_(False), or_(*clauses))


def is_public(db: Session, *, request: VoicebotRequest, now: datetime | None = None) -> bool:
    stmt = select(VoicebotRequest.id).where(VoicebotRequest.id == request.id,
                                            public_condition(db, municipality_ids=frozenset({request.municipality_id}),
                                                             now=now))
    return db.scalar(stmt) is not None


def public_view(view: dict[str, Any]) -> dict[str, Any]:
    """An Open311 request view as a stranger may read it: words masked, place coarsened, no photo or
    payment reference."""
    out = dict(view)
    address = view.get("address")
    out["description"] = coarse_places(mask_pii(view.get("description") or "", names=True), address=address)
    if view.get("status_notes"):
        out["status_notes"] = coarse_places(mask_pii(view["status_notes"], names=True), address=address)
    out["address"] = coarse_address(view.get("address"))
    out["lat"], out["long"] = coarse_coordinate(view.get("lat")), coarse_coordinate(view.get("long"))
    out["media_url"] = None  # a photo may show a face or a plate: only for credentialed readers
    notice = view.get("service_notice")
    out["service_notice"] = notice.split(", 납부번호")[0] if notice else None
    return out


def moderate(db: Session, *, request: VoicebotRequest, data: ModerationIn) -> VoicebotRequest:
    """Hide a request from the public feed, show it again, or mark it checked (for services that publish
    only after review). The change is audited; a note records who did it and why."""
    if data.action == "hide":
        request.public_hidden = True
    elif data.action == "show":
        request.public_hidden = False
    else:
        request.reviewed_at = utcnow()
    labels = {"hide": "공개 피드에서 숨김", "show": "공개 피드에 다시 표시", "approve": "공개 검토 완료"}
    text = labels[data.action] + (f": {mask_pii(data.note)}" if data.note else "")
    principal = principal_of(db)
    db.add(VoicebotNote(municipality_id=request.municipality_id, request_id=request.id,
                        author=principal.label if principal else "system", text=text))
    db.flush()
    db.refresh(request, ["notes"])
    return request
