"""The audit trail, written for every change made through the web or the API.

A flush hook records each inserted, updated and deleted ORM object of a session that carries a
principal, with its values before and after, so no route or module can forget to audit. Tables that
take high-volume machine data (telemetry, detections) set ``__audit__ = False`` and audit their batches
with :func:`record` instead.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event, insert, inspect, select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.pagination import PageParams, paginate
from app.core.tenancy import Principal, principal_of
from app.platform.models import AuditLog


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _columns(obj: Any) -> list[str]:
    excluded = set(getattr(obj, "__audit_exclude__", ()))
    return [attr.key for attr in inspect(obj).mapper.column_attrs if attr.key not in excluded]


def _collection_keys(obj: Any, key: str, *, before: bool) -> list[str]:
    """A related collection (``__audit_collections__``) as the sorted codes of its members."""
    hist = inspect(obj).attrs[key].history
    members = list(hist.unchanged or ()) + list((hist.deleted if before else hist.added) or ())
    if not hist.has_changes():
        members = list(getattr(obj, key))
    return sorted(str(getattr(m, "code", m)) for m in members)


def _snapshot(obj: Any, *, before: bool) -> dict[str, Any]:
    state = inspect(obj)
    values = {}
    for key in getattr(obj, "__audit_collections__", ()):
        values[key] = _collection_keys(obj, key, before=before)
    for key in _columns(obj):
        if before:
            hist = state.attrs[key].history
            if hist.deleted:
                values[key] = _plain(hist.deleted[0])
            elif hist.unchanged:
                values[key] = _plain(hist.unchanged[0])
            else:
                values[key] = _plain(state.attrs[key].value)
        else:
            values[key] = _plain(state.attrs[key].value)
    return values


def _object_id(obj: Any) -> str:
    # The identity key is not set yet inside after_flush; the primary key values are.
    values = inspect(obj).mapper.primary_key_from_instance(obj)
    return ",".join(str(v) for v in values)


def _row(principal: Principal, action: str, obj: Any, before: dict | None, after: dict | None) -> dict:
    municipality_id = getattr(obj, "municipality_id", None)
    if obj.__class__.__tablename__ == "municipality":
        municipality_id = obj.id
    return {
        "occurred_at": utcnow(),
        "actor": principal.label[:120],
        "action": action,
        "object_type": obj.__class__.__tablename__,
        "object_id": _object_id(obj),
        "municipality_id": municipality_id,
        "before": before,
        "after": after,
    }


def _audited(obj: Any) -> bool:
    return getattr(obj, "__audit__", True) and not isinstance(obj, AuditLog)


@event.listens_for(Session, "before_flush")
def _capture_before(session: Session, _ctx, _instances) -> None:
    if principal_of(session) is None:
        return
    pending = session.info.setdefault("audit_before", {})
    for obj in session.dirty:
        collections = bool(getattr(obj, "__audit_collections__", ()))
        if _audited(obj) and session.is_modified(obj, include_collections=collections):
            pending[id(obj)] = _snapshot(obj, before=True)
    for obj in session.deleted:
        if _audited(obj):
            pending[id(obj)] = _snapshot(obj, before=True)


@event.listens_for(Session, "after_flush")
def _write_trail(session: Session, _ctx) -> None:
    principal = principal_of(session)
    if principal is None:
        return
    before = session.info.pop("audit_before", {})
    rows = []
    for obj in session.new:
        if _audited(obj):
            rows.append(_row(principal, "create", obj, None, _snapshot(obj, before=False)))
    for obj in session.dirty:
        if id(obj) in before:
            old, new = before[id(obj)], _snapshot(obj, before=False)
            changed = {k for k in new if old.get(k) != new[k]}
            if changed:
                rows.append(_row(principal, "update", obj, {k: old.get(k) for k in changed},
                                 {k: new[k] for k in changed}))
    for obj in session.deleted:
        if _audited(obj):
            rows.append(_row(principal, "delete", obj, before.get(id(obj)), None))
    if rows:
        session.connection().execute(insert(AuditLog.__table__), rows)


def record(db: Session, *, action: str, object_type: str, object_id: str, municipality_id: int | None,
           after: dict[str, Any] | None = None, before: dict[str, Any] | None = None) -> None:
    """Audit something the flush hook cannot see, such as a bulk Core insert or a sign-in."""
    principal = principal_of(db)
    actor = principal.label if principal else "anonymous"
    db.execute(insert(AuditLog.__table__).values(
        occurred_at=utcnow(), actor=actor[:120], action=action, object_type=object_type,
        object_id=str(object_id), municipality_id=municipality_id, before=_plain(before), after=_plain(after)))


def list_entries(db: Session, *, page: PageParams, object_type: str | None = None,
                 object_id: str | None = None, municipality_ids: list[int] | None = None
                 ) -> tuple[list[AuditLog], int]:
    stmt = select(AuditLog).order_by(AuditLog.id.desc())
    if object_type:
        stmt = stmt.where(AuditLog.object_type == object_type)
    if object_id:
        stmt = stmt.where(AuditLog.object_id == object_id)
    if municipality_ids is not None:
        stmt = stmt.where(AuditLog.municipality_id.in_(municipality_ids))
    return paginate(db, stmt, page)


def purge_older_than(db: Session, *, cutoff: datetime) -> int:
    """Delete audit entries older than ``cutoff`` (the retention setting's duty); returns how many."""
    return db.execute(AuditLog.__table__.delete().where(AuditLog.occurred_at < cutoff)).rowcount or 0
