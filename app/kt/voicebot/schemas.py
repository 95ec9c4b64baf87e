"""Request and response bodies of the voicebot API."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, StringConstraints

from app.core.schemas import InputModel, MunicipalityCode, OutputModel, UpdateModel, UtcDateTime

Intent = Literal["bulky_waste", "night_duty", "illegal_parking", "local_tax_refund", "faq", "human_agent",
                 "out_of_scope"]
RequestStatus = Literal["received", "assigned", "in_progress", "resolved", "rejected", "duplicate"]
ServiceCode = Literal["bulky_waste", "night_duty", "illegal_parking", "local_tax_refund"]
Channel = Literal["phone", "web", "kiosk", "console"]
# Control characters and lone surrogates that speech recognisers and copy-paste leave in text: no one
# says them, and PostgreSQL cannot store NUL. They are dropped before any other check.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def printable(value: Any) -> Any:
    return _UNPRINTABLE.sub("", value) if isinstance(value, str) else value


Clean = BeforeValidator(printable)
# A recognised utterance: empty is allowed (silence gets a polite reply); a monologue is refused.
Utterance = Annotated[str, Clean, StringConstraints(max_length=1000)]


class CallIn(InputModel):
    db_table = "vb_call"
    caller_number: Annotated[str, Clean, StringConstraints(max_length=20, pattern=r"^[0-9+\-\s]*$")] = ""
    municipality_code: MunicipalityCode
    channel: Channel = "phone"
    client_call_id: Annotated[str, Clean, StringConstraints(min_length=1, max_length=80)] | None = Field(
        default=None, description="The telephony side's call id: a retried POST returns the same call")


class CallStarted(BaseModel):
    id: int
    greeting: str
    state: str
    municipality_code: str


class TurnIn(InputModel):
    db_table = "vb_turn"
    text: Utterance


class Handoff(BaseModel):
    needed: bool
    reason: str | None = None


class TurnOut(BaseModel):
    reply: str
    intent: str | None
    confidence: float | None
    slots: dict[str, Any]
    state: str
    handoff: Handoff
    ended: bool
    request_id: int | None = None


class ClassifyIn(InputModel):
    db_table = None
    text: Utterance


class Alternative(BaseModel):
    intent: str
    confidence: float


class ClassifyOut(BaseModel):
    intent: str
    confidence: float
    alternatives: list[Alternative]


class TurnView(OutputModel):
    seq: int
    speaker: str
    text: str
    intent: str | None
    confidence: float | None
    state: str | None
    understood: bool
    created_at: UtcDateTime


class CallOut(OutputModel):
    id: int
    channel: str
    caller_masked: str
    status: str
    intent: str | None
    state: str
    turn_count: int
    handoff_reason: str | None
    started_at: UtcDateTime
    ended_at: UtcDateTime | None


class CallDetailOut(CallOut):
    slots: dict[str, Any]
    turns: list[TurnView]


class FeeItemIn(InputModel):
    db_table = "vb_fee_item"
    name: Annotated[str, Clean, StringConstraints(min_length=1, max_length=60)]
    size: Annotated[str, Clean, StringConstraints(max_length=60)] = ""
    aliases: Annotated[str, Clean, StringConstraints(max_length=300)] = ""
    fee_krw: int = Field(ge=0, le=1_000_000)
    active: bool = True
    municipality_code: MunicipalityCode | None = None


class FeeItemUpdate(UpdateModel):
    db_table = "vb_fee_item"
    name: Annotated[str, Clean, StringConstraints(min_length=1, max_length=60)] | None = None
    size: Annotated[str, Clean, StringConstraints(max_length=60)] | None = None
    aliases: Annotated[str, Clean, StringConstraints(max_length=300)] | None = None
    fee_krw: int | None = Field(default=None, ge=0, le=1_000_000)
    active: bool | None = None


class FeeItemOut(OutputModel):
    id: int
    name: str
    size: str
    aliases: str
    fee_krw: int
    active: bool


# A topic key: lower-case letters, digits and underscores ("waste_day"), shared by one question's answers.
FaqTopic = Annotated[str, Clean, StringConstraints(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")]
FaqArea = Annotated[str, Clean, StringConstraints(min_length=1, max_length=40, pattern=r"^[가-힣0-9]+$")]


class FaqEntryIn(InputModel):
    """One answer of the FAQ table; ``area`` (a 동/읍/면) left out answers for the whole municipality."""

    db_table = "vb_faq_entry"
    topic: FaqTopic
    title: Annotated[str, Clean, StringConstraints(min_length=1, max_length=80)]
    area: FaqArea | None = None
    keywords: Annotated[str, Clean, StringConstraints(min_length=1, max_length=300)] = Field(
        description="Words callers use for this question, separated by commas")
    answer: Annotated[str, Clean, StringConstraints(min_length=1, max_length=1000)]
    active: bool = True
    municipality_code: MunicipalityCode | None = None


class FaqEntryUpdate(UpdateModel):
    db_table = "vb_faq_entry"
    topic: FaqTopic | None = None
    title: Annotated[str, Clean, StringConstraints(min_length=1, max_length=80)] | None = None
    area: FaqArea | None = None
    keywords: Annotated[str, Clean, StringConstraints(min_length=1, max_length=300)] | None = None
    answer: Annotated[str, Clean, StringConstraints(min_length=1, max_length=1000)] | None = None
    active: bool | None = None


class FaqEntryOut(OutputModel):
    id: int
    municipality_id: int
    topic: str
    title: str
    area: str | None
    keywords: str
    answer: str
    active: bool
    created_at: UtcDateTime
    updated_at: UtcDateTime


FAQ_EXAMPLE = {"topic": "waste_day", "title": "생활쓰레기 배출 요일", "area": "창전동",
               "keywords": "쓰레기 버리는,생활쓰레기,쓰레기 배출",
               "answer": "창전동은 일요일, 화요일, 목요일 저녁 8시부터 밤 12시까지 집 앞에 내놓으시면 됩니다."}


class NoteOut(OutputModel):
    id: int
    author: str
    text: str
    status_from: str | None
    status_to: str | None
    created_at: UtcDateTime


class RequestOut(OutputModel):
    id: int
    token: str
    service_code: str
    status: str
    urgent: bool
    department: str
    area: str | None
    description: str
    address: str | None
    lat: float | None
    long: float | None
    attributes: dict[str, Any]
    fee_krw: int | None
    payment_ref: str | None
    scheduled_date: date | None
    interface_used: str
    call_id: int | None
    public_hidden: bool = False
    reviewed_at: UtcDateTime | None = None
    requested_at: UtcDateTime
    updated_at: UtcDateTime


class RequestDetailOut(RequestOut):
    notes: list[NoteOut]
    allowed_transitions: list[str]


class RequestIn(InputModel):
    """A request keyed in by staff (e.g. a walk-in or a call a person took over)."""

    db_table = "vb_request"

    service_code: ServiceCode
    description: Annotated[str, Clean, StringConstraints(min_length=1, max_length=2000)]
    address: Annotated[str, Clean, StringConstraints(min_length=1, max_length=200)]
    lat: float | None = Field(default=None, ge=-90, le=90)
    long: float | None = Field(default=None, ge=-180, le=180)
    urgent: bool = False
    client_request_id: Annotated[str, Clean, StringConstraints(min_length=1, max_length=80)] | None = None
    municipality_code: MunicipalityCode | None = None


class StatusChangeIn(InputModel):
    db_table = "vb_request"
    status: RequestStatus
    note: Annotated[str, Clean, StringConstraints(max_length=2000)] = ""


class ModerationIn(InputModel):
    """Staff moderation of the public Open311 feed: ``hide`` / ``show`` a request, or ``approve`` it
    (checked by staff, for services that publish only after review)."""

    db_table = None
    action: Literal["hide", "show", "approve"]
    note: Annotated[str, Clean, StringConstraints(max_length=500)] = ""


class ServiceSettingIn(InputModel):
    """A municipality's setting of one service (replaces the previous one)."""

    db_table = "vb_service_setting"
    service_code: ServiceCode
    enabled: bool = True
    public: bool = False
    personal: bool = False
    publish_after_min: int = Field(default=60, ge=0, le=43200)
    requires_review: bool = False
    municipality_code: MunicipalityCode | None = None


class ServiceSettingOut(OutputModel):
    municipality_id: int
    service_code: str
    enabled: bool
    public: bool
    personal: bool
    publish_after_min: int
    requires_review: bool
    updated_at: UtcDateTime


class NoteIn(InputModel):
    db_table = "vb_note"
    text: Annotated[str, Clean, StringConstraints(min_length=1, max_length=2000)]


class StatsOut(BaseModel):
    calls: int
    finished: int
    automated: int
    automation_rate: float | None
    handoff_reasons: dict[str, int]
    turns_per_call: dict[str, int]
    average_turns: float | None
    intents: dict[str, int]
    failed_utterances: list[dict[str, Any]]
