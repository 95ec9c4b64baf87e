"""Rules of the small-merchant DX program: merchants, the catalogue, applications against the yearly
budget, consulting and monthly outcomes.

Plain functions with keyword-only arguments; the caller's session carries the principal, so every read
is already scoped to the caller's municipalities. The effect report lives in ``report.py``.
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Select, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.errors import Conflict, InvalidInput, NotFound, field_error, flush_or_conflict
from app.core.forms import error_template
from app.core.i18n import today_seoul
from app.core.lookup import one_or_404
from app.core.pagination import PageParams, paginate
from app.core.privacy import mask_phone
from app.core.tenancy import check_rows, principal_of, within_reach
from app.lguplus.merchants.models import (
    OPEN_STATES,
    SOLUTIONS,
    STATES,
    TRANSITIONS,
    Application,
    ApplicationStep,
    Budget,
    ConsultingSession,
    FollowUp,
    MerchantStore,
    Outcome,
    Solution,
)
from app.lguplus.merchants.schemas import (
    ApplicationIn,
    BudgetIn,
    ConsultingIn,
    MerchantIn,
    MerchantUpdate,
    OutcomeIn,
    SolutionIn,
    TransitionIn,
    month_start,
)
from app.platform import audit
from app.platform.service import target_municipality_id

MAX_BATCH = 20_000




def actor(db: Session) -> str:
    principal = principal_of(db)
    return principal.label if principal is not None else "system"


def masked_phone(phone: str | None) -> str | None:
    return mask_phone(phone) if phone else None


def record_owner_view(db: Session, *, merchant: MerchantStore) -> None:
    """A merchant's owner details (name of the business, registration number, contact) were shown."""
    audit.record_access(db, action="view_owner", subject_type="lgum_merchant", subject_id=str(merchant.id),
                        municipality_id=merchant.municipality_id, data_subject=f"owner of {merchant.name}"[:120])


# --- merchants -------------------------------------------------------------------------------

def get_merchant(db: Session, *, merchant_id: int) -> MerchantStore:
    return one_or_404(db, MerchantStore, merchant_id, "Merchant {id} not found")


def merchant_query(*, q: str | None = None, category: str | None = None, dong_code: str | None = None,
                   participant: bool | None = None) -> Select[Any]:
    stmt = select(MerchantStore).order_by(MerchantStore.name, MerchantStore.id)
    if q:
        digits = q.replace("-", "")
        stmt = stmt.where(or_(MerchantStore.name.ilike(f"%{q}%"), MerchantStore.address.ilike(f"%{q}%"),
                              MerchantStore.brn.like(f"%{digits}%") if digits.isdigit() else False))
    if category:
        stmt = stmt.where(MerchantStore.category == category)
    if dong_code:
        stmt = stmt.where(MerchantStore.dong_code == dong_code)
    if participant is not None:
        joined = select(Application.merchant_id).where(Application.state.in_(("installed", "active")))
        stmt = stmt.where(MerchantStore.id.in_(joined) if participant else MerchantStore.id.not_in(joined))
    return stmt


def installed_merchants(db: Session, *, as_of: date | None = None) -> int:
    """How many of the caller's merchants have had a solution installed (by ``as_of``; one cancelled since
    still counts, as in the effect report's participants): the effect report's figure and the program
    KPI's metric source."""
    stmt = select(func.count(func.distinct(Application.merchant_id))).where(Application.installed_date.is_not(None))
    if as_of is not None:
        stmt = stmt.where(Application.installed_date <= as_of)
    return int(db.scalar(stmt) or 0)


def list_merchants(db: Session, *, page: PageParams, **filters: Any) -> tuple[list[MerchantStore], int]:
    return paginate(db, merchant_query(**filters), page)


def create_merchant(db: Session, *, data: MerchantIn) -> MerchantStore:
    mid = target_municipality_id(db, code=data.municipality_code)
    merchant = MerchantStore(municipality_id=mid, **data.model_dump(exclude={"municipality_code"}))
    db.add(merchant)
    flush_or_conflict(db, "A merchant with business registration number {brn} already exists", brn=data.brn)
    return merchant


