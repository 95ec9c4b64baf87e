"""`dxhub citydata ...`: import a CSV file and print festival windows from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _database():
    from app.core.config import get_settings
    from app.core.db import Database

    return Database(get_settings().database_url)


def _cmd_import(args: argparse.Namespace) -> int:
    from app.core.errors import DomainError
    from app.core.i18n import gettext
    from app.core.tenancy import SYSTEM, bind_principal
    from app.lguplus.citydata import importers, jobs, ledger
    from app.platform import service as platform_service

    db = _database()
    path = Path(args.file)
    size = path.stat().st_size
    try:
        with db.unit_of_work() as session:
            bind_principal(session, SYSTEM)
            muni = platform_service.resolve_municipality(session, code=args.municipality)
            kind = args.kind.replace("-", "_")
            job = jobs.new_job(session, municipality_id=muni.id, kind=kind, filename=path.name, bytes_total=size,
                               digest=ledger.digest_of_file(path))

            def show(done: int) -> None:
                if not args.quiet:
                    sys.stderr.write(f"\r{done / max(size, 1) * 100:5.1f}% read")

            jobs.run_file(session, job=job, path=path, mode="replace" if args.replace else "refuse", on_bytes=show)
            rows, encoding = job.rows_done, job.encoding
        print(f"\nImported {rows} rows ({encoding}) for {muni.name_ko}.")
    except importers.ImportRefused as exc:
        print(f"\nrefused: {exc.detail}; nothing was stored", file=sys.stderr)
        for item in exc.report.items[:50]:
            print(f"  line {item['loc'][1]} {item['loc'][2]}: {gettext(item['template'], **item['params'])}",
                  file=sys.stderr)
        return 2
    except DomainError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2
    finally:
        db.dispose()
    return 0


def _cmd_windows(args: argparse.Namespace) -> int:
    from app.core.config import get_settings
    from app.core.errors import DomainError
    from app.core.tenancy import SYSTEM, bind_principal
    from app.lguplus.citydata import analysis, service

    db = _database()
    try:
        with db.unit_of_work(write=False) as session:
            bind_principal(session, SYSTEM)
            zone = service.get_zone(session, code=args.zone)
            out = analysis.festival_windows(session, zone=zone, days=args.days, year=args.year,
                                            k=get_settings().k_threshold, limit=args.limit)
        print(json.dumps(out["windows"], default=str, ensure_ascii=False, indent=1))
    except DomainError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2
    finally:
        db.dispose()
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
