"""Tables of the civil-complaint voicebot: fee table, calls and turns, service requests and notes,
local-tax refunds due."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Float, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, TenantScoped, utcnow

CALL_STATUSES = ("active", "completed", "handed_off", "abandoned")
REQUEST_STATUSES = ("received", "assigned", "in_progress", "resolved", "rejected", "duplicate")
SERVICE_CODES = ("bulky_waste", "night_duty", "illegal_parking", "local_tax_refund")
CHANNELS = ("phone", "web", "kiosk", "console")


class VoicebotFeeItem(TenantScoped, Base):
    """One line of a municipality's bulky-waste fee table (대형폐기물 수수료)."""

    __tablename__ = "vb_fee_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    size: Mapped[str] = mapped_column(String(60), default="")  # "" = any size
    aliases: Mapped[str] = mapped_column(String(300), default="")  # comma-separated words callers use
    fee_krw: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("municipality_id", "name", "size"),
                      CheckConstraint("fee_krw >= 0", name="fee_nonneg"))


class VoicebotCall(TenantScoped, Base):
    """One phone call (or console session); the dialogue state lives in ``context``."""

    __tablename__ = "vb_call"
    __audit__ = False  # machine rows written on every turn; creation and outcome are audited by record()

    id: Mapped[int] = mapped_column(primary_key=True)
    client_call_id: Mapped[str | None] = mapped_column(String(80))
    caller_masked: Mapped[str] = mapped_column(String(40), default="")
    caller_hash: Mapped[str] = mapped_column(String(64), default="", index=True)
    channel: Mapped[str] = mapped_column(String(20), default="phone")
    status: Mapped[str] = mapped_column(String(20), default="active", index=True)
    intent: Mapped[str | None] = mapped_column(String(30))
    state: Mapped[str] = mapped_column(String(40), default="greeting")
    slots: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    turn_count: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    handoff_reason: Mapped[str | None] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    ended_at: Mapped[datetime | None] = mapped_column()

    turns: Mapped[list[VoicebotTurn]] = relationship(order_by="VoicebotTurn.seq", back_populates="call",
                                                     cascade="all, delete-orphan")

    __table_args__ = (UniqueConstraint("municipality_id", "client_call_id"),
                      CheckConstraint("status IN ('active', 'completed', 'handed_off', 'abandoned')",
                                      name="status"))


class VoicebotTurn(TenantScoped, Base):
    """One utterance of the caller or the bot; text stored with personal numbers masked."""

    __tablename__ = "vb_turn"
    __audit__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("vb_call.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(10))  # caller | bot
    text: Mapped[str] = mapped_column(Text, default="")
    intent: Mapped[str | None] = mapped_column(String(30))
    confidence: Mapped[float | None] = mapped_column(Float)
    state: Mapped[str | None] = mapped_column(String(40))
    understood: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    call: Mapped[VoicebotCall] = relationship(back_populates="turns")

    __table_args__ = (UniqueConstraint("call_id", "seq"),)


class VoicebotRequest(TenantScoped, Base):
    """A service request: from a finished dialogue, an Open311 client or a staff member.

    The refund account a caller gave is kept masked in ``attributes`` and sealed (encrypted) in
    ``account_sealed``, which only an audited reveal on the staff page opens."""

    __tablename__ = "vb_request"
    __audit_exclude__ = ("account_sealed",)

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(40), unique=True)
    client_request_id: Mapped[str | None] = mapped_column(String(80))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("vb_call.id", ondelete="SET NULL"), index=True)
    service_code: Mapped[str] = mapped_column(String(30), index=True)
    status: Mapped[str] = mapped_column(String(20), default="received", index=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    department: Mapped[str] = mapped_column(String(80))
    area: Mapped[str | None] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str | None] = mapped_column(String(200))
    lat: Mapped[float | None] = mapped_column(Float)
    long: Mapped[float | None] = mapped_column(Float)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fee_krw: Mapped[int | None] = mapped_column(Integer)
    payment_ref: Mapped[str | None] = mapped_column(String(40))
    scheduled_date: Mapped[date | None] = mapped_column()
    interface_used: Mapped[str] = mapped_column(String(30), default="voicebot")
    contact_masked: Mapped[str | None] = mapped_column(String(120))
    account_sealed: Mapped[str | None] = mapped_column(String(200))
    media_url: Mapped[str | None] = mapped_column(String(500))
    status_notes: Mapped[str | None] = mapped_column(String(500))
    # Public-feed moderation: staff may hide a request from the public Open311 feed, and a service that
    # requires review shows a request only once staff checked it (``reviewed_at``).
    public_hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    reviewed_at: Mapped[datetime | None] = mapped_column()
    requested_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    notes: Mapped[list[VoicebotNote]] = relationship(order_by="VoicebotNote.id", cascade="all, delete-orphan")
    call: Mapped[VoicebotCall | None] = relationship()

    __table_args__ = (UniqueConstraint("municipality_id", "client_request_id"),
                      CheckConstraint("status IN ('received', 'assigned', 'in_progress', 'resolved', 'rejected', "
                                      "'duplicate')", name="status"))


class VoicebotServiceSetting(TenantScoped, Base):
    """One service a municipality offers (Open311 ``services.json``) and how its requests are published.

    A service without a row is not offered in that municipality. ``public`` lets the anonymous Open311
    feed show the service's requests (masked, place coarsened); ``personal`` services (and
    ``local_tax_refund`` always) never appear there. A public request appears ``publish_after_min``
    minutes after it was filed, or, with ``requires_review``, only once staff checked it."""

    __tablename__ = "vb_service_setting"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_code: Mapped[str] = mapped_column(String(30))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    personal: Mapped[bool] = mapped_column(Boolean, default=False)
    publish_after_min: Mapped[int] = mapped_column(Integer, default=60)
    requires_review: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("municipality_id", "service_code"),
                      CheckConstraint("publish_after_min >= 0 AND publish_after_min <= 43200",
                                      name="publish_after_range"))


class VoicebotNote(TenantScoped, Base):
    """A staff note on a request, with the workflow step it made, if any."""

    __tablename__ = "vb_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("vb_request.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text, default="")
    status_from: Mapped[str | None] = mapped_column(String(20))
    status_to: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VoicebotTaxRefund(TenantScoped, Base):
    """A local-tax refund due to a taxpayer (from the tax system), matched by phone and birth date."""

    __tablename__ = "vb_tax_refund"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    birth: Mapped[str] = mapped_column(String(6))  # YYMMDD
    tax_type: Mapped[str] = mapped_column(String(40))
    amount_krw: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20), default="due")  # due | claimed | paid
    account_masked: Mapped[str | None] = mapped_column(String(60))
    due_since_date: Mapped[date | None] = mapped_column()

    __table_args__ = (CheckConstraint("amount_krw > 0", name="amount_pos"),)


class VoicebotFaqEntry(TenantScoped, Base):
    """One answer of a municipality's FAQ table, which staff keep (생활쓰레기 배출 요일 per 동, ...).

    ``topic`` is a short key shared by the answers to one question (``waste_day``); ``area`` names the
    legal or administrative 동/읍/면 an answer is for, or is NULL for the whole municipality. The bot
    finds the topic by the ``keywords`` callers use (comma-separated) and, when the topic's answers
    differ per area, asks for the caller's 동."""

    __tablename__ = "vb_faq_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(40), index=True)
    title: Mapped[str] = mapped_column(String(80))
    area: Mapped[str | None] = mapped_column(String(40))
    keywords: Mapped[str] = mapped_column(String(300), default="")
    answer: Mapped[str] = mapped_column(String(1000))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("municipality_id", "topic", "area"),)
