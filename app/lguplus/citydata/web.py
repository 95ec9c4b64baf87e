"""Staff pages of city-data consulting: heat map, festival timing, market items, surveys, imports, report."""

from __future__ import annotations

import calendar
import csv
import io
import json
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select

from app.core.csvout import csv_response
from app.core.deps import SessionDep
from app.core.errors import DomainError, InvalidInput
from app.core.forms import answer_file, answer_form, form_to_dict, row_errors
from app.core.i18n import gettext as _
from app.core.i18n import today_seoul
from app.core.schemas import Id
from app.core.templating import flash, render, see_other
from app.core.tenancy import Principal
from app.lguplus.citydata import analysis, jobs, ledger, service, uploads
from app.lguplus.citydata.models import VISITOR_TYPES, CitydataZone
from app.lguplus.citydata.schemas import CategoryFitIn, FestivalIn, SurveyIn
from app.platform.auth import WRITER, WebUser
from app.platform.models import Municipality

router = APIRouter(include_in_schema=False)
ZoneParam = Annotated[str | None, Query(pattern=r"^\d{10}$")]
IMPORT_KINDS = ("living_population", "card_spending", "survey_responses", "questionnaire", "zones")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
BY_OPTIONS = ("sex", "age_band", "zone_code")


def _k(request: Request) -> int:
    return request.app.state.settings.k_threshold


def county_of(db: Any, principal: Principal) -> Municipality | None:
    """The county the pages show: the user's own, else the first reachable one that keeps zones."""
    if principal.municipality_id is not None:
        return db.scalar(select(Municipality).where(Municipality.id == principal.municipality_id))
    mid = db.scalar(select(CitydataZone.municipality_id).order_by(CitydataZone.id).limit(1))
    return db.scalar(select(Municipality).where(Municipality.id == mid)) if mid else None


def _zones(db: Any, county: Municipality | None) -> list[CitydataZone]:
    return service.list_zones(db, municipality_id=county.id, inside_only=True) if county else []


def _pick_zone(zones: list[CitydataZone], code: str | None) -> CitydataZone | None:
    for z in zones:
        if z.code == code:
            return z
    return zones[0] if zones else None


def default_year() -> int:
    today = today_seoul()
    return today.year + 1 if today.month >= 7 else today.year


# --- heat map ----------------------------------------------------------------------------------

@router.get("/", name="citydata_heatmap")
def heatmap_page(request: Request, db: SessionDep, principal: WebUser, zone_code: ZoneParam = None,
                 visitor_type: Annotated[str | None, Query(pattern="^(resident|worker|visitor)$")] = None):
    county = county_of(db, principal)
    zones = _zones(db, county)
    zone = _pick_zone(zones, zone_code)
    data = analysis.heatmap(db, zone=zone, visitor_type=visitor_type, k=_k(request)) if zone else None
    return render(request, "lguplus/citydata/heatmap.html", {
        "county": county, "zones": zones, "zone": zone, "data": data, "visitor_type": visitor_type or "",
        "visitor_types": VISITOR_TYPES, "weekdays": WEEKDAYS})


# --- imports -----------------------------------------------------------------------------------

def _import_context(db: Any, county: Municipality | None) -> dict[str, Any]:
    items = jobs.list_jobs(db, limit=20)
    surveys = service.list_surveys(db)
    return {"county": county, "jobs": [uploads.job_out(j, with_errors=False) for j in items], "kinds": IMPORT_KINDS,
            "survey_options": [(s["id"], s["name"]) for s in surveys], "errors": [], "values": {},
            "zones": _zones(db, county)}


@router.get("/imports", name="citydata_imports")
def imports_page(request: Request, db: SessionDep, principal: WebUser):
    """The county's imports (the ledger); a writer also finds the upload form here."""
    return render(request, "lguplus/citydata/imports.html", _import_context(db, county_of(db, principal)))


