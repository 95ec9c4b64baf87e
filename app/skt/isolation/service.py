"""Rules of the isolation analytics: dong registry, indicator import with rollups, and the analyses.

Plain functions with keyword-only arguments. The caller's session carries the principal, so every ORM
read is already scoped to the municipalities the caller reaches; an unknown dong and another
municipality's dong look the same. Every analysis reads the rollups, never the raw cells, and every
figure passes through :func:`app.core.privacy.suppress` before it leaves this module.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Select, bindparam, case, delete, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core import agebands
from app.core.bulk import insert_rows
from app.core.db import utcnow
from app.core.errors import Conflict, InvalidInput, NotFound, field_error
from app.core.i18n import today_seoul
from app.core.lookup import one_or_404
from app.core.pagination import PageParams, paginate
from app.core.privacy import Cell, people_behind, suffix_differences_unsafe, suppress
from app.core.tenancy import principal_of, within_reach
from app.platform import audit
from app.platform import service as platform_service
from app.skt.isolation.models import (
    AGE_BANDS,
    COUNTS,
    INCOME_BANDS,
    MEANS,
    SEXES,
    SUMS,
    IsoBandRollup,
    IsoCell,
    IsoDefinition,
    IsoDong,
    IsoDongRollup,
    IsoEducationSession,
)
from app.skt.isolation.schemas import CellRow, DefinitionIn, DongIn, EducationSessionIn, EducationSessionUpdate

if TYPE_CHECKING:
    import numpy as np

MAX_BATCH = 100_000
MAX_DONG_BATCH = 5_000
ROLLUP_LOCK_SPACE = 4812  # pg_advisory_xact_lock(space, municipality id) while rollups are rebuilt
CHUNK = 5_000
DEFAULT_UPTAKE = 0.3
Z95 = 1.959963984540054

# The default definition of isolation (until a municipality records its own): the counts arrive computed in
# the operator's secure zone with these floors.
DEFINITION = {
    "source": "SKT · Statistics Korea · Changwon City (Changwon Future Forum)",
    "low_communication": "Fewer than 10 voice calls and messenger sessions a month with fewer than 3 distinct "
                         "partners (bottom decile of all adults)",
    "low_outing": "Fewer than 4 outings a month beyond 500 m of home, more than 20 hours a day at home",
    "isolated": "Under both floors in the same month",
    "unit": "Aggregated cells of a 행정동 x age band x sex x income band; the platform never receives people",
}

_cells_adapter = TypeAdapter(list[CellRow])
_cell_adapter = TypeAdapter(CellRow)
_dong_adapter = TypeAdapter(DongIn)


# --- helpers ---------------------------------------------------------------------------------

def bands_from(min_age: int) -> list[str]:
    """Age bands whose lower bound is at least ``min_age`` (65 -> 65-69, 70-74, 75-79, 80+)."""
    return agebands.from_age(AGE_BANDS, min_age)


def previous_period(period: str) -> str:
    year, month = int(period[:4]), int(period[5:7])
    return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"


def wilson_interval(successes: int, n: int, *, z: float = Z95) -> tuple[float | None, float | None]:
    """The Wilson score interval of a proportion (95% by default)."""
    if n <= 0:
        return None, None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _suppressed(rows: list[dict[str, Any]], *, k: int, people: Sequence[float], dims: Sequence[str],
                margins: Iterable[Sequence[str]], counts: Sequence[str] = (), start: int = 0,
                published: Sequence[str] | None = None) -> list[bool]:
    """Primary and complementary suppression of ``rows``. With ``counts`` the rows are sums over the age
    bands from ``start`` on, chosen by the caller (``parts``: figures per age band): a row is also hidden
    when another choice of age would reveal, by subtraction, a group of fewer than k people.
    ``published`` names the people counts each row shows (default: the population and ``counts``); the
    hidden rows of a total must rest together on at least k people in each of them."""
    import numpy as np
    names = ("population", *counts) if published is None else tuple(published)
    cells = [Cell(keys={d: row.get(d) for d in dims}, people=float(p),
                  counts=tuple(float(row.get(n) or 0) for n in names))
             for row, p in zip(rows, people, strict=True)]
    if counts and rows:
        cols = [FIELD_INDEX[c] for c in ("population", *counts)]
        stacked = np.stack([row["parts"][:, cols] for row in rows])
        for cell, unsafe in zip(cells, suffix_differences_unsafe(stacked, start, k=k), strict=True):
            if unsafe:
                cell.suppressed, cell.reason = True, "difference"
    suppress(cells, k=k, margins=margins)
    return [c.suppressed for c in cells]


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def _sum_columns(model: Any) -> list[Any]:
    return [func.sum(model.population).label("population")] + [
        func.sum(getattr(model, c)).label(c) for c in COUNTS] + [
        func.sum(getattr(model, s)).label(s) for s in SUMS]


def _as_int(value: Any) -> int:
    return int(value or 0)


# --- dongs -----------------------------------------------------------------------------------

def get_dong(db: Session, *, code: str) -> IsoDong:
    found = db.scalar(select(IsoDong).where(IsoDong.code == code))
    if found is None:
        raise NotFound("Dong {code} not found", code=code)
    return found


def dong_query(*, q: str | None = None, district: str | None = None) -> Select[Any]:
    stmt = select(IsoDong).order_by(IsoDong.code)
    if q:
        stmt = stmt.where(IsoDong.name.ilike(f"%{q}%") | IsoDong.code.like(f"{q}%"))
    if district:
        stmt = stmt.where(IsoDong.district == district)
    return stmt


def list_dongs(db: Session, *, page: PageParams, q: str | None = None, district: str | None = None
               ) -> tuple[list[IsoDong], int]:
    return paginate(db, dong_query(q=q, district=district), page)



def _taken(db: Session, codes: set[str]) -> set[str]:
    """Codes registered anywhere (the 행정동 code is national), read past the tenant scope."""
    if not codes:
        return set()
    return set(db.scalars(select(IsoDong.code).where(IsoDong.code.in_(codes))
                          .execution_options(skip_tenant_scope=True)))


def create_dong(db: Session, *, data: DongIn) -> IsoDong:
    mid = platform_service.target_municipality_id(db, code=data.municipality_code)
    if _taken(db, {data.code}):
        raise Conflict("Dong code {code} is already registered", code=data.code)
    dong = IsoDong(municipality_id=mid, code=data.code, name=data.name, district=data.district)
    db.add(dong)
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError as exc:
        raise Conflict("Dong code {code} is already registered", code=data.code) from exc
    return dong


def import_dongs(db: Session, *, rows: list[Any]) -> dict[str, int]:
    """Create or rename dongs by code; a bad row refuses the whole batch."""
    if not rows:
        raise InvalidInput.field("rows", "The batch is empty")
    if len(rows) > MAX_DONG_BATCH:
        raise InvalidInput.field("rows", "At most {n} rows per batch", n=MAX_DONG_BATCH)
    parsed: list[DongIn | None] = []
    errors: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        try:
            parsed.append(_dong_adapter.validate_python(row))
        except ValidationError as exc:
            parsed.append(None)
            errors += _row_errors(exc, i)
    munis = {p.municipality_code for p in parsed if p and p.municipality_code}
    from app.platform.models import Municipality

    known = dict(db.execute(select(Municipality.code, Municipality.id).where(Municipality.code.in_(munis))).all())
    principal = principal_of(db)
    default = principal.municipality_id if principal else None
    mine = {d.code: d for d in db.scalars(select(IsoDong).where(IsoDong.code.in_({p.code for p in parsed if p})))}
    taken = _taken(db, {p.code for p in parsed if p}) - set(mine)
    seen: dict[str, int] = {}
    targets: list[int | None] = []
    for i, p in enumerate(parsed):
        if p is None:
            targets.append(None)
            continue
        mid = known.get(p.municipality_code) if p.municipality_code else default
        if mid is None:
            errors.append(field_error(["rows", i, "municipality_code"], "Unknown municipality code {code}",
                                      code=p.municipality_code or ""))
        if p.code in taken:
            errors.append(field_error(["rows", i, "code"], "Dong code {code} is already registered", code=p.code))
        if p.code in seen:
            errors.append(field_error(["rows", i, "code"], "Duplicate of row {j} in this batch", j=seen[p.code]))
        seen.setdefault(p.code, i)
        targets.append(mid)
    _refuse(errors)
    created = updated = 0
    now = utcnow()
    new_rows = []
    for p, mid in zip(parsed, targets, strict=True):
        assert p is not None and mid is not None
        found = mine.get(p.code)
        if found is None:
            new_rows.append({"municipality_id": mid, "code": p.code, "name": p.name, "district": p.district,
                             "created_at": now})
        elif (found.name, found.district) != (p.name, p.district):
            found.name, found.district = p.name, p.district
            updated += 1
    if new_rows:
        insert_rows(db, IsoDong.__table__, new_rows)
        created = len(new_rows)
    db.flush()
    result = {"received": len(parsed), "created": created, "updated": updated,
              "unchanged": len(parsed) - created - updated}
    audit.record(db, action="import", object_type="iso_dong", object_id="batch", municipality_id=default,
                 after=result)
    return result


# --- digital-education sessions held ----------------------------------------------------------

def education_session_query(*, dong_code: str | None = None, since: date | None = None,
                            until: date | None = None) -> Select[Any]:
    stmt = select(IsoEducationSession).order_by(IsoEducationSession.held_date.desc(), IsoEducationSession.id.desc())
    if dong_code:
        stmt = stmt.where(IsoEducationSession.dong.has(IsoDong.code == dong_code))
    if since:
        stmt = stmt.where(IsoEducationSession.held_date >= since)
    if until:
        stmt = stmt.where(IsoEducationSession.held_date <= until)
    return stmt


def list_education_sessions(db: Session, *, page: PageParams, dong_code: str | None = None,
                            since: date | None = None, until: date | None = None
                            ) -> tuple[list[IsoEducationSession], int]:
    """Sessions held in the caller's municipalities, newest first."""
    return paginate(db, education_session_query(dong_code=dong_code, since=since, until=until), page)


