"""Staff pages of the isolation analytics: divide, gradient, ranking, criteria, targets, imports, dongs.

Every page and CSV reads the same service functions as the API, so suppression applies identically.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request

from app.core.batch import parse_csv
from app.core.csvout import csv_response
from app.core.deps import SessionDep
from app.core.forms import answer_file, answer_form, form_to_dict
from app.core.i18n import gettext as _
from app.core.i18n import today_seoul
from app.core.pagination import PageParams
from app.core.schemas import Id
from app.core.templating import flash, render, see_other
from app.platform.auth import WRITER, WebUser
from app.skt.isolation import service
from app.skt.isolation.deps import KDep, MinAgeQuery, PeriodQuery
from app.skt.isolation.models import AGE_BANDS, MEANS
from app.skt.isolation.schemas import DefinitionIn, DongIn, EducationSessionIn, EducationSessionUpdate

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 30
PageNo = Annotated[int, Query(ge=1, le=100_000)]
MEASURE_LABELS = {
    "smartphone_data_mb": "Mobile data (MB)", "app_minutes": "App use (min)", "messenger_minutes": "Messenger (min)",
    "sns_minutes": "SNS (min)", "calls": "Calls", "call_partners": "Call partners", "outings": "Outings",
    "travel_km": "Distance travelled (km)", "home_hours": "Hours at home a day",
}
INCOME_LABELS = {"none": "No income", "low": "Low income", "middle": "Middle income", "high": "High income"}
SEX_LABELS = {"M": "Men", "F": "Women"}
MIN_AGES = (60, 65, 70, 75, 80)


def _common(db, period: str | None, k: int, **extra: Any) -> dict[str, Any]:
    return {"periods": service.periods(db), "selected": period, "k": k, "measures": MEANS,
            "measure_labels": MEASURE_LABELS, "income_labels": INCOME_LABELS, "sex_labels": SEX_LABELS,
            "min_ages": MIN_AGES, **extra}


def _fmt(value: float | None, digits: int = 3) -> Any:
    return "" if value is None else round(value, digits)


# --- analyses --------------------------------------------------------------------------------

@router.get("/", name="isolation_divide")
def divide_page(request: Request, db: SessionDep, k: KDep, period: PeriodQuery = None):
    data = service.digital_divide(db, period=period, k=k)
    return render(request, "skt/isolation/divide.html", _common(db, data["period"], k, r=data))


@router.get("/divide.csv", name="isolation_divide_csv")
def divide_csv(db: SessionDep, k: KDep, period: PeriodQuery = None):
    data = service.digital_divide(db, period=period, k=k)
    header = ["period", "age_band", "population", *MEANS, *[f"{m}_relative" for m in MEANS]]
    rows = [[data["period"], i["age_band"], i["population"], *[_fmt(i["means"][m], 2) for m in MEANS],
             *[_fmt(i["relative"][m]) for m in MEANS]] for i in data["items"]]
    rows.append([data["period"], "all", data["total_population"], *[_fmt(data["overall"][m], 2) for m in MEANS],
                 *[1 if data["overall"][m] else "" for m in MEANS]])
    return csv_response(f"isolation-divide-{data['period'] or 'none'}.csv", header, rows)


@router.get("/gradient", name="isolation_gradient")
def gradient_page(request: Request, db: SessionDep, k: KDep, period: PeriodQuery = None, min_age: MinAgeQuery = 65):
    data = service.income_gradient(db, period=period, min_age=min_age, k=k)
    return render(request, "skt/isolation/gradient.html", _common(db, data["period"], k, r=data, min_age=min_age))


@router.get("/gradient.csv", name="isolation_gradient_csv")
def gradient_csv(db: SessionDep, k: KDep, period: PeriodQuery = None, min_age: MinAgeQuery = 65):
    data = service.income_gradient(db, period=period, min_age=min_age, k=k)
    header = ["period", "min_age", "income_band", "population", "isolated_rate", *MEANS]
    rows = [[data["period"], min_age, i["income_band"], i["population"], _fmt(i["isolated_rate"], 4),
             *[_fmt(i["means"][m], 2) for m in MEANS]] for i in data["items"]]
    lo, hi = data["gap_bands"]
    rows.append([data["period"], min_age, f"gap {hi}/{lo}" if lo else "gap", "", "",
                 *[_fmt(data["gap"][m]) for m in MEANS]])
    return csv_response(f"isolation-gradient-{data['period'] or 'none'}.csv", header, rows)


@router.get("/ranking", name="isolation_ranking")
def ranking_page(request: Request, db: SessionDep, k: KDep, period: PeriodQuery = None, min_age: MinAgeQuery = 65,
                 page: PageNo = 1):
    data = service.isolation_ranking(db, period=period, min_age=min_age, k=k)
    items, total = service.page_of(data["items"], PageParams(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE))
    chart = [i for i in data["items"] if not i["suppressed"]][:20]
    query = {k_: v for k_, v in {"period": data["period"], "min_age": min_age}.items() if v}
    return render(request, "skt/isolation/ranking.html", _common(
        db, data["period"], k, r=data, items=items, total=total, page=page, pages=max(1, -(-total // PAGE_SIZE)),
        chart=chart, min_age=min_age, query_base=urlencode(query), first=(page - 1) * PAGE_SIZE))


@router.get("/ranking.csv", name="isolation_ranking_csv")
def ranking_csv(db: SessionDep, k: KDep, period: PeriodQuery = None, min_age: MinAgeQuery = 65):
    data = service.isolation_ranking(db, period=period, min_age=min_age, k=k)
    header = ["period", "min_age", "rank", "dong_code", "dong_name", "district", "population", "isolated", "rate",
              "ci_low", "ci_high", "change"]
    rows = [[data["period"], min_age, n + 1, i["dong_code"], i["dong_name"], i["district"], i["population"],
             i["isolated"], _fmt(i["rate"], 4), _fmt(i["ci_low"], 4), _fmt(i["ci_high"], 4), i["change"]]
            for n, i in enumerate(data["items"])]
    return csv_response(f"isolation-ranking-{data['period'] or 'none'}.csv", header, rows)


def _criteria(request: Request, db, k: int, period: str | None, min_age: int, *, values: dict[str, Any],
              errors: dict[str, str], status_code: int = 200):
    data = service.criteria(db, period=period, min_age=min_age, k=k)
    trend = service.isolation_trend(db, min_age=min_age, k=k, months=36)
    return render(request, "skt/isolation/criteria.html",
                  _common(db, data["period"], k, r=data, min_age=min_age, values=values, errors=errors,
                          trend=[t for t in trend["items"] if not t["suppressed"]]),
                  status_code=status_code)


@router.get("/criteria", name="isolation_criteria")
def criteria_page(request: Request, db: SessionDep, k: KDep, period: PeriodQuery = None, min_age: MinAgeQuery = 65):
    return _criteria(request, db, k, period, min_age, values={}, errors={})


@router.post("/criteria/definition", name="isolation_definition_new", dependencies=WRITER)
async def definition_new(request: Request, db: SessionDep, k: KDep, principal: WebUser):
    """Record the definition in force from a month on (the form's POST; GET is the criteria page)."""
    values = form_to_dict(await request.form())
    return answer_form(request, db, DefinitionIn, values, lambda data: service.create_definition(db, data=data),
                       page=lambda errors: _criteria(request, db, k, None, 65, values=values, errors=errors),
                       message=lambda created: _("Definition in force from {period} recorded.",
                                                 period=created.effective_from),
                       done=request.url_for("isolation_criteria"))


@router.get("/criteria.csv", name="isolation_criteria_csv")
def criteria_csv(db: SessionDep, k: KDep, period: PeriodQuery = None, min_age: MinAgeQuery = 65):
    data = service.criteria(db, period=period, min_age=min_age, k=k)
    header = ["period", "by", "group", "population", "low_communication", "low_outing", "isolated", "rate"]
    rows = [[data["period"], by, r["group"], r["population"], r["low_communication"], r["low_outing"], r["isolated"],
             _fmt(r["rate"], 4)] for by in ("age", "sex", "income") for r in data[f"by_{by}"]]
    return csv_response(f"isolation-criteria-{data['period'] or 'none'}.csv", header, rows)


@router.get("/trend.csv", name="isolation_trend_csv")
def trend_csv(db: SessionDep, k: KDep, min_age: MinAgeQuery = 65):
    data = service.isolation_trend(db, min_age=min_age, k=k)
    header = ["period", "min_age", "population", "low_communication", "low_outing", "isolated", "rate"]
    rows = [[i["period"], min_age, i["population"], i["low_communication"], i["low_outing"], i["isolated"],
             _fmt(i["rate"], 4)] for i in data["items"]]
    return csv_response(f"isolation-trend-{min_age}.csv", header, rows)


@router.get("/targets", name="isolation_targets")
def targets_page(request: Request, db: SessionDep, k: KDep, period: PeriodQuery = None, min_age: MinAgeQuery = 65,
                 page: PageNo = 1):
    data = service.education_targets(db, period=period, min_age=min_age, k=k)
    items, total = service.page_of(data["items"], PageParams(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE))
    visible = [i for i in data["items"] if not i["suppressed"]]
    query = {k_: v for k_, v in {"period": data["period"], "min_age": min_age}.items() if v}
    return render(request, "skt/isolation/targets.html", _common(
        db, data["period"], k, r=data, items=items, total=total, page=page, pages=max(1, -(-total // PAGE_SIZE)),
        chart=visible[:15], min_age=min_age, query_base=urlencode(query), first=(page - 1) * PAGE_SIZE,
        expected_total=sum(i["expected_reached"] or 0 for i in visible[:10])))


@router.get("/targets.csv", name="isolation_targets_csv")
def targets_csv(db: SessionDep, k: KDep, period: PeriodQuery = None, min_age: MinAgeQuery = 65):
    data = service.education_targets(db, period=period, min_age=min_age, k=k)
    header = ["period", "min_age", "rank", "dong_code", "dong_name", "district", "population", "digital_index",
              "outing_index", "score", "reachable", "expected_reached", "uptake"]
    rows = [[data["period"], min_age, n + 1, i["dong_code"], i["dong_name"], i["district"], i["population"],
             _fmt(i["digital_index"]), _fmt(i["outing_index"]), _fmt(i["score"]), i["reachable"],
             i["expected_reached"], data["uptake"]] for n, i in enumerate(data["items"])]
    return csv_response(f"isolation-targets-{data['period'] or 'none'}.csv", header, rows)


# --- digital-education sessions held -------------------------------------------------------------

TARGETS_SHOWN = 10  # the page sets attendance against the first this many target dongs (and any dong with sessions)


def _education(request: Request, db, k: int, *, since: date | None, until: date | None, page: int = 1,
               values: dict[str, Any], errors: dict[str, str], status_code: int = 200):
    until = until or today_seoul()
    since = since or until.replace(month=1, day=1)
    context = {"since": since, "until": until, "values": values, "errors": errors,
               "dong_options": _dong_options(db)}
    if since > until:  # a period that ends before it starts: said so, and nothing counted over it
        context["period_error"] = _("The start date is after the end date: choose a start on or before the end.")
    else:
        context.update(_education_figures(db, k, since=since, until=until, page=page))
    return render(request, "skt/isolation/education.html", context, status_code=status_code)


def _education_figures(db, k: int, *, since: date, until: date, page: int) -> dict[str, Any]:
    """The sessions held between ``since`` and ``until`` (a page of them) and the attendance per target dong."""
    sessions, total = service.list_education_sessions(
        db, page=PageParams(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE), since=since, until=until)
    attendance = service.education_attendance(db, since=since, until=until)
    targets = service.education_targets(db, period=None, min_age=65, k=k)
    by_dong = attendance["by_dong"]
    rows = [{**t, "rank": n + 1, **by_dong.get(t["dong_code"], {})} for n, t in enumerate(targets["items"])
            if not t["suppressed"] and (n < TARGETS_SHOWN or t["dong_code"] in by_dong)]
    listed = {r["dong_code"] for r in rows}
    rows += [{"dong_code": code, "rank": None, "expected_reached": None, **a} for code, a in by_dong.items()
             if code not in listed]
    return {"sessions": sessions, "total": total, "page": page, "pages": max(1, -(-total // PAGE_SIZE)),
            "query_base": urlencode({"since": since.isoformat(), "until": until.isoformat()}),
            "attendance": attendance, "targets_period": targets["period"], "rows": rows,
            "uptake": targets["uptake"]}


def _dong_options(db) -> list[tuple[str, str]]:
    return [(d.code, f"{d.name} ({d.district})" if d.district else d.name) for d in db.scalars(service.dong_query())]


@router.get("/education", name="isolation_education")
def education_page(request: Request, db: SessionDep, k: KDep, since: date | None = None, until: date | None = None,
                   page: PageNo = 1):
    """Digital-education sessions held, and attendance 65+ per target dong against the expected reach."""
    return _education(request, db, k, since=since, until=until, page=page,
                      values={"held_date": today_seoul().isoformat()}, errors={})


@router.post("/education", name="isolation_education_new", dependencies=WRITER)
async def education_new(request: Request, db: SessionDep, k: KDep):
    values = form_to_dict(await request.form())
    return answer_form(request, db, EducationSessionIn, values,
                       lambda data: service.record_education_session(db, data=data),
                       page=lambda errors: _education(request, db, k, since=None, until=None, values=values,
                                                      errors=errors),
                       message=lambda created: _("Session “{title}” recorded.", title=created.title),
                       done=request.url_for("isolation_education"))


@router.get("/education/{education_session_id}", name="isolation_education_session")
def education_session(request: Request, education_session_id: Id, db: SessionDep):
    """One session as recorded; writers correct or delete it from here (or from its row)."""
    return render(request, "skt/isolation/education_session.html",
                  {"session": service.get_education_session(db, session_id=education_session_id)})


SESSION_FIELDS = ("dong_code", "held_date", "title", "attendees_65plus", "attendees_total", "note")


def _held_in(request: Request, held: date) -> str:
    """The sessions page showing the year a session was held in (the page shows this year by default)."""
    url = str(request.url_for("isolation_education"))
    if held.year == today_seoul().year:
        return url
    year = {"since": date(held.year, 1, 1).isoformat(), "until": date(held.year, 12, 31).isoformat()}
    return f"{url}?{urlencode(year)}"


@router.api_route("/education/{education_session_id}/edit", methods=["GET", "POST"], name="isolation_education_edit",
                  dependencies=WRITER)
async def education_edit(request: Request, education_session_id: Id, db: SessionDep):
    """Correct a recorded session: every field on one form, none of them may be left empty but the note."""
    row = service.get_education_session(db, session_id=education_session_id)

    def page(values: dict[str, Any], errors: dict[str, str]):
        return render(request, "skt/isolation/education_edit.html", {
            "session": service.get_education_session(db, session_id=education_session_id), "values": values,
            "errors": errors, "dong_options": _dong_options(db)})

    if request.method == "GET":
        values = {k: getattr(row, k) for k in SESSION_FIELDS if k != "dong_code"}
        return page({**values, "dong_code": row.dong.code, "held_date": row.held_date.isoformat()}, {})
    values = form_to_dict(await request.form())
    # A field emptied on the form is refused ("required"), not kept as it was; an emptied note is emptied.
    data = {**dict.fromkeys(SESSION_FIELDS), "note": "", **values}
    return answer_form(request, db, EducationSessionUpdate, data,
                       lambda d: service.update_education_session(db, row=row, data=d),
                       page=lambda errors: page(values, errors),
                       message=lambda saved: _("Session “{title}” saved.", title=saved.title),
                       done=lambda saved: _held_in(request, saved.held_date))


@router.post("/education/{education_session_id}/delete", name="isolation_education_delete", dependencies=WRITER)
def education_delete(request: Request, education_session_id: Id, db: SessionDep):
    row = service.get_education_session(db, session_id=education_session_id)
    title = row.title
    service.delete_education_session(db, row=row)
    flash(request, _("Session “{title}” deleted.", title=title))
    return see_other(str(request.url_for("isolation_education")))


# --- import and dongs ------------------------------------------------------------------------

@router.api_route("/import", methods=["GET", "POST"], name="isolation_import", dependencies=WRITER)
async def import_page(request: Request, db: SessionDep, principal: WebUser):
    context: dict[str, Any] = {"errors": [], "columns": ["period", "dong_code", "age_band", "sex", "income_band",
                                                         "population", "low_communication", "low_outing",
                                                         "isolated", *MEANS], "age_bands": AGE_BANDS}
    if request.method == "GET":
        return render(request, "skt/isolation/import.html", context)
    form = await request.form()
    upload = form.get("file")
    chosen = upload is not None and not isinstance(upload, str)
    raw = await upload.read() if chosen else b""
    return answer_file(request, db, lambda: service.import_cells(db, rows=parse_csv(raw)),
                       problem=None if chosen else _("Choose a CSV file."),
                       page=lambda errors: render(request, "skt/isolation/import.html", {**context, "errors": errors}),
                       message=lambda result: _("Imported {received} cells: {created} new, {replaced} replaced.",
                                                **result),
                       done=request.url_for("isolation_import"))


def _dongs_page(request: Request, db, *, q: str | None = None, page: int = 1, values: dict[str, Any],
                errors: dict[str, str]):
    items, total = service.list_dongs(db, page=PageParams(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE), q=q)
    return render(request, "skt/isolation/dongs.html", {
        "dongs": items, "total": total, "page": page, "pages": max(1, -(-total // PAGE_SIZE)), "q": q or "",
        "query_base": urlencode({"q": q} if q else {}), "values": values, "errors": errors})


@router.get("/dongs", name="isolation_dongs")
def dongs_page(request: Request, db: SessionDep, q: Annotated[str | None, Query(max_length=60)] = None,
               page: PageNo = 1):
    return _dongs_page(request, db, q=q, page=page, values={}, errors={})


@router.post("/dongs", name="isolation_dong_new", dependencies=WRITER)
async def dong_new(request: Request, db: SessionDep):
    values = form_to_dict(await request.form())
    return answer_form(request, db, DongIn, values, lambda data: service.create_dong(db, data=data),
                       page=lambda errors: _dongs_page(request, db, values=values, errors=errors),
                       message=lambda created: _("Dong {name} registered.", name=created.name),
                       done=request.url_for("isolation_dongs"))


def widget(db, principal) -> dict[str, Any] | None:
    from app.core.config import get_settings

    k = get_settings().k_threshold
    data = service.isolation_ranking(db, period=None, min_age=65, k=k)
    if not data["items"]:
        return None
    return {"period": data["period"], "top": [i for i in data["items"] if not i["suppressed"]][:5]}
