"""The demo gives 이천시 and 거제시 a voicebot with history: calls of every kind, requests in every state."""

import re

from sqlalchemy import func, select

from app.core.tenancy import SYSTEM
from app.kt.voicebot.models import VoicebotCall, VoicebotFaqEntry, VoicebotFeeItem, VoicebotRequest, VoicebotTurn
from app.platform.models import Municipality


def test_demo_calls_requests_and_fee_tables_for_icheon_and_geoje(demo_loaded):
    with demo_loaded.session(principal=SYSTEM) as s:
        ids = dict(s.execute(select(Municipality.code, Municipality.id)
                             .where(Municipality.code.in_(["4150000000", "4831000000"]))).all())
        assert len(ids) == 2
        for mid in ids.values():
            assert s.scalar(select(func.count()).select_from(VoicebotFeeItem)
                            .where(VoicebotFeeItem.municipality_id == mid)) >= 10
            intents = dict(s.execute(select(VoicebotCall.intent, func.count())
                                     .where(VoicebotCall.municipality_id == mid).group_by(VoicebotCall.intent)).all())
            assert sum(intents.values()) >= 100
            assert {"bulky_waste", "night_duty", "illegal_parking", "local_tax_refund", "faq"} <= set(intents)
            faq = s.scalars(select(VoicebotFaqEntry).where(VoicebotFaqEntry.municipality_id == mid)).all()
            assert {e.topic for e in faq} == {"waste_day", "recycling_day", "food_waste", "waste_bags"}
            assert sum(e.area is not None for e in faq) == 12  # waste and recycling days of six 동 each
            outcomes = dict(s.execute(select(VoicebotCall.status, func.count()).where(
                VoicebotCall.municipality_id == mid, VoicebotCall.intent == "faq").group_by(VoicebotCall.status)).all())
            assert outcomes.get("completed", 0) > outcomes.get("handed_off", 0) > 0  # answered; a 동 not in the table
        statuses = set(s.scalars(select(VoicebotRequest.status).distinct()))
        assert statuses == {"received", "assigned", "in_progress", "resolved", "rejected", "duplicate"}
        assert set(s.scalars(select(VoicebotCall.status).distinct())) >= {"completed", "handed_off"}
        assert s.scalar(select(func.count()).select_from(VoicebotRequest)
                        .where(VoicebotRequest.interface_used == "voicebot")) > 0
        texts = list(s.scalars(select(VoicebotTurn.text).where(VoicebotTurn.speaker == "caller")))
        refunds = list(s.scalars(select(VoicebotRequest).where(VoicebotRequest.service_code == "local_tax_refund",
                                                               VoicebotRequest.interface_used == "voicebot")))
    # Demo refund claims are filed with a staff call-back; no account is taken by voice.
    assert refunds and all(r.attributes.get("callback") and r.account_sealed is None for r in refunds)
    assert texts and not any(re.search(r"01[016789]-?\d{3,4}-?\d{4}", t) for t in texts)  # phones masked
