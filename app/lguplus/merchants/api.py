"""REST API of the small-merchant DX program under /api/v1/lguplus/merchants."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from app.core.batch import read_batch
from app.core.deps import SessionDep, SettingsDep
from app.core.errors import Forbidden, InvalidInput
from app.core.pagination import Page, PageDep
from app.core.schemas import Id
from app.lguplus.merchants import report, service
from app.lguplus.merchants.models import TRANSITIONS, Application, ConsultingSession, MerchantStore
from app.lguplus.merchants.schemas import (
    ApplicationIn,
    ApplicationOut,
    BatchResult,
    BudgetIn,
    BudgetOut,
    ConsultingIn,
    ConsultingOut,
    FollowUpOut,
    FollowUpUpdate,
    MerchantIn,
    MerchantOut,
    MerchantUpdate,
    OutcomeOut,
    SolutionCode,
    SolutionIn,
    SolutionOut,
    State,
    StepOut,
    TransitionIn,
    Year,
)
from app.platform.auth import OptionalPrincipal

router = APIRouter()
Text = Annotated[str | None, Query(max_length=100)]
CodeQuery = Annotated[str | None, Query(pattern=r"^\d{10}$")]
TAG = ["lguplus.merchants"]


def merchant_or_404(merchant_id: Id, db: SessionDep, _: OptionalPrincipal) -> MerchantStore:
    return service.get_merchant(db, merchant_id=merchant_id)


def application_or_404(application_id: Id, db: SessionDep, _: OptionalPrincipal) -> Application:
    return service.get_application(db, application_id=application_id)


def consulting_or_404(consulting_id: Id, db: SessionDep, _: OptionalPrincipal) -> ConsultingSession:
    return service.get_consulting(db, consulting_id=consulting_id)


MerchantDep = Annotated[MerchantStore, Depends(merchant_or_404)]
ApplicationDep = Annotated[Application, Depends(application_or_404)]
ConsultingDep = Annotated[ConsultingSession, Depends(consulting_or_404)]


def merchant_out(m: MerchantStore) -> MerchantOut:
    return MerchantOut(id=m.id, brn=m.brn, name=m.name, address=m.address, dong_code=m.dong_code,
                       dong_name=m.dong_name, category=m.category,
                       owner_phone_masked=service.masked_phone(m.owner_phone), lat=m.lat, lon=m.lon,
                       municipality_id=m.municipality_id)


def application_out(a: Application, *, steps: list | None = None) -> ApplicationOut:
    return ApplicationOut(id=a.id, merchant_id=a.merchant_id, merchant_name=a.merchant.name, solution=a.solution.code,
                          solution_name=a.solution.name, year=a.year, requested_subsidy_krw=a.requested_subsidy_krw,
                          committed_krw=a.committed_krw, state=a.state, reason=a.reason,
                          installed_date=a.installed_date, allowed=list(TRANSITIONS[a.state]), created_at=a.created_at,
                          history=[StepOut.model_validate(s) for s in steps] if steps is not None else None)


def consulting_out(c: ConsultingSession) -> ConsultingOut:
    return ConsultingOut(id=c.id, merchant_id=c.merchant_id, merchant_name=c.merchant.name, session_date=c.session_date,
                         topic=c.topic, notes=c.notes, consultant=c.consultant,
                         actions=[FollowUpOut.model_validate(a) for a in c.actions])


def _page(items: list[Any], total: int, page: Any) -> Page:
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # 20,000 rows of outcomes are about 2 MB


async def batch_rows(request: Request) -> list[Any]:
    return await read_batch(request, MAX_UPLOAD_BYTES)  # the cap is read at each call


BatchRows = Annotated[list[Any], Depends(batch_rows)]
BATCH_DOC = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
    "text/csv": {"schema": {"type": "string"}}}}}


# --- merchants -------------------------------------------------------------------------------

@router.get("", response_model=Page[MerchantOut], tags=TAG)
def list_merchants(db: SessionDep, page: PageDep, q: Text = None,
                   category: Annotated[str | None, Query(max_length=40)] = None, dong_code: CodeQuery = None,
                   participant: bool | None = None):
    """Merchants of the program, searchable by name, address or registration number."""
    items, total = service.list_merchants(db, page=page, q=q, category=category, dong_code=dong_code,
                                          participant=participant)
    return _page([merchant_out(m) for m in items], total, page)


@router.post("", status_code=201, response_model=MerchantOut, tags=TAG)
def create_merchant(data: MerchantIn, db: SessionDep):
    return merchant_out(service.create_merchant(db, data=data))


# --- solutions -------------------------------------------------------------------------------

@router.get("/solutions", response_model=list[SolutionOut], tags=TAG)
def list_solutions(db: SessionDep, principal: OptionalPrincipal, municipality_code: CodeQuery = None):
    """The catalogue with this municipality's subsidy rule (share of the one-off cost and a year of fees,
    up to the cap); solutions not configured yet show the program's default rule."""
    mid = service.target_municipality_id(db, code=municipality_code) if (
        municipality_code or (principal and principal.municipality_id)) else None
    return [SolutionOut(**s) for s in service.list_solutions(db, municipality_id=mid)]


