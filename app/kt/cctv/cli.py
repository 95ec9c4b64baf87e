"""`dxhub cctv ...`: escalation of overdue alerts, snapshot retention (for cron or a systemd timer), the
rollup's repair and the analyser simulator."""

from __future__ import annotations

import argparse

from app.core import commands


def add_cli(subparsers) -> None:
    cctv = subparsers.add_parser("cctv", help="KT CCTV AI control centre")
    sub = cctv.add_subparsers(dest="cctv_command", required=True)
    esc = sub.add_parser("escalate", help="escalate alerts not acknowledged in time")
    esc.set_defaults(func=_cmd_escalate)
    purge = sub.add_parser("purge", help="delete snapshots older than the retention period")
    purge.add_argument("--days", type=int, default=None, help="retention in days (default: the setting)")
    purge.set_defaults(func=_cmd_purge)
    roll = sub.add_parser("rollup", help="recompute the daily incident rollup the statistics read")
    roll.set_defaults(func=_cmd_rollup)
    sim = sub.add_parser("simulate", help="act as an edge analyser against a running server (demos, load)")
    sim.add_argument("--url", default="http://127.0.0.1:8000")
    sim.add_argument("--username", default="ulsan.staff")
    sim.add_argument("--password", default="dxhub-demo-2026")
    sim.add_argument("--seconds", type=float, default=0, help="stop after this long (default: until Ctrl+C)")
    sim.add_argument("--interval", type=float, default=2.0, help="seconds between batches")
    sim.add_argument("--seed", type=int, default=None)
    sim.set_defaults(func=_cmd_simulate)


def _cmd_escalate(args: argparse.Namespace) -> int:
    from app.kt.cctv import service
    from app.kt.cctv.config import get_cctv_settings

    with commands.system_session() as session:
        escalated = service.escalate_overdue(session, settings=get_cctv_settings())
        for incident in escalated:
            print(f"escalated incident {incident.id}: {incident.type} on camera {incident.camera_id}")
        print(f"{len(escalated)} incident(s) escalated.")
    return 0


def _cmd_purge(args: argparse.Namespace) -> int:
    from app.core.config import get_settings
    from app.kt.cctv import service
    from app.kt.cctv.config import get_cctv_settings

    settings = get_cctv_settings()
    days = args.days if args.days is not None else settings.snapshot_retention_days
    if days < 0:
        return commands.fail("--days must be 0 or more")
    root = settings.snapshot_root(get_settings().data_dir)
    with commands.system_session() as session:
        count = service.purge_snapshots(session, root=root, retention_days=days)
        print(f"{count} snapshot(s) older than {days} days purged from {root}.")
    return 0


def _cmd_rollup(args: argparse.Namespace) -> int:
    from app.kt.cctv import rollup

    with commands.system_session() as session:
        print(f"{rollup.rebuild(session)} rollup row(s) written.")
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from app.kt.cctv.simulate import simulate

    return simulate(url=args.url, username=args.username, password=args.password, seconds=args.seconds,
                    interval=max(0.1, args.interval), seed=args.seed)