def get_education_session(db: Session, *, session_id: int) -> IsoEducationSession:
    return one_or_404(db, IsoEducationSession, session_id, "Education session {id} not found")


def _session_dong(db: Session, code: str) -> IsoDong:
    dong = db.scalar(select(IsoDong).where(IsoDong.code == code))
    if dong is None:
        raise InvalidInput.field("dong_code", "Dong {code} is not one of the municipality's dongs", code=code)
    return dong


def _check_session(row: IsoEducationSession) -> None:
    """The rules of a session as recorded or changed: held by today, not fewer in all than aged 65+."""
    if row.held_date > today_seoul():
        raise InvalidInput.field("held_date", "A session is recorded once it has been held")
    if row.attendees_total < row.attendees_65plus:
        raise InvalidInput.field("attendees_total", "The attendees in all cannot be fewer than those aged 65 and over")


def _place_in(row: IsoEducationSession, dong: IsoDong) -> None:
    """The session held in ``dong``: it belongs to the dong's municipality."""
    row.dong, row.dong_id, row.municipality_id = dong, dong.id, dong.municipality_id


def record_education_session(db: Session, *, data: EducationSessionIn) -> IsoEducationSession:
    """Record a session held in one of the caller's dongs; it belongs to the dong's municipality."""
    dong = _session_dong(db, data.dong_code)
    row = IsoEducationSession(**data.model_dump(exclude={"dong_code"}))
    _place_in(row, dong)
    _check_session(row)
    db.add(row)
    db.flush()
    return row


