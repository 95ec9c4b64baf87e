"""The audit trail, written for every change made through the web or the API, and the access records.

A flush hook records each inserted, updated and deleted ORM object of a session that carries a
principal, with its values before and after, so no route or module can forget to audit. Tables that
take high-volume machine data (telemetry, detections) set ``__audit__ = False`` and audit their batches
with :func:`record` instead. Reads of personal data leave an access record (:func:`record_access`) in a
table of their own. Every entry names where it came from (:mod:`app.core.origin`).

Both tables are hash chains (:mod:`app.platform.auditchain`): each entry is chained when its
transaction commits, under the lock of its chain's head row.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.errors import Forbidden
from app.core.i18n import SEOUL
from app.core.origin import current_origin
from app.core.pagination import PageParams, paginate
from app.core.sealing import SealedField, Unreadable
from app.core.tenancy import Principal, principal_of
from app.platform.auditchain import append
from app.platform.models import AccessLog, AuditLog


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


def _whence() -> dict[str, Any]:
    origin = current_origin()
    return {"occurred_at": utcnow(), "source": origin.source, "origin": origin.detail, "ip": origin.ip,
            "user_agent": origin.user_agent}


def _row(principal: Principal, action: str, obj: Any, before: dict | None, after: dict | None) -> dict:
    municipality_id = getattr(obj, "municipality_id", None)
    if obj.__class__.__tablename__ == "municipality":
        municipality_id = obj.id
    return {
        **_whence(),
        "actor": principal.label[:120],
        "action": action,
        "object_type": obj.__class__.__tablename__,
        "object_id": _object_id(obj),
        "municipality_id": municipality_id,
        "before": before,
        "after": after,
    }


def _audited(obj: Any) -> bool:
    return getattr(obj, "__audit__", True) and not isinstance(obj, AuditLog | AccessLog)


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
        append(session, "audit_log", rows)


def actor(db: Session) -> str:
    """Who acts in ``db``: the principal's label (as the trail records it), for "cancelled by" columns."""
    principal = principal_of(db)
    return (principal.label if principal else "anonymous")[:120]


def record(db: Session, *, action: str, object_type: str, object_id: str, municipality_id: int | None,
           after: dict[str, Any] | None = None, before: dict[str, Any] | None = None) -> None:
    """Audit something the flush hook cannot see, such as a bulk Core insert or a sign-in."""
    append(db, "audit_log", [{
        **_whence(), "actor": actor(db), "action": action, "object_type": object_type,
        "object_id": str(object_id), "municipality_id": municipality_id, "before": _plain(before),
        "after": _plain(after)}])


def record_unreadable(db: Session, *, object_type: str, object_id: str, municipality_id: int | None, field: str,
                      reason: str) -> None:
    """A sealed value that did not open (key removed, value altered or moved): the screen says so, this
    leaves the trace an operator follows up."""
    record(db, action="unseal_failed", object_type=object_type, object_id=object_id,
           municipality_id=municipality_id, after={"field": field, "reason": reason[:200]})


def reveal(db: Session, *, field: SealedField, sealed: str, row: Sequence[object], subject_type: str,
           subject_id: str, municipality_id: int | None, data_subject: str = "",
           detail: dict[str, Any] | None = None) -> str | None:
    """Open a sealed value for a staff member who needs it in full (a refund account, an ICCID).

    Viewers, API keys and the anonymous are refused; each reveal leaves an access record; a value that
    does not open answers None and leaves ``unseal_failed`` in the audit trail."""
    principal = principal_of(db)
    if principal is None or principal.kind != "user" or principal.role == "viewer":
        raise Forbidden("Only staff may reveal a sealed value")
    try:
        value = field.unseal(sealed, row=row)
    except Unreadable as exc:
        record_unreadable(db, object_type=subject_type, object_id=subject_id, municipality_id=municipality_id,
                          field=field.name, reason=str(exc))
        return None
    record_access(db, action="reveal", subject_type=subject_type, subject_id=subject_id,
                  municipality_id=municipality_id, data_subject=data_subject,
                  detail={"field": field.name, **(detail or {})})
    return value


