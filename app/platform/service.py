"""Rules of the shared domain: municipalities, partners, programs, KPIs and milestones.

Plain functions with keyword-only arguments; the caller's session carries the principal, so every
read is already scoped to the caller's municipalities.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from app.core.errors import InvalidInput, NotFound, field_error, flush_or_conflict
from app.core.manifest import installed
from app.core.pagination import PageParams, paginate
from app.core.tenancy import principal_of
from app.platform.models import Kpi, KpiValue, Milestone, Municipality, Partner, Program
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
    found = db.scalar(select(Municipality).where(Municipality.id == municipality_id))
    if found is None:
        raise NotFound("Municipality {id} not found", id=municipality_id)
    return found


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


def list_programs(db: Session, *, page: PageParams, with_kpis: bool = False,
                  **filters: Any) -> tuple[list[Program], int]:
    """One page of programs; ``with_kpis`` loads their KPIs and KPI values in two batched queries
    (the dashboard reads them for every program)."""
    stmt = program_query(**filters)
    if with_kpis:
        stmt = stmt.options(selectinload(Program.kpis).selectinload(Kpi.values))
    return paginate(db, stmt, page)


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


# --- KPIs ------------------------------------------------------------------------------------

def kpi_progress(kpi: Kpi) -> tuple[float | None, float | None]:
    """``(latest value, progress 0-1)`` from baseline towards target, whichever direction it points."""
    if not kpi.values:
        return None, None
    latest = kpi.values[-1].value
    span = kpi.target - kpi.baseline
    progress = (latest - kpi.baseline) / span if span else None
    return latest, None if progress is None else max(0.0, min(1.0, progress))


def get_kpi(db: Session, *, program: Program, kpi_id: int) -> Kpi:
    found = db.scalar(select(Kpi).where(Kpi.id == kpi_id, Kpi.program_id == program.id))
    if found is None:
        raise NotFound("KPI {id} not found", id=kpi_id)
    return found


def add_kpi(db: Session, *, program: Program, data: KpiIn) -> Kpi:
    kpi = Kpi(program_id=program.id, municipality_id=program.municipality_id, **data.model_dump())
    db.add(kpi)
    flush_or_conflict(db, "The program already has a KPI named '{name}'", name=data.name)
    db.refresh(program, ["kpis"])
    return kpi


def update_kpi(db: Session, *, kpi: Kpi, data: KpiUpdate) -> Kpi:
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    baseline, target = changes.get("baseline", kpi.baseline), changes.get("target", kpi.target)
    if baseline == target:
        raise InvalidInput.field("target", "target must differ from baseline")
    for key, value in changes.items():
        setattr(kpi, key, value)
    flush_or_conflict(db, "The program already has a KPI with that name")
    return kpi


def delete_kpi(db: Session, *, kpi: Kpi) -> None:
    db.delete(kpi)
    db.flush()


def record_kpi_value(db: Session, *, kpi: Kpi, data: KpiValueIn) -> KpiValue:
    """Record the KPI's value on a date; a second value for the same date replaces the first."""
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