@router.post("/imports", name="citydata_import_upload", dependencies=WRITER)
async def import_upload(request: Request, db: SessionDep, principal: WebUser):
    county = county_of(db, principal)
    context = _import_context(db, county)
    try:
        uploads.check_length(request)
    except DomainError as exc:
        context["errors"] = row_errors(exc)
        return render(request, "lguplus/citydata/imports.html", context, status_code=413)
    form = await request.form()
    kind = str(form.get("kind", ""))
    upload = form.get("file")
    values = {"kind": kind, "survey_id": str(form.get("survey_id", ""))}
    problem = (_("Your account is not tied to a county.") if county is None else
               _("Choose what to import and a CSV file.")
               if kind not in IMPORT_KINDS or upload is None or isinstance(upload, str) or not upload.filename
               else None)

    def run() -> tuple[str | None, str]:
        """The file imported (or handed to the worker): what to say, and where to go."""
        if kind == "survey_responses":
            return _survey_upload(request, db, form, upload)
        if kind == "questionnaire":
            return _questionnaire_upload(request, db, county, upload)
        if kind == "zones":
            return _zones_upload(request, db, county, upload)
        path, size = uploads.upload_to_file(request, upload)
        job, background = uploads.run_upload(request, db, kind=kind, municipality_id=county.id, path=path, size=size,
                                             filename=upload.filename or "upload.csv", client_id=None,
                                             mode="replace" if form.get("mode") == "replace" else "refuse")
        return (None if background else _("Imported {n} rows; the figures are up to date.", n=job.rows_done),
                str(request.url_for("citydata_job", job_id=job.id)))

    return answer_file(request, db, run, problem=problem,
                       page=lambda errors: render(request, "lguplus/citydata/imports.html", {
                           **_import_context(db, county), "values": values, "errors": errors}),
                       message=lambda done: done[0], done=lambda done: done[1])


def _survey_upload(request: Request, db: Any, form: Any, upload: Any) -> tuple[str, str]:
    try:
        survey_id = int(str(form.get("survey_id", "")))
    except ValueError:
        raise InvalidInput.field(["form", "", "survey_id"], "Choose the survey.") from None
    survey = service.get_survey(db, survey_id=survey_id)
    upload.file.seek(0)
    raw = upload.file.read()
    codes = {q.code for q in service.questions_of(db, survey_id=survey.id)}
    rows = service.responses_from_csv(uploads.decode_text(raw), question_codes=codes)
    result = service.import_responses(db, survey=survey, rows=rows)
    return _("Imported {n} responses.", n=result["created"]), str(request.url_for("citydata_survey",
                                                                                  survey_id=survey.id))


def _csv_dicts(raw: bytes) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(uploads.decode_text(raw)))
    return [{k.strip(): v.strip() for k, v in row.items() if k and v is not None and v.strip()} for row in reader]


def _zones_upload(request: Request, db: Any, county: Municipality, upload: Any) -> tuple[str, str]:
    """Zones from a CSV: ``code, name_ko, name_en, area_code`` (area_code empty: inside the county)."""
    upload.file.seek(0)
    rows = [{**r, "municipality_code": county.code} for r in _csv_dicts(upload.file.read())]
    result = service.import_zones(db, rows=rows)
    return _("Zones: {created} new, {updated} updated.", **result), str(request.url_for("citydata_imports"))


def _questionnaire_upload(request: Request, db: Any, county: Municipality, upload: Any) -> tuple[str, str]:
    """A questionnaire (and optionally its responses) as the JSON body of ``POST /surveys``."""
    upload.file.seek(0)
    try:
        body = json.loads(uploads.decode_text(upload.file.read()))
    except ValueError:
        raise InvalidInput.field("file", "The body is not valid JSON") from None
    if isinstance(body, dict):
        body.setdefault("municipality_code", county.code)
    try:
        data = SurveyIn.model_validate(body)
    except ValidationError as exc:
        errors = [{"loc": ["file", *e["loc"]], "msg": str(e["msg"]), "template": str(e["msg"]).removeprefix(
            "Value error, "), "params": {}} for e in exc.errors()]
        raise InvalidInput("The questionnaire is not valid", errors=errors) from None
    survey = service.create_survey(db, data=data)
    return _("The survey was created."), str(request.url_for("citydata_survey", survey_id=survey.id))


