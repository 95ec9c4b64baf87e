"""The import ledger: what each import brought, so nothing is counted twice and any import can be taken out.

- The digest (sha256 of the file or JSON body as received): the same bytes again answer 409 naming the
  earlier import.
- The coverage: one row per kind × period (a date for living population, a month for card spending) ×
  zone. A new import that covers a cell another import holds is refused (409) unless sent with
  ``mode=replace``; then the earlier import's raw rows of those cells and their rollup contributions go, in
  the same transaction as the new rows.
- Deleting an import removes its raw rows and subtracts exactly what they added to the rollups.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from app.core.bulk import insert_rows
from app.lguplus.citydata import importers
from app.lguplus.citydata.models import (
    CitydataCardMonthly,
    CitydataCardSpending,
    CitydataImportCoverage,
    CitydataImportJob,
    CitydataLivingPopulation,
    CitydataPopDaily,
    CitydataPopHourly,
    CitydataZone,
)
from app.platform import audit

MODES = ("refuse", "replace")
EPSILON = 1e-6  # a float rollup left at (almost) nothing by a subtraction is removed


def digest_of_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def digest_of_bytes(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


class ImportConflict(importers.ImportRefused):
    """The import would count again what an earlier import holds."""

    status = 409
    title = "Conflict"


def _conflict(template: str, *, earlier: int, **params: Any) -> ImportConflict:
    report = importers.ErrorReport(prefix="import")
    report.add(earlier, "", template, id=earlier, **params)
    return ImportConflict(report)


def check_digest(db: Session, *, municipality_id: int, kind: str, digest: str, job_id: int | None = None) -> None:
    """409 if a finished (or running) import of the same kind received exactly these bytes."""
    stmt = select(CitydataImportJob.id, CitydataImportJob.filename).where(
        CitydataImportJob.municipality_id == municipality_id, CitydataImportJob.kind == kind,
        CitydataImportJob.digest == digest, CitydataImportJob.status.in_(("queued", "running", "done")))
    if job_id is not None:
        stmt = stmt.where(CitydataImportJob.id != job_id)
    found = db.execute(stmt.order_by(CitydataImportJob.id).limit(1)).first()
    if found is not None:
        raise _conflict("This file was already imported as import #{id} ({filename}); nothing was saved",
                        earlier=found.id, filename=found.filename)


def claim(db: Session, conv: importers.Converter) -> None:
    """Record the converter's coverage for its job; refuse (409) or, with ``mode=replace``, take over the
    cells earlier imports hold. Runs after the rows are read, before the rollups are added."""
    cells = conv.coverage()
    if not cells or conv.job_id is None:
        return
    held = _held(db, municipality_id=conv.mid, kind=conv.kind, cells=cells)
    if held and conv.mode != "replace":
        earlier = min(held.values())
        name = db.scalar(select(CitydataImportJob.filename).where(CitydataImportJob.id == earlier)) or ""
        raise _conflict("The data overlap import #{id} ({filename}) on {n} zone-periods; send them with "
                        "mode=replace to replace those figures", earlier=earlier, filename=name, n=len(held))
    by_job: dict[int, set[tuple[int, str]]] = defaultdict(set)
    for cell, job_id in held.items():
        by_job[job_id].add(cell)
    for job_id, job_cells in by_job.items():
        remove(db, kind=conv.kind, municipality_id=conv.mid, job_id=job_id, cells=job_cells)
        audit.record(db, action="replace", object_type="citydata_import_job", object_id=str(job_id),
                     municipality_id=conv.mid, after={"replaced_by": conv.job_id, "cells": len(job_cells)})
    insert_rows(db, CitydataImportCoverage.__table__, [
        {"municipality_id": conv.mid, "job_id": conv.job_id, "kind": conv.kind, "zone_id": z, "period": p}
        for z, p in sorted(cells)])
    conv.summary = summarize(db, cells)


def summarize(db: Session, cells: set[tuple[int, str]]) -> dict[str, Any]:
    periods = sorted({p for _, p in cells})
    zone_ids = {z for z, _ in cells}
    codes = sorted(db.scalars(select(CitydataZone.code).where(CitydataZone.id.in_(zone_ids))))
    return {"from": periods[0], "to": periods[-1], "periods": len(periods), "zones": codes, "cells": len(cells)}


def _held(db: Session, *, municipality_id: int, kind: str, cells: set[tuple[int, str]]) -> dict[tuple[int, str], int]:
    """The cells of ``cells`` other imports already hold, with the import holding each."""
    periods = [p for _, p in cells]
    zone_ids = sorted({z for z, _ in cells})
    found: dict[tuple[int, str], int] = {}
    for i in range(0, len(zone_ids), 500):
        rows = db.execute(select(CitydataImportCoverage.zone_id, CitydataImportCoverage.period,
                                 CitydataImportCoverage.job_id).where(
            CitydataImportCoverage.municipality_id == municipality_id, CitydataImportCoverage.kind == kind,
            CitydataImportCoverage.zone_id.in_(zone_ids[i:i + 500]),
            CitydataImportCoverage.period.between(min(periods), max(periods))))
        for z, p, job_id in rows:
            if (z, p) in cells:
                found[(z, p)] = job_id
    return found


# --- taking contributions out ------------------------------------------------------------------------

def remove(db: Session, *, kind: str, municipality_id: int, job_id: int,
           cells: set[tuple[int, str]] | None = None) -> int:
    """Remove an import's raw rows (all, or those of ``cells``) and subtract what they added to the
    rollups; returns the number of raw rows removed."""
    if kind == "living_population":
        n = _remove_living(db, municipality_id=municipality_id, job_id=job_id, cells=cells)
    else:
        n = _remove_card(db, municipality_id=municipality_id, job_id=job_id, cells=cells)
    cov = delete(CitydataImportCoverage).where(CitydataImportCoverage.job_id == job_id)
    if cells is not None:
        for chunk in _chunks(sorted(cells)):
            db.execute(cov.where(or_(*(and_(CitydataImportCoverage.zone_id == z, CitydataImportCoverage.period == p)
                                       for z, p in chunk))))
    else:
        db.execute(cov)
    if cells is not None and n:
        db.execute(update(CitydataImportJob).where(CitydataImportJob.id == job_id).values(
            rows_done=CitydataImportJob.rows_done - n, rows_total=CitydataImportJob.rows_total - n))
    return n


def _chunks(items: list[Any], size: int = 200) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _remove_living(db: Session, *, municipality_id: int, job_id: int, cells: set[tuple[int, str]] | None) -> int:
    raw = CitydataLivingPopulation
    rows = db.execute(select(raw.zone_id, raw.obs_date, raw.hour, raw.visitor_type, func.sum(raw.count),
                             func.count()).where(raw.job_id == job_id)
                      .group_by(raw.zone_id, raw.obs_date, raw.hour, raw.visitor_type)).all()
    daily: dict[tuple[int, date, str], float] = defaultdict(float)
    hourly: dict[tuple[int, int, int, str], float] = defaultdict(float)
    removed = 0
    for z, d, h, v, total, n in rows:
        if cells is not None and (z, d.isoformat()) not in cells:
            continue
        daily[(z, d, v)] += total
        hourly[(z, d.weekday(), h, v)] += total
        removed += n
    _subtract(db, CitydataPopDaily, ("zone_id", "obs_date", "visitor_type"), daily)
    _subtract(db, CitydataPopHourly, ("zone_id", "weekday", "hour", "visitor_type"), hourly)
    stmt = delete(raw).where(raw.job_id == job_id)
    if cells is None:
        db.execute(stmt)
    else:
        for chunk in _chunks(sorted(cells)):
            db.execute(stmt.where(or_(*(and_(raw.zone_id == z, raw.obs_date == date.fromisoformat(p))
                                        for z, p in chunk))))
    return removed


def _remove_card(db: Session, *, municipality_id: int, job_id: int, cells: set[tuple[int, str]] | None) -> int:
    from app.lguplus.citydata.jobs import municipality_code

    county = municipality_code(db, municipality_id)
    raw = CitydataCardSpending
    rows = db.execute(select(raw.merchant_zone_id, raw.month, raw.category_large, raw.category_middle,
                             raw.customer_home_code, func.sum(raw.amount_krw), func.sum(raw.count), func.count())
                      .where(raw.job_id == job_id)
                      .group_by(raw.merchant_zone_id, raw.month, raw.category_large, raw.category_middle,
                                raw.customer_home_code)).all()
    amounts: dict[tuple, float] = defaultdict(float)
    counts: dict[tuple, float] = defaultdict(float)
    removed = 0
    for z, m, cl, cm, home, amount, count, n in rows:
        if cells is not None and (z, m) not in cells:
            continue
        key = (z, m, cl, cm, importers.origin_class(home, county))
        amounts[key] += int(amount)
        counts[key] += int(count)
        removed += n
    keys = ("zone_id", "month", "category_large", "category_middle", "origin_class")
    _subtract(db, CitydataCardMonthly, keys, amounts, column="amount_krw", paired=("count", counts))
    stmt = delete(raw).where(raw.job_id == job_id)
    if cells is None:
        db.execute(stmt)
    else:
        for chunk in _chunks(sorted(cells)):
            db.execute(stmt.where(or_(*(and_(raw.merchant_zone_id == z, raw.month == p) for z, p in chunk))))
    return removed


def _subtract(db: Session, model: Any, keys: tuple[str, ...], sums: dict[tuple, float], *, column: str = "count",
              paired: tuple[str, dict[tuple, float]] | None = None) -> None:
    """Subtract ``sums`` from the rollup rows they were added to; rows left at nothing are removed, so the
    rollups are what they were before the import."""
    if not sums:
        return
    table = model.__table__
    target = table.c[column]
    where = and_(*(table.c[k] == bindparam(f"key_{k}") for k in keys))
    values = {column: target - bindparam("minus_0")}
    if paired is not None:
        values[paired[0]] = table.c[paired[0]] - bindparam("minus_1")
    params = []
    for key, value in sums.items():
        row = {f"key_{k}": v for k, v in zip(keys, key, strict=True)}
        row["minus_0"] = value
        if paired is not None:
            row["minus_1"] = paired[1][key]
        params.append(row)
    db.execute(update(table).where(where).values(values), params)
    gone = target <= EPSILON if paired is None else and_(target == 0, table.c[paired[0]] == 0)
    db.execute(delete(table).where(where, gone), [{k: v for k, v in p.items() if k.startswith("key_")}
                                                   for p in params])


# --- deleting an import ------------------------------------------------------------------------------

def delete_import(db: Session, *, job: CitydataImportJob) -> dict[str, Any]:
    """Take an import out: its raw rows, its rollup contributions and its ledger rows; audited."""
    if job.status in ("queued", "running"):
        from app.core.errors import Conflict

        raise Conflict("Import #{id} is still running; delete it when it has finished", id=job.id)
    n = remove(db, kind=job.kind, municipality_id=job.municipality_id, job_id=job.id) if job.status == "done" else 0
    audit.record(db, action="delete", object_type="citydata_import_job", object_id=str(job.id),
                 municipality_id=job.municipality_id,
                 before={"kind": job.kind, "filename": job.filename, "digest": job.digest, "rows": job.rows_done,
                         "coverage": job.coverage or {}}, after={"rows_removed": n})
    db.delete(job)
    db.flush()
    return {"id": job.id, "rows_removed": n}
