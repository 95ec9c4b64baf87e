"""The voicebot's rules: calls and turns, service requests and their workflow, the fee table, statistics."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.core.i18n import SEOUL
from app.core.live import publish_after_commit
from app.core.lookup import one_or_404
from app.core.pagination import PageParams, paginate
from app.core.privacy import mask_phone, mask_pii
from app.core.sealing import sealed_field
from app.core.tenancy import principal_of
from app.kt.voicebot import classifier, dialogue
from app.kt.voicebot.models import (
    VoicebotCall,
    VoicebotFaqEntry,
    VoicebotFeeItem,
    VoicebotNote,
    VoicebotRequest,
    VoicebotTaxRefund,
    VoicebotTurn,
)
from app.kt.voicebot.schemas import (
    CallIn,
    FaqEntryIn,
    FaqEntryUpdate,
    FeeItemIn,
    FeeItemUpdate,
    RequestIn,
    TurnOut,
    TurnView,
)
from app.platform import audit
from app.platform import service as platform_service

LIVE_TOPIC = "kt.voicebot.calls:{municipality_id}"
LIVE_ALL = "kt.voicebot.calls"  # every municipality: for platform administrators' screens
TRANSITIONS = {
    "received": ("assigned", "in_progress", "resolved", "rejected", "duplicate"),
    "assigned": ("in_progress", "resolved", "rejected", "duplicate"),
    "in_progress": ("resolved", "rejected"),
    "resolved": ("in_progress",),
    "rejected": ("received",),
    "duplicate": ("received",),
}
OPEN_STATUSES = ("received", "assigned", "in_progress")
ACCOUNT_KEY_ENV = "DXHUB_VOICEBOT_ACCOUNT_KEY"  # reads legacy (pre-AES-GCM) values only, in `dxhub keys rotate`
# A refund account is never taken by voice (staff call the claimant back). Requests filed before that
# rule keep theirs sealed, bound to the request's token, for the audited reveal on the staff page.
REQUEST_ACCOUNT = sealed_field("voicebot.account", table="vb_request", column="account_sealed", row_key=("token",),
                               legacy_purpose="voicebot.account", legacy_key_env=ACCOUNT_KEY_ENV)


def caller_hash(number: str) -> str:
    digits = re.sub(r"\D", "", number or "")
    return hashlib.sha256(f"dxhub-voicebot:{digits}".encode()).hexdigest() if digits else ""


# --- fee table -------------------------------------------------------------------------------

def list_fee_items(db: Session, *, municipality_id: int | None = None, active_only: bool = False
                   ) -> list[VoicebotFeeItem]:
    stmt = select(VoicebotFeeItem).order_by(VoicebotFeeItem.name, VoicebotFeeItem.fee_krw)
    if municipality_id is not None:
        stmt = stmt.where(VoicebotFeeItem.municipality_id == municipality_id)
    if active_only:
        stmt = stmt.where(VoicebotFeeItem.active.is_(True))
    return list(db.scalars(stmt))


def get_fee_item(db: Session, *, item_id: int) -> VoicebotFeeItem:
    return one_or_404(db, VoicebotFeeItem, item_id, "Fee item {id} not found")


def _municipality_for_write(db: Session, code: str | None) -> int:
    if code:
        return platform_service.resolve_municipality(db, code=code).id
    principal = principal_of(db)
    if principal is None or principal.municipality_id is None:
        raise InvalidInput.field("municipality_code", "Name the municipality (10-digit code)")
    return principal.municipality_id


def _flush_unique(db: Session, message: str, **params: Any) -> None:
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError:
        raise Conflict(message, **params) from None


def create_fee_item(db: Session, *, data: FeeItemIn) -> VoicebotFeeItem:
    municipality_id = _municipality_for_write(db, data.municipality_code)
    item = VoicebotFeeItem(municipality_id=municipality_id, name=data.name, size=data.size, aliases=data.aliases,
                           fee_krw=data.fee_krw, active=data.active)
    db.add(item)
    _flush_unique(db, "The fee table already has {name} {size}", name=data.name, size=data.size)
    return item


def update_fee_item(db: Session, *, item: VoicebotFeeItem, data: FeeItemUpdate) -> VoicebotFeeItem:
    for key, value in data.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(item, key, value)
    _flush_unique(db, "The fee table already has {name} {size}", name=item.name, size=item.size)
    return item


def delete_fee_item(db: Session, *, item: VoicebotFeeItem) -> None:
    db.delete(item)
    db.flush()


def fee_lines(db: Session, *, municipality_id: int) -> list[dialogue.FeeLine]:
    return [dialogue.FeeLine(name=i.name, size=i.size, fee_krw=i.fee_krw,
                             aliases=tuple(a.strip() for a in i.aliases.split(",") if a.strip()))
            for i in list_fee_items(db, municipality_id=municipality_id, active_only=True)]


# --- FAQ table --------------------------------------------------------------------------------

def faq_query(*, topic: str | None = None, area: str | None = None, q: str | None = None,
              municipality_id: int | None = None, active_only: bool = False) -> Select:
    """The FAQ answers by topic, then the whole municipality's answer before the areas' in name order."""
    stmt: Select = select(VoicebotFaqEntry).order_by(VoicebotFaqEntry.municipality_id, VoicebotFaqEntry.topic,
                                                     VoicebotFaqEntry.area.is_not(None), VoicebotFaqEntry.area,
                                                     VoicebotFaqEntry.id)
    if municipality_id is not None:
        stmt = stmt.where(VoicebotFaqEntry.municipality_id == municipality_id)
    if topic:
        stmt = stmt.where(VoicebotFaqEntry.topic == topic)
    if area:
        stmt = stmt.where(VoicebotFaqEntry.area == area)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(VoicebotFaqEntry.title.ilike(like) | VoicebotFaqEntry.keywords.ilike(like)
                          | VoicebotFaqEntry.answer.ilike(like))
    if active_only:
        stmt = stmt.where(VoicebotFaqEntry.active.is_(True))
    return stmt


def list_faq_entries(db: Session, *, page: PageParams, topic: str | None = None, area: str | None = None,
                     q: str | None = None) -> tuple[list[VoicebotFaqEntry], int]:
    return paginate(db, faq_query(topic=topic, area=area, q=q), page)


def get_faq_entry(db: Session, *, entry_id: int) -> VoicebotFaqEntry:
    return one_or_404(db, VoicebotFaqEntry, entry_id, "FAQ answer {id} not found")


def _check_faq_unique(db: Session, entry: VoicebotFaqEntry) -> None:
    """One answer per topic and area; the database's unique key cannot see two whole-municipality
    answers (NULL areas differ), so that one is checked here."""
    clash = db.scalar(select(VoicebotFaqEntry.id).where(
        VoicebotFaqEntry.municipality_id == entry.municipality_id, VoicebotFaqEntry.topic == entry.topic,
        VoicebotFaqEntry.area.is_(None) if entry.area is None else VoicebotFaqEntry.area == entry.area,
        VoicebotFaqEntry.id != (entry.id or 0)).limit(1))
    if clash is not None:
        raise Conflict("The FAQ table already answers {topic} for {area}", topic=entry.topic,
                       area=entry.area or "the whole municipality")


def create_faq_entry(db: Session, *, data: FaqEntryIn) -> VoicebotFaqEntry:
    municipality_id = _municipality_for_write(db, data.municipality_code)
    entry = VoicebotFaqEntry(municipality_id=municipality_id, topic=data.topic, title=data.title, area=data.area,
                             keywords=data.keywords, answer=data.answer, active=data.active)
    with db.no_autoflush:
        _check_faq_unique(db, entry)
    db.add(entry)
    _flush_unique(db, "The FAQ table already answers {topic} for {area}", topic=data.topic,
                  area=data.area or "the whole municipality")
    return entry


def update_faq_entry(db: Session, *, entry: VoicebotFaqEntry, data: FaqEntryUpdate) -> VoicebotFaqEntry:
    """Change the fields given; ``area`` given as null makes the answer the whole municipality's."""
    for key, value in data.model_dump(exclude_unset=True).items():
        if value is not None or key == "area":
            setattr(entry, key, value)
    with db.no_autoflush:
        _check_faq_unique(db, entry)
    _flush_unique(db, "The FAQ table already answers {topic} for {area}", topic=entry.topic,
                  area=entry.area or "the whole municipality")
    return entry