def record_access(db: Session, *, action: str, subject_type: str, subject_id: str, municipality_id: int | None,
                  data_subject: str = "", detail: dict[str, Any] | None = None) -> None:
    """One read of personal data (개인정보의 안전성 확보조치 기준 접속기록): the principal of ``db`` (who),
    now (when), the request, command or job (from where), ``action`` on ``subject_type``/``subject_id``
    (what was done) and ``data_subject`` (whose data, masked: "010-****-5678", "12 callers").

    The one write a GET makes; it goes to ``access_log``, never to the business tables. On SQLite a GET's
    transaction is a deferred reader, which cannot turn writer once another process has written (WAL
    answers SQLITE_BUSY_SNAPSHOT at once); there the record is written by a short transaction of its own
    that takes the write lock up front, committed before the response."""
    rows = [{**_whence(), "actor": actor(db), "action": action, "subject_type": subject_type,
             "subject_id": str(subject_id)[:60], "municipality_id": municipality_id,
             "data_subject": data_subject[:120], "detail": _plain(detail)}]
    if not _deferred_sqlite_reader(db):
        append(db, "access_log", rows)
        return
    with Session(db.get_bind(), expire_on_commit=False) as own:
        own.connection(execution_options={"sqlite_immediate": True})
        append(own, "access_log", rows)
        own.commit()


def _deferred_sqlite_reader(db: Session) -> bool:
    conn = db.connection()
    return conn.dialect.name == "sqlite" and not conn.get_execution_options().get("sqlite_immediate", False)


def list_entries(db: Session, *, page: PageParams, object_type: str | None = None,
                 object_id: str | None = None, municipality_ids: list[int] | None = None,
                 actor: str | None = None, since: datetime | None = None, until: datetime | None = None
                 ) -> tuple[list[AuditLog], int]:
    stmt = select(AuditLog).order_by(AuditLog.id.desc())
    if actor:
        stmt = stmt.where(AuditLog.actor == actor)
    if since is not None:
        stmt = stmt.where(AuditLog.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(AuditLog.occurred_at < until)
    if object_type:
        stmt = stmt.where(AuditLog.object_type == object_type)
    if object_id:
        stmt = stmt.where(AuditLog.object_id == object_id)
    if municipality_ids is not None:
        stmt = stmt.where(AuditLog.municipality_id.in_(municipality_ids))
    return paginate(db, stmt, page)


def list_access(db: Session, *, page: PageParams, subject_type: str | None = None) -> tuple[list[AccessLog], int]:
    stmt = select(AccessLog).order_by(AccessLog.id.desc())
    if subject_type:
        stmt = stmt.where(AccessLog.subject_type == subject_type)
    return paginate(db, stmt, page)


ACCESS_EXPORT_HEADER = ("id", "occurred_at_kst", "actor", "action", "subject_type", "subject_id", "data_subject",
                        "municipality_id", "source", "origin", "ip", "user_agent", "detail", "entry_hash")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The first instant of ``YYYY-MM`` in Seoul and of the month after, in UTC; ValueError if malformed."""
    year, _, mon = month.partition("-")
    if not (len(year) == 4 and len(mon) == 2 and year.isdigit() and mon.isdigit() and 1 <= int(mon) <= 12):
        raise ValueError(f"month {month!r}: write it as YYYY-MM, e.g. 2026-11")
    start = datetime(int(year), int(mon), 1, tzinfo=SEOUL)
    end = datetime(int(year) + int(mon) // 12, int(mon) % 12 + 1, 1, tzinfo=SEOUL)
    return start.astimezone(UTC), end.astimezone(UTC)


def access_export_rows(db: Session, *, month: str) -> Iterator[tuple[Any, ...]]:
    """The month's access records (Seoul calendar), oldest first, as rows of :data:`ACCESS_EXPORT_HEADER`."""
    start, end = month_bounds(month)
    stmt = (select(AccessLog).where(AccessLog.occurred_at >= start, AccessLog.occurred_at < end)
            .order_by(AccessLog.occurred_at, AccessLog.id).execution_options(yield_per=1000))
    for r in db.scalars(stmt):
        yield (r.id, r.occurred_at.astimezone(SEOUL).strftime("%Y-%m-%d %H:%M:%S"), r.actor, r.action,
               r.subject_type, r.subject_id, r.data_subject, r.municipality_id, r.source, r.origin, r.ip,
               r.user_agent, json.dumps(r.detail, ensure_ascii=False) if r.detail else "", r.entry_hash)