def update_education_session(db: Session, *, row: IsoEducationSession,
                             data: EducationSessionUpdate) -> IsoEducationSession:
    """Change the fields given (a session moved to another of the caller's dongs belongs to that dong's
    municipality); the changed session keeps the rules of a recorded one."""
    changes = data.model_dump(exclude_unset=True)
    with db.no_autoflush:
        if "dong_code" in changes:
            _place_in(row, _session_dong(db, changes.pop("dong_code")))
        for key, value in changes.items():
            setattr(row, key, value)
        _check_session(row)
    db.flush()
    return row


def delete_education_session(db: Session, *, row: IsoEducationSession) -> None:
    db.delete(row)
    db.flush()


def _attendance_statement(since: date, until: date) -> Select[Any]:
    s = IsoEducationSession
    return select(func.count(s.id), func.coalesce(func.sum(s.attendees_65plus), 0),
                  func.coalesce(func.sum(s.attendees_total), 0)).where(s.held_date.between(since, until))


def education_attendance(db: Session, *, since: date, until: date) -> dict[str, Any]:
    """Sessions held between ``since`` and ``until`` (both included) in the caller's municipalities: the totals
    and, per dong code, the sessions and attendees (65+ and in all)."""
    sessions, older, total = db.execute(_attendance_statement(since, until)).one()
    rows = db.execute(_attendance_statement(since, until).add_columns(IsoDong.code, IsoDong.name)
                      .join(IsoDong, IsoDong.id == IsoEducationSession.dong_id)
                      .group_by(IsoDong.code, IsoDong.name)).all()
    return {"since": since, "until": until, "sessions": int(sessions), "attendees_65plus": int(older),
            "attendees_total": int(total),
            "by_dong": {r[3]: {"dong_name": r[4], "sessions": int(r[0]), "attendees_65plus": int(r[1]),
                               "attendees_total": int(r[2])} for r in rows}}


def education_attendees(db: Session, *, since: date, until: date) -> int | None:
    """People aged 65+ at the sessions held between ``since`` and ``until`` in the caller's municipalities; None
    when they have recorded no session at all (nothing to measure rather than nobody came)."""
    if db.scalar(select(IsoEducationSession.id).limit(1)) is None:
        return None
    return education_attendance(db, since=since, until=until)["attendees_65plus"]


# --- definitions of isolation ------------------------------------------------------------------

def list_definitions(db: Session, *, page: PageParams) -> tuple[list[IsoDefinition], int]:
    stmt = select(IsoDefinition).order_by(IsoDefinition.effective_from.desc(), IsoDefinition.id.desc())
    return paginate(db, stmt, page)


def create_definition(db: Session, *, data: DefinitionIn) -> IsoDefinition:
    mid = platform_service.target_municipality_id(db, code=data.municipality_code)
    found = db.scalar(select(IsoDefinition).where(IsoDefinition.municipality_id == mid,
                                                   IsoDefinition.effective_from == data.effective_from))
    if found is not None:
        raise Conflict("A definition from {period} already exists", period=data.effective_from)
    definition = IsoDefinition(municipality_id=mid, **data.model_dump(exclude={"municipality_code"}))
    db.add(definition)
    db.flush()
    return definition


def definition_in_force(db: Session, *, period: str | None) -> dict[str, Any]:
    """The newest definition recorded from ``period`` or earlier (any month if None), else the default."""
    stmt = select(IsoDefinition).order_by(IsoDefinition.effective_from.desc(), IsoDefinition.id.desc()).limit(1)
    if period:
        stmt = stmt.where(IsoDefinition.effective_from <= period)
    found = db.scalar(stmt)
    if found is None:
        return {**DEFINITION, "effective_from": None, "custom": False}
    return {"effective_from": found.effective_from, "low_communication": found.low_communication,
            "low_outing": found.low_outing, "isolated": found.isolated, "source": found.source,
            "unit": DEFINITION["unit"], "custom": True}