def delete_faq_entry(db: Session, *, entry: VoicebotFaqEntry) -> None:
    db.delete(entry)
    db.flush()


def faq_lines(db: Session, *, municipality_id: int) -> list[dialogue.FaqLine]:
    """The municipality's active FAQ answers, as the dialogue reads them."""
    return [dialogue.FaqLine(id=e.id, topic=e.topic, title=e.title, area=e.area, answer=e.answer,
                             keywords=tuple(k.strip() for k in e.keywords.split(",") if k.strip()))
            for e in db.scalars(faq_query(municipality_id=municipality_id, active_only=True))]


# --- calls and turns -------------------------------------------------------------------------

def classify(text: str) -> classifier.Prediction:
    return classifier.classify(text)


def start_call(db: Session, *, data: CallIn) -> tuple[VoicebotCall, str, bool]:
    """Open a call; ``(call, greeting, created)``. A retried POST with the same ``client_call_id``
    returns the first call."""
    municipality = platform_service.resolve_municipality(db, code=data.municipality_code)
    greeting = dialogue.greeting(municipality.name_ko)
    if data.client_call_id:
        existing = db.scalar(select(VoicebotCall).where(VoicebotCall.municipality_id == municipality.id,
                                                        VoicebotCall.client_call_id == data.client_call_id))
        if existing is not None:
            return existing, greeting, False
    call = VoicebotCall(municipality_id=municipality.id, client_call_id=data.client_call_id,
                        caller_masked=mask_phone(data.caller_number.strip())[:40],
                        caller_hash=caller_hash(data.caller_number), channel=data.channel, status="active",
                        state="greeting", slots={}, context={}, turn_count=0, failures=0)
    db.add(call)
    _flush_unique(db, "Call {id} already exists", id=data.client_call_id)
    db.add(VoicebotTurn(municipality_id=municipality.id, call_id=call.id, seq=1, speaker="bot", text=greeting,
                        state="greeting"))
    audit.record(db, action="create", object_type="vb_call", object_id=str(call.id),
                 municipality_id=municipality.id, after={"channel": call.channel})
    _publish(db, municipality.id, {"event": "call", "id": call.id, "status": "active"})
    return call, greeting, True


