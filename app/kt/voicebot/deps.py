""""Get or 404" lookups of the voicebot's objects; each resolves the caller first, so lookups are scoped."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.core.deps import SessionDep
from app.core.schemas import Id
from app.kt.voicebot import service
from app.kt.voicebot.models import VoicebotCall, VoicebotFaqEntry, VoicebotFeeItem, VoicebotRequest
from app.platform.auth import OptionalPrincipal


def call_or_404(call_id: Id, db: SessionDep, _: OptionalPrincipal
                ) -> VoicebotCall:
    return service.get_call(db, call_id=call_id)


CallDep = Annotated[VoicebotCall, Depends(call_or_404)]


def request_or_404(request_id: Id, db: SessionDep, _: OptionalPrincipal
                   ) -> VoicebotRequest:
    return service.get_request(db, request_id=request_id)


RequestDep = Annotated[VoicebotRequest, Depends(request_or_404)]


def fee_item_or_404(item_id: Id, db: SessionDep, _: OptionalPrincipal
                    ) -> VoicebotFeeItem:
    return service.get_fee_item(db, item_id=item_id)


FeeItemDep = Annotated[VoicebotFeeItem, Depends(fee_item_or_404)]


def faq_entry_or_404(entry_id: Id, db: SessionDep, _: OptionalPrincipal) -> VoicebotFaqEntry:
    return service.get_faq_entry(db, entry_id=entry_id)


FaqEntryDep = Annotated[VoicebotFaqEntry, Depends(faq_entry_or_404)]