# --- indicator import ------------------------------------------------------------------------

def _row_errors(exc: ValidationError, index: int) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        msg = str(err["msg"]).removeprefix("Value error, ")
        item = {"loc": ["rows", index, *err["loc"]], "msg": msg, "type": err["type"], "template": msg, "params": {}}
        if err.get("ctx"):
            item["ctx"] = {k: (v if isinstance(v, int | float | str | bool) else str(v)) for k, v in err["ctx"].items()}
        out.append(item)
    return out


def _refuse(errors: list[dict[str, Any]]) -> None:
    if errors:
        errors.sort(key=lambda e: (e["loc"][1] if len(e["loc"]) > 1 and isinstance(e["loc"][1], int) else -1))
        bad = len({e["loc"][1] for e in errors if len(e["loc"]) > 1})
        raise InvalidInput("{n} row is invalid; nothing was saved",
                           plural="{n} rows are invalid; nothing was saved", n=bad, errors=errors)


def validate_cells(rows: list[Any]) -> tuple[list[dict[str, Any] | None], list[dict[str, Any]]]:
    """Validate every row (schema, then the count rules); errors name ``["rows", i, field]``."""
    if not rows:
        raise InvalidInput.field("rows", "The batch is empty")
    if len(rows) > MAX_BATCH:
        raise InvalidInput.field("rows", "At most {n} rows per batch", n=MAX_BATCH)
    errors: list[dict[str, Any]] = []
    try:
        parsed: list[dict[str, Any] | None] = list(_cells_adapter.validate_python(rows))
    except ValidationError:
        parsed = []
        for i, row in enumerate(rows):
            try:
                parsed.append(_cell_adapter.validate_python(row))
            except ValidationError as exc:
                parsed.append(None)
                errors += _row_errors(exc, i)
    for i, p in enumerate(parsed):
        if p is None:
            continue
        pop, low_comm, low_out = p["population"], p["low_communication"], p["low_outing"]
        if low_comm > pop or low_out > pop:
            for name in ("low_communication", "low_outing"):
                if p[name] > pop:
                    errors.append(field_error(["rows", i, name], "Must not exceed the population ({n})", n=pop))
        if p["isolated"] > min(low_comm, low_out):
            errors.append(field_error(["rows", i, "isolated"],
                                      "Isolated people are under both floors: at most low_communication and "
                                      "low_outing ({n})", n=min(low_comm, low_out)))
    return parsed, errors


_KEY = ("dong_id", "period", "age_band", "sex", "income_band")
_VALUES = ("population", *COUNTS, *MEANS)
_INSERT_COLUMNS = ("municipality_id", *_KEY, *_VALUES, "imported_at")


def import_cells(db: Session, *, rows: list[Any]) -> dict[str, Any]:
    """Validate a batch of cells and store it whole or not at all; a cell imported again is replaced.

    The rollups of every (dong, period) and (municipality, period) the batch touches are rebuilt in
    the same transaction, so the analyses never see cells without their rollups.
    """
    parsed, errors = validate_cells(rows)
    codes = {p["dong_code"] for p in parsed if p is not None}
    dongs = {code: (did, mid) for code, did, mid in db.execute(
        select(IsoDong.code, IsoDong.id, IsoDong.municipality_id).where(IsoDong.code.in_(codes)))}
    seen: dict[tuple, int] = {}
    for i, p in enumerate(parsed):
        if p is None:
            continue
        if p["dong_code"] not in dongs:
            errors.append(field_error(["rows", i, "dong_code"], "Unknown dong {code}", code=p["dong_code"]))
            continue
        key = (p["dong_code"], p["period"], p["age_band"], p["sex"], p["income_band"])
        if key in seen:
            errors.append(field_error(["rows", i, "period"], "Duplicate of row {j} in this batch", j=seen[key]))
        else:
            seen[key] = i
    _refuse(errors)

    table = IsoCell.__table__
    stamp = utcnow()
    values = []
    for p in parsed:
        assert p is not None
        did, mid = dongs[p["dong_code"]]
        values.append((mid, did, p["period"], p["age_band"], p["sex"], p["income_band"],
                       *[p[c] for c in _VALUES], stamp))
    dong_ids = sorted({v[1] for v in values})
    periods = sorted({v[2] for v in values})
    muni_ids = sorted({v[0] for v in values})

    replaced = 0
    within = within_reach(db, table)
    if db.scalar(select(func.count()).select_from(table).where(
            table.c.dong_id.in_(dong_ids), table.c.period.in_(periods), within)):
        have = {tuple(r) for r in db.execute(select(*[table.c[c] for c in _KEY])
                                             .where(table.c.dong_id.in_(dong_ids), table.c.period.in_(periods),
                                                    within))}
        replaced = sum(1 for v in values if v[1:6] in have)
    for start in range(0, len(values), CHUNK):
        insert_rows(db, table, [dict(zip(_INSERT_COLUMNS, v, strict=True)) for v in values[start:start + CHUNK]],
                    conflict=_KEY, set_on_conflict=(*_VALUES, "imported_at"))
    refresh_rollups(db, municipality_ids=muni_ids, dong_ids=dong_ids, periods=periods)
    result = {"received": len(values), "created": len(values) - replaced, "replaced": replaced,
              "periods": periods, "dongs": len(dong_ids)}
    principal = principal_of(db)
    audit.record(db, action="import", object_type="iso_cell", object_id="batch",
                 municipality_id=principal.municipality_id if principal else None,
                 after={**{k: v for k, v in result.items() if k != "periods"},
                        "periods": f"{periods[0]}..{periods[-1]}"})
    return result


