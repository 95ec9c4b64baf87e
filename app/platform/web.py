"""Staff pages of the shared domain: sign-in, home dashboard, programs with KPIs and milestones."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from app.core.csvout import csv_response
from app.core.deps import SessionDep, SettingsDep
from app.core.errors import InvalidInput
from app.core.forms import answer_form, form_to_dict
from app.core.i18n import gettext as _
from app.core.i18n import today_seoul
from app.core.manifest import installed, metric_sources
from app.core.pagination import PageParams
from app.core.templating import env, flash, render, see_other, url_for
from app.core.tenancy import bind_principal
from app.platform import accounts, audit, history
from app.platform import service as platform_service
from app.platform.auth import (
    WRITER,
    OptionalPrincipal,
    WebUser,
    client_address,
    csrf_protect,
    end_session,
    limiter,
    start_session,
)
from app.platform.deps import KpiDep, MilestoneDep, ProgramDep
from app.platform.models import PARTNER_KINDS, PROGRAM_STATUSES
from app.platform.schemas import (
    KpiIn,
    KpiOut,
    KpiUpdate,
    KpiValueIn,
    MilestoneIn,
    ProgramIn,
    ProgramUpdate,
    kpi_out,
)

STATUS_LABELS = {"planned": "Planned", "active": "Active", "completed": "Completed", "suspended": "Suspended"}
env.globals["status_label"] = lambda status: _(STATUS_LABELS.get(status, status))
env.filters["status_options"] = lambda statuses: [(s, _(STATUS_LABELS[s])) for s in statuses]
env.filters["module_options"] = lambda modules, locale: [
    (m.key, f"{m.name_ko if locale == 'ko' else m.name_en} ({m.key})") for m in modules]
env.filters["zip_names"] = lambda codes, items, locale: platform_service.municipality_options(items, locale)
env.filters["place"] = lambda municipality, locale=None: (
    platform_service.place_name(municipality, locale) if municipality is not None else "-")


def _source_options(locale: str) -> list[tuple[str, str]]:
    """The enabled modules' metric sources for a KPI's dropdown: "<module> · <metric> (<unit>)"."""
    return [(source.key, f"{_name(module, locale)} · {_name(source, locale)} ({source.unit})")
            for module, source in metric_sources().values()]


def _name(item: Any, locale: str) -> str:
    return item.name_ko if locale == "ko" else item.name_en


def kpi_view(request: Request, kpi) -> dict[str, Any]:
    """A KPI as pages show it: its figures and, when bound, where they come from ("출처: <module> ·
    <metric> · <period>", the refresh time and a link to the module's page for the same period)."""
    view: KpiOut = kpi_out(kpi)
    source = None
    found = metric_sources().get(kpi.source_key or "")
    if kpi.source_key is not None:
        reading = platform_service.current_reading(kpi)
        locale = request.state.locale
        source = {"key": kpi.source_key, "enabled": found is not None,
                  "module": _name(found[0], locale) if found else kpi.source_key.rsplit(".", 1)[0],
                  "metric": _name(found[1], locale) if found else kpi.source_key,
                  "reading": reading, "href": None}
        if found and found[1].stats_route and reading is not None:
            first, last = found[1].period_params
            query = urlencode({first: reading.period_start.isoformat(), last: reading.period_end.isoformat()})
            source["href"] = f"{url_for(request, found[1].stats_route)}?{query}"
    if source is not None:
        labels, values = [r.period_start.isoformat()[:7] for r in view.readings], [r.value for r in view.readings]
    else:
        labels, values = [v.measured_date.isoformat() for v in view.values], [v.value for v in view.values]
    return {"kpi": view, "source": source, "series_labels": labels, "series_values": values}


public_router = APIRouter(include_in_schema=False)
router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


# --- sign-in ---------------------------------------------------------------------------------

@public_router.get("/login", name="login")
def login_page(request: Request, next: str | None = None):
    return render(request, "platform/login.html", {"next": _safe_next(next), "errors": {}, "values": {}})


@public_router.post("/login", dependencies=[Depends(csrf_protect)])
async def login_submit(request: Request, db: SessionDep, settings: SettingsDep):
    form = await request.form()
    username, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "/")))
    try:
        user = accounts.sign_in(db, settings=settings, limiter=limiter(request), username=username,
                                password=password, address=client_address(request))
    except (accounts.SignInFailed, accounts.SignInThrottled) as failed:
        db.commit()  # keep the audit of a failure even though the request fails
        throttled = isinstance(failed, accounts.SignInThrottled)
        message = (_("Too many sign-in attempts. Try again in {minutes} minutes.",
                     minutes=-(-failed.retry_after_s // 60))
                   if throttled else _("Wrong username or password."))
        response = render(request, "platform/login.html",
                          {"next": target, "errors": {"__all__": message}, "values": {"username": username}},
                          status_code=429 if throttled else 400)
        if throttled:
            response.headers.update(failed.headers)
        return response
    start_session(request, db, user=user)
    bind_principal(db, accounts.principal_for_user(db, user))
    audit.record(db, action="sign_in", object_type="app_user", object_id=str(user.id),
                 municipality_id=user.municipality_id)
    return see_other(target)


@public_router.post("/logout", name="logout")
async def logout(request: Request, db: SessionDep, principal: OptionalPrincipal):
    """Sign out: not a write of the user's data, so viewers may too; it needs the page's CSRF token
    (another site must not sign people out), unless the session has already ended."""
    if principal is not None and principal.kind == "user":
        await csrf_protect(request)
        audit.record(db, action="sign_out", object_type="app_user", object_id=str(principal.id),
                     municipality_id=principal.municipality_id)
    end_session(request, db)
    return see_other("/login")


# --- home ------------------------------------------------------------------------------------

@router.get("/", name="home")
def home(request: Request, db: SessionDep, principal: WebUser):
    today = today_seoul()
    counts = platform_service.program_counts(db)
    programs = platform_service.programs_with_kpis(db, status="active", limit=200)
    kpis = []
    for program in programs:
        for kpi in program.kpis:
            view = kpi_view(request, kpi)
            if view["kpi"].progress is not None:
                kpis.append({"program": program, **view})
    kpis.sort(key=lambda k: k["kpi"].progress)
    entries, _n = audit.list_entries(db, page=PageParams(limit=10, offset=0))
    activity = history.present(db, entries)
    cards = request.app.state.home_cards.cards(request, db, principal)
    reach = (platform_service.all_municipalities(db) if principal.municipality_ids is not None else [])
    return render(request, "platform/home.html", {
        "counts": counts, "statuses": PROGRAM_STATUSES, "kpis": kpis[:8],
        "milestones": platform_service.milestones_due(db, today=today), "today": today,
        "activity": activity, "cards": cards, "reach": reach,
    })


# --- programs --------------------------------------------------------------------------------

def _choices(db) -> dict[str, Any]:
    return {"municipalities": platform_service.all_municipalities(db),
            "partners": platform_service.all_partners(db),
            "modules": sorted(installed().values(), key=lambda m: m.key),
            "statuses": PROGRAM_STATUSES, "partner_kinds": PARTNER_KINDS}


@router.get("/programs", name="program_list")
def program_list(request: Request, db: SessionDep,
                 partner: Annotated[str | None, Query(max_length=40)] = None,
                 municipality: Annotated[str | None, Query(max_length=10)] = None,
                 module: Annotated[str | None, Query(max_length=40)] = None,
                 status: Annotated[str | None, Query(max_length=20)] = None,
                 q: Annotated[str | None, Query(max_length=100)] = None,
                 page: Annotated[int, Query(ge=1, le=100000)] = 1):
    filters = {k: v for k, v in {"partner": partner, "municipality": municipality, "module": module,
                                 "status": status if status in PROGRAM_STATUSES else None,
                                 "q": q}.items() if v}
    items, total = platform_service.list_programs(
        db, page=PageParams(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE), **filters)
    pages = max(1, -(-total // PAGE_SIZE))
    return render(request, "platform/program_list.html", {
        "programs": items, "total": total, "page": page, "pages": pages, "filters": filters,
        "query_base": urlencode(filters), **_choices(db)})


@router.get("/programs.csv", name="program_list_csv")
def program_list_csv(db: SessionDep, partner: Annotated[str | None, Query(max_length=40)] = None,
                     municipality: Annotated[str | None, Query(max_length=10)] = None,
                     module: Annotated[str | None, Query(max_length=40)] = None,
                     status: Annotated[str | None, Query(max_length=20)] = None,
                     q: Annotated[str | None, Query(max_length=100)] = None):
    filters = {k: v for k, v in {"partner": partner, "municipality": municipality, "module": module,
                                 "status": status if status in PROGRAM_STATUSES else None,
                                 "q": q}.items() if v}
    programs = db.scalars(platform_service.program_query(**filters)).all()
    return csv_response("programs.csv", ["id", "title", "municipality_code", "municipality", "partners", "module",
                                         "status", "start_date", "end_date", "budget_krw", "agreement_date"],
                        [(p.id, p.title, p.municipality.code, platform_service.place_name(p.municipality),
                          " ".join(x.code for x in p.partners), p.module, p.status, p.start_date, p.end_date,
                          p.budget_krw, p.agreement_date) for p in programs])


@router.get("/programs/{program_id}/kpis.csv", name="program_kpis_csv")
def program_kpis_csv(program: ProgramDep):
    """Every KPI's history: the values typed by hand, and a bound KPI's computed months (measured_date:
    the month's first day; source and computed_at filled)."""
    rows = []
    for k in program.kpis:
        if k.source_key is None:
            rows += [(k.name, k.unit, k.baseline, k.target, v.measured_date, v.value, v.note, "", "")
                     for v in k.values]
        else:
            rows += [(k.name, k.unit, k.baseline, k.target, r.period_start, r.value, "", k.source_key,
                      r.computed_at.isoformat()) for r in k.readings if r.source_key == k.source_key]
    return csv_response(f"program-{program.id}-kpis.csv",
                        ["kpi", "unit", "baseline", "target", "measured_date", "value", "note", "source",
                         "computed_at"], rows)


def _program_form(request: Request, db, *, program=None, values: dict, errors: dict, status_code: int = 200):
    return render(request, "platform/program_form.html",
                  {"program": program, "values": values, "errors": errors, **_choices(db)},
                  status_code=status_code)


@router.api_route("/programs/new", methods=["GET", "POST"], name="program_new", dependencies=WRITER)
async def program_new(request: Request, db: SessionDep, principal: WebUser):
    if request.method == "GET":
        default_code = ""
        if principal.municipality_id:
            default_code = platform_service.get_municipality_by_id(
                db, municipality_id=principal.municipality_id).code
        return _program_form(request, db, values={"municipality_code": default_code, "status": "planned",
                                                  "partner_codes": []}, errors={})
    values = form_to_dict(await request.form(), lists=("partner_codes",))
    return answer_form(request, db, ProgramIn, values, lambda d: platform_service.create_program(db, data=d),
                       page=lambda errors: _program_form(request, db, values=values, errors=errors),
                       message=_("Program registered."),
                       done=lambda program: request.url_for("program_detail", program_id=program.id))


@router.get("/programs/{program_id}", name="program_detail")
def program_detail(request: Request, program: ProgramDep, db: SessionDep):
    return _detail(request, db, program)


@router.api_route("/programs/{program_id}/edit", methods=["GET", "POST"], name="program_edit", dependencies=WRITER)
async def program_edit(request: Request, program: ProgramDep, db: SessionDep):
    if request.method == "GET":
        values = {k: getattr(program, k) for k in ("title", "description", "module", "status", "start_date",
                                                   "end_date", "budget_krw", "agreement_date")}
        values["partner_codes"] = [p.code for p in program.partners]
        values["municipality_code"] = program.municipality.code
        return _program_form(request, db, program=program, values=values, errors={})
    values = form_to_dict(await request.form(), lists=("partner_codes",))
    values.pop("municipality_code", None)  # the lead municipality of a program does not change
    update = {k: values.get(k) for k in ("title", "description", "module", "start_date", "end_date",
                                         "budget_krw", "agreement_date")}
    update["partner_codes"] = values.get("partner_codes", [])
    update["description"] = update["description"] or ""
    return answer_form(request, db, ProgramUpdate, update,
                       lambda d: platform_service.update_program(db, program=program, data=d),
                       page=lambda errors: _program_form(request, db, program=program, errors=errors, values={
                           **values, "municipality_code": program.municipality.code}),
                       message=_("Changes saved."), done=request.url_for("program_detail", program_id=program.id))


def _change_status(db, program, data: ProgramUpdate) -> None:
    try:
        platform_service.update_program(db, program=program, data=data)
    except InvalidInput as exc:  # a transition the status does not allow: named by the statuses' labels
        labels = {k: ", ".join(_(STATUS_LABELS.get(s, s)) for s in str(v).split(", "))
                  for k, v in exc.params.items()}
        raise InvalidInput(exc.template, **labels) from exc


@router.post("/programs/{program_id}/status", name="program_status", dependencies=WRITER)
async def program_status(request: Request, program: ProgramDep, db: SessionDep):
    target = str((await request.form()).get("status", ""))
    return answer_form(request, db, ProgramUpdate, {"status": target}, lambda d: _change_status(db, program, d),
                       message=lambda _r: _("Status changed to {status}.", status=_(STATUS_LABELS[target])),
                       done=request.url_for("program_detail", program_id=program.id))


@router.post("/programs/{program_id}/delete", name="program_delete", dependencies=WRITER)
def program_delete(request: Request, program: ProgramDep, db: SessionDep):
    platform_service.delete_program(db, program=program)
    flash(request, _("Program deleted."))
    return see_other(str(request.url_for("program_list")))


def _module_link(request: Request, module_key: str | None) -> dict[str, str] | None:
    """The operating module's first page, so staff go from the program to where it is run."""
    manifest = installed().get(module_key or "")
    if manifest is None or not manifest.nav:
        return None
    name = manifest.name_ko if request.state.locale == "ko" else manifest.name_en
    return {"name": name, "href": str(url_for(request, manifest.nav[0].route_name))}


def _detail(request: Request, db, program, status_code: int = 200, **errors_and_values) -> Response:
    entries, _n = audit.list_entries(db, page=PageParams(limit=50, offset=0), object_type="program",
                                     object_id=str(program.id))
    context = {"program": program, "kpis": [kpi_view(request, k) for k in program.kpis],
               "history": history.present(db, entries), "source_options": _source_options(request.state.locale),
               "transitions": platform_service.STATUS_TRANSITIONS[program.status], "today": today_seoul(),
               "kpi_errors": {}, "milestone_errors": {}, "values": {},
               "module_link": _module_link(request, program.module)}
    context.update(errors_and_values)
    return render(request, "platform/program_detail.html", context, status_code=status_code)


def _on_detail(request: Request, program, part: str) -> str:
    return str(request.url_for("program_detail", program_id=program.id)) + part


@router.post("/programs/{program_id}/kpis", name="kpi_add", dependencies=WRITER)
async def kpi_add(request: Request, program: ProgramDep, db: SessionDep):
    values = form_to_dict(await request.form())
    return answer_form(request, db, KpiIn, values, lambda d: platform_service.add_kpi(db, program=program, data=d),
                       page=lambda errors: _detail(request, db, program, kpi_errors=errors, values={"kpi": values}),
                       message=_("KPI added."), done=_on_detail(request, program, "#kpis"))


@router.post("/programs/{program_id}/kpis/{kpi_id}/source", name="kpi_source_set", dependencies=WRITER)
async def kpi_source_set(request: Request, program: ProgramDep, kpi: KpiDep, db: SessionDep):
    """Bind the KPI to a metric source, or (blank: "직접 입력") back to values typed by hand."""
    values = form_to_dict(await request.form())
    values.setdefault("source_key", None)
    return answer_form(
        request, db, KpiUpdate, values, lambda d: platform_service.update_kpi(db, kpi=kpi, data=d),
        page=lambda errors: _detail(request, db, program, kpi_errors={f"source_{kpi.id}": next(iter(errors.values()))},
                                    values={f"source_{kpi.id}": values}),
        message=_("KPI source saved."), done=_on_detail(request, program, "#kpis"))


@router.post("/programs/{program_id}/kpis/{kpi_id}/values", name="kpi_value_add", dependencies=WRITER)
async def kpi_value_add(request: Request, program: ProgramDep, kpi: KpiDep, db: SessionDep):
    values = form_to_dict(await request.form())
    return answer_form(request, db, KpiValueIn, values,
                       lambda d: platform_service.record_kpi_value(db, kpi=kpi, data=d),
                       page=lambda errors: _detail(
                           request, db, program, kpi_errors={f"value_{kpi.id}": next(iter(errors.values()))},
                           values={f"value_{kpi.id}": values}),
                       message=_("Value recorded."), done=_on_detail(request, program, "#kpis"))


@router.post("/programs/{program_id}/milestones", name="milestone_add", dependencies=WRITER)
async def milestone_add(request: Request, program: ProgramDep, db: SessionDep):
    values = form_to_dict(await request.form())
    return answer_form(request, db, MilestoneIn, values,
                       lambda d: platform_service.add_milestone(db, program=program, data=d),
                       page=lambda errors: _detail(request, db, program, milestone_errors=errors,
                                                   values={"milestone": values}),
                       message=_("Milestone added."), done=_on_detail(request, program, "#milestones"))


@router.post("/programs/{program_id}/milestones/{milestone_id}/done", name="milestone_done", dependencies=WRITER)
def milestone_done(request: Request, program: ProgramDep, milestone: MilestoneDep, db: SessionDep):
    from app.platform.schemas import MilestoneUpdate

    done = None if milestone.done_date else today_seoul()
    platform_service.update_milestone(db, milestone=milestone, data=MilestoneUpdate(done_date=done))
    flash(request, _("Milestone completed.") if done else _("Milestone reopened."))
    return see_other(_on_detail(request, program, "#milestones"))