@router.put("/solutions/{code}", response_model=SolutionOut, tags=TAG)
def set_solution(code: SolutionCode, data: SolutionIn, db: SessionDep, principal: OptionalPrincipal,
                 municipality_code: CodeQuery = None):
    """Set the district's subsidy rule of one solution: administrators (or an integrator's key with write
    scope). Applications already submitted keep the subsidy they asked for."""
    if principal is not None and principal.kind == "user" and not principal.is_admin:
        raise Forbidden("Only administrators may change the subsidy rules")
    mid = service.target_municipality_id(db, code=municipality_code)
    s = service.set_solution(db, municipality_id=mid, code=code, data=data)
    return SolutionOut(id=s.id, code=s.code, name=s.name, monthly_fee_krw=s.monthly_fee_krw, one_off_krw=s.one_off_krw,
                       subsidy_pct=s.subsidy_pct, subsidy_cap_krw=s.subsidy_cap_krw, max_subsidy_krw=s.max_subsidy_krw,
                       configured=True)


# --- budget ----------------------------------------------------------------------------------

@router.get("/budget", response_model=BudgetOut, tags=TAG)
def get_budget(db: SessionDep, year: Annotated[Year, Query()], municipality_code: CodeQuery = None):
    """The year's subsidy budget: amount, committed by approvals, remaining."""
    mid = service.target_municipality_id(db, code=municipality_code)
    return service.budget_summary(service.get_budget(db, municipality_id=mid, year=year), year=year)


@router.put("/budget", response_model=BudgetOut, tags=TAG,
            responses={409: {"description": "lower than what is already committed"}})
def set_budget(data: BudgetIn, db: SessionDep):
    return service.budget_summary(service.set_budget(db, data=data), year=data.year)


# --- applications ----------------------------------------------------------------------------

@router.get("/applications", response_model=Page[ApplicationOut], tags=TAG)
def list_applications(db: SessionDep, page: PageDep, state: State | None = None, year: Year | None = None,
                      solution: SolutionCode | None = None, merchant_id: Id | None = None):
    items, total = service.list_applications(db, page=page, state=state, year=year, solution=solution,
                                             merchant_id=merchant_id)
    return _page([application_out(a) for a in items], total, page)


@router.post("/applications", status_code=201, response_model=ApplicationOut, tags=TAG)
def create_application(data: ApplicationIn, db: SessionDep):
    """Apply for a subsidised solution; the requested subsidy may not exceed the solution's rule."""
    a = service.create_application(db, data=data)
    return application_out(a, steps=service.history(db, application_id=a.id))


@router.get("/applications/{application_id}", response_model=ApplicationOut, tags=TAG)
def get_application(application: ApplicationDep, db: SessionDep):
    return application_out(application, steps=service.history(db, application_id=application.id))


@router.post("/applications/{application_id}/transitions", response_model=ApplicationOut, tags=TAG,
             responses={409: {"description": "not allowed from the current state (the allowed ones are listed), "
                                             "or the budget does not cover the subsidy"}})