def _publish(db: Session, municipality_id: int, message: dict[str, Any]) -> None:
    publish_after_commit(db, LIVE_TOPIC.format(municipality_id=municipality_id), message)
    publish_after_commit(db, LIVE_ALL, message)


def requests_for_call(db: Session, *, call: VoicebotCall) -> list[VoicebotRequest]:
    return list(db.scalars(select(VoicebotRequest).where(VoicebotRequest.call_id == call.id)
                           .order_by(VoicebotRequest.id)))


def record_transcript_view(db: Session, *, call: VoicebotCall) -> None:
    """A call's transcript was shown (page or API): an access record of the caller's data."""
    audit.record_access(db, action="view_transcript", subject_type="vb_call", subject_id=str(call.id),
                        municipality_id=call.municipality_id, data_subject=call.caller_masked,
                        detail={"turns": call.turn_count})


def transcript(call: VoicebotCall) -> list[TurnView]:
    """The call's turns as pages and the API show them, personal numbers masked: turns are stored masked
    (both speakers), and turns stored before the bot's read-backs were masked get the same mask on the way out
    (masking is idempotent, so a masked text stays as it is)."""
    return [TurnView.model_validate(t).model_copy(update={"text": mask_pii(t.text or "")}) for t in call.turns]


def record_caller_list(db: Session, *, calls: list[VoicebotCall]) -> None:
    """A list of calls with their callers was shown: one access record naming the calls listed."""
    if not calls:
        return
    municipalities = {c.municipality_id for c in calls}
    audit.record_access(db, action="list_callers", subject_type="vb_call", subject_id="list",
                        municipality_id=municipalities.pop() if len(municipalities) == 1 else None,
                        data_subject=f"{len(calls)} callers", detail={"call_ids": [c.id for c in calls]})


def get_call(db: Session, *, call_id: int) -> VoicebotCall:
    call = db.scalar(select(VoicebotCall).where(VoicebotCall.id == call_id)
                     .options(selectinload(VoicebotCall.turns)))
    if call is None:
        raise NotFound("Call {id} not found", id=call_id)
    return call


def list_calls(db: Session, *, page: PageParams, status: str | None = None, intent: str | None = None,
               live: bool | None = None) -> tuple[list[VoicebotCall], int]:
    stmt: Select = select(VoicebotCall).order_by(VoicebotCall.started_at.desc(), VoicebotCall.id.desc())
    if status:
        stmt = stmt.where(VoicebotCall.status == status)
    if intent:
        stmt = stmt.where(VoicebotCall.intent == intent)
    if live is True:
        stmt = stmt.where(VoicebotCall.status == "active")
    elif live is False:
        stmt = stmt.where(VoicebotCall.status != "active")
    return paginate(db, stmt, page)


