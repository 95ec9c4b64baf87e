"""Rules of the shared domain: municipalities, partners, programs, KPIs and milestones.

Plain functions with keyword-only arguments; the caller's session carries the principal, so every
read is already scoped to the caller's municipalities.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, lazyload, selectinload

from app.core.db import utcnow
from app.core.errors import InvalidInput, NotFound, field_error, flush_or_conflict
from app.core.i18n import today_seoul
from app.core.lookup import one_or_404
from app.core.manifest import MetricSource, installed, metric_sources
from app.core.pagination import PageParams, paginate
from app.core.tenancy import Principal, all_tenants, narrowed_to, principal_of
from app.platform import audit
from app.platform.models import (
    Kpi,
    KpiReading,
    KpiValue,
    Milestone,
    Municipality,
    MunicipalityModule,
    Partner,
    Program,
)
from app.platform.schemas import (
    KpiIn,
    KpiUpdate,
    KpiValueIn,
    MilestoneIn,
    MilestoneUpdate,
    MunicipalityIn,
    MunicipalityUpdate,
    PartnerIn,
    PartnerUpdate,
    ProgramIn,
    ProgramUpdate,
)

STATUS_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "planned": ("active", "suspended"),
    "active": ("completed", "suspended"),
    "suspended": ("active", "completed"),
    "completed": (),
}



# --- municipalities --------------------------------------------------------------------------

def get_municipality(db: Session, *, code: str) -> Municipality:
    found = db.scalar(select(Municipality).where(Municipality.code == code))
    if found is None:
        raise NotFound("Municipality {code} not found", code=code)
    return found


def get_municipality_by_id(db: Session, *, municipality_id: int) -> Municipality:
    return one_or_404(db, Municipality, municipality_id, "Municipality {id} not found")


def resolve_municipality(db: Session, *, code: str, field: str = "municipality_code") -> Municipality:
    """Look up a municipality named in input; an unknown (or unreachable) one is a field error."""
    found = db.scalar(select(Municipality).where(Municipality.code == code))
    if found is None:
        raise InvalidInput.field(field, "Unknown municipality code {code}", code=code)
    return found


def target_municipality_id(db: Session, *, code: str | None, field: str = "municipality_code") -> int:
    """The municipality a write (or a read) goes to: the one named, else the caller's own."""
    if code:
        return resolve_municipality(db, code=code, field=field).id
    principal = principal_of(db)
    if principal is not None and principal.municipality_id is not None:
        return principal.municipality_id
    raise InvalidInput.field(field, "Name the municipality (10-digit code)")


def list_municipalities(db: Session, *, page: PageParams, q: str | None = None,
                        level: str | None = None, parent_code: str | None = None
                        ) -> tuple[list[Municipality], int]:
    stmt = select(Municipality).order_by(Municipality.code)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(Municipality.name_ko.ilike(like), Municipality.name_en.ilike(like),
                              Municipality.code.like(like)))
    if level:
        stmt = stmt.where(Municipality.level == level)
    if parent_code:
        parent = db.scalar(select(Municipality.id).where(Municipality.code == parent_code))
        stmt = stmt.where(Municipality.parent_id == (parent or -1))
    return paginate(db, stmt, page)


# The short names Koreans put before a city or district: "광주 서구", "경기 이천시", "경남 거제시".
_PROVINCE_SHORT = {"충청북도": "충북", "충청남도": "충남", "전라북도": "전북", "전라남도": "전남", "경상북도": "경북",
                   "경상남도": "경남"}
_KO_SUFFIXES = ("특별자치시", "특별자치도", "특별시", "광역시", "도")
_EN_SUFFIXES = (" Metropolitan City", " Special Self-Governing City", " Special Self-Governing Province",
                " Special City", " Province", "-do")