def refresh_rollups(db: Session, *, municipality_ids: list[int], dong_ids: list[int], periods: list[str]) -> None:
    """Rebuild both rollups for the given dongs/municipalities and periods from the cells (Core SQL)."""
    if db.get_bind().dialect.name == "postgresql":
        # Imports into the same municipality rebuild the same rollup rows: one at a time (released at commit),
        # so the second one's DELETE sees the first one's rows. SQLite serialises writers by itself.
        for mid in sorted(municipality_ids):
            db.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"), {"space": ROLLUP_LOCK_SPACE, "key": mid})
    cell = IsoCell.__table__
    sums = [func.sum(cell.c.population * cell.c[m]) for m in MEANS]
    counts = [func.sum(cell.c[c]) for c in COUNTS]

    dong_roll = IsoDongRollup.__table__
    db.execute(delete(dong_roll).where(dong_roll.c.dong_id.in_(dong_ids), dong_roll.c.period.in_(periods),
                                       within_reach(db, dong_roll)))
    src = (select(cell.c.municipality_id, cell.c.period, cell.c.dong_id, cell.c.age_band, func.count(),
                  func.sum(cell.c.population), *counts, *sums)
           .where(cell.c.dong_id.in_(dong_ids), cell.c.period.in_(periods), within_reach(db, cell))
           .group_by(cell.c.municipality_id, cell.c.period, cell.c.dong_id, cell.c.age_band))
    db.execute(insert(dong_roll).from_select(
        ["municipality_id", "period", "dong_id", "age_band", "cells", "population", *COUNTS, *SUMS], src))

    band_roll = IsoBandRollup.__table__
    db.execute(delete(band_roll).where(band_roll.c.municipality_id.in_(municipality_ids),
                                       band_roll.c.period.in_(periods), within_reach(db, band_roll)))
    src = (select(cell.c.municipality_id, cell.c.period, cell.c.age_band, cell.c.sex, cell.c.income_band,
                  func.count(), func.sum(cell.c.population), *counts, *sums)
           .where(cell.c.municipality_id.in_(municipality_ids), cell.c.period.in_(periods), within_reach(db, cell))
           .group_by(cell.c.municipality_id, cell.c.period, cell.c.age_band, cell.c.sex, cell.c.income_band))
    db.execute(insert(band_roll).from_select(
        ["municipality_id", "period", "age_band", "sex", "income_band", "cells", "population", *COUNTS, *SUMS], src))


# --- periods ---------------------------------------------------------------------------------

def periods(db: Session) -> list[str]:
    """Months with data in the caller's municipalities, newest first."""
    return list(db.scalars(select(IsoBandRollup.period).distinct().order_by(IsoBandRollup.period.desc())))


def resolve_period(db: Session, period: str | None) -> str | None:
    if period:
        return period
    return db.scalar(select(func.max(IsoBandRollup.period)))


# --- analyses --------------------------------------------------------------------------------

def _means(row: Any) -> dict[str, float | None]:
    pop = _as_int(row["population"])
    return {m: (float(row[s]) / pop if pop else None) for m, s in zip(MEANS, SUMS, strict=True)}


_FIELDS = ("population", *COUNTS, *SUMS, "reachable")
FIELD_INDEX = {f: i for i, f in enumerate(_FIELDS)}
_STORED = _FIELDS[:-1]  # "reachable" (low_communication - isolated) is derived
_BAND_INDEX = {b: i for i, b in enumerate(AGE_BANDS)}


def _parts() -> np.ndarray:
    import numpy as np
    return np.zeros((len(AGE_BANDS), len(_FIELDS)))


def _put(parts: np.ndarray, band: str, m: Any) -> None:
    """One rollup row's figures into the per-band array (PostgreSQL answers SUM(bigint) as numeric)."""
    row = parts[_BAND_INDEX[band]]
    for i, f in enumerate(_STORED):
        row[i] = float(m[f] or 0)
    row[-1] = max(0.0, row[FIELD_INDEX["low_communication"]] - row[FIELD_INDEX["isolated"]])


def _merge(parts: np.ndarray, bands: Sequence[str], base: dict[str, Any]) -> dict[str, Any]:
    """The figures of ``parts`` summed over ``bands`` (a suffix of the age bands); keeps the parts."""
    start = _BAND_INDEX[bands[0]] if bands else 0
    totals = parts[start:].sum(axis=0)
    row = {**base, "parts": parts, "start": start}
    for i, f in enumerate(_FIELDS):
        row[f] = int(totals[i]) if f in _INTS else float(totals[i])
    return row


_INTS = frozenset(("population", *COUNTS, "reachable"))