def _find_refunds(db: Session, call: VoicebotCall):
    def find(birth: str) -> list[dict[str, Any]]:
        if not call.caller_hash:
            return []
        rows = db.scalars(select(VoicebotTaxRefund).where(
            VoicebotTaxRefund.municipality_id == call.municipality_id, VoicebotTaxRefund.phone_hash == call.caller_hash,
            VoicebotTaxRefund.birth == birth, VoicebotTaxRefund.status == "due").order_by(VoicebotTaxRefund.id))
        return [{"id": r.id, "tax_type": r.tax_type, "amount_krw": r.amount_krw, "reason": r.reason} for r in rows]
    return find


def take_turn(db: Session, *, call: VoicebotCall, text: str, now: datetime | None = None) -> TurnOut:
    """One recognised utterance of the caller: advance the dialogue, store both turns (masked)."""
    if call.status != "active":
        raise Conflict("Call {id} has ended ({status}); start a new call", id=call.id, status=call.status)
    now = now or utcnow()
    municipality = platform_service.get_municipality_by_id(db, municipality_id=call.municipality_id)
    prediction = classifier.classify(text) if text.strip() else None
    ctx = dialogue.Context(today=now.astimezone(SEOUL).date(),
                           fee_table=fee_lines(db, municipality_id=call.municipality_id),
                           find_refunds=_find_refunds(db, call),
                           faq=faq_lines(db, municipality_id=call.municipality_id))
    slots = dict(call.slots or {})
    state = dialogue.CallState(municipality_name=municipality.name_ko, intent=call.intent, state=call.state,
                               slots=slots, failures=call.failures)
    res = dialogue.step(state, text, prediction, ctx)

    request = None
    if res.outcome is not None:
        request = _request_from_outcome(db, call=call, outcome=res.outcome, now=now)
        ref = f"{request.id:06d}"
        res.reply = res.reply.replace("{ref}", ref)
        if res.refund_claim:
            _claim_refunds(db, call=call, slots=res.slots)
    seq = (call.turn_count * 2) + 2
    db.add(VoicebotTurn(municipality_id=call.municipality_id, call_id=call.id, seq=seq, speaker="caller",
                        text=mask_pii(text)[:1000], intent=prediction.intent if prediction else None,
                        confidence=prediction.confidence if prediction else None, state=call.state,
                        understood=res.understood, created_at=now))
    # The caller hears the read-back in full ("123가4567 차량을..."); the record keeps it masked, like theirs.
    db.add(VoicebotTurn(municipality_id=call.municipality_id, call_id=call.id, seq=seq + 1, speaker="bot",
                        text=mask_pii(res.reply), state=res.state, created_at=now))
    call.turn_count += 1
    call.intent = res.intent if res.intent else call.intent
    call.state = res.state
    call.slots = _public_slots(res.slots, masked=True)
    call.failures = res.failures
    if res.ended:
        call.ended_at = now
        call.status = "handed_off" if res.handoff_reason else "completed"
        call.handoff_reason = res.handoff_reason
        audit.record(db, action="end", object_type="vb_call", object_id=str(call.id),
                     municipality_id=call.municipality_id,
                     after={"status": call.status, "intent": call.intent, "handoff_reason": call.handoff_reason,
                            "request_id": request.id if request else None})
    db.flush()
    _publish(db, call.municipality_id, {"event": "turn", "id": call.id, "status": call.status,
                                        "state": call.state, "turns": call.turn_count})
    from app.kt.voicebot.schemas import Handoff

    return TurnOut(reply=res.reply, intent=res.intent, confidence=res.confidence,
                   slots=_public_slots(res.slots, masked=False), state=res.state,
                   handoff=Handoff(needed=bool(res.handoff_reason), reason=res.handoff_reason), ended=res.ended,
                   request_id=request.id if request else None)


def hang_up(db: Session, *, call: VoicebotCall, now: datetime | None = None) -> VoicebotCall:
    """The caller hung up (or the line dropped) before the dialogue ended; a retry changes nothing."""
    if call.status != "active":
        return call
    call.status = "abandoned"
    call.ended_at = now or utcnow()
    audit.record(db, action="end", object_type="vb_call", object_id=str(call.id),
                 municipality_id=call.municipality_id, after={"status": "abandoned", "intent": call.intent})
    db.flush()
    _publish(db, call.municipality_id, {"event": "turn", "id": call.id, "status": call.status,
                                        "state": call.state, "turns": call.turn_count})
    return call


