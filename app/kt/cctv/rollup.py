"""The daily incident rollup (``kt_cctv_incident_daily``) and the one aggregate that fills it.

Whatever writes incidents (the event ingestion, the workflow, the demo) names the cameras and days it
touched; their rollup rows are recomputed from the incidents of those days, so a row is always exactly
what an aggregate of its incidents would say. The statistics read whole days from the rollup and only
the partial first and last day of a range from the incidents themselves (same aggregate).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, or_, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.core.i18n import SEOUL
from app.core.tenancy import within_reach
from app.kt.cctv.models import CctvIncident, CctvIncidentDaily

# Upper edges (seconds) of the buckets that times to acknowledge and to resolve are counted in; a last
# bucket takes everything longer. Medians are interpolated within their bucket.
BUCKET_EDGES_S = (30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600)
_LOCK_CLASS = 0x43435456  # "CCTV": the class of the PostgreSQL advisory locks, one per camera

Executor = Session | Connection


def seoul_day(t: datetime) -> date:
    return t.astimezone(SEOUL).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=SEOUL)
    return start, start + timedelta(days=1)


def _is_sqlite(db: Executor) -> bool:
    bind = db.get_bind() if isinstance(db, Session) else db
    return bind.dialect.name == "sqlite"


def _seconds(db: Executor, later, earlier):
    if _is_sqlite(db):
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


def _bucket_sums(secs, known) -> list[Any]:
    sums, lower = [], None
    for edge in (*BUCKET_EDGES_S, None):
        cond = [known]
        if lower is not None:
            cond.append(secs > lower)
        if edge is not None:
            cond.append(secs <= edge)
        sums.append(func.sum(case((and_(*cond), 1), else_=0)))
        lower = edge
    return sums


def aggregate(db: Executor, *where) -> list[dict[str, Any]]:
    """Rollup rows (one per camera, type and Seoul day) computed from the incidents matching ``where``.
    Through a session, the caller's tenant scope applies."""
    inc = CctvIncident
    day = (func.date(inc.started_at, "+9 hours") if _is_sqlite(db)  # Korea keeps +09:00 all year
           else func.to_char(func.timezone("Asia/Seoul", inc.started_at), "YYYY-MM-DD"))
    ack_known = inc.acknowledged_at.is_not(None)
    res_known = and_(inc.status == "resolved", inc.closed_at.is_not(None))
    ack_s = func.max(_seconds(db, inc.acknowledged_at, inc.opened_at), 0.0) if _is_sqlite(db) else \
        func.greatest(_seconds(db, inc.acknowledged_at, inc.opened_at), 0.0)
    res_s = func.max(_seconds(db, inc.closed_at, inc.opened_at), 0.0) if _is_sqlite(db) else \
        func.greatest(_seconds(db, inc.closed_at, inc.opened_at), 0.0)
    n = len(BUCKET_EDGES_S) + 1
    stmt = select(
        inc.municipality_id, inc.camera_id, inc.type, day, func.count(),
        func.sum(case((inc.status.in_(("resolved", "false_alarm")), 1), else_=0)),
        func.sum(case((inc.status == "false_alarm", 1), else_=0)),
        func.sum(case((ack_known, 1), else_=0)), func.sum(case((ack_known, ack_s), else_=0.0)),
        *_bucket_sums(ack_s, ack_known),
        func.sum(case((res_known, 1), else_=0)), func.sum(case((res_known, res_s), else_=0.0)),
        *_bucket_sums(res_s, res_known),
    ).where(*where).group_by(inc.municipality_id, inc.camera_id, inc.type, day)
    rows = []
    for r in db.execute(stmt):
        v = [0 if x is None else x for x in r]
        res = 9 + n
        row = {"municipality_id": v[0], "camera_id": v[1], "type": v[2], "day_date": date.fromisoformat(str(v[3])),
               "incidents": int(v[4]), "closed": int(v[5]), "false_alarms": int(v[6]), "acknowledged": int(v[7]),
               "ack_s_sum": float(v[8]), "resolved": int(v[res]), "resolve_s_sum": float(v[res + 1])}
        row.update({f"ack_b{i}": int(v[9 + i]) for i in range(n)})
        row.update({f"res_b{i}": int(v[res + 2 + i]) for i in range(n)})
        rows.append(row)
    return rows