def _band_totals(db: Session, *, period: str, group: str, bands: list[str] | None = None) -> list[dict[str, Any]]:
    """Rows of the band rollup summed per ``group`` over ``bands`` (all bands if None)."""
    col = getattr(IsoBandRollup, group)
    stmt = (select(col.label("group"), IsoBandRollup.age_band.label("band"), *_sum_columns(IsoBandRollup))
            .where(IsoBandRollup.period == period).group_by(col, IsoBandRollup.age_band))
    per_group: dict[str, np.ndarray] = {}
    present: dict[str, set[str]] = {}
    for r in db.execute(stmt):
        _put(per_group.setdefault(r.group, _parts()), r.band, r._mapping)
        present.setdefault(r.group, set()).add(r.band)
    wanted = list(bands) if bands is not None else list(AGE_BANDS)
    return [_merge(parts, wanted, {"group": g}) for g, parts in per_group.items() if present[g] & set(wanted)]


def _order(rows: list[dict[str, Any]], order: Sequence[str]) -> list[dict[str, Any]]:
    by = {r["group"]: r for r in rows}
    return [by[g] for g in order if g in by]


def digital_divide(db: Session, *, period: str | None, k: int) -> dict[str, Any]:
    """Each usage mean by age band, and relative to the all-ages mean (1.0 = average)."""
    period = resolve_period(db, period)
    if period is None:
        return {"period": None, "k": k, "total_population": None, "overall": {m: None for m in MEANS}, "items": []}
    rows = _order(_band_totals(db, period=period, group="age_band"), AGE_BANDS)
    total_pop = sum(_as_int(r["population"]) for r in rows)
    overall = {m: (sum(float(r[s]) for r in rows) / total_pop if total_pop else None)
               for m, s in zip(MEANS, SUMS, strict=True)}
    hidden = _suppressed(rows, k=k, people=[_as_int(r["population"]) for r in rows], dims=["group"], margins=[()])
    items = []
    for r, h in zip(rows, hidden, strict=True):
        means = {m: None for m in MEANS} if h else _means(r)
        items.append({"age_band": r["group"], "population": None if h else _as_int(r["population"]),
                      "suppressed": h, "means": means,
                      "relative": {m: _ratio(means[m], overall[m]) for m in MEANS}})
    visible_total = total_pop if total_pop >= k else None
    if visible_total is None:
        overall = {m: None for m in MEANS}
    return {"period": period, "k": k, "total_population": visible_total, "overall": overall, "items": items}


def income_gradient(db: Session, *, period: str | None, min_age: int, k: int) -> dict[str, Any]:
    """Usage, outings and isolation by income band among people ``min_age``+; the gap highest vs lowest."""
    period = resolve_period(db, period)
    empty = {"period": period, "min_age": min_age, "k": k, "items": [], "gap": {m: None for m in MEANS},
             "gap_bands": [None, None]}
    if period is None:
        return empty
    rows = _order(_band_totals(db, period=period, group="income_band", bands=bands_from(min_age)), INCOME_BANDS)
    people = [people_behind(_as_int(r["population"]), _as_int(r["isolated"])) for r in rows]
    hidden = _suppressed(rows, k=k, people=people, dims=["group"], margins=[()], counts=("isolated",),
                         start=_BAND_INDEX[bands_from(min_age)[0]])
    items = []
    for r, h in zip(rows, hidden, strict=True):
        pop = _as_int(r["population"])
        items.append({"income_band": r["group"], "population": None if h else pop, "suppressed": h,
                      "means": {m: None for m in MEANS} if h else _means(r),
                      "isolated_rate": None if h or not pop else _as_int(r["isolated"]) / pop})
    visible = [i for i in items if not i["suppressed"] and i["population"]]
    if len(visible) >= 2:
        low, high = visible[0], visible[-1]
        empty["gap"] = {m: _ratio(high["means"][m], low["means"][m]) for m in MEANS}
        empty["gap_bands"] = [low["income_band"], high["income_band"]]
    empty["items"] = items
    return empty


@lru_cache(maxsize=64)
def _dong_statement(fields: tuple[str, ...], bands: tuple[str, ...]) -> Select[Any]:
    """The per-dong statement for ``fields`` and ``bands``, built once (periods are an expanding parameter);
    the tenant scope is still added to every execution by the session."""
    band_cols = [func.sum(case((IsoDongRollup.age_band == b, getattr(IsoDongRollup, f)), else_=0)).label(f"c{n}")
                 for n, (b, f) in enumerate((b, f) for b in AGE_BANDS for f in fields)]
    wanted = func.sum(case((IsoDongRollup.age_band.in_(bands), 1), else_=0)).label("wanted")
    per_dong = (select(IsoDongRollup.period, IsoDongRollup.dong_id, wanted, *band_cols)
                .where(IsoDongRollup.period.in_(bindparam("periods", expanding=True)))
                .group_by(IsoDongRollup.period, IsoDongRollup.dong_id).subquery())
    return (select(per_dong.c.period, IsoDong.id, IsoDong.code, IsoDong.name, IsoDong.district,
                   IsoDong.municipality_id, per_dong.c.wanted, *[per_dong.c[f"c{n}"] for n in range(len(band_cols))])
            .join(IsoDong, IsoDong.id == per_dong.c.dong_id).order_by(per_dong.c.period, IsoDong.code))