@router.get("/imports/{job_id}", name="citydata_job")
def job_page(request: Request, job_id: Id, db: SessionDep, principal: WebUser):
    job = jobs.get_job(db, job_id=job_id)
    errors = [{"line": e["loc"][1], "column": e["loc"][2], "msg": _(e["template"], **e["params"])}
              for e in (job.errors or [])]
    return render(request, "lguplus/citydata/job.html", {"job": job, "p": uploads.job_out(job, with_errors=False),
                                                         "errors": errors})


@router.post("/imports/{job_id}/delete", name="citydata_job_delete", dependencies=WRITER)
def job_delete(request: Request, job_id: Id, db: SessionDep, principal: WebUser):
    """Take an import out (staff): its rows and its share of the rollups go; audited."""
    out = ledger.delete_import(db, job=jobs.get_job(db, job_id=job_id))
    flash(request, _("Import #{id} was deleted: {n} rows and their share of the figures removed.",
                     id=out["id"], n=out["rows_removed"]))
    return see_other(str(request.url_for("citydata_imports")))


@router.get("/imports/{job_id}/progress", name="citydata_job_progress")
def job_progress(request: Request, job_id: Id, db: SessionDep, principal: WebUser):
    job = jobs.get_job(db, job_id=job_id)
    return render(request, "lguplus/citydata/_progress.html",
                  {"job": job, "p": uploads.job_out(job, with_errors=False)})


# --- festival timing ---------------------------------------------------------------------------

def month_grids(year: int, daily: list[dict[str, Any]], windows: list[dict[str, Any]],
                blocked: list[dict[str, Any]], own: list[Any]) -> list[dict[str, Any]]:
    """Twelve month calendars; each day knows its shading, window rank, holiday and clashes."""
    expected = {d["date"]: d for d in daily}
    top = max((d["expected"] or 0) for d in daily) if daily else 0
    rank: dict[date, int] = {}
    for w in windows:
        d = w["start_date"]
        while d <= w["end_date"]:
            rank.setdefault(d, w["rank"])
            d += timedelta(days=1)
    clash: dict[date, str] = {}
    for f in blocked:
        d = f["start_date"]
        while d <= f["end_date"]:
            clash[d] = f["name"]
            d += timedelta(days=1)
    own_days: dict[date, str] = {}
    for f in own:
        d = f.start_date
        while d <= f.end_date:
            own_days[d] = f.name
            d += timedelta(days=1)
    months = []
    cal = calendar.Calendar(firstweekday=0)
    for month in range(1, 13):
        weeks = []
        for week in cal.monthdatescalendar(year, month):
            cells = []
            for d in week:
                if d.month != month:
                    cells.append(None)
                    continue
                info = expected.get(d, {})
                level = (info.get("expected") or 0) / top if top else 0
                cells.append({"day": d.day, "date": d, "level": round(level, 2), "rank": rank.get(d),
                              "holiday": info.get("holiday"), "clash": clash.get(d), "own": own_days.get(d),
                              "weekend": d.weekday() >= 5})
            weeks.append(cells)
        months.append({"month": month, "weeks": weeks})
    return months


