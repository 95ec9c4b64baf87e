"""`dxhub merchants ...`: the effect report and the outcomes import from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.core import commands


def _scoped(session, code: str) -> None:
    """Bind a principal that reaches only ``code``'s municipality, so the report covers only it."""
    from app.core.tenancy import Principal, bind_principal
    from app.platform import service as platform_service

    muni = platform_service.resolve_municipality(session, code=code)
    bind_principal(session, Principal(kind="system", id=None, name="cli", role="platform_admin",
                                      municipality_id=muni.id, municipality_ids=frozenset({muni.id})))


def _cmd_report(args: argparse.Namespace) -> int:
    from app.core.config import get_settings
    from app.lguplus.merchants import report

    with commands.system_session(write=False) as session:
        _scoped(session, args.municipality)
        data = report.effect_report(session, k=get_settings().k_threshold)
    print(f"{data['participants']} of {data['merchants']} merchants installed a solution")
    print(f"{'measure':<16}{'effect':>16}{'95% interval':>32}{'merchants':>14}")
    for metric, e in data["overall"].items():
        ci = f"{e['ci_low']} ~ {e['ci_high']}" if e.get("ci_low") is not None else "-"
        print(f"{metric:<16}{e['estimate'] if e['estimate'] is not None else '-':>16}{ci:>32}"
              f"{e['n_treated']:>7}/{e['n_control']:<6}")
    print("sales effect by solution:")
    for e in data["per_solution"]:
        ci = f"{e['ci_low']} ~ {e['ci_high']}" if e.get("ci_low") is not None else "-"
        shown = "suppressed" if e["suppressed"] else e["estimate"]
        print(f"  {e['solution']:<14}{shown if shown is not None else '-':>16}{ci:>32}")
    print("funnel: " + ", ".join(f"{k} {v}" for k, v in data["funnel"].items()))
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from app.core.batch import parse_csv
    from app.lguplus.merchants import service

    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        return commands.fail(str(exc))
    # A refused row refuses the file (nothing is saved); the runner names each bad row by its line in the file.
    with commands.rows_at_lines():
        rows = parse_csv(data)
    with commands.system_session() as session, commands.rows_at_lines():
        _scoped(session, args.municipality)
        result = service.import_outcomes(session, rows=rows)
    print(f"received {result['received']}: {result['created']} new, {result['updated']} updated")
    return 0


def add_cli(subparsers: Any) -> None:
    parser = subparsers.add_parser("merchants", help="small-merchant DX: effect report, outcomes import")
    sub = parser.add_subparsers(dest="merchants_command", required=True)
    p = sub.add_parser("report", help="print the difference-in-differences effect and the funnel")
    p.add_argument("--municipality", default="2914000000", help="10-digit code (default 광주 서구)")
    p.set_defaults(func=_cmd_report)
    p = sub.add_parser("import-outcomes", help="import monthly outcomes from a CSV file (all or nothing)")
    p.add_argument("file")
    p.add_argument("--municipality", default="2914000000", help="10-digit code (default 광주 서구)")
    p.set_defaults(func=_cmd_import)