def _dong_rows(db: Session, *, periods_: list[str], bands: list[str],
               fields: Sequence[str] = ("population", *COUNTS)) -> dict[str, list[dict[str, Any]]]:
    """Per period, one row per dong summed over ``bands``, with its per-band ``parts`` for the suffix check.

    One SQL row per (period, dong): the per-band figures come back as columns (conditional sums), so the
    rows are turned into arrays without a Python loop over bands. Only ``fields`` are read (others stay 0).
    """
    import numpy as np
    stmt = _dong_statement(tuple(fields), tuple(bands))
    found = [r for r in db.execute(stmt, {"periods": list(periods_)}).all() if r[6]]
    out: dict[str, list[dict[str, Any]]] = {p: [] for p in periods_}
    if not found:
        return out
    start = _BAND_INDEX[bands[0]]
    parts = np.zeros((len(found), len(AGE_BANDS), len(_FIELDS)))
    parts[:, :, [FIELD_INDEX[f] for f in fields]] = np.array([r[7:] for r in found], dtype=float).reshape(
        len(found), len(AGE_BANDS), len(fields))
    lc, iso = FIELD_INDEX["low_communication"], FIELD_INDEX["isolated"]
    parts[:, :, FIELD_INDEX["reachable"]] = np.maximum(0.0, parts[:, :, lc] - parts[:, :, iso])
    totals = parts[:, start:, :].sum(axis=1).tolist()
    for i, r in enumerate(found):
        row = {"dong_id": r[1], "code": r[2], "name": r[3], "district": r[4], "municipality_id": r[5],
               "parts": parts[i], "start": start}
        for j, f in enumerate(_FIELDS):
            row[f] = int(totals[i][j]) if f in _INTS else totals[i][j]
        out[r[0]].append(row)
    return out


def _ranking_hidden(rows: list[dict[str, Any]], k: int) -> list[bool]:
    people = [people_behind(_as_int(r["population"]), _as_int(r["isolated"])) for r in rows]
    return _suppressed(rows, k=k, people=people, dims=["municipality_id"], margins=[("municipality_id",)],
                       counts=("isolated",), start=rows[0]["start"] if rows else 0)


def isolation_ranking(db: Session, *, period: str | None, min_age: int, k: int) -> dict[str, Any]:
    """Dongs ordered by isolated people ``min_age``+, with a 95% Wilson interval and the monthly change."""
    period = resolve_period(db, period)
    if period is None:
        return {"period": None, "previous_period": None, "min_age": min_age, "k": k, "items": []}
    prev = previous_period(period)
    data = _dong_rows(db, periods_=[period, prev], bands=bands_from(min_age),
                      fields=("population", "low_communication", "isolated"))
    current, before = data[period], data[prev]
    hidden_now = _ranking_hidden(current, k)
    hidden_before = dict(zip([r["dong_id"] for r in before], _ranking_hidden(before, k), strict=True))
    isolated_before = {r["dong_id"]: _as_int(r["isolated"]) for r in before}
    items = []
    for r, h in zip(current, hidden_now, strict=True):
        pop, iso = _as_int(r["population"]), _as_int(r["isolated"])
        item = {"dong_code": r["code"], "dong_name": r["name"], "district": r["district"], "suppressed": h,
                "population": None, "isolated": None, "rate": None, "ci_low": None, "ci_high": None,
                "change": None}
        if not h:
            lo, hi = wilson_interval(iso, pop)
            item.update(population=pop, isolated=iso, rate=iso / pop if pop else None, ci_low=lo, ci_high=hi)
            if r["dong_id"] in isolated_before and not hidden_before[r["dong_id"]]:
                item["change"] = iso - isolated_before[r["dong_id"]]
        items.append(item)
    items.sort(key=lambda i: (i["suppressed"], -(i["isolated"] or 0), i["dong_code"]))
    has_prev = bool(before)
    return {"period": period, "previous_period": prev if has_prev else None, "min_age": min_age, "k": k,
            "items": items}


def isolation_trend(db: Session, *, min_age: int, k: int, months: int = 60) -> dict[str, Any]:
    """People ``min_age``+ under each floor and isolated, month by month (the latest ``months``)."""
    stmt = (select(IsoBandRollup.period.label("group"), IsoBandRollup.age_band.label("band"),
                   *_sum_columns(IsoBandRollup))
            .group_by(IsoBandRollup.period, IsoBandRollup.age_band))
    recent = periods(db)[:months]
    if not recent:
        return {"min_age": min_age, "k": k, "items": []}
    stmt = stmt.where(IsoBandRollup.period.in_(recent))
    per_period: dict[str, np.ndarray] = {}
    for r in db.execute(stmt):
        _put(per_period.setdefault(r.group, _parts()), r.band, r._mapping)
    bands = bands_from(min_age)
    rows = [_merge(per_period[p], bands, {"group": p}) for p in sorted(per_period)]
    people = [people_behind(r["population"], *(r[c] for c in COUNTS)) for r in rows]
    # Months are not summed anywhere, so there is no margin; each month is its own table.
    hidden = _suppressed(rows, k=k, people=people, dims=["group"], margins=[], counts=COUNTS,
                         start=_BAND_INDEX[bands[0]])
    items = []
    for r, h in zip(rows, hidden, strict=True):
        pop = r["population"]
        items.append({"period": r["group"], "suppressed": h, "population": None if h else pop,
                      **{c: None if h else r[c] for c in COUNTS},
                      "rate": None if h or not pop else r["isolated"] / pop,
                      "low_communication_rate": None if h or not pop else r["low_communication"] / pop,
                      "low_outing_rate": None if h or not pop else r["low_outing"] / pop})
    return {"min_age": min_age, "k": k, "items": items}


