"""REST API of the voicebot under /api/v1/kt/voicebot: the telephony side's calls and turns, the
classifier, service requests with their workflow, the fee table and statistics."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response

from app.core.deps import SessionDep
from app.core.pagination import Page, PageDep
from app.kt.voicebot import publication, service
from app.kt.voicebot.deps import CallDep, FaqEntryDep, FeeItemDep, RequestDep
from app.kt.voicebot.schemas import (
    FAQ_EXAMPLE,
    Alternative,
    CallDetailOut,
    CallIn,
    CallOut,
    CallStarted,
    ClassifyIn,
    ClassifyOut,
    Clean,
    FaqEntryIn,
    FaqEntryOut,
    FaqEntryUpdate,
    FeeItemIn,
    FeeItemOut,
    FeeItemUpdate,
    Intent,
    ModerationIn,
    NoteIn,
    NoteOut,
    RequestDetailOut,
    RequestIn,
    RequestOut,
    RequestStatus,
    ServiceCode,
    ServiceSettingIn,
    ServiceSettingOut,
    StatsOut,
    StatusChangeIn,
    TurnIn,
    TurnOut,
)

router = APIRouter(tags=["kt.voicebot"])


def _detail(request) -> RequestDetailOut:
    return RequestDetailOut.model_validate({**RequestOut.model_validate(request).model_dump(),
                                            "notes": [NoteOut.model_validate(n) for n in request.notes],
                                            "allowed_transitions": service.allowed_transitions(request)})


@router.post("/calls", status_code=201, response_model=CallStarted)
def start_call(data: CallIn, db: SessionDep, response: Response):
    """A call reached the voicebot: answer with the call id and the greeting to speak.
    Retrying with the same ``client_call_id`` returns the same call (200)."""
    call, greeting, created = service.start_call(db, data=data)
    if not created:
        response.status_code = 200
    return CallStarted(id=call.id, greeting=greeting, state=call.state, municipality_code=data.municipality_code)


@router.post("/calls/{call_id}/turns", response_model=TurnOut)
def take_turn(call: CallDep, data: TurnIn, db: SessionDep):
    """One recognised utterance of the caller; answers the text to speak and what the bot understood."""
    return service.take_turn(db, call=call, text=data.text)


@router.post("/calls/{call_id}/hangup", response_model=CallOut)
def hang_up(call: CallDep, db: SessionDep):
    """The caller hung up before the dialogue ended: the call becomes ``abandoned`` (idempotent)."""
    return CallOut.model_validate(service.hang_up(db, call=call))


@router.get("/calls", response_model=Page[CallOut])
def list_calls(db: SessionDep, page: PageDep,
               status: Annotated[str | None, Query(pattern="^(active|completed|handed_off|abandoned)$")] = None,
               intent: Intent | None = None):
    items, total = service.list_calls(db, page=page, status=status, intent=intent)
    service.record_caller_list(db, calls=items)
    return Page(items=[CallOut.model_validate(c) for c in items], total=total, limit=page.limit, offset=page.offset)


@router.get("/calls/{call_id}", response_model=CallDetailOut)
def get_call(call: CallDep, db: SessionDep):
    service.record_transcript_view(db, call=call)
    return CallDetailOut.model_validate({**CallOut.model_validate(call).model_dump(),
                                         "slots": service.shown_slots(call.slots), "turns": service.transcript(call)})


@router.post("/classify", response_model=ClassifyOut, openapi_extra={"x-tenant-scope": "global"})
def classify(data: ClassifyIn):
    """The intent of one utterance, with the two next-best intents."""
    p = service.classify(data.text)
    return ClassifyOut(intent=p.intent, confidence=p.confidence,
                       alternatives=[Alternative(intent=k, confidence=v) for k, v in p.alternatives])


# --- service requests ------------------------------------------------------------------------

@router.get("/requests", response_model=Page[RequestOut])
def list_requests(db: SessionDep, page: PageDep, status: RequestStatus | None = None,
                  service_code: ServiceCode | None = None, urgent: bool | None = None,
                  q: Annotated[str | None, Query(max_length=100), Clean] = None):
    items, total = service.list_requests(db, page=page, status=status, service_code=service_code, urgent=urgent,
                                         q=q)
    return Page(items=[RequestOut.model_validate(r) for r in items], total=total, limit=page.limit,
                offset=page.offset)


@router.post("/requests", status_code=201, response_model=RequestDetailOut)
def create_request(data: RequestIn, db: SessionDep, response: Response, request: Request):
    """A request keyed in by staff; idempotent by ``client_request_id`` (a retry answers 200)."""
    created_request, created = service.create_request(db, data=data)
    if not created:
        response.status_code = 200
    response.headers["Location"] = str(request.url_for("get_request", request_id=created_request.id))
    return _detail(service.get_request(db, request_id=created_request.id))


@router.get("/requests/{request_id}", response_model=RequestDetailOut)
def get_request(item: RequestDep):
    return _detail(item)


@router.post("/requests/{request_id}/status", response_model=RequestDetailOut)
def change_status(item: RequestDep, data: StatusChangeIn, db: SessionDep):
    service.change_status(db, request=item, status=data.status, note=data.note)
    return _detail(item)


@router.post("/requests/{request_id}/moderation", response_model=RequestDetailOut)
def moderate(item: RequestDep, data: ModerationIn, db: SessionDep):
    """Hide a request from the public Open311 feed, show it again, or approve it for publication."""
    publication.moderate(db, request=item, data=data)
    return _detail(item)


@router.post("/requests/{request_id}/notes", status_code=201, response_model=NoteOut)
def add_note(item: RequestDep, data: NoteIn, db: SessionDep):
    return NoteOut.model_validate(service.add_note(db, request=item, text=data.text))


# --- services per municipality ---------------------------------------------------------------

@router.get("/services", response_model=list[ServiceSettingOut])
def list_services(db: SessionDep):
    """The services each of the caller's municipalities offers, and how their requests are published."""
    return publication.list_settings(db)