def update_merchant(db: Session, *, merchant: MerchantStore, data: MerchantUpdate) -> MerchantStore:
    for key, value in data.model_dump(exclude_unset=True).items():
        setattr(merchant, key, value)
    db.flush()
    return merchant


def delete_merchant(db: Session, *, merchant: MerchantStore) -> None:
    if db.scalar(select(func.count()).select_from(Application).where(Application.merchant_id == merchant.id)):
        raise Conflict("The merchant has subsidy applications and cannot be deleted")
    db.delete(merchant)
    db.flush()


def categories(db: Session) -> list[str]:
    return list(db.scalars(select(MerchantStore.category).distinct().order_by(MerchantStore.category)))


def dongs(db: Session) -> list[tuple[str, str, int]]:
    """(code, name, merchants) of every 행정동 with merchants."""
    rows = db.execute(select(MerchantStore.dong_code, MerchantStore.dong_name, func.count())
                      .group_by(MerchantStore.dong_code, MerchantStore.dong_name).order_by(MerchantStore.dong_name))
    return [(c, n, int(k)) for c, n, k in rows]


def map_points(db: Session) -> list[dict[str, Any]]:
    participants = set(db.scalars(select(Application.merchant_id).where(Application.state.in_(("installed",
                                                                                               "active")))))
    rows = db.execute(select(MerchantStore.id, MerchantStore.name, MerchantStore.dong_name, MerchantStore.category,
                             MerchantStore.lat, MerchantStore.lon).where(MerchantStore.lat.is_not(None),
                                                                         MerchantStore.lon.is_not(None)))
    return [{"id": i, "name": n, "dong": d, "category": c, "lat": la, "lon": lo, "participant": i in participants}
            for i, n, d, c, la, lo in rows]


# --- solutions -------------------------------------------------------------------------------

def default_solution(code: str) -> dict[str, Any]:
    name, monthly, one_off, pct, cap = SOLUTIONS[code]
    return {"code": code, "name": name, "monthly_fee_krw": monthly, "one_off_krw": one_off, "subsidy_pct": pct,
            "subsidy_cap_krw": cap}


def ensure_catalogue(db: Session, *, municipality_id: int) -> dict[str, Solution]:
    """The municipality's catalogue, with the program's default rule for any solution not set yet."""
    have = {s.code: s for s in db.scalars(select(Solution).where(Solution.municipality_id == municipality_id))}
    for code in SOLUTIONS:
        if code not in have:
            have[code] = Solution(municipality_id=municipality_id, **default_solution(code))
            db.add(have[code])
    db.flush()
    return have


def list_solutions(db: Session, *, municipality_id: int | None) -> list[dict[str, Any]]:
    """Every solution of the catalogue; those not configured yet show the default rule."""
    stored = {}
    if municipality_id is not None:
        stored = {s.code: s for s in db.scalars(select(Solution).where(Solution.municipality_id == municipality_id))}
    out = []
    for code in SOLUTIONS:
        s = stored.get(code)
        if s is not None:
            row = {k: getattr(s, k) for k in ("id", "code", "name", "monthly_fee_krw", "one_off_krw", "subsidy_pct",
                                               "subsidy_cap_krw", "max_subsidy_krw")}
            out.append({**row, "configured": True})
        else:
            sol = Solution(**default_solution(code))
            out.append({**default_solution(code), "id": None, "max_subsidy_krw": sol.max_subsidy_krw,
                        "configured": False})
    return out


def set_solution(db: Session, *, municipality_id: int, code: str, data: SolutionIn) -> Solution:
    if code not in SOLUTIONS:
        raise NotFound("Solution {code} not found", code=code)
    solution = ensure_catalogue(db, municipality_id=municipality_id)[code]
    for key, value in data.model_dump().items():
        setattr(solution, key, value)
    db.flush()
    return solution


# --- budget ----------------------------------------------------------------------------------

