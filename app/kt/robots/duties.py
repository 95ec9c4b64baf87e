"""The robot platform's work on a clock, run by ``dxhub worker`` (declared in the manifest)."""

from __future__ import annotations

from datetime import datetime

from app.core.db import Database
from app.core.jobs import Duty, DutyContext, demo_simulation_on, system_principal
from app.core.tenancy import bind_principal
from app.kt.robots import service


def sweep_once(database: Database, _since: datetime | None = None) -> int:
    """One offline sweep in its own transaction (``dxhub robots sweep``)."""
    with database.unit_of_work() as session:
        bind_principal(session, system_principal("kt.robots.sweep_offline"))
        return service.sweep_offline(session)


def _sweep(ctx: DutyContext) -> None:
    service.sweep_offline(ctx.session)


def _simulate(ctx: DutyContext) -> None:
    from app.kt.robots import demo_live

    demo_live.step(ctx.session, dt_s=5.0 * ctx.settings.duty_period_scale)


DUTIES = (
    # A silent robot is marked offline, alerted and its task requeued within offline_after_s + 5 s.
    Duty("kt.robots.sweep_offline", 5.0, _sweep, title="Silent robot check", verb="Marked offline automatically"),
    Duty("kt.robots.demo_simulate", 5.0, _simulate, enabled=demo_simulation_on, title="Demo simulation"),
)