@router.put("/services", response_model=ServiceSettingOut)
def put_service(data: ServiceSettingIn, db: SessionDep):
    """Enable (or disable) a service in a municipality and set its publication."""
    return publication.put_setting(db, data=data)


# --- fee table -------------------------------------------------------------------------------

@router.get("/fees", response_model=list[FeeItemOut])
def list_fees(db: SessionDep):
    return [FeeItemOut.model_validate(i) for i in service.list_fee_items(db)]


@router.post("/fees", status_code=201, response_model=FeeItemOut)
def create_fee(data: FeeItemIn, db: SessionDep):
    return FeeItemOut.model_validate(service.create_fee_item(db, data=data))


@router.patch("/fees/{item_id}", response_model=FeeItemOut)
def update_fee(item: FeeItemDep, data: FeeItemUpdate, db: SessionDep):
    return FeeItemOut.model_validate(service.update_fee_item(db, item=item, data=data))


@router.delete("/fees/{item_id}", status_code=204)
def delete_fee(item: FeeItemDep, db: SessionDep) -> Response:
    service.delete_fee_item(db, item=item)
    return Response(status_code=204)


# --- FAQ table -------------------------------------------------------------------------------

FaqTopicQuery = Annotated[str | None, Query(max_length=40, pattern=r"^[a-z][a-z0-9_]*$")]


@router.get("/faq", response_model=Page[FaqEntryOut])
def list_faq(db: SessionDep, page: PageDep, topic: FaqTopicQuery = None,
             area: Annotated[str | None, Query(max_length=40), Clean] = None,
             q: Annotated[str | None, Query(max_length=100), Clean] = None):
    """The FAQ answers the bot gives callers, by topic and area (``area`` null: the whole municipality)."""
    items, total = service.list_faq_entries(db, page=page, topic=topic, area=area, q=q)
    return Page(items=[FaqEntryOut.model_validate(e) for e in items], total=total, limit=page.limit,
                offset=page.offset)


@router.post("/faq", status_code=201, response_model=FaqEntryOut)
def create_faq(data: Annotated[FaqEntryIn, Body(openapi_examples={
        "per_area": {"summary": "Waste days of one 동", "value": FAQ_EXAMPLE},
        "whole_municipality": {"summary": "An answer for the whole municipality", "value": {
            "topic": "waste_bags", "title": "종량제 봉투 판매처", "keywords": "봉투,종량제 봉투",
            "answer": "종량제 봉투는 가까운 편의점, 마트, 행정복지센터에서 사실 수 있어요."}}})],
               db: SessionDep, response: Response, request: Request):
    """Add an answer; one per topic and area (409 otherwise)."""
    entry = service.create_faq_entry(db, data=data)
    response.headers["Location"] = str(request.url_for("get_faq", entry_id=entry.id))
    return FaqEntryOut.model_validate(entry)


@router.get("/faq/{entry_id}", response_model=FaqEntryOut)
def get_faq(entry: FaqEntryDep):
    return FaqEntryOut.model_validate(entry)


@router.patch("/faq/{entry_id}", response_model=FaqEntryOut)
def update_faq(entry: FaqEntryDep, db: SessionDep, data: Annotated[FaqEntryUpdate, Body(openapi_examples={
        "answer": {"summary": "A new answer", "value": {"answer": FAQ_EXAMPLE["answer"]}},
        "whole_municipality": {"summary": "Make it the whole municipality's answer", "value": {"area": None}}})]):
    """Change the fields given; ``"area": null`` makes the answer the whole municipality's."""
    return FaqEntryOut.model_validate(service.update_faq_entry(db, entry=entry, data=data))


@router.delete("/faq/{entry_id}", status_code=204)
def delete_faq(entry: FaqEntryDep, db: SessionDep) -> Response:
    service.delete_faq_entry(db, entry=entry)
    return Response(status_code=204)


@router.get("/stats", response_model=StatsOut)
def stats(db: SessionDep, since: date | None = None):
    data = service.statistics(db, since=since)
    data["failed_utterances"] = [{**f, "created_at": f["created_at"].isoformat()} for f in data["failed_utterances"]]
    return StatsOut(**data)