def get_budget(db: Session, *, municipality_id: int, year: int) -> Budget | None:
    return db.scalar(select(Budget).where(Budget.municipality_id == municipality_id, Budget.year == year))


def _locked_budget(db: Session, *, municipality_id: int, year: int) -> Budget | None:
    # SELECT ... FOR UPDATE on PostgreSQL; SQLite writers are serialised by BEGIN IMMEDIATE.
    return db.scalar(select(Budget).where(Budget.municipality_id == municipality_id, Budget.year == year)
                     .with_for_update().execution_options(populate_existing=True))


def set_budget(db: Session, *, data: BudgetIn) -> Budget:
    mid = target_municipality_id(db, code=data.municipality_code)
    budget = _locked_budget(db, municipality_id=mid, year=data.year)
    if budget is None:
        budget = Budget(municipality_id=mid, year=data.year, amount_krw=data.amount, committed_krw=0)
        db.add(budget)
        flush_or_conflict(db, "The budget of {year} was set at the same moment; try again", year=data.year)
        return budget
    if data.amount < budget.committed_krw:
        raise Conflict("{committed} won of the {year} budget is already committed; the budget cannot be lower",
                       committed=budget.committed_krw, year=data.year)
    budget.amount_krw = data.amount
    budget.updated_at = utcnow()
    db.flush()
    return budget


def budget_summary(budget: Budget | None, *, year: int) -> dict[str, Any]:
    amount = budget.amount_krw if budget else 0
    committed = budget.committed_krw if budget else 0
    return {"year": year, "amount_krw": amount, "committed_krw": committed, "remaining_krw": amount - committed,
            "used_share": committed / amount if amount else 0.0}


# --- applications ----------------------------------------------------------------------------

def get_application(db: Session, *, application_id: int, lock: bool = False) -> Application:
    stmt = select(Application).where(Application.id == application_id)
    if lock:
        stmt = stmt.with_for_update(of=Application.__table__).execution_options(populate_existing=True)
    found = db.scalar(stmt)
    if found is None:
        raise NotFound("Application {id} not found", id=application_id)
    return found


def list_applications(db: Session, *, page: PageParams, state: str | None = None, year: int | None = None,
                      solution: str | None = None, merchant_id: int | None = None
                      ) -> tuple[list[Application], int]:
    stmt = select(Application).order_by(Application.created_at.desc(), Application.id.desc())
    if state:
        stmt = stmt.where(Application.state == state)
    if year:
        stmt = stmt.where(Application.year == year)
    if solution:
        stmt = stmt.where(Application.solution_id.in_(select(Solution.id).where(Solution.code == solution)))
    if merchant_id:
        stmt = stmt.where(Application.merchant_id == merchant_id)
    return paginate(db, stmt, page)


def history(db: Session, *, application_id: int) -> list[ApplicationStep]:
    return list(db.scalars(select(ApplicationStep).where(ApplicationStep.application_id == application_id)
                           .order_by(ApplicationStep.at, ApplicationStep.id)))


def create_application(db: Session, *, data: ApplicationIn) -> Application:
    merchant = db.scalar(select(MerchantStore).where(MerchantStore.id == data.merchant_id))
    if merchant is None:
        raise InvalidInput.field("merchant_id", "Unknown merchant {id}", id=data.merchant_id)
    solution = ensure_catalogue(db, municipality_id=merchant.municipality_id)[data.solution]
    if data.requested_subsidy_krw > solution.max_subsidy_krw:
        raise InvalidInput.field("requested_subsidy_krw",
                                 "The subsidy for {solution} is at most {maximum} won",
                                 solution=solution.name, maximum=solution.max_subsidy_krw)
    open_one = db.scalar(select(Application.id).where(Application.merchant_id == merchant.id,
                                                      Application.solution_id == solution.id,
                                                      Application.state.in_(OPEN_STATES)))
    if open_one is not None:
        raise Conflict("The merchant already has an open application ({id}) for {solution}", id=open_one,
                       solution=solution.name)
    now = utcnow()
    application = Application(municipality_id=merchant.municipality_id, merchant_id=merchant.id,
                              solution_id=solution.id, year=data.year,
                              requested_subsidy_krw=data.requested_subsidy_krw, committed_krw=0, state="submitted",
                              created_at=now, updated_at=now)
    db.add(application)
    db.flush()
    db.add(ApplicationStep(municipality_id=application.municipality_id, application_id=application.id,
                           from_state=None, to_state="submitted", actor=actor(db), at=now))
    db.flush()
    return application