def close_stale_calls(db: Session, *, idle_s: int = 1800, now: datetime | None = None) -> int:
    """Calls still ``active`` with no turn for ``idle_s`` seconds: the line dropped without a hang-up
    message. Each is closed as abandoned (a worker duty). Returns how many."""
    now = now or utcnow()
    last_turn = (select(VoicebotTurn.call_id, func.max(VoicebotTurn.created_at).label("at"))
                 .group_by(VoicebotTurn.call_id).subquery())
    stale = db.scalars(select(VoicebotCall).outerjoin(last_turn, last_turn.c.call_id == VoicebotCall.id).where(
        VoicebotCall.status == "active",
        func.coalesce(last_turn.c.at, VoicebotCall.started_at) < now - timedelta(seconds=idle_s))
        .order_by(VoicebotCall.id).limit(1000)).all()
    for call in stale:
        hang_up(db, call=call, now=now)
    return len(stale)


# The dialogue's working keys: kept on the call between turns, left out of answers.
WORKING_SLOTS = ("pending_item", "pending_queue", "order", "misses")


def _public_slots(slots: dict[str, Any], *, masked: bool) -> dict[str, Any]:
    """Slots as stored (``masked``: the dialogue's working keys kept) or as answered (those dropped); the
    bank account is masked in both (the telephony side only needs to read back its last digits)."""
    out = {k: v for k, v in slots.items() if masked or k not in WORKING_SLOTS}
    if out.get("account"):
        out["account"] = mask_pii(str(out["account"]))
        if re.fullmatch(r"\d+", str(slots["account"])):
            out["account"] = "*" * (len(str(slots["account"])) - 4) + str(slots["account"])[-4:]
    if masked and out.get("plate"):
        out["plate_masked"] = mask_pii(out["plate"])
    return out


def shown_slots(slots: dict[str, Any] | None) -> dict[str, Any]:
    """A call's stored slots as its page and the API show them: the plate only masked, the dialogue's working
    keys (the order being read back holds the plate in full) left out."""
    slots = dict(slots or {})
    if slots.get("plate"):
        slots["plate_masked"] = mask_pii(str(slots["plate"]))
    return {k: v for k, v in slots.items() if k != "plate" and k not in WORKING_SLOTS}


def _claim_refunds(db: Session, *, call: VoicebotCall, slots: dict[str, Any]) -> None:
    """The refunds the caller claimed: staff call back to confirm identity and the account (never by voice)."""
    ids = [r["id"] for r in slots.get("refunds", [])]
    for refund in db.scalars(select(VoicebotTaxRefund).where(VoicebotTaxRefund.id.in_(ids or [-1]))):
        refund.status = "claimed"


def _request_from_outcome(db: Session, *, call: VoicebotCall, outcome: dialogue.Outcome,
                          now: datetime) -> VoicebotRequest:
    attributes = dict(outcome.attributes)
    sealed = None
    token = uuid.uuid4().hex
    if attributes.get("account"):
        sealed = REQUEST_ACCOUNT.seal(str(attributes["account"]), row=(token,))
        attributes["account"] = _public_slots({"account": attributes["account"]}, masked=True)["account"]
    request = VoicebotRequest(
        municipality_id=call.municipality_id, token=token, call_id=call.id,
        service_code=outcome.service_code, status=outcome.status, urgent=outcome.urgent,
        department=outcome.department, area=outcome.area, description=mask_pii(outcome.description),
        address=outcome.address, attributes=attributes, fee_krw=outcome.fee_krw,
        scheduled_date=outcome.scheduled_date, interface_used="voicebot", contact_masked=call.caller_masked,
        account_sealed=sealed, requested_at=now, updated_at=now)
    db.add(request)
    db.flush()
    if outcome.service_code == "bulky_waste":
        request.payment_ref = f"BW{now.astimezone(SEOUL):%y%m%d}{request.id:05d}"
    return request


# --- service requests ------------------------------------------------------------------------

