"""How the voicebot's objects read in histories (declared in the manifest)."""

from __future__ import annotations

from app.core.i18n import gettext as _
from app.core.manifest import ObjectKind
from app.kt.voicebot.models import VoicebotCall, VoicebotFeeItem, VoicebotNote, VoicebotRequest, VoicebotServiceSetting
from app.kt.voicebot.web import CHANNEL_LABELS, HANDOFF_LABELS, SERVICE_LABELS, STATUS_LABELS


def _call_title(call: VoicebotCall) -> str:
    return _(SERVICE_LABELS.get(call.intent or "unknown", call.intent or "unknown"))


OBJECTS = (
    ObjectKind("vb_call", "Voicebot call", VoicebotCall, _call_title,
               fields={"status": "Status", "intent": "Intent", "channel": "Channel",
                       "handoff_reason": "Handoff reason", "turn_count": "Turns", "ended_at": "Ended at"},
               values={"status": STATUS_LABELS, "intent": SERVICE_LABELS, "channel": CHANNEL_LABELS,
                       "handoff_reason": {k: v for k, v in HANDOFF_LABELS.items() if k}},
               actions={"create": "Call started", "end": "Call ended", "demo_load": "Demo calls loaded"}),
    ObjectKind("vb_request", "Service request", VoicebotRequest,
               lambda r: _(SERVICE_LABELS.get(r.service_code, r.service_code)),
               fields={"status": "Status", "department": "Department", "description": "Description",
                       "service_code": "Service", "address": "Address", "public_note": "Public note",
                       "updated_at": "Updated at", "resolved_at": "Resolved at"},
               values={"status": STATUS_LABELS, "service_code": SERVICE_LABELS},
               hidden=frozenset({"token"})),
    ObjectKind("vb_fee_item", "Bulky-waste fee item", VoicebotFeeItem,
               lambda f: f"{f.name} {f.size}".strip(),
               fields={"name": "Item", "size": "Size", "aliases": "Other words", "fee_krw": "Fee (KRW)",
                       "active": "Active"}),
    ObjectKind("vb_service_setting", "Voicebot service setting", VoicebotServiceSetting,
               lambda s: _(SERVICE_LABELS.get(s.service_code, s.service_code)),
               values={"service_code": SERVICE_LABELS}),
    ObjectKind("vb_note", "Service request note", VoicebotNote, fields={"text": "Note"}),
    ObjectKind("vb_tax_refund", "Local tax refund", fields={"status": "Status", "tax_type": "Tax"},
               hidden=frozenset({"phone_hash", "birth"})),
)