def refresh(db: Executor, touched: Iterable[tuple[int, datetime]]) -> None:
    """Recompute the rollup rows of the cameras and days touched: ``(camera_id, a started_at)`` pairs.
    On PostgreSQL one advisory lock per camera (in camera order) serialises concurrent writers, and
    each statement then sees the incidents the others committed."""
    by_day: dict[date, set[int]] = {}
    for camera_id, started_at in touched:
        by_day.setdefault(seoul_day(started_at), set()).add(camera_id)
    if not by_day:
        return
    if not _is_sqlite(db):
        for camera_id in sorted(set().union(*by_day.values())):
            db.execute(text("SELECT pg_advisory_xact_lock(:cls, :obj)"), {"cls": _LOCK_CLASS, "obj": camera_id})
    daily = CctvIncidentDaily.__table__
    within = within_reach(db, daily)
    for day, cameras in sorted(by_day.items()):
        start, end = day_bounds(day)
        db.execute(delete(daily).where(daily.c.day_date == day, daily.c.camera_id.in_(cameras), within))
        rows = aggregate(db, CctvIncident.camera_id.in_(cameras), CctvIncident.started_at >= start,
                         CctvIncident.started_at < end)
        if rows:
            db.execute(insert(daily), rows)


def rebuild(db: Executor) -> int:
    """Recompute the whole rollup (after a bulk load, or to repair); returns the rows written."""
    daily = CctvIncidentDaily.__table__
    db.execute(delete(daily).where(within_reach(db, daily)))
    rows = aggregate(db)
    if rows:
        db.execute(insert(daily), rows)
    return len(rows)


def median_from_buckets(counts: list[int]) -> float | None:
    """The median interpolated within its bucket (the last, open bucket answers its lower edge)."""
    total = sum(counts)
    if not total:
        return None
    half, seen, lower = total / 2, 0, 0.0
    for edge, count in zip((*BUCKET_EDGES_S, None), counts, strict=True):
        if count and seen + count >= half:
            if edge is None:
                return lower
            return lower + (edge - lower) * (half - seen) / count
        seen += count
        lower = float(edge) if edge is not None else lower
    return lower


SUMMED = ("incidents", "closed", "false_alarms", "acknowledged", "ack_s_sum", "resolved", "resolve_s_sum",
          *(f"ack_b{i}" for i in range(len(BUCKET_EDGES_S) + 1)),
          *(f"res_b{i}" for i in range(len(BUCKET_EDGES_S) + 1)))


def read(db: Session, *, since: datetime, until: datetime, by: tuple[str, ...]) -> list[dict[str, Any]]:
    """Sums of the rollup's figures over incidents started in [since, until), grouped by ``by`` (names of
    ``day_date``, ``camera_id``, ``type``): whole Seoul days summed by SQL from the rollup, the partial
    days at either end (if any) aggregated from their incidents and added."""
    first_day = seoul_day(since)
    first_full = first_day if day_bounds(first_day)[0] == since else first_day + timedelta(days=1)
    end_full = seoul_day(until)  # the days before this one end by ``until``
    inc, d = CctvIncident, CctvIncidentDaily
    partial: list[Any] = []
    if first_full >= end_full:  # no whole day inside: all from the incidents
        partial = [and_(inc.started_at >= since, inc.started_at < until)]
        groups: dict[tuple, dict[str, Any]] = {}
    else:
        full_start, full_end = day_bounds(first_full)[0], day_bounds(end_full)[0]
        if since < full_start:
            partial.append(and_(inc.started_at >= since, inc.started_at < full_start))
        if full_end < until:
            partial.append(and_(inc.started_at >= full_end, inc.started_at < until))
        keys = [getattr(d, k) for k in by]  # mapped attributes: the caller's tenant scope applies
        stmt = select(*keys, *(func.sum(getattr(d, c)) for c in SUMMED)).where(
            d.day_date >= first_full, d.day_date < end_full).group_by(*keys)
        groups = {tuple(r[:len(by)]): dict(zip(SUMMED, r[len(by):], strict=True)) for r in db.execute(stmt)}
    if partial:
        for row in aggregate(db, or_(*partial)):
            acc = groups.setdefault(tuple(row[k] for k in by), dict.fromkeys(SUMMED, 0))
            for c in SUMMED:
                acc[c] += row[c]
    return [{**dict(zip(by, key, strict=True)), **{c: v or 0 for c, v in values.items()}}
            for key, values in groups.items()]