def short_place(name: str, *, english: bool = False) -> str:
    """A metropolitan government's name as it stands before its cities: 광주광역시 → 광주, 경상남도 → 경남."""
    if english:
        return next((name.removesuffix(s) for s in _EN_SUFFIXES if name.endswith(s) and name != s), name)
    if name in _PROVINCE_SHORT:
        return _PROVINCE_SHORT[name]
    return next((name.removesuffix(s) for s in _KO_SUFFIXES if name.endswith(s) and len(name) > len(s) + 1), name)


def place_name(municipality: Municipality, locale: str | None = None) -> str:
    """How a municipality is named wherever it is shown: with its parent, "광주 서구" / "Seo-gu, Gwangju"
    (a metropolitan government alone: "광주광역시"). The one formatter of municipality names."""
    from app.core.i18n import current_locale

    english = (locale or current_locale.get()) == "en"
    name = municipality.name_en if english else municipality.name_ko
    parent = municipality.parent
    if parent is None:
        return name
    if english:
        return f"{name}, {short_place(parent.name_en, english=True)}"
    return f"{short_place(parent.name_ko)} {name}"


def municipality_options(municipalities: list[Municipality], locale: str | None = None) -> list[tuple[str, str]]:
    """(code, place name) for a select of municipalities."""
    return [(m.code, place_name(m, locale)) for m in municipalities]


def all_municipalities(db: Session) -> list[Municipality]:
    return list(db.scalars(select(Municipality).order_by(Municipality.code)))


def descendant_ids(db: Session, *, municipality_id: int) -> frozenset[int]:
    """The municipality and every municipality beneath it (a province reaches its cities)."""
    rows = db.execute(select(Municipality.id, Municipality.parent_id)
                      .execution_options(skip_tenant_scope=True)).all()
    children: dict[int | None, list[int]] = {}
    for mid, parent in rows:
        children.setdefault(parent, []).append(mid)
    found, stack = set(), [municipality_id]
    while stack:
        current = stack.pop()
        if current in found:
            continue
        found.add(current)
        stack.extend(children.get(current, []))
    return frozenset(found)


def create_municipality(db: Session, *, data: MunicipalityIn) -> Municipality:
    parent_id = None
    if data.parent_code:
        parent = resolve_municipality(db, code=data.parent_code, field="parent_code")
        if parent.level != "metropolitan":
            raise InvalidInput.field("parent_code", "A parent must be a metropolitan government (광역)")
        parent_id = parent.id
    if data.level == "metropolitan" and parent_id:
        raise InvalidInput.field("parent_code", "A metropolitan government has no parent")
    municipality = Municipality(code=data.code, name_ko=data.name_ko, name_en=data.name_en,
                                level=data.level, parent_id=parent_id)
    db.add(municipality)
    flush_or_conflict(db, "Municipality code {code} already exists", code=data.code)
    return municipality


def update_municipality(db: Session, *, municipality: Municipality, data: MunicipalityUpdate) -> Municipality:
    for key, value in data.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(municipality, key, value)
    db.flush()
    return municipality


# --- partners --------------------------------------------------------------------------------

def get_partner(db: Session, *, code: str) -> Partner:
    found = db.scalar(select(Partner).where(Partner.code == code))
    if found is None:
        raise NotFound("Partner {code} not found", code=code)
    return found


def list_partners(db: Session, *, page: PageParams, kind: str | None = None, q: str | None = None
                  ) -> tuple[list[Partner], int]:
    stmt = select(Partner).order_by(Partner.code)
    if kind:
        stmt = stmt.where(Partner.kind == kind)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(Partner.name_ko.ilike(like), Partner.name_en.ilike(like), Partner.code.ilike(like)))
    return paginate(db, stmt, page)


def all_partners(db: Session) -> list[Partner]:
    return list(db.scalars(select(Partner).order_by(Partner.code)))


def create_partner(db: Session, *, data: PartnerIn) -> Partner:
    partner = Partner(**data.model_dump())
    db.add(partner)
    flush_or_conflict(db, "Partner code {code} already exists", code=data.code)
    return partner


def update_partner(db: Session, *, partner: Partner, data: PartnerUpdate) -> Partner:
    for key, value in data.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(partner, key, value)
    db.flush()
    return partner


