"""`dxhub worknet ...`: exports for the network side and ingestion of access-log files, for cron jobs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.core import commands


def add_cli(subparsers) -> None:
    parser = subparsers.add_parser("worknet", help="5G work network: exports and access-log ingestion")
    sub = parser.add_subparsers(dest="worknet_command", required=True)
    export = sub.add_parser("export", help="print a pool's active leases as a RADIUS users file or CSV")
    export.add_argument("--municipality", required=True, help="10-digit municipality code")
    export.add_argument("--pool", required=True, help="pool name")
    export.add_argument("--format", choices=["radius", "csv"], default="radius")
    export.set_defaults(func=_cmd_export)
    ingest = sub.add_parser("ingest", help="load a JSON array of authentication events (idempotent by client_id)")
    ingest.add_argument("file", type=Path)
    ingest.add_argument("--municipality", required=True, help="10-digit municipality code")
    ingest.set_defaults(func=_cmd_ingest)
    detail = sub.add_parser("import-radius-detail", help="load a FreeRADIUS accounting detail file (every record "
                                                         "or none; idempotent by session, status and time)")
    detail.add_argument("file", type=Path)
    detail.add_argument("--municipality", required=True, help="10-digit municipality code")
    detail.set_defaults(func=_cmd_import_radius_detail)


def _cmd_export(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from app.core.errors import NotFound
    from app.kt.worknet import service
    from app.kt.worknet.models import Pool
    from app.platform import service as platform_service

    with commands.system_session() as session:
        municipality = platform_service.get_municipality(session, code=args.municipality)
        pool = session.scalar(select(Pool).where(Pool.municipality_id == municipality.id, Pool.name == args.pool))
        if pool is None:
            raise NotFound("Pool {name} not found", name=args.pool)
        text = (service.export_radius if args.format == "radius" else service.export_csv)(session, pool=pool)
        sys.stdout.write(text)
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    from pydantic import TypeAdapter

    from app.kt.worknet import access
    from app.kt.worknet.schemas import AccessEventIn
    from app.platform import service as platform_service

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        return commands.fail(str(exc))
    events = TypeAdapter(list[AccessEventIn]).validate_json(data)  # invalid events: reported by the runner
    with commands.system_session() as session:
        municipality = platform_service.get_municipality(session, code=args.municipality)
        total = {"received": 0, "accepted": 0, "duplicates": 0, "alerts": 0}
        for start in range(0, len(events), access.MAX_BATCH):
            result = access.ingest(session, municipality=municipality, events=events[start:start + access.MAX_BATCH])
            total = {k: total[k] + result[k] for k in total}
        print(json.dumps(total))
    return 0


def _cmd_import_radius_detail(args: argparse.Namespace) -> int:
    from app.kt.worknet import radius
    from app.platform import service as platform_service

    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return commands.fail(str(exc))
    with commands.system_session() as session:
        municipality = platform_service.get_municipality(session, code=args.municipality)
        print(json.dumps(radius.import_detail(session, municipality=municipality, text=text)))
    return 0
