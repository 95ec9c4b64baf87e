"""Staff pages of the small-merchant DX program: merchants and their map, the application queue with
the budget bar, the consulting calendar, the outcomes upload and the effect report."""

from __future__ import annotations

import calendar
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from pydantic import Field, model_validator

from app.core.batch import parse_csv, too_large
from app.core.config import get_settings
from app.core.csvout import csv_response
from app.core.deps import SessionDep
from app.core.errors import DomainError, Forbidden
from app.core.forms import answer_file, answer_form, form_to_dict, validated
from app.core.i18n import gettext as _
from app.core.pagination import PageParams
from app.core.schemas import Id, InputModel, ShortText
from app.core.templating import flash, render, see_other
from app.lguplus.merchants import api, report, service
from app.lguplus.merchants.api import ApplicationDep, MerchantDep
from app.lguplus.merchants.models import SOLUTIONS, STATES, TRANSITIONS
from app.lguplus.merchants.schemas import (
    ApplicationIn,
    BudgetIn,
    ConsultingIn,
    MerchantIn,
    MerchantUpdate,
    SolutionCode,
    SolutionIn,
    State,
    TransitionIn,
    Year,
    in_range,
)
from app.platform.auth import WRITER, WebUser

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25
MAP_W, MAP_H = 720, 460
STATE_LABELS = {"submitted": "Submitted", "reviewed": "Reviewed", "approved": "Approved", "installed": "Installed",
                "active": "Active", "cancelled": "Cancelled", "rejected": "Rejected"}


def _k() -> int:
    return get_settings().k_threshold


def _year(year: int | None) -> int:
    return year or service.today_seoul().year


def _solution_options() -> list[tuple[str, str]]:
    return [(code, spec[0]) for code, spec in SOLUTIONS.items()]


# --- merchants and map -----------------------------------------------------------------------

def map_layout(points: list[dict[str, Any]]) -> dict[str, Any]:
    """Positions scaled into an SVG box (north up), with a label at the middle of each 행정동."""
    if not points:
        return {"points": [], "labels": [], "width": MAP_W, "height": MAP_H}
    lats = [p["lat"] for p in points]
    lons = [p["lon"] for p in points]
    lat0, lat1, lon0, lon1 = min(lats), max(lats), min(lons), max(lons)
    span_lat, span_lon = max(lat1 - lat0, 1e-4), max(lon1 - lon0, 1e-4)
    pad = 24

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return (round(pad + (lon - lon0) / span_lon * (MAP_W - 2 * pad), 1),
                round(MAP_H - pad - (lat - lat0) / span_lat * (MAP_H - 2 * pad), 1))

    out, by_dong = [], {}
    for p in points:
        x, y = xy(p["lat"], p["lon"])
        out.append({**p, "x": x, "y": y})
        by_dong.setdefault(p["dong"], []).append((x, y))
    labels = [{"name": d, "x": round(sum(a for a, _b in v) / len(v), 1), "y": round(sum(b for _a, b in v) / len(v), 1),
               "n": len(v)} for d, v in sorted(by_dong.items())]
    return {"points": out, "labels": labels, "width": MAP_W, "height": MAP_H}