def _resolve_partners(db: Session, codes: list[str]) -> list[Partner]:
    if not codes:
        return []
    found = {p.code: p for p in db.scalars(select(Partner).where(Partner.code.in_(codes)))}
    unknown = [c for c in codes if c not in found]
    if unknown:
        raise InvalidInput("Unknown partner codes: {codes}", codes=", ".join(unknown), errors=[
            field_error(["partner_codes", codes.index(c)], "Unknown partner code {code}", code=c)
            for c in unknown])
    return [found[c] for c in codes]


# --- programs --------------------------------------------------------------------------------

def _check_module(module: str | None) -> None:
    if module is not None and module not in installed():
        raise InvalidInput.field("module", "Unknown module {module}; installed: {known}", module=module,
                                 known=", ".join(sorted(installed())))


def program_query(*, partner: str | None = None, municipality: str | None = None, module: str | None = None,
                  status: str | None = None, q: str | None = None) -> Select[tuple[Program]]:
    stmt = select(Program).order_by(Program.updated_at.desc(), Program.id.desc())
    if partner:
        stmt = stmt.where(Program.partners.any(Partner.code == partner))
    if municipality:
        stmt = stmt.join(Municipality, Program.municipality_id == Municipality.id).where(
            Municipality.code == municipality)
    if module:
        stmt = stmt.where(Program.module == module)
    if status:
        stmt = stmt.where(Program.status == status)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(Program.title.ilike(like), Program.description.ilike(like)))
    return stmt


def list_programs(db: Session, *, page: PageParams, **filters: Any) -> tuple[list[Program], int]:
    """One page of programs and the number of all that match."""
    return paginate(db, program_query(**filters), page)


def programs_with_kpis(db: Session, *, status: str, limit: int) -> list[Program]:
    """The newest ``limit`` programs in ``status`` with their KPIs, readings and values, each loaded in one
    batched query (the home dashboard reads them for every program); no count, and the partners, which the
    dashboard does not show, are left to load if something reads them."""
    return list(db.scalars(program_query(status=status).limit(limit).options(
        lazyload(Program.partners), selectinload(Program.kpis).selectinload(Kpi.values))))


def get_program(db: Session, *, program_id: int) -> Program:
    found = db.scalar(select(Program).where(Program.id == program_id).options(
        selectinload(Program.kpis), selectinload(Program.milestones)))
    if found is None:
        raise NotFound("Program {id} not found", id=program_id)
    return found


def create_program(db: Session, *, data: ProgramIn) -> Program:
    _check_module(data.module)
    municipality = resolve_municipality(db, code=data.municipality_code)
    partners = _resolve_partners(db, data.partner_codes)
    program = Program(
        title=data.title, description=data.description, module=data.module, status=data.status,
        municipality_id=municipality.id, start_date=data.start_date, end_date=data.end_date,
        budget_krw=data.budget_krw, agreement_date=data.agreement_date, partners=partners,
    )
    db.add(program)
    flush_or_conflict(db, "A program titled '{title}' already exists in {municipality}", title=data.title,
                       municipality=municipality.name_ko)
    return program


def update_program(db: Session, *, program: Program, data: ProgramUpdate) -> Program:
    changes = data.model_dump(exclude_unset=True)
    for key in ("title", "status", "description"):
        if key in changes and changes[key] is None:
            raise InvalidInput.field(key, "This field is required.")
    if "module" in changes:
        _check_module(changes["module"])
    if "status" in changes and changes["status"] != program.status:
        _check_transition(program, changes["status"])
    start = changes.get("start_date", program.start_date)
    end = changes.get("end_date", program.end_date)
    if start and end and end < start:
        raise InvalidInput.field("end_date", "end_date must not be before start_date")
    if "partner_codes" in changes:
        program.partners = _resolve_partners(db, changes.pop("partner_codes") or [])
    for key, value in changes.items():
        setattr(program, key, value)
    flush_or_conflict(db, "A program titled '{title}' already exists in this municipality", title=program.title)
    return program