def transition(db: Session, *, application_id: int, data: TransitionIn) -> Application:
    """Move an application one step. Approval commits its subsidy against the year's budget, refused with
    409 when the budget does not cover it; the budget row is locked so that two officials approving at the
    same moment cannot overdraw it. Cancelling before installation releases the commitment; after
    installation the subsidy has been spent and stays committed."""
    application = get_application(db, application_id=application_id, lock=True)
    allowed = TRANSITIONS[application.state]
    if data.to not in allowed:
        exc = Conflict("An application that is {state} cannot become {to}; allowed: {allowed}",
                       state=application.state, to=data.to, allowed=", ".join(allowed) or "-")
        exc.errors = [field_error("to", "Allowed next states: {allowed}", allowed=", ".join(allowed) or "-")]
        raise exc
    if data.to == "rejected" and not data.reason:
        raise InvalidInput.field("reason", "Give the reason for rejecting")
    if data.to == "installed" and data.on is not None and data.on > today_seoul():
        # "Today" is Seoul's: just after midnight in Seoul, UTC still says yesterday.
        raise InvalidInput.field("on", "The installation date {on} lies in the future", on=data.on.isoformat())
    if data.to == "approved":
        budget = _locked_budget(db, municipality_id=application.municipality_id, year=application.year)
        if budget is None:
            raise Conflict("No subsidy budget is set for {year}", year=application.year)
        remaining = budget.amount_krw - budget.committed_krw
        if application.requested_subsidy_krw > remaining:
            raise Conflict("The subsidy of {amount} won exceeds what remains of the {year} budget ({remaining} won)",
                           amount=application.requested_subsidy_krw, year=application.year, remaining=remaining)
        budget.committed_krw += application.requested_subsidy_krw
        budget.updated_at = utcnow()
        application.committed_krw = application.requested_subsidy_krw
    if data.to == "cancelled" and application.state == "approved" and application.committed_krw:
        budget = _locked_budget(db, municipality_id=application.municipality_id, year=application.year)
        if budget is not None:
            budget.committed_krw -= application.committed_krw
            budget.updated_at = utcnow()
        application.committed_krw = 0
    if data.to == "installed":
        application.installed_date = data.on or today_seoul()
    now = utcnow()
    db.add(ApplicationStep(municipality_id=application.municipality_id, application_id=application.id,
                           from_state=application.state, to_state=data.to, reason=data.reason, actor=actor(db), at=now))
    application.state = data.to
    application.reason = data.reason if data.to in ("rejected", "cancelled") else application.reason
    application.updated_at = now
    db.flush()
    return application


def funnel(db: Session, *, year: int | None = None) -> dict[str, int]:
    stmt = select(Application.state, func.count()).group_by(Application.state)
    if year:
        stmt = stmt.where(Application.year == year)
    counts = dict(db.execute(stmt).all())
    return {s: int(counts.get(s, 0)) for s in STATES}


def funnel_by_solution(db: Session, *, year: int | None = None) -> list[dict[str, Any]]:
    stmt = (select(Solution.code, Solution.name, Application.state, func.count())
            .join(Solution, Solution.id == Application.solution_id)
            .group_by(Solution.code, Solution.name, Application.state))
    if year:
        stmt = stmt.where(Application.year == year)
    return [{"solution": c, "solution_name": n, "state": s, "count": int(k)} for c, n, s, k in db.execute(stmt)]


# --- consulting ------------------------------------------------------------------------------

