"""The voicebot's work on a clock, run by ``dxhub worker`` (declared in the manifest)."""

from __future__ import annotations

from app.core.jobs import Duty, DutyContext, demo_simulation_on
from app.kt.voicebot import service

# A call with no turn for this long lost its line: no caller waits 30 minutes in silence.
IDLE_S = 30 * 60


def _close_stale_calls(ctx: DutyContext) -> None:
    service.close_stale_calls(ctx.session, idle_s=IDLE_S)


def _simulate(ctx: DutyContext) -> None:
    from app.kt.voicebot import demo_live

    demo_live.step(ctx.session)


DUTIES = (Duty("kt.voicebot.close_stale_calls", 60.0, _close_stale_calls, title="Closing of silent calls"),
          Duty("kt.voicebot.demo_calls", 20.0, _simulate, enabled=demo_simulation_on,
               title="Demo simulation"))