def criteria(db: Session, *, period: str | None, min_age: int, k: int) -> dict[str, Any]:
    """The definition in force and the share isolated by age band (all ages), sex and income (``min_age``+)."""
    period = resolve_period(db, period)
    out: dict[str, Any] = {"period": period, "min_age": min_age, "k": k,
                           "definition": definition_in_force(db, period=period),
                           "by_age": [], "by_sex": [], "by_income": []}
    if period is None:
        return out
    bands = bands_from(min_age)
    for key, group, order, subset in (("by_age", "age_band", AGE_BANDS, None), ("by_sex", "sex", SEXES, bands),
                                      ("by_income", "income_band", INCOME_BANDS, bands)):
        rows = _order(_band_totals(db, period=period, group=group, bands=subset), order)
        people = [people_behind(_as_int(r["population"]), *(_as_int(r[c]) for c in COUNTS)) for r in rows]
        hidden = _suppressed(rows, k=k, people=people, dims=["group"], margins=[()],
                             counts=COUNTS if subset is not None else (), start=_BAND_INDEX[bands[0]],
                             published=("population", *COUNTS))
        for r, h in zip(rows, hidden, strict=True):
            pop = _as_int(r["population"])
            out[key].append({"group": r["group"], "suppressed": h,
                             "population": None if h else pop,
                             **{c: None if h else _as_int(r[c]) for c in COUNTS},
                             "rate": None if h or not pop else _as_int(r["isolated"]) / pop})
    return out


def education_targets(db: Session, *, period: str | None, min_age: int, k: int,
                      uptake: float = DEFAULT_UPTAKE) -> dict[str, Any]:
    """Where people ``min_age``+ use messenger and apps least relative to how much they go out.

    ``digital_index`` and ``outing_index`` are the dong's per-person messenger+app minutes and outings
    over the municipality's mean for the same ages; ``score`` = outing index / digital index, so a dong
    whose elderly go out but rarely use messenger or apps ranks first (they can reach a class and need
    one). ``reachable`` counts people under the communication floor who still go out
    (low_communication - isolated); ``expected_reached`` applies the expected uptake.
    """
    period = resolve_period(db, period)
    out: dict[str, Any] = {"period": period, "min_age": min_age, "k": k, "uptake": uptake, "items": []}
    if period is None:
        return out
    rows = _dong_rows(db, periods_=[period], bands=bands_from(min_age),
                      fields=("population", "low_communication", "isolated", "sum_messenger_minutes",
                              "sum_app_minutes", "sum_outings"))[period]
    totals: dict[int, dict[str, float]] = {}
    for r in rows:
        t = totals.setdefault(r["municipality_id"], {"pop": 0.0, "digital": 0.0, "outings": 0.0})
        t["pop"] += _as_int(r["population"])
        t["digital"] += float(r["sum_messenger_minutes"] or 0) + float(r["sum_app_minutes"] or 0)
        t["outings"] += float(r["sum_outings"] or 0)
    reach = [max(0, _as_int(r["low_communication"]) - _as_int(r["isolated"])) for r in rows]
    people = [people_behind(_as_int(r["population"]), n) for r, n in zip(rows, reach, strict=True)]
    hidden = _suppressed(rows, k=k, people=people, dims=["municipality_id"], margins=[("municipality_id",)],
                         counts=("reachable",), start=_BAND_INDEX[bands_from(min_age)[0]])
    items = []
    for r, n, h in zip(rows, reach, hidden, strict=True):
        item = {"dong_code": r["code"], "dong_name": r["name"], "district": r["district"], "suppressed": h,
                "population": None, "digital_index": None, "outing_index": None, "score": None,
                "reachable": None, "expected_reached": None}
        pop = _as_int(r["population"])
        t = totals[r["municipality_id"]]
        if not h and pop and t["pop"]:
            digital = (float(r["sum_messenger_minutes"] or 0) + float(r["sum_app_minutes"] or 0)) / pop
            outings = float(r["sum_outings"] or 0) / pop
            d_idx = _ratio(digital, t["digital"] / t["pop"])
            o_idx = _ratio(outings, t["outings"] / t["pop"])
            item.update(population=pop, digital_index=d_idx, outing_index=o_idx, score=_ratio(o_idx, d_idx),
                        reachable=n, expected_reached=round(n * uptake))
        items.append(item)
    items.sort(key=lambda i: (i["suppressed"], -(i["score"] or 0), i["dong_code"]))
    out["items"] = items
    return out


def page_of(items: list[Any], page: PageParams) -> tuple[list[Any], int]:
    return items[page.offset:page.offset + page.limit], len(items)