def get_consulting(db: Session, *, consulting_id: int) -> ConsultingSession:
    return one_or_404(db, ConsultingSession, consulting_id, "Consulting session {id} not found")


def list_consulting(db: Session, *, page: PageParams, merchant_id: int | None = None,
                    date_from: date | None = None, date_to: date | None = None
                    ) -> tuple[list[ConsultingSession], int]:
    stmt = select(ConsultingSession).order_by(ConsultingSession.session_date.desc(), ConsultingSession.id.desc())
    if merchant_id:
        stmt = stmt.where(ConsultingSession.merchant_id == merchant_id)
    if date_from:
        stmt = stmt.where(ConsultingSession.session_date >= date_from)
    if date_to:
        stmt = stmt.where(ConsultingSession.session_date <= date_to)
    return paginate(db, stmt, page)


def month_sessions(db: Session, *, year: int, month: int) -> list[ConsultingSession]:
    first = date(year, month, 1)
    last = date(year, month, calendar.monthrange(year, month)[1])
    return list(db.scalars(select(ConsultingSession).where(ConsultingSession.session_date >= first,
                                                           ConsultingSession.session_date <= last)
                           .order_by(ConsultingSession.session_date, ConsultingSession.id)))


def open_followups(db: Session, *, limit: int = 50) -> list[FollowUp]:
    return list(db.scalars(select(FollowUp).where(FollowUp.done.is_(False)).order_by(FollowUp.due_date, FollowUp.id)
                           .limit(limit)))


def create_consulting(db: Session, *, data: ConsultingIn) -> ConsultingSession:
    merchant = db.scalar(select(MerchantStore).where(MerchantStore.id == data.merchant_id))
    if merchant is None:
        raise InvalidInput.field("merchant_id", "Unknown merchant {id}", id=data.merchant_id)
    session = ConsultingSession(municipality_id=merchant.municipality_id, merchant_id=merchant.id,
                                session_date=data.session_date, topic=data.topic, notes=data.notes,
                                consultant=data.consultant)
    session.actions = [FollowUp(municipality_id=merchant.municipality_id, action=a.action, due_date=a.due_date,
                                done=a.done) for a in data.actions]
    db.add(session)
    db.flush()
    return session


def set_followup_done(db: Session, *, followup_id: int, done: bool) -> FollowUp:
    found = db.scalar(select(FollowUp).where(FollowUp.id == followup_id))
    if found is None:
        raise NotFound("Follow-up {id} not found", id=followup_id)
    found.done = done
    db.flush()
    return found


# --- outcomes --------------------------------------------------------------------------------

_OUTCOME_ROWS = TypeAdapter(OutcomeIn)


