"""``dxhub keys rotate``: reseal every sealed value under the newest key, in batches.

Walks every field declared with :func:`app.core.sealing.sealed_field`, by primary key, one committed
transaction per batch (rows locked while resealed), so an interrupted run resumes where it stopped:
values already under the newest key are skipped. Values in the former ``v1:`` format are read once by
:mod:`app.core.sealing_legacy` and resealed, their lookup digest recomputed under ``DXHUB_LOOKUP_KEY``.
When the report says no value is left under an older key, that key can leave ``DXHUB_SEALING_KEYS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, func, select, update

from app.core.db import Base, Database
from app.core.jobs import JobContext, JobRefused
from app.core.sealing import SealedField, Unreadable, key_id, keyring, sealed_fields
from app.core.sealing_legacy import is_legacy, legacy_unseal
from app.core.tenancy import SYSTEM


@dataclass
class FieldReport:
    name: str
    total: int = 0
    resealed: int = 0
    skipped: int = 0
    unreadable: list[int] = field(default_factory=list)  # ids of rows whose value did not open


def _value(field_: SealedField, stored: Any) -> str | None:
    if field_.json_key:
        return (stored or {}).get(field_.json_key) if isinstance(stored, dict) else None
    return stored


def _open(field_: SealedField, value: str, row: tuple) -> str:
    return legacy_unseal(field_, value) if is_legacy(value) else field_.unseal(value, row=row)


def rotate_field(db: Database, field_: SealedField, *, batch: int = 500,
                 progress: Callable[[str], None] | None = None,
                 counted: Callable[[int, int], None] | None = None) -> FieldReport:
    table = Base.metadata.tables[field_.table]
    column = table.c[field_.column]
    newest = keyring().newest
    report = FieldReport(field_.name)
    with db.unit_of_work(principal=SYSTEM) as s:  # every tenant's rows (row-level security)
        report.total = s.execute(select(func.count()).select_from(table).where(column.is_not(None))).scalar_one()
    last_id = 0
    while True:
        with db.unit_of_work(principal=SYSTEM) as s:
            rows = s.execute(select(table.c.id, column, *(table.c[c] for c in field_.row_key))
                             .where(table.c.id > last_id, column.is_not(None)).order_by(table.c.id).limit(batch)
                             .with_for_update()).all()
            if not rows:
                return report
            updates = []
            for row in rows:
                value = _value(field_, row[1])
                if not value or key_id(value) == newest:
                    report.skipped += 1
                    continue
                named = tuple(row[2:])
                try:
                    plain = _open(field_, value, named)
                except Unreadable:
                    report.unreadable.append(row[0])
                    continue
                sealed = field_.seal(plain, row=named)
                change = {"b_id": row[0], "b_value": {**row[1], field_.json_key: sealed} if field_.json_key else sealed}
                if field_.digest_column:
                    change["b_digest"] = field_.digest(plain)
                updates.append(change)
            if updates:
                values = {field_.column: bindparam("b_value")}
                if field_.digest_column:
                    values[field_.digest_column] = bindparam("b_digest")
                s.execute(update(table).where(table.c.id == bindparam("b_id")).values(values), updates)
            report.resealed += len(updates)
            last_id = rows[-1][0]
        if counted:
            counted(report.resealed + report.skipped + len(report.unreadable), report.total)
        if progress:
            progress(f"{field_.name}: {report.resealed + report.skipped + len(report.unreadable)}/{report.total} "
                     f"(resealed {report.resealed}, already current {report.skipped}, "
                     f"unreadable {len(report.unreadable)})")


def rotate(db: Database, *, batch: int = 500, progress: Callable[[str], None] | None = None,
           fraction: Callable[[float], None] | None = None) -> list[FieldReport]:
    """Reseal every declared field, then record the rotation in the audit trail; the models of every
    installed module must be imported first. ``progress`` receives a line per batch (the CLI prints it),
    ``fraction`` how far the whole run has come (the job's progress bar)."""
    from app.platform import audit

    fields = sealed_fields()
    reports = []
    for i, field_ in enumerate(fields):
        def counted(done: int, total: int, i: int = i) -> None:
            if fraction:
                fraction((i + (done / total if total else 1.0)) / len(fields))

        reports.append(rotate_field(db, field_, batch=batch, progress=progress, counted=counted))
    with db.unit_of_work(principal=SYSTEM) as session:
        audit.record(session, action="rotate_keys", object_type="sealing", object_id=keyring().newest,
                     municipality_id=None, after={r.name: {"resealed": r.resealed, "current": r.skipped,
                                                           "unreadable": len(r.unreadable)} for r in reports})
    return reports


ROTATE = "core.keys.rotate"


def run_job(ctx: JobContext) -> dict[str, Any]:
    """``core.keys.rotate`` in the worker: the same run as ``dxhub keys rotate``, its progress in the job
    table. Resumable, so a retry after a crash skips what is already resealed. Values that do not open
    fail the job with their rows named (keep the older keys until they are dealt with)."""
    reports = rotate(ctx.database, batch=int(ctx.payload.get("batch", 500)),
                     fraction=lambda f: ctx.progress(int(f * 1000), 1000))
    unreadable = {r.name: r.unreadable[:20] for r in reports if r.unreadable}
    if unreadable:
        raise JobRefused(f"values that do not open under the configured keys: {unreadable}")
    return {r.name: {"total": r.total, "resealed": r.resealed, "current": r.skipped} for r in reports}