def request_query(*, status: str | list[str] | None = None, service_code: str | list[str] | None = None,
                  urgent: bool | None = None, department: str | None = None, q: str | None = None,
                  start: datetime | None = None, end: datetime | None = None,
                  ids: list[int] | None = None) -> Select:
    stmt: Select = select(VoicebotRequest).order_by(VoicebotRequest.requested_at.desc(), VoicebotRequest.id.desc())
    if status:
        stmt = stmt.where(VoicebotRequest.status.in_([status] if isinstance(status, str) else status))
    if service_code:
        codes = [service_code] if isinstance(service_code, str) else service_code
        stmt = stmt.where(VoicebotRequest.service_code.in_(codes))
    if urgent is not None:
        stmt = stmt.where(VoicebotRequest.urgent.is_(urgent))
    if department:
        stmt = stmt.where(VoicebotRequest.department == department)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(VoicebotRequest.description.ilike(like) | VoicebotRequest.address.ilike(like))
    if start:
        stmt = stmt.where(VoicebotRequest.requested_at >= start)
    if end:
        stmt = stmt.where(VoicebotRequest.requested_at <= end)
    if ids:
        stmt = stmt.where(VoicebotRequest.id.in_(ids))
    return stmt


def list_requests(db: Session, *, page: PageParams, **filters: Any) -> tuple[list[VoicebotRequest], int]:
    return paginate(db, request_query(**filters), page)


def get_request(db: Session, *, request_id: int) -> VoicebotRequest:
    request = db.scalar(select(VoicebotRequest).where(VoicebotRequest.id == request_id)
                        .options(selectinload(VoicebotRequest.notes)))
    if request is None:
        raise NotFound("Service request {id} not found", id=request_id)
    return request


def get_request_by_token(db: Session, *, token: str) -> VoicebotRequest:
    request = db.scalar(select(VoicebotRequest).where(VoicebotRequest.token == token))
    if request is None:
        raise NotFound("Token {token} not found", token=token)
    return request


def create_request(db: Session, *, data: RequestIn, interface_used: str = "staff",
                   contact: str | None = None, media_url: str | None = None,
                   attributes: dict[str, Any] | None = None) -> tuple[VoicebotRequest, bool]:
    """A request filed by staff or an Open311 client; idempotent by ``client_request_id``."""
    municipality_id = _municipality_for_write(db, data.municipality_code)
    if data.client_request_id:
        existing = db.scalar(select(VoicebotRequest).where(
            VoicebotRequest.municipality_id == municipality_id,
            VoicebotRequest.client_request_id == data.client_request_id))
        if existing is not None:
            return existing, False
    from app.kt.voicebot import slots as sx

    area = sx.area_of(data.address)
    category = dialogue.night_category(data.description) or "other"
    department = (dialogue.DUTY_OFFICER if data.urgent and data.service_code == "night_duty"
                  else dialogue.NIGHT_DEPARTMENTS[category] if data.service_code == "night_duty"
                  else dialogue.DEPARTMENTS[data.service_code])
    now = utcnow()
    request = VoicebotRequest(
        municipality_id=municipality_id, token=uuid.uuid4().hex, client_request_id=data.client_request_id,
        service_code=data.service_code, status="received", urgent=data.urgent, department=department, area=area,
        description=mask_pii(data.description), address=data.address, lat=data.lat, long=data.long,
        attributes=attributes or {}, interface_used=interface_used,
        contact_masked=mask_pii(contact)[:120] if contact else None, media_url=media_url,
        requested_at=now, updated_at=now)
    db.add(request)
    _flush_unique(db, "Request {id} already exists", id=data.client_request_id)
    return request, True


def reveal_account(db: Session, *, request: VoicebotRequest) -> str | None:
    """The full refund account of a request, for staff who pay the refund; every reveal leaves an access
    record (who, when, from where) and viewers, API keys and the anonymous are refused. None when the
    sealed value does not open (key removed, value altered): that is recorded in the audit trail."""
    principal = principal_of(db)
    if principal is None or principal.kind != "user" or principal.role == "viewer":
        raise Forbidden("Only staff may reveal a refund account")
    if not request.account_sealed:
        raise NotFound("Service request {id} holds no refund account", id=request.id)
    return audit.reveal(db, field=REQUEST_ACCOUNT, sealed=request.account_sealed, row=(request.token,),
                        subject_type="vb_request", subject_id=str(request.id), municipality_id=request.municipality_id,
                        data_subject=request.contact_masked or "",
                        detail={"account": request.attributes.get("account"), "bank": request.attributes.get("bank")})


def allowed_transitions(request: VoicebotRequest) -> list[str]:
    return list(TRANSITIONS.get(request.status, ()))