def _check_transition(program: Program, target: str) -> None:
    allowed = STATUS_TRANSITIONS[program.status]
    if target not in allowed:
        raise InvalidInput.field("status", "A program cannot go from {current} to {target}; allowed: {allowed}",
                                 current=program.status, target=target, allowed=", ".join(allowed) or "-")


def delete_program(db: Session, *, program: Program) -> None:
    db.delete(program)
    db.flush()


def program_counts(db: Session) -> dict[str, Any]:
    """Programs by status and by partner, for the home dashboard."""
    by_status = dict(db.execute(select(Program.status, func.count()).group_by(Program.status)).all())
    by_partner = db.execute(
        select(Partner.code, Partner.name_ko, Partner.name_en, Program.status, func.count())
        .select_from(Program).join(Program.partners).group_by(Partner.code, Partner.name_ko,
                                                              Partner.name_en, Program.status)
        .order_by(Partner.code)).all()
    partners: dict[str, dict[str, Any]] = {}
    for code, name_ko, name_en, status, count in by_partner:
        entry = partners.setdefault(code, {"code": code, "name_ko": name_ko, "name_en": name_en,
                                           "total": 0, "by_status": {}})
        entry["by_status"][status] = count
        entry["total"] += count
    return {"by_status": by_status, "total": sum(by_status.values()), "by_partner": list(partners.values())}


# --- modules each municipality runs ----------------------------------------------------------
# A module is on for a municipality when it has a program of that module, unless a platform administrator
# switched it (on without a program, or off despite one). A principal sees the modules on for any of the
# municipalities it reaches (a province: its own and its cities'); platform administrators see them all.

MODULE_REASONS = ("programs", "switched_on", "switched_off", "off")
_ENABLED_CACHE = "enabled_modules"


def _module_facts(db: Session, municipality_ids: frozenset[int]
                  ) -> tuple[dict[int, dict[str, int]], dict[int, dict[str, MunicipalityModule]]]:
    """Per municipality: programs by module, and the administrators' switches by module."""
    programs: dict[int, dict[str, int]] = {}
    switches: dict[int, dict[str, MunicipalityModule]] = {}
    if not municipality_ids:
        return programs, switches
    ids = sorted(municipality_ids)
    for mid, module, count in db.execute(
            select(Program.municipality_id, Program.module, func.count())
            .where(Program.municipality_id.in_(ids), Program.module.is_not(None))
            .group_by(Program.municipality_id, Program.module)):
        programs.setdefault(mid, {})[module] = count
    for switch in db.scalars(select(MunicipalityModule).where(MunicipalityModule.municipality_id.in_(ids))):
        switches.setdefault(switch.municipality_id, {})[switch.module_key] = switch
    return programs, switches


def _state(programs: dict[str, int], switches: dict[str, MunicipalityModule], key: str) -> tuple[bool, str]:
    switch = switches.get(key)
    if switch is not None:
        return switch.enabled, "switched_on" if switch.enabled else "switched_off"
    return (True, "programs") if programs.get(key) else (False, "off")


def modules_enabled_in(db: Session, *, municipality_ids: frozenset[int]) -> frozenset[str]:
    """The installed modules on for at least one of ``municipality_ids``."""
    programs, switches = _module_facts(db, municipality_ids)
    return frozenset(key for key in installed() for mid in municipality_ids
                     if _state(programs.get(mid, {}), switches.get(mid, {}), key)[0])


def enabled_modules(db: Session, *, principal: Principal) -> frozenset[str] | None:
    """The modules ``principal`` may use: None for every one (platform administrators, the system).
    Kept for the rest of the request (the session is the request's), until a switch changes."""
    if principal.is_platform_admin or principal.municipality_ids is None:
        return None
    cached = db.info.get(_ENABLED_CACHE)
    if cached is not None and cached[0] == principal:
        return cached[1]
    enabled = modules_enabled_in(db, municipality_ids=principal.municipality_ids)
    db.info[_ENABLED_CACHE] = (principal, enabled)
    return enabled