def _row_errors(index: int, exc: ValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = ["rows", index, *[p for p in err["loc"] if p != "__root__"]]
        template, params = error_template(dict(err))
        msg = str(err["msg"]).removeprefix("Value error, ")
        out.append({"loc": loc, "msg": msg, "type": err["type"], "template": template, "params": params})
    return out


def import_outcomes(db: Session, *, rows: list[Any]) -> dict[str, int]:
    """Store monthly figures (one row per merchant and month; a repeated month replaces the figures).
    A bad row refuses the whole batch, with every bad row named: nothing is half-saved."""
    if not rows:
        raise InvalidInput.field("rows", "The batch is empty")
    if len(rows) > MAX_BATCH:
        raise InvalidInput.field("rows", "At most {n} rows per batch", n=MAX_BATCH)
    errors: list[dict[str, Any]] = []
    parsed: list[tuple[int, OutcomeIn]] = []
    for i, raw in enumerate(rows):
        if not isinstance(raw, dict):
            errors.append(field_error(["rows", i], "Each row must be an object"))
            continue
        try:
            parsed.append((i, _OUTCOME_ROWS.validate_python(raw)))
        except ValidationError as exc:
            errors.extend(_row_errors(i, exc))
    ids = {p.merchant_id for _, p in parsed if p.merchant_id}
    brns = {p.brn for _, p in parsed if p.brn}
    by_id: dict[int, int] = {}
    by_brn: dict[str, tuple[int, int]] = {}
    if ids:
        by_id = dict(db.execute(select(MerchantStore.id, MerchantStore.municipality_id)
                                .where(MerchantStore.id.in_(ids))).all())
    if brns:
        found: dict[str, list[tuple[int, int]]] = {}
        for mid, brn, muni in db.execute(select(MerchantStore.id, MerchantStore.brn, MerchantStore.municipality_id)
                                         .where(MerchantStore.brn.in_(brns))):
            found.setdefault(brn, []).append((mid, muni))
        by_brn = {b: v[0] for b, v in found.items() if len(v) == 1}
    seen: dict[tuple[int, Any], int] = {}
    resolved: list[dict[str, Any]] = []
    for i, p in parsed:
        if p.merchant_id is not None:
            if p.merchant_id not in by_id:
                errors.append(field_error(["rows", i, "merchant_id"], "Unknown merchant {id}", id=p.merchant_id))
                continue
            mid, muni = p.merchant_id, by_id[p.merchant_id]
        else:
            if p.brn not in by_brn:
                errors.append(field_error(["rows", i, "brn"], "Unknown merchant {brn}", brn=p.brn))
                continue
            mid, muni = by_brn[p.brn]
        month = month_start(p.month)
        if (mid, month) in seen:
            errors.append(field_error(["rows", i, "month"], "Row {other} already gives {month} for this merchant",
                                      other=seen[(mid, month)], month=p.month))
            continue
        seen[(mid, month)] = i
        resolved.append({"merchant_id": mid, "municipality_id": muni, "month_date": month, "sales_krw": p.sales_krw,
                         "orders": p.orders, "reservations": p.reservations, "no_show_rate": p.no_show_rate,
                         "staff_hours": p.staff_hours})
    if errors:
        raise InvalidInput("{n} row is invalid; nothing was saved",
                           plural="{n} rows are invalid; nothing was saved", errors=errors,
                           n=len({e["loc"][1] for e in errors if len(e["loc"]) > 1}) or 1)
    merchant_ids = sorted({r["merchant_id"] for r in resolved})
    existing: dict[tuple[int, date], int] = {}
    for start in range(0, len(merchant_ids), 500):
        chunk = merchant_ids[start:start + 500]
        for oid, mid, month in db.execute(select(Outcome.id, Outcome.merchant_id, Outcome.month_date)
                                          .where(Outcome.merchant_id.in_(chunk))):
            existing[(mid, month)] = oid
    new_rows = [r for r in resolved if (r["merchant_id"], r["month_date"]) not in existing]
    changed = [{**r, "oid": existing[(r["merchant_id"], r["month_date"])]} for r in resolved
               if (r["merchant_id"], r["month_date"]) in existing]
    table = Outcome.__table__
    if new_rows:
        db.execute(insert(table), check_rows(db, table, new_rows))
    if changed:
        fields = ("sales_krw", "orders", "reservations", "no_show_rate", "staff_hours")
        stmt = update(table).where(table.c.id == bindparam("b_id"), within_reach(db, table)).values(
            {f: bindparam("b_" + f) for f in fields})
        db.connection().execute(stmt, [{"b_id": r["oid"], **{"b_" + f: r[f] for f in fields}} for r in changed])
    db.flush()
    return {"received": len(rows), "created": len(new_rows), "updated": len(changed)}


def merchant_outcomes(db: Session, *, merchant_id: int) -> list[Outcome]:
    return list(db.scalars(select(Outcome).where(Outcome.merchant_id == merchant_id).order_by(Outcome.month_date)))


def outcome_out(o: Outcome) -> dict[str, Any]:
    return {"merchant_id": o.merchant_id, "month": o.month_date.strftime("%Y-%m"), "sales_krw": o.sales_krw,
            "orders": o.orders, "reservations": o.reservations, "no_show_rate": o.no_show_rate,
            "staff_hours": o.staff_hours}
