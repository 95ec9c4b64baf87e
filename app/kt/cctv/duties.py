"""The control centre's work on a clock, run by ``dxhub worker`` (declared in the manifest): overdue alerts
escalate and silent cameras are announced whether or not a board is open, and old snapshots are purged."""

from __future__ import annotations

from app.core.jobs import Duty, DutyContext, demo_simulation_on
from app.kt.cctv import service
from app.kt.cctv.config import get_cctv_settings


def _escalate(ctx: DutyContext) -> None:
    service.escalate_overdue(ctx.session, settings=get_cctv_settings())


def _silent_cameras(ctx: DutyContext) -> None:
    service.announce_silent_cameras(ctx.session, since=ctx.since, settings=get_cctv_settings())


def _purge_snapshots(ctx: DutyContext) -> None:
    settings = get_cctv_settings()
    service.purge_snapshots(ctx.session, root=settings.snapshot_root(ctx.settings.data_dir),
                            retention_days=settings.snapshot_retention_days)


def _simulate(ctx: DutyContext) -> None:
    from app.kt.cctv import demo_live

    demo_live.step(ctx.session, settings=get_cctv_settings())


DUTIES = (
    Duty("kt.cctv.escalate", 10.0, _escalate, title="Unanswered alert check", verb="Alert escalated automatically"),
    Duty("kt.cctv.silent_cameras", 10.0, _silent_cameras, title="Silent camera check"),
    Duty("kt.cctv.demo_simulate", 10.0, _simulate, enabled=demo_simulation_on, title="Demo simulation"),
    Duty("kt.cctv.purge_snapshots", 24 * 3600.0, _purge_snapshots, offset_s=18 * 3600.0,  # 03:00 KST
         title="Snapshot retention"),
)