@router.get("/festivals", name="citydata_festivals")
def festivals_page(request: Request, db: SessionDep, principal: WebUser, zone_code: ZoneParam = None,
                   days: Annotated[int, Query(ge=1, le=30)] = 3,
                   year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
                   pick_start: date | None = None, pick_end: date | None = None):
    """The recommender; ``pick_start``/``pick_end`` (a window's "pick" link) prefill the registration form
    with the county's own festival on those dates."""
    county = county_of(db, principal)
    zones = _zones(db, county)
    zone = _pick_zone(zones, zone_code)
    year = year or default_year()
    values: dict[str, Any] = {}
    if pick_start and pick_end and county is not None:
        values = {"host_code": county.code, "host_name": county.name_ko, "zone_code": zone.code if zone else "",
                  "start_date": pick_start.isoformat(), "end_date": pick_end.isoformat()}
    context: dict[str, Any] = {"county": county, "zones": zones, "zone": zone, "days": days, "year": year,
                               "result": None, "problem": None, "months": [], "values": values, "errors": {},
                               "picked": bool(values), "festivals": service.list_festivals(db, year=year)}
    if zone is not None:
        try:
            result = analysis.festival_windows(db, zone=zone, days=days, year=year, k=_k(request), limit=10,
                                               with_daily=True)
            own = [f for f in context["festivals"] if county and f.host_code == county.code]
            context["result"] = result
            context["months"] = month_grids(year, result["daily"], result["windows"][:5], result["excluded_for"], own)
        except DomainError as exc:
            context["problem"] = exc.message()
    return render(request, "lguplus/citydata/festivals.html", context)


@router.post("/festivals", name="citydata_festival_create", dependencies=WRITER)
async def festival_create(request: Request, db: SessionDep, principal: WebUser):
    values = form_to_dict(await request.form())

    def page(errors: dict[str, str]) -> Response:
        county = county_of(db, principal)
        zones = _zones(db, county)
        return render(request, "lguplus/citydata/festivals.html", {
            "county": county, "zones": zones, "zone": _pick_zone(zones, None), "days": 3, "year": default_year(),
            "result": None, "problem": None, "months": [], "values": values, "errors": errors,
            "festivals": service.list_festivals(db, year=default_year())})

    return answer_form(request, db, FestivalIn, values, lambda data: service.create_festival(db, data=data),
                       page=page, message=_("The festival was registered."),
                       done=lambda festival: str(request.url_for("citydata_festivals"))
                       + f"?year={festival.start_date.year}")


# --- market items ------------------------------------------------------------------------------

def _market(request: Request, db: Any, principal: Principal, months: int, level: str) -> dict[str, Any] | None:
    county = county_of(db, principal)
    if county is None:
        return None
    return analysis.market_items(db, municipality_id=county.id, k=_k(request), months=months, level=level, limit=40)


@router.get("/market", name="citydata_market")
def market_page(request: Request, db: SessionDep, principal: WebUser,
                months: Annotated[int, Query(ge=1, le=60)] = 12,
                level: Annotated[str, Query(pattern="^(large|middle)$")] = "middle"):
    return _market_render(request, db, principal, months, level)


def _market_render(request: Request, db: Any, principal: Principal, months: int, level: str, *,
                   values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                   status_code: int = 200):
    county = county_of(db, principal)
    data = _market(request, db, principal, months, level)
    fit = service.list_category_fit(db, municipality_id=county.id) if county is not None else []
    return render(request, "lguplus/citydata/market.html", {
        "county": county, "data": data, "months": months, "level": level, "fit": fit, "values": values or {},
        "errors": errors or {}}, status_code=status_code)


@router.post("/market/fit", name="citydata_market_fit", dependencies=WRITER)
async def market_fit(request: Request, db: SessionDep, principal: WebUser):
    """Set whether a category fits the traditional market."""
    county = county_of(db, principal)
    values = form_to_dict(await request.form())
    return answer_form(request, db, CategoryFitIn, values,
                       lambda data: service.set_category_fit(db, municipality_id=county.id, data=data),
                       errors=None if county else {"__all__": _("Your account is not tied to a county.")},
                       page=lambda errors: _market_render(request, db, principal, 12, "middle", values=values,
                                                          errors=errors),
                       message=_("The market fit was saved."), done=request.url_for("citydata_market"))