def change_status(db: Session, *, request: VoicebotRequest, status: str, note: str = "") -> VoicebotRequest:
    if status != request.status and status not in TRANSITIONS.get(request.status, ()):
        raise InvalidInput.field("status", "A request that is {current} cannot become {target}",
                                 current=request.status, target=status)
    previous = request.status
    request.status = status
    request.updated_at = utcnow()
    if note:
        request.status_notes = mask_pii(note)[:500]
    db.add(VoicebotNote(municipality_id=request.municipality_id, request_id=request.id, author=audit.actor(db),
                        text=mask_pii(note), status_from=previous, status_to=status))
    db.flush()
    return request


def add_note(db: Session, *, request: VoicebotRequest, text: str) -> VoicebotNote:
    note = VoicebotNote(municipality_id=request.municipality_id, request_id=request.id, author=audit.actor(db),
                        text=mask_pii(text))
    db.add(note)
    db.flush()
    return note


def departments(db: Session) -> list[str]:
    return list(db.scalars(select(VoicebotRequest.department).distinct().order_by(VoicebotRequest.department)))


# --- statistics ------------------------------------------------------------------------------

def statistics(db: Session, *, since: date | None = None, until: date | None = None,
               failed_limit: int = 30) -> dict[str, Any]:
    """Automation rate (finished calls without a person), handoff reasons, turns per call, intents and
    the caller utterances the bot did not understand, for calls started from ``since`` to ``until``
    (Seoul dates, both included) in the caller's municipalities. The statistics page, the home widget and
    the KPI metric sources all read this one computation."""
    stmt = select(VoicebotCall.status, VoicebotCall.handoff_reason, VoicebotCall.turn_count, VoicebotCall.intent)
    failed_stmt = (select(VoicebotTurn.text, VoicebotTurn.intent, VoicebotTurn.confidence, VoicebotTurn.created_at,
                          VoicebotTurn.call_id)
                   .where(VoicebotTurn.speaker == "caller", VoicebotTurn.understood.is_(False))
                   .order_by(VoicebotTurn.created_at.desc(), VoicebotTurn.id.desc()).limit(failed_limit))
    if since:
        since = max(since, date(1970, 1, 1))  # any date a query may carry, none before the platform
        start = datetime(since.year, since.month, since.day, tzinfo=SEOUL)
        stmt = stmt.where(VoicebotCall.started_at >= start)
        failed_stmt = failed_stmt.where(VoicebotTurn.created_at >= start)
    if until:
        until = min(until, date(9998, 12, 31))
        after = datetime(until.year, until.month, until.day, tzinfo=SEOUL) + timedelta(days=1)
        stmt = stmt.where(VoicebotCall.started_at < after)
        failed_stmt = failed_stmt.where(VoicebotTurn.created_at < after)
    rows = db.execute(stmt).all()
    finished = [r for r in rows if r.status != "active"]
    automated = [r for r in finished if r.status == "completed"]
    reasons = Counter(r.handoff_reason for r in finished if r.status == "handed_off")
    buckets: Counter[str] = Counter()
    for r in finished:
        buckets["1-2" if r.turn_count <= 2 else "3-4" if r.turn_count <= 4 else "5-6" if r.turn_count <= 6
                else "7+"] += 1
    intents = Counter(r.intent or "unknown" for r in rows)
    failed = [{"text": t.text, "intent": t.intent, "confidence": t.confidence, "created_at": t.created_at,
               "call_id": t.call_id} for t in db.execute(failed_stmt)] if failed_limit > 0 else []
    return {
        "calls": len(rows), "finished": len(finished), "automated": len(automated),
        "automation_rate": round(len(automated) / len(finished), 4) if finished else None,
        "handoff_reasons": dict(reasons.most_common()),
        "turns_per_call": {k: buckets.get(k, 0) for k in ("1-2", "3-4", "5-6", "7+")},
        "average_turns": round(sum(r.turn_count for r in finished) / len(finished), 2) if finished else None,
        "intents": dict(intents.most_common()), "failed_utterances": failed,
    }


def request_counts(db: Session) -> dict[str, int]:
    rows = db.execute(select(VoicebotRequest.status, func.count()).group_by(VoicebotRequest.status)).all()
    return {status: n for status, n in rows}


def recent_window(days: int = 30) -> date:
    return (utcnow().astimezone(SEOUL) - timedelta(days=days)).date()