def module_enabled(db: Session, *, principal: Principal, module_key: str) -> bool:
    enabled = enabled_modules(db, principal=principal)
    return enabled is None or module_key in enabled


def jurisdiction_runs(db: Session, *, code: str, module_key: str) -> bool | None:
    """Whether the municipality of ``code`` (or one beneath it) runs ``module_key``, for public standard
    APIs that name their jurisdiction; None when no municipality has that code (the route answers)."""
    with all_tenants(db):  # the public caller names the jurisdiction: looked up before anyone is bound
        municipality_id = db.scalar(select(Municipality.id).where(Municipality.code == code))
        if municipality_id is None:
            return None
        reach = descendant_ids(db, municipality_id=municipality_id)
        return module_key in modules_enabled_in(db, municipality_ids=reach)


def module_states(db: Session, *, municipality: Municipality) -> list[dict[str, Any]]:
    """Every installed module for one municipality: on or off, why, its programs and the last switch."""
    programs, switches = _module_facts(db, frozenset({municipality.id}))
    mine, switched = programs.get(municipality.id, {}), switches.get(municipality.id, {})
    states = []
    for key, manifest in sorted(installed().items()):
        enabled, reason = _state(mine, switched, key)
        states.append({"manifest": manifest, "key": key, "enabled": enabled, "reason": reason,
                       "programs": mine.get(key, 0), "switch": switched.get(key)})
    return states


def enabled_counts(db: Session) -> dict[int, int]:
    """How many modules each municipality runs (its own, not its cities'), for the administrators' list."""
    ids = frozenset(db.scalars(select(Municipality.id)))
    programs, switches = _module_facts(db, ids)
    return {mid: sum(_state(programs.get(mid, {}), switches.get(mid, {}), key)[0] for key in installed())
            for mid in ids}


def switch_module(db: Session, *, municipality: Municipality, module_key: str, state: str) -> None:
    """Set a module ``on`` or ``off`` for ``municipality``, or back to ``programs`` (its programs decide).
    Audited by the flush hook like every change."""
    if module_key not in installed():
        raise InvalidInput.field("module_key", "Unknown module {module}; installed: {known}", module=module_key,
                                 known=", ".join(sorted(installed())))
    switch = db.scalar(select(MunicipalityModule).where(MunicipalityModule.municipality_id == municipality.id,
                                                        MunicipalityModule.module_key == module_key))
    if state == "programs":
        if switch is not None:
            db.delete(switch)
    elif switch is None:
        db.add(MunicipalityModule(municipality_id=municipality.id, module_key=module_key, enabled=state == "on",
                                  switched_by=audit.actor(db)))
    else:
        switch.enabled, switch.switched_by = state == "on", audit.actor(db)
    db.flush()
    db.info.pop(_ENABLED_CACHE, None)


# --- KPIs ------------------------------------------------------------------------------------

def current_reading(kpi: Kpi) -> KpiReading | None:
    """A bound KPI's latest computed period (of its present source), None for a hand-typed KPI."""
    if kpi.source_key is None:
        return None
    readings = [r for r in kpi.readings if r.source_key == kpi.source_key]
    return readings[-1] if readings else None


def kpi_progress(kpi: Kpi) -> tuple[float | None, float | None]:
    """``(latest value, progress 0-1)`` from baseline towards target, whichever direction it points: the
    latest computed period of a bound KPI, else the latest value typed by hand."""
    if kpi.source_key is not None:
        reading = current_reading(kpi)
        latest = reading.value if reading is not None else None
    else:
        latest = kpi.values[-1].value if kpi.values else None
    if latest is None:
        return None, None
    span = kpi.target - kpi.baseline
    progress = (latest - kpi.baseline) / span if span else None
    return latest, None if progress is None else max(0.0, min(1.0, progress))