def _merchants_page(request: Request, db, *, q, category, dong_code, page, values, errors, status_code=200):
    filters = {k: v for k, v in {"q": q, "category": category, "dong_code": dong_code}.items() if v}
    items, total = service.list_merchants(db, page=PageParams(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE),
                                          **filters)
    return render(request, "lguplus/merchants/merchants.html", {
        "merchants": items, "total": total, "page": page, "pages": max(1, -(-total // PAGE_SIZE)),
        "filters": filters, "query_base": urlencode(filters), "categories": service.categories(db),
        "dongs": service.dongs(db), "map": map_layout(service.map_points(db)), "mask": service.masked_phone,
        "values": values, "errors": errors}, status_code=status_code)


@router.get("/", name="lgum_merchants")
def merchants_page(request: Request, db: SessionDep, _user: WebUser,
                   q: Annotated[str | None, Query(max_length=100)] = None,
                   category: Annotated[str | None, Query(max_length=40)] = None,
                   dong_code: Annotated[str | None, Query(pattern=r"^\d{10}$")] = None,
                   page: Annotated[int, Query(ge=1, le=100000)] = 1):
    return _merchants_page(request, db, q=q, category=category, dong_code=dong_code, page=page, values={},
                           errors={})


@router.post("/", name="lgum_merchant_new", dependencies=WRITER)
async def merchant_new(request: Request, db: SessionDep):
    values = form_to_dict(await request.form())
    return answer_form(request, db, MerchantIn, values, lambda data: service.create_merchant(db, data=data),
                       page=lambda errors: _merchants_page(request, db, q=None, category=None, dong_code=None,
                                                           page=1, values=values, errors=errors),
                       message=_("Merchant registered."),
                       done=lambda merchant: request.url_for("lgum_merchant", merchant_id=merchant.id))


def _merchant_page(request: Request, db, merchant, *, values, errors, status_code=200, edit_values=None,
                   edit_errors=None):
    apps, _total = service.list_applications(db, page=PageParams(limit=100, offset=0), merchant_id=merchant.id)
    sessions, _n = service.list_consulting(db, page=PageParams(limit=50, offset=0), merchant_id=merchant.id)
    outcomes = [service.outcome_out(o) for o in service.merchant_outcomes(db, merchant_id=merchant.id)]
    return render(request, "lguplus/merchants/merchant.html", {
        "m": merchant, "phone": service.masked_phone(merchant.owner_phone), "applications": apps,
        "sessions": sessions, "outcomes": outcomes, "solutions": _solution_options(), "values": values,
        "errors": errors, "labels": STATE_LABELS, "year": _year(None), "edit_errors": edit_errors or {},
        "edit_values": edit_values if edit_values is not None else {
            k: getattr(merchant, k) for k in ("name", "address", "dong_name", "dong_code", "category", "lat", "lon")}},
        status_code=status_code)


@router.get("/merchants/{merchant_id}", name="lgum_merchant")
def merchant_page(request: Request, merchant: MerchantDep, db: SessionDep):
    service.record_owner_view(db, merchant=merchant)
    return _merchant_page(request, db, merchant, values={}, errors={})


@router.post("/merchants/{merchant_id}", name="lgum_merchant_edit", dependencies=WRITER)
async def merchant_edit(request: Request, merchant: MerchantDep, db: SessionDep):
    values = form_to_dict(await request.form())
    return answer_form(request, db, MerchantUpdate, values,
                       lambda data: service.update_merchant(db, merchant=merchant, data=data),
                       page=lambda errors: _merchant_page(request, db, merchant, values={}, errors={},
                                                          edit_values=values, edit_errors=errors),
                       message=_("Merchant updated."), done=request.url_for("lgum_merchant", merchant_id=merchant.id))


@router.post("/merchants/{merchant_id}/applications", name="lgum_merchant_apply", dependencies=WRITER)
async def merchant_apply(request: Request, merchant: MerchantDep, db: SessionDep):
    values = form_to_dict(await request.form())
    return answer_form(request, db, ApplicationIn, {**values, "merchant_id": merchant.id},
                       lambda data: service.create_application(db, data=data),
                       page=lambda errors: _merchant_page(request, db, merchant, values=values, errors=errors),
                       message=_("Application submitted."),
                       done=request.url_for("lgum_merchant", merchant_id=merchant.id))


# --- applications and budget -----------------------------------------------------------------

def _queue_page(request: Request, db, *, state, year, values, errors, status_code=200, page: int = 1,
                rule_values: dict | None = None, rule_errors: dict | None = None):
    year = _year(year)
    items, total = service.list_applications(db, page=PageParams(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE),
                                             state=state, year=year)
    filters = {k: v for k, v in {"year": year, "state": state}.items() if v}
    principal = request.state.principal
    mid = principal.municipality_id if principal else None
    budget = service.get_budget(db, municipality_id=mid, year=year) if mid else None
    return render(request, "lguplus/merchants/applications.html", {
        "applications": items, "total": total, "state": state, "year": year, "states": STATES, "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)), "query_base": urlencode(filters),
        "labels": STATE_LABELS, "transitions": TRANSITIONS, "budget": service.budget_summary(budget, year=year),
        "has_budget": budget is not None, "funnel": service.funnel(db, year=year),
        "solutions": service.list_solutions(db, municipality_id=mid), "values": values, "errors": errors,
        "rule_values": rule_values or {}, "rule_errors": rule_errors or {}, "solution_options": _solution_options()},
        status_code=status_code)


@router.get("/applications", name="lgum_applications")
def applications_page(request: Request, db: SessionDep, state: State | None = None, year: Year | None = None,
                      page: Annotated[int, Query(ge=1, le=100000)] = 1):
    return _queue_page(request, db, state=state, year=year, values={}, errors={}, page=page)


@router.post("/applications/{application_id}/transition", name="lgum_transition", dependencies=WRITER)
async def transition_page(request: Request, application: ApplicationDep, db: SessionDep):
    def move(data: TransitionIn) -> str:
        try:
            service.transition(db, application_id=application.id, data=data)
        except DomainError as exc:
            if exc.status != 422:  # a step the state does not allow reads as its one sentence, not per field
                exc.errors = []
            raise
        return data.to

    return answer_form(request, db, TransitionIn, form_to_dict(await request.form()), move,
                       map_errors=lambda errors: {"__all__": " ".join(errors.values())},  # one flash says all
                       message=lambda to: _("Application {id} is now {state}.", id=application.id,
                                            state=_(STATE_LABELS[to])),
                       done=str(request.url_for("lgum_applications")) + f"?year={application.year}")


@router.post("/budget", name="lgum_budget", dependencies=WRITER)
async def budget_page(request: Request, db: SessionDep):
    values = form_to_dict(await request.form())
    year = values.get("year")
    return answer_form(request, db, BudgetIn, values, lambda data: service.set_budget(db, data=data),
                       page=lambda errors: _queue_page(
                           request, db, state=None, values=values, errors=errors,
                           year=int(year) if str(year).isdigit() and 2000 <= int(year) <= 2100 else None),
                       message=_("Budget saved."),
                       done=lambda budget: str(request.url_for("lgum_applications")) + f"?year={budget.year}")


class SolutionForm(SolutionIn):
    db_table = "lgum_solution"
    code: SolutionCode


@router.post("/solutions", name="lgum_solution", dependencies=WRITER)
async def solution_page(request: Request, db: SessionDep, principal: WebUser):
    values = form_to_dict(await request.form())
    if not principal.is_admin:
        raise Forbidden("Only administrators may change the subsidy rules")

    def save(data: SolutionForm):
        mid = service.target_municipality_id(db, code=None)
        return service.set_solution(db, municipality_id=mid, code=data.code,
                                    data=SolutionIn(**data.model_dump(exclude={"code"})))

    return answer_form(request, db, SolutionForm, values, save,
                       page=lambda errors: _queue_page(request, db, state=None, year=None, values={}, errors={},
                                                       rule_values=values, rule_errors=errors),
                       message=lambda solution: _("Subsidy rule of {name} saved.", name=solution.name),
                       done=request.url_for("lgum_applications"))


# --- consulting ------------------------------------------------------------------------------

class ConsultingForm(InputModel):
    db_table = "lgum_consulting"
    merchant_id: Id
    session_date: date
    topic: ShortText
    notes: Annotated[str, Field(max_length=5000)] = ""
    consultant: Annotated[str, Field(max_length=100)] = ""
    action: Annotated[str, Field(max_length=300)] | None = None
    due_date: date | None = None

    @model_validator(mode="after")
    def _pair(self) -> ConsultingForm:
        in_range(self.session_date)
        if (self.action is None) != (self.due_date is None):
            raise ValueError("Give both the follow-up action and its due date, or neither")
        return self

    def to_input(self) -> dict[str, Any]:
        data = self.model_dump(exclude={"action", "due_date"})
        data["actions"] = [{"action": self.action, "due_date": self.due_date}] if self.action else []
        return data


def _calendar_page(request: Request, db, *, month: str | None, values, errors, status_code=200):
    today = service.today_seoul()
    year, mon = today.year, today.month
    if month:
        year, mon = int(month[:4]), int(month[5:7])
    sessions = service.month_sessions(db, year=year, month=mon)
    by_day: dict[date, list] = {}
    for s in sessions:
        by_day.setdefault(s.session_date, []).append(s)
    weeks = [[{"day": d, "in_month": d.month == mon, "sessions": by_day.get(d, []), "today": d == today}
              for d in week] for week in calendar.Calendar(firstweekday=6).monthdatescalendar(year, mon)]
    prev_m = f"{year - 1}-12" if mon == 1 else f"{year}-{mon - 1:02d}"
    next_m = f"{year + 1}-01" if mon == 12 else f"{year}-{mon + 1:02d}"
    merchants, _t = service.list_merchants(db, page=PageParams(limit=200, offset=0))
    return render(request, "lguplus/merchants/consulting.html", {
        "weeks": weeks, "year": year, "month": mon, "prev": prev_m, "next": next_m, "count": len(sessions),
        "followups": service.open_followups(db), "today": today, "merchants": merchants, "values": values,
        "errors": errors}, status_code=status_code)


@router.get("/consulting", name="lgum_consulting")
def consulting_page(request: Request, db: SessionDep,
                    month: Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")] = None):
    return _calendar_page(request, db, month=month, values={}, errors={})


@router.post("/consulting", name="lgum_consulting_new", dependencies=WRITER)
async def consulting_new(request: Request, db: SessionDep):
    values = form_to_dict(await request.form())

    return answer_form(request, db, ConsultingForm, values,  # the form's one follow-up: the input's list of actions
                       lambda form: service.create_consulting(db, data=validated(ConsultingIn, form.to_input())),
                       page=lambda errors: _calendar_page(request, db, month=None, values=values, errors=errors),
                       message=_("Consulting session recorded."),
                       done=lambda session: str(request.url_for("lgum_consulting"))
                       + f"?month={session.session_date:%Y-%m}")


@router.post("/followups/{followup_id}/done", name="lgum_followup_done", dependencies=WRITER)
async def followup_done(request: Request, followup_id: Id, db: SessionDep):
    service.set_followup_done(db, followup_id=followup_id, done=True)
    flash(request, _("Follow-up marked as done."))
    return see_other(str(request.url_for("lgum_consulting")))


# --- outcomes upload -------------------------------------------------------------------------

@router.api_route("/outcomes", methods=["GET", "POST"], name="lgum_outcomes", dependencies=WRITER)
async def outcomes_page(request: Request, db: SessionDep):
    context: dict[str, Any] = {"errors": []}
    if request.method == "GET":
        return render(request, "lguplus/merchants/outcomes.html", context)
    form = await request.form()
    upload = form.get("file")
    chosen = upload is not None and not isinstance(upload, str)
    fits = chosen and (upload.size or 0) <= api.MAX_UPLOAD_BYTES
    raw = await upload.read() if fits else b""

    def read():
        if not fits:  # refused before reading it
            raise too_large(api.MAX_UPLOAD_BYTES)
        return service.import_outcomes(db, rows=parse_csv(raw))

    return answer_file(request, db, read, problem=None if chosen else _("Choose a CSV file."),
                       page=lambda errors: render(request, "lguplus/merchants/outcomes.html", {**context,
                                                                                             "errors": errors}),
                       message=lambda result: _("Imported {received} rows: {created} new, {updated} updated.",
                                                **result),
                       done=request.url_for("lgum_outcomes"))


# --- effect report ---------------------------------------------------------------------------

@router.get("/report", name="lgum_report")
def report_page(request: Request, db: SessionDep, year: Year | None = None, until: date | None = None):
    """The effect report; ``until`` counts the merchants with a solution installed by that day (the
    link of a program KPI bound to that figure)."""
    data = report.effect_report(db, k=_k(), year=year, as_of=until)
    return render(request, "lguplus/merchants/report.html", {
        "r": data, "labels": STATE_LABELS, "year": year, "states": STATES,
        "funnel_labels": [_(STATE_LABELS[s]) for s in STATES], "funnel_counts": [data["funnel"][s] for s in STATES]})


@router.get("/report.csv", name="lgum_report_csv")
def report_csv(db: SessionDep, year: Year | None = None):
    data = report.effect_report(db, k=_k(), year=year)
    keys = ["estimate", "ci_low", "ci_high", "p_value", "treated_pre", "treated_post", "control_pre",
            "control_post", "n_treated", "n_control"]
    rows = [["all", metric, *[e.get(k) for k in keys]] for metric, e in data["overall"].items()]
    rows += [[e["solution"], "sales_krw", *[e.get(k) for k in keys]] for e in data["per_solution"]]
    return csv_response("merchants-effect.csv", ["solution", "metric", *keys], rows)


# --- home widget -----------------------------------------------------------------------------

def widget(db, principal) -> dict[str, Any] | None:
    year = service.today_seoul().year
    funnel = service.funnel(db, year=year)
    if not any(funnel.values()) or principal.municipality_id is None:
        return None
    budget = service.get_budget(db, municipality_id=principal.municipality_id, year=year)
    return {"year": year, "funnel": funnel, "budget": service.budget_summary(budget, year=year),
            "labels": STATE_LABELS}
