"""The one CSV writer: every CSV the platform hands out (downloads, API exports, CLI exports) is written here.

Two promises, kept in one place so a new export cannot forget them:

- Downloads are UTF-8 with a byte-order mark, so that spreadsheet programs (Excel above all) read Korean
  correctly instead of guessing a legacy code page.
- Formula injection ("CSV injection", OWASP) is neutralised: a text cell that begins with ``=``, ``+``,
  ``-``, ``@``, a tab or a carriage return is prefixed with a single quote, so a spreadsheet shows it as
  text instead of evaluating it (``=HYPERLINK(...)`` in a program title stays a string).

Negative numbers: only *strings* are neutralised. A value that is a real number (``int``, ``float``,
``Decimal``; ``bool`` is an ``int``) is written as is, so ``-3`` stays a number a spreadsheet can sum; it
cannot carry a formula. A number that arrives as text (``"-3"``) is treated as text and prefixed, which is
the safe side: the exports pass numbers as numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from urllib.parse import quote

from starlette.responses import Response

BOM = "\ufeff"
# OWASP's list of characters that make a spreadsheet read a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MEDIA_TYPE = "text/csv; charset=utf-8"


def safe_cell(value: object) -> object:
    """One cell as the CSV writer should see it: ``None`` empty, formula-looking text quoted, numbers as is."""
    if value is None:
        return ""
    if isinstance(value, (int, float, Decimal)):
        return value
    text = value if isinstance(value, str) else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """The CSV text (no BOM): for CLI output and files; downloads use :func:`csv_response`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return buffer.getvalue()


class CsvResponse(Response):
    """A CSV answer; as a route's ``response_class`` it documents ``text/csv`` in the OpenAPI."""

    media_type = MEDIA_TYPE


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> CsvResponse:
    """A CSV download: UTF-8 with BOM, ``attachment`` with the (possibly Korean) file name."""
    body = BOM + csv_text(header, rows)
    disposition = f"attachment; filename*=UTF-8''{quote(filename)}"
    return CsvResponse(body.encode("utf-8"), headers={"Content-Disposition": disposition})
