"""The one set-up of every ``dxhub`` command (the core's and each module's ``add_cli``).

- ``database()``: the settings' database, every module installed (as in the worker), disposed at the end;
  ``system_session()``: a unit of work on it as the system principal (every tenant), committed when the
  block succeeds.
- ``run()``: how ``dxhub`` calls a command; a ``DomainError`` (its field errors listed) or an invalid input
  (pydantic) that the command lets through becomes ``fail()``'s report: ``error: ...`` on stderr, exit 2.
  ``rows_at_lines()`` names the rows of a file's batch by their line in the file (``errors.at_lines``).
- ``progress()``: the one progress bar (stderr); an error printed while it runs starts on a line of its own.

Imports stay inside the functions: ``dxhub --help`` and a command that needs no database load none of it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.core.db import Database

FIELD_ERRORS_SHOWN = 50
BAR_WIDTH = 30
_bar_open = [False]  # a progress bar's line is on stderr, not yet ended


@contextmanager
def database() -> Iterator[Database]:
    """The settings' database with every module installed (its models, sealed fields, duties), disposed
    when the block ends."""
    from app.core.config import get_settings
    from app.core.db import Database
    from app.core.manifest import install
    from app.modules import load_manifests

    install(load_manifests())
    db = Database(get_settings().database_url)
    try:
        yield db
    finally:
        db.dispose()


@contextmanager
def system_session(*, write: bool = True) -> Iterator[Session]:
    """A unit of work as ``SYSTEM`` on the settings' database: committed when the block succeeds, rolled
    back when it fails, the database disposed after."""
    from app.core.tenancy import SYSTEM

    with database() as db, db.unit_of_work(write=write, principal=SYSTEM) as session:
        yield session


def run(command: Callable[..., int | None], *args: Any) -> int:
    """``command(*args)``'s exit status; a refusal it lets through (a ``DomainError``, or a pydantic
    ``ValidationError`` of its input) is reported by :func:`fail` with status 2."""
    try:
        return command(*args) or 0
    except Exception as exc:
        from pydantic import ValidationError

        from app.core.errors import DomainError

        if isinstance(exc, DomainError):
            return fail(exc.detail, errors=exc.errors)
        if isinstance(exc, ValidationError):
            return fail("The input has invalid fields.", errors=exc.errors())
        raise


def fail(message: str, *, errors: Iterable[Mapping[str, Any]] = (), status: int = 2) -> int:
    """Print ``error: message`` and each field error (``  where: what``, the first 50) on stderr; answer
    ``status`` (2: the command refused, nothing was changed)."""
    end_progress()
    print(f"error: {message}", file=sys.stderr)
    errors = list(errors)
    for err in errors[:FIELD_ERRORS_SHOWN]:
        print(f"  {_where(err.get('loc', ()))}: {err.get('msg', '')}", file=sys.stderr)
    if len(errors) > FIELD_ERRORS_SHOWN:
        print(f"  ... {len(errors) - FIELD_ERRORS_SHOWN} more", file=sys.stderr)
    return status


def _where(loc: Iterable[Any]) -> str:
    """A field error's place: ``line 12 zone_code`` in a file, else its path (``rows / 3 / month``)."""
    parts = list(loc)
    if len(parts) > 1 and parts[0] == "line":
        return " ".join(str(p) for p in parts if p != "")
    return " / ".join(map(str, parts))


@contextmanager
def rows_at_lines(first_row: int = 0) -> Iterator[None]:
    """A ``DomainError`` of the block that names rows of a batch (``["rows", i, ...]``, 0-based) names them
    by their line in the CSV file instead, the batch's first row being the file's row ``first_row``
    (0: the first, under the header)."""
    from app.core.errors import CSV_FIRST_ROW_LINE, DomainError, at_lines

    try:
        yield
    except DomainError as exc:
        exc.errors = at_lines(exc.errors, first_line=CSV_FIRST_ROW_LINE + first_row)
        raise


def progress(fraction: float, label: str) -> None:
    """Draw the progress bar on stderr (``[#####.....]  42.0% label``); at 100% its line ends."""
    done = int(BAR_WIDTH * min(max(fraction, 0.0), 1.0))
    sys.stderr.write(f"\r[{'#' * done}{'.' * (BAR_WIDTH - done)}] {fraction * 100:5.1f}% {label:<16}")
    _bar_open[0] = True
    if fraction >= 1.0:
        end_progress()
    sys.stderr.flush()


def end_progress() -> None:
    """End the progress bar's line, if one is drawn."""
    if _bar_open[0]:
        sys.stderr.write("\n")
        _bar_open[0] = False
