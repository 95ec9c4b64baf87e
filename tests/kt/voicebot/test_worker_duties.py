"""Calls whose line dropped without a hang-up are closed by the worker, as abandoned, by the system."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import select

from app.core.db import utcnow
from app.core.tenancy import SYSTEM, bind_principal
from app.core.worker import run_duty_now
from app.kt.voicebot import duties, service
from app.kt.voicebot.models import VoicebotCall
from app.kt.voicebot.schemas import CallIn
from app.platform.models import AuditLog


def test_a_silent_call_is_closed_as_abandoned_by_the_worker(vb_world, database, job_queue):
    start = utcnow()
    with time_machine.travel(start, tick=False) as clock:
        with database.unit_of_work() as s:
            bind_principal(s, SYSTEM)
            quiet, _greeting, _new = service.start_call(s, data=CallIn(caller_number="010-1234-5678",
                                                                       municipality_code="4812000000"))
            talking, _greeting, _new = service.start_call(s, data=CallIn(caller_number="010-2222-3333",
                                                                         municipality_code="4812000000"))
            quiet_id, talking_id = quiet.id, talking.id
        clock.shift(duties.IDLE_S - 60)
        with database.unit_of_work() as s:
            bind_principal(s, SYSTEM)
            service.take_turn(s, call=s.get(VoicebotCall, talking_id), text="가로등이 꺼져 있어요")
        clock.shift(61)
        assert run_duty_now(job_queue, "kt.voicebot.close_stale_calls")
    with database.unit_of_work(write=False) as s:
        bind_principal(s, SYSTEM)
        quiet, talking = s.get(VoicebotCall, quiet_id), s.get(VoicebotCall, talking_id)
        assert quiet.status == "abandoned" and quiet.ended_at is not None
        assert talking.status == "active"  # it spoke a minute ago
        actor = s.scalar(select(AuditLog.actor).where(AuditLog.object_type == "vb_call",
                                                      AuditLog.object_id == str(quiet_id), AuditLog.action == "end"))
        assert actor == "system:worker:kt.voicebot.close_stale_calls"
    assert start + timedelta(seconds=duties.IDLE_S) <= quiet.ended_at