def transition(application: ApplicationDep, data: TransitionIn, db: SessionDep):
    """submitted -> reviewed -> approved -> installed -> active, cancelled at any point, rejected (with a
    reason) before approval. Approval commits the subsidy against the year's budget."""
    a = service.transition(db, application_id=application.id, data=data)
    return application_out(a, steps=service.history(db, application_id=a.id))


@router.get("/funnel", tags=TAG)
def funnel(db: SessionDep, year: Year | None = None) -> dict[str, int]:
    """Applications per state."""
    return service.funnel(db, year=year)


# --- consulting ------------------------------------------------------------------------------

@router.get("/consulting", response_model=Page[ConsultingOut], tags=TAG)
def list_consulting(db: SessionDep, page: PageDep, merchant_id: Id | None = None,
                    date_from: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None,
                    date_to: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None):
    from datetime import date

    try:
        start = date.fromisoformat(date_from) if date_from else None
        end = date.fromisoformat(date_to) if date_to else None
    except ValueError:
        raise InvalidInput.field("date_from", "Enter a date as YYYY-MM-DD.") from None
    items, total = service.list_consulting(db, page=page, merchant_id=merchant_id, date_from=start, date_to=end)
    return _page([consulting_out(c) for c in items], total, page)


@router.post("/consulting", status_code=201, response_model=ConsultingOut, tags=TAG)
def create_consulting(data: ConsultingIn, db: SessionDep):
    return consulting_out(service.create_consulting(db, data=data))


@router.get("/consulting/{consulting_id}", response_model=ConsultingOut, tags=TAG)
def get_consulting(consulting: ConsultingDep):
    return consulting_out(consulting)


@router.patch("/followups/{followup_id}", response_model=FollowUpOut, tags=TAG)
def update_followup(followup_id: Id, data: FollowUpUpdate, db: SessionDep):
    return FollowUpOut.model_validate(service.set_followup_done(db, followup_id=followup_id, done=data.done))


# --- outcomes --------------------------------------------------------------------------------

@router.post("/outcomes", response_model=BatchResult, tags=TAG, openapi_extra=BATCH_DOC)
def import_outcomes(rows: BatchRows, db: SessionDep):
    """Monthly figures per merchant (JSON array or CSV: ``brn`` or ``merchant_id``, ``month`` as YYYY-MM,
    ``sales_krw``, ``orders``, ``reservations``, ``no_show_rate``, ``staff_hours``). A repeated month
    replaces its figures. A bad row refuses the whole batch with every bad row named."""
    return service.import_outcomes(db, rows=rows)


@router.get("/report", tags=TAG)
def effect_report(db: SessionDep, settings: SettingsDep, year: Year | None = None) -> dict[str, Any]:
    """Participants' change against comparable non-participants (difference in differences, 95% interval,
    clustered by merchant) overall per metric and per solution for sales; the adoption funnel."""
    return report.effect_report(db, k=settings.k_threshold, year=year)


# --- one merchant (after the fixed paths) ----------------------------------------------------

@router.get("/{merchant_id}", response_model=MerchantOut, tags=TAG)
def get_merchant(merchant: MerchantDep, db: SessionDep):
    service.record_owner_view(db, merchant=merchant)
    return merchant_out(merchant)


@router.patch("/{merchant_id}", response_model=MerchantOut, tags=TAG)
def update_merchant(merchant: MerchantDep, data: MerchantUpdate, db: SessionDep):
    return merchant_out(service.update_merchant(db, merchant=merchant, data=data))


@router.delete("/{merchant_id}", status_code=204, tags=TAG)
def delete_merchant(merchant: MerchantDep, db: SessionDep):
    service.delete_merchant(db, merchant=merchant)
    return Response(status_code=204)


@router.get("/{merchant_id}/outcomes", response_model=list[OutcomeOut], tags=TAG)
def merchant_outcomes(merchant: MerchantDep, db: SessionDep):
    return [OutcomeOut(**service.outcome_out(o)) for o in service.merchant_outcomes(db, merchant_id=merchant.id)]
