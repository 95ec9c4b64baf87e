"""The voicebot's work on a clock, run by ``dxhub worker`` (declared in the manifest)."""

from __future__ import annotations

from app.core.jobs import Duty, DutyContext
from app.kt.voicebot import service

# A call with no turn for this long lost its line: no caller waits 30 minutes in silence.
IDLE_S = 30 * 60


def _close_stale_calls(ctx: DutyContext) -> None:
    service.close_stale_calls(ctx.session, idle_s=IDLE_S)


DUTIES = (Duty("kt.voicebot.close_stale_calls", 60.0, _close_stale_calls),)