def get_kpi(db: Session, *, program: Program, kpi_id: int) -> Kpi:
    found = db.scalar(select(Kpi).where(Kpi.id == kpi_id, Kpi.program_id == program.id))
    if found is None:
        raise NotFound("KPI {id} not found", id=kpi_id)
    return found


def _check_source(source_key: str | None) -> None:
    if source_key is not None and source_key not in metric_sources():
        raise InvalidInput.field("source_key", "No enabled module computes the metric '{key}'", key=source_key)


def add_kpi(db: Session, *, program: Program, data: KpiIn) -> Kpi:
    """Add a KPI; bound to a metric source, its current period is computed at once (then by the worker)."""
    _check_source(data.source_key)
    fields = data.model_dump()
    if data.source_key is not None and not data.unit:
        fields["unit"] = metric_sources()[data.source_key][1].unit
    kpi = Kpi(program_id=program.id, municipality_id=program.municipality_id, **fields)
    db.add(kpi)
    flush_or_conflict(db, "The program already has a KPI named '{name}'", name=data.name)
    refresh_kpi(db, kpi=kpi)
    db.refresh(program, ["kpis"])
    return kpi


def update_kpi(db: Session, *, kpi: Kpi, data: KpiUpdate) -> Kpi:
    """Change a KPI; ``source_key`` sent as null unbinds it (its values are then typed by hand again)."""
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "source_key" in data.model_fields_set:
        changes["source_key"] = data.source_key
        _check_source(data.source_key)
    baseline, target = changes.get("baseline", kpi.baseline), changes.get("target", kpi.target)
    if baseline == target:
        raise InvalidInput.field("target", "target must differ from baseline")
    rebound = "source_key" in changes and changes["source_key"] != kpi.source_key
    for key, value in changes.items():
        setattr(kpi, key, value)
    flush_or_conflict(db, "The program already has a KPI with that name")
    if rebound:
        refresh_kpi(db, kpi=kpi)
    return kpi


# --- KPIs computed from a module's metric source --------------------------------------------------

def month_of(day: date) -> tuple[date, date]:
    """The calendar month holding ``day``: a bound KPI's period."""
    start = day.replace(day=1)
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following - timedelta(days=1)


def recent_months(today: date, count: int) -> list[tuple[date, date]]:
    """The ``count`` calendar months up to the one holding ``today``, oldest first."""
    periods = [month_of(today)]
    while len(periods) < count:
        periods.insert(0, month_of(periods[0][0] - timedelta(days=1)))
    return periods


def compute_metric(db: Session, *, source: MetricSource, municipality_id: int, period_start: date,
                   period_end: date) -> float | int | None:
    """A metric source's figure for a municipality, read as that municipality's staff read the module's
    statistics: the session narrowed to it and the municipalities under it (a province reaches its
    cities), within what the caller reaches."""
    with narrowed_to(db, descendant_ids(db, municipality_id=municipality_id)):
        return source.compute(db, municipality_id, period_start, period_end)


def refresh_kpi(db: Session, *, kpi: Kpi, today: date | None = None, months: int = 1) -> list[KpiReading]:
    """Compute a bound KPI for its last ``months`` calendar months (the current one included) and keep each
    period's value with the time it was computed. A hand-typed KPI, or one whose module is not enabled,
    is left as it is."""
    found = metric_sources().get(kpi.source_key or "")
    if found is None:
        return []
    _module, source = found
    existing = {r.period_start: r for r in db.scalars(
        select(KpiReading).where(KpiReading.kpi_id == kpi.id, KpiReading.source_key == source.key))}
    out, changed = [], {}
    for start, end in recent_months(today or today_seoul(), months):
        computed = compute_metric(db, source=source, municipality_id=kpi.municipality_id, period_start=start,
                                  period_end=end)
        value = None if computed is None else float(computed)
        reading = existing.get(start)
        if reading is None:
            reading = KpiReading(kpi_id=kpi.id, municipality_id=kpi.municipality_id, source_key=source.key,
                                 period_start=start, period_end=end)
            db.add(reading)
        elif reading.value == value:
            reading.computed_at = utcnow()
            out.append(reading)
            continue
        reading.value, reading.computed_at = value, utcnow()
        changed[start.isoformat()[:7]] = value
        out.append(reading)
    db.flush()
    if changed:
        audit.record(db, action="computed", object_type="kpi", object_id=str(kpi.id),
                     municipality_id=kpi.municipality_id, after={"source_key": source.key, "values": changed})
    db.refresh(kpi, ["readings"])
    return out


