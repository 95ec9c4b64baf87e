"""A trickle of calls for the demo municipalities (a worker duty while ``DXHUB_DEMO_SIMULATE`` is on): now
and then a caller rings with one of the demo's requests and speaks a turn each round, through the same
service functions the telephony side calls; a caller who is not understood hangs up after a few turns."""

from __future__ import annotations

import random
import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.kt.voicebot import service
from app.kt.voicebot.demo import BULKY_OPENERS, DATE_PHRASES, FEE_FACTOR, ITEM_PHRASES, NIGHT, PARKING, TAX, URGENT
from app.kt.voicebot.models import VoicebotCall
from app.kt.voicebot.schemas import CallIn

PREFIX = "sim-"
NEW_CALL_CHANCE = 0.35  # per municipality and round
MAX_CALLER_TURNS = 4


def _script(rng: random.Random) -> list[str]:
    kind = rng.choice(("bulky", "night", "urgent", "parking", "tax"))
    if kind == "bulky":
        return [rng.choice(BULKY_OPENERS).format(item=rng.choice(ITEM_PHRASES)), rng.choice(DATE_PHRASES), "네 맞아요"]
    return [rng.choice({"night": NIGHT, "urgent": URGENT, "parking": PARKING, "tax": TAX}[kind]), "네", "네 맞아요"]


def step(db: Session, *, now: datetime | None = None, rng: random.Random | None = None) -> dict[str, int]:
    """One round: the simulated callers on the line speak their next line; new callers may ring."""
    now, rng = now or utcnow(), rng or random.Random()
    spoke = ended = started = 0
    active = db.scalars(select(VoicebotCall).where(VoicebotCall.status == "active",
                                                   VoicebotCall.client_call_id.like(f"{PREFIX}%"))).all()
    for call in active:
        script = (call.context or {}).get("demo_script") or _script(random.Random(call.id))
        line = call.turn_count
        if line >= min(len(script), MAX_CALLER_TURNS):
            service.hang_up(db, call=call, now=now)
            ended += 1
            continue
        service.take_turn(db, call=call, text=script[line], now=now)
        spoke += 1
    for code in FEE_FACTOR:
        if rng.random() < NEW_CALL_CHANCE:
            number = f"010-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"
            service.start_call(db, data=CallIn(caller_number=number, municipality_code=code,
                                               client_call_id=f"{PREFIX}{uuid.uuid4().hex[:16]}"))
            started += 1
    return {"started": started, "spoke": spoke, "ended": ended}
