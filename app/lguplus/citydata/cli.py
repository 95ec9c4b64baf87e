"""`dxhub citydata ...`: import a CSV file and print festival windows from the command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from app.core import commands


def _cmd_import(args: argparse.Namespace) -> int:
    """A refused file is reported by the command runner: every bad row by its line, nothing stored."""
    from app.lguplus.citydata import jobs, ledger
    from app.platform import service as platform_service

    path = Path(args.file)
    try:
        size = path.stat().st_size
    except OSError as exc:
        return commands.fail(str(exc))

    def show(done: int) -> None:
        if not args.quiet:
            commands.progress(done / max(size, 1), "read")

    with commands.system_session() as session:
        muni = platform_service.resolve_municipality(session, code=args.municipality)
        kind = args.kind.replace("-", "_")
        job = jobs.new_job(session, municipality_id=muni.id, kind=kind, filename=path.name, bytes_total=size,
                           digest=ledger.digest_of_file(path))
        jobs.run_file(session, job=job, path=path, mode="replace" if args.replace else "refuse", on_bytes=show)
        rows, encoding = job.rows_done, job.encoding
    commands.end_progress()
    print(f"Imported {rows} rows ({encoding}) for {muni.name_ko}.")
    return 0


def _cmd_windows(args: argparse.Namespace) -> int:
    from app.core.config import get_settings
    from app.lguplus.citydata import analysis, service

    with commands.system_session(write=False) as session:
        zone = service.get_zone(session, code=args.zone)
        out = analysis.festival_windows(session, zone=zone, days=args.days, year=args.year,
                                        k=get_settings().k_threshold, limit=args.limit)
    print(json.dumps(out["windows"], default=str, ensure_ascii=False, indent=1))
    return 0


def add_cli(subparsers: Any) -> None:
    city = subparsers.add_parser("citydata", help="city-data consulting: imports and festival windows")
    sub = city.add_subparsers(dest="citydata_command", required=True)
    p = sub.add_parser("import", help="import a living-population or card-spending CSV (UTF-8 or CP949)")
    p.add_argument("kind", choices=["living-population", "card-spending"])
    p.add_argument("file")
    p.add_argument("--municipality", default="4679000000", help="10-digit code of the county (default 화순군)")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--replace", action="store_true", help="replace the figures of earlier imports it overlaps")
    p.set_defaults(func=_cmd_import)
    w = sub.add_parser("windows", help="print the best festival windows of a zone")
    w.add_argument("--zone", default="4679025000")
    w.add_argument("--days", type=int, default=3)
    w.add_argument("--year", type=int, default=2027)
    w.add_argument("--limit", type=int, default=5)
    w.set_defaults(func=_cmd_windows)
