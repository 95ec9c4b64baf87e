"""`dxhub isolation ...`: import indicator CSV files and print the isolation ranking."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.core import commands


def _cmd_import(args: argparse.Namespace) -> int:
    """Import a CSV file in batches; each batch is all-or-nothing, and the whole file is one transaction.
    A refused batch is reported by the command runner, its bad rows named by their line in the file."""
    from app.core.batch import parse_csv
    from app.skt.isolation import service

    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        return commands.fail(str(exc))
    with commands.rows_at_lines():
        rows = parse_csv(data)
    with commands.system_session() as session:
        totals = {"received": 0, "created": 0, "replaced": 0}
        step = args.batch
        for start in range(0, len(rows), step):
            with commands.rows_at_lines(start):
                result = service.import_cells(session, rows=rows[start:start + step])
            for key in totals:
                totals[key] += result[key]
            if not args.quiet:
                commands.progress(min(1.0, (start + step) / len(rows)),
                                  f"{start + len(rows[start:start + step])} rows")
        print(f"Imported {totals['received']} cells: {totals['created']} new, {totals['replaced']} replaced.")
    return 0


def _cmd_ranking(args: argparse.Namespace) -> int:
    from app.core.config import get_settings
    from app.skt.isolation import service

    with commands.system_session(write=False) as session:
        data = service.isolation_ranking(session, period=args.period, min_age=args.min_age,
                                         k=get_settings().k_threshold)
    if not data["items"]:
        print("No indicator data.")
        return 0
    print(f"Isolation ranking {data['period']}, ages {args.min_age}+ (change from {data['previous_period']})")
    for n, item in enumerate(data["items"][: args.top], start=1):
        print(_line(n, item))
    return 0


def _line(n: int, i: dict[str, Any]) -> str:
    if i["suppressed"]:
        return f"{n:>3}. {i['dong_name']:<10} {i['dong_code']}  (hidden: fewer than k people)"
    change = "" if i["change"] is None else f"{i['change']:+d}"
    return (f"{n:>3}. {i['dong_name']:<10} {i['dong_code']}  {i['isolated']:>6} / {i['population']:>6}  "
            f"{i['rate'] * 100:5.1f}% [{i['ci_low'] * 100:4.1f}-{i['ci_high'] * 100:4.1f}]  {change}")


def add_cli(subparsers: Any) -> None:
    iso = subparsers.add_parser("isolation", help="Elderly digital isolation: import indicators, print the ranking")
    sub = iso.add_subparsers(dest="isolation_command", required=True)
    p = sub.add_parser("import", help="import indicator cells from a CSV file (dongs must be registered)")
    p.add_argument("file")
    p.add_argument("--batch", type=int, default=50_000)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_import)
    p = sub.add_parser("ranking", help="print the dongs with the most isolated people")
    p.add_argument("--period", default=None, help="YYYY-MM (default: the latest month)")
    p.add_argument("--min-age", type=int, default=65)
    p.add_argument("--top", type=int, default=20)
    p.set_defaults(func=_cmd_ranking)