@router.get("/market.csv", name="citydata_market_csv")
def market_csv(request: Request, db: SessionDep, principal: WebUser,
               months: Annotated[int, Query(ge=1, le=60)] = 12,
               level: Annotated[str, Query(pattern="^(large|middle)$")] = "middle"):
    data = _market(request, db, principal, months, level) or {"items": []}
    cols = ["rank", "category_large", "category_middle", "leakage_krw", "leakage_share", "resident_inside_krw",
            "visitor_krw", "location_quotient", "survey_share", "score"]
    return csv_response("citydata-market-items.csv", cols, [[it.get(c) for c in cols] for it in data["items"]])


# --- surveys -----------------------------------------------------------------------------------

@router.get("/surveys", name="citydata_surveys")
def surveys_page(request: Request, db: SessionDep, principal: WebUser):
    return render(request, "lguplus/citydata/surveys.html", {"surveys": service.list_surveys(db)})


@router.get("/surveys/{survey_id}", name="citydata_survey")
def survey_page(request: Request, survey_id: Id, db: SessionDep, principal: WebUser,
                by: Annotated[str | None, Query(pattern="^(sex|age_band|zone_code)$")] = None):
    survey = service.get_survey(db, survey_id=survey_id)
    results = analysis.survey_results(db, survey=survey, by=by, k=_k(request))
    return render(request, "lguplus/citydata/survey.html", {"survey": survey, "results": results, "by": by or "",
                                                            "by_options": BY_OPTIONS})


# --- report ------------------------------------------------------------------------------------

@router.get("/report", name="citydata_report")
def report_page(request: Request, db: SessionDep, principal: WebUser, zone_code: ZoneParam = None,
                days: Annotated[int, Query(ge=1, le=30)] = 3,
                year: Annotated[int | None, Query(ge=2000, le=2100)] = None):
    county = county_of(db, principal)
    zones = _zones(db, county)
    zone = _pick_zone(zones, zone_code)
    year = year or default_year()
    windows, problem = None, None
    if zone is not None:
        try:
            windows = analysis.festival_windows(db, zone=zone, days=days, year=year, k=_k(request), limit=5)
        except DomainError as exc:
            problem = exc.message()
    market = analysis.market_items(db, municipality_id=county.id, k=_k(request), limit=10) if county else None
    surveys = service.list_surveys(db)
    survey = None
    if surveys:
        survey = analysis.survey_results(db, survey=service.get_survey(db, survey_id=surveys[0]["id"]), by=None,
                                         k=_k(request))
    heat = analysis.heatmap(db, zone=zone, visitor_type="visitor", k=_k(request)) if zone else None
    planned = [f for f in service.list_festivals(db, year=year) if county and f.host_code == county.code]
    return render(request, "lguplus/citydata/report.html", {
        "county": county, "zone": zone, "zones": zones, "days": days, "year": year, "windows": windows,
        "problem": problem, "market": market, "survey": survey, "heat": heat, "weekdays": WEEKDAYS,
        "planned": planned, "today": today_seoul()})


def widget(db: Any, principal: Principal) -> dict[str, Any] | None:
    """Home card: the best 3-day window of the main zone next year and the leakage headline."""
    county = county_of(db, principal)
    if county is None:
        return None
    zones = _zones(db, county)
    from app.core.config import get_settings

    k = get_settings().k_threshold
    context: dict[str, Any] = {"year": default_year(), "window": None, "zone_name": "", "market": None, "top": None}
    if zones:
        try:
            result = analysis.festival_windows(db, zone=zones[0], days=3, year=context["year"], k=k, limit=1)
            context.update(window=result["windows"][0] if result["windows"] else None, zone_name=zones[0].name_ko)
        except DomainError:
            pass
    market = analysis.market_items(db, municipality_id=county.id, k=k, limit=1)
    if market["items"]:
        context.update(market=market, top=market["items"][0])
    return context if context["window"] or context["market"] else None