def refresh_bound_kpis(db: Session, *, today: date | None = None, months: int = 2) -> int:
    """Recompute every bound KPI the session reaches: the current month and the one before (late data
    settles the month just ended). Answers how many KPIs were refreshed."""
    kpis = db.scalars(select(Kpi).where(Kpi.source_key.is_not(None)).order_by(Kpi.id)).all()
    done = 0
    for kpi in kpis:
        if refresh_kpi(db, kpi=kpi, today=today, months=months):
            done += 1
    return done


def delete_kpi(db: Session, *, kpi: Kpi) -> None:
    db.delete(kpi)
    db.flush()


def record_kpi_value(db: Session, *, kpi: Kpi, data: KpiValueIn) -> KpiValue:
    """Record the KPI's value on a date; a second value for the same date replaces the first. A KPI bound
    to a metric source takes no typed values: its module computes them."""
    if kpi.source_key is not None:
        raise InvalidInput.field("value", "This KPI is computed from its source; unbind it to type values")
    existing = db.scalar(select(KpiValue).where(KpiValue.kpi_id == kpi.id,
                                                KpiValue.measured_date == data.measured_date))
    if existing:
        existing.value, existing.note = data.value, data.note
        value = existing
    else:
        value = KpiValue(kpi_id=kpi.id, municipality_id=kpi.municipality_id, **data.model_dump())
        db.add(value)
    db.flush()
    db.refresh(kpi, ["values"])
    return value


def delete_kpi_value(db: Session, *, kpi: Kpi, value_id: int) -> None:
    value = db.scalar(select(KpiValue).where(KpiValue.id == value_id, KpiValue.kpi_id == kpi.id))
    if value is None:
        raise NotFound("KPI value {id} not found", id=value_id)
    db.delete(value)
    db.flush()
    db.refresh(kpi, ["values"])


# --- milestones ------------------------------------------------------------------------------

def get_milestone(db: Session, *, program: Program, milestone_id: int) -> Milestone:
    found = db.scalar(select(Milestone).where(Milestone.id == milestone_id, Milestone.program_id == program.id))
    if found is None:
        raise NotFound("Milestone {id} not found", id=milestone_id)
    return found


def add_milestone(db: Session, *, program: Program, data: MilestoneIn) -> Milestone:
    milestone = Milestone(program_id=program.id, municipality_id=program.municipality_id, **data.model_dump())
    db.add(milestone)
    db.flush()
    db.refresh(program, ["milestones"])
    return milestone


def update_milestone(db: Session, *, milestone: Milestone, data: MilestoneUpdate) -> Milestone:
    changes = data.model_dump(exclude_unset=True)
    if "title" in changes and changes["title"] is None:
        raise InvalidInput.field("title", "title cannot be empty")
    if "due_date" in changes and changes["due_date"] is None:
        raise InvalidInput.field("due_date", "due_date cannot be empty")
    for key, value in changes.items():
        setattr(milestone, key, value)
    db.flush()
    return milestone


def delete_milestone(db: Session, *, milestone: Milestone) -> None:
    db.delete(milestone)
    db.flush()


def milestones_due(db: Session, *, today: date, within_days: int = 30, limit: int = 10) -> list[Milestone]:
    """Open milestones overdue or due within ``within_days``, the most urgent first."""
    return list(db.scalars(
        select(Milestone).where(Milestone.done_date.is_(None),
                                Milestone.due_date <= today + timedelta(days=within_days))
        .order_by(Milestone.due_date).limit(limit)))
