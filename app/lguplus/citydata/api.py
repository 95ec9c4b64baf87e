"""REST API of city-data consulting under /api/v1/lguplus/citydata."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from app.core.deps import SessionDep
from app.core.errors import InvalidInput
from app.core.i18n import today_seoul
from app.core.schemas import Id
from app.lguplus.citydata import analysis, jobs, ledger, service, uploads
from app.lguplus.citydata.schemas import (
    CategoryFitIn,
    CategoryFitOut,
    FestivalIn,
    FestivalOut,
    ImportDeletedOut,
    JobOut,
    SurveyIn,
    SurveyOut,
    ZoneOut,
)
from app.platform.auth import OptionalPrincipal

router = APIRouter(tags=["citydata"])
MunicipalityQuery = Annotated[str | None, Query(pattern=r"^\d{10}$")]
ZoneQuery = Annotated[str, Query(pattern=r"^\d{10}$")]
ClientId = Annotated[str | None, Query(min_length=1, max_length=80)]
ImportMode = Annotated[Literal["refuse", "replace"], Query(
    description="what to do with dates/months × zones an earlier import holds: refuse (409) or replace them")]
BATCH_DOC = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
    "text/csv": {"schema": {"type": "string"}},
    "multipart/form-data": {"schema": {"type": "object", "properties": {"file": {"type": "string",
                                                                                  "format": "binary"}}}}}}}


def _k(request: Request) -> int:
    return request.app.state.settings.k_threshold


def _list(items: list[Any]) -> dict[str, Any]:
    return {"items": items, "total": len(items), "limit": len(items), "offset": 0}


# --- zones -------------------------------------------------------------------------------------

@router.get("/zones")
def list_zones(db: SessionDep, _: OptionalPrincipal, municipality_code: MunicipalityQuery = None,
               inside: bool = False) -> dict[str, Any]:
    """The zones (읍면동) a county keeps, its own and the outside areas its card data name."""
    mid = service.target_municipality_id(db, code=municipality_code)
    county = jobs.municipality_code(db, mid)
    items = [ZoneOut.model_validate(service.zone_out(z, county))
             for z in service.list_zones(db, municipality_id=mid, inside_only=inside)]
    return _list(items)


@router.post("/zones", openapi_extra=BATCH_DOC)
async def import_zones(request: Request, db: SessionDep, _: OptionalPrincipal) -> dict[str, int]:
    """Create or rename zones (JSON array of ``code, name_ko, name_en, area_code``); all or nothing."""
    rows = uploads.parse_json_rows(await uploads.read_body(request))
    return service.import_zones(db, rows=rows)


# --- imports -----------------------------------------------------------------------------------

@router.get("/imports", response_model=dict[str, Any])
def list_imports(db: SessionDep, _: OptionalPrincipal) -> dict[str, Any]:
    return _list([uploads.job_out(j, with_errors=False) for j in jobs.list_jobs(db, limit=100)])


@router.post("/imports/{kind}", status_code=201, response_model=JobOut, openapi_extra=BATCH_DOC,
             responses={202: {"description": "a large file: the job runs in the background; poll its status"},
                        409: {"description": "the same file, or data overlapping an earlier import (without "
                                             "mode=replace): the earlier import is named"},
                        413: {"description": "the file is over the size limit"},
                        422: {"description": "bad rows: nothing stored, every bad row named"}})
async def import_data(request: Request, db: SessionDep, _: OptionalPrincipal,
                      kind: Literal["living-population", "card-spending"],
                      municipality_code: MunicipalityQuery = None, client_id: ClientId = None,
                      mode: ImportMode = "refuse"):
    """Import living population or card spending: a JSON array of rows, a CSV body (``text/csv``, UTF-8
    or CP949) or a multipart ``file``. Any bad row refuses the whole import with a row-level report.
    Retrying with the same ``client_id`` answers the earlier job. The same bytes again answer 409; rows
    on dates (months) × zones an earlier import holds answer 409 unless ``mode=replace``, which replaces
    those figures. Large files answer 202 and run in the background: poll ``GET /imports/{job_id}``."""
    mid = service.target_municipality_id(db, code=municipality_code)
    earlier = jobs.find_by_client_id(db, municipality_id=mid, client_id=client_id)
    if earlier is not None:
        return JSONResponse(JobOut.model_validate(uploads.job_out(earlier)).model_dump(mode="json"), status_code=200)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    internal = uploads.KINDS[kind]
    if content_type == "application/json" or not content_type:
        raw = await uploads.read_body(request)
        rows = uploads.parse_json_rows(raw)
        return uploads.job_out(uploads.run_batch(db, kind=internal, municipality_id=mid, rows=rows,
                                                 client_id=client_id, digest=ledger.digest_of_bytes(raw), mode=mode))
    if content_type == "multipart/form-data":
        uploads.check_length(request)
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InvalidInput.field("file", "Attach the CSV file as the form field 'file'")
        path, size = uploads.upload_to_file(request, upload)
        filename = upload.filename or "upload.csv"
    elif content_type in ("text/csv", "application/csv", "text/plain"):
        path, size = await uploads.body_to_file(request)
        filename = "(CSV body)"
    else:
        raise InvalidInput.field("body", "Send a JSON array of rows or a CSV file")
    job, background = uploads.run_upload(request, db, kind=internal, municipality_id=mid, path=path, size=size,
                                         filename=filename, client_id=client_id, mode=mode)
    body = uploads.job_out(job)
    if background:
        return JSONResponse(JobOut.model_validate(body).model_dump(mode="json"), status_code=202,
                            headers={"Location": str(request.url_for("citydata_api_job", job_id=job.id))})
    return body


@router.get("/imports/{job_id}", response_model=JobOut, name="citydata_api_job")
def get_import(job_id: Id, db: SessionDep, _: OptionalPrincipal):
    """A job's status and progress (``fraction`` of the file read), and its error report when refused."""
    return uploads.job_out(jobs.get_job(db, job_id=job_id))


@router.delete("/imports/{job_id}", response_model=ImportDeletedOut,
               responses={409: {"description": "the import is still running"}})
def delete_import(job_id: Id, db: SessionDep, _: OptionalPrincipal):
    """Take an import out: its raw rows go and the rollups lose exactly what it added (audited)."""
    return ledger.delete_import(db, job=jobs.get_job(db, job_id=job_id))


# --- festivals ---------------------------------------------------------------------------------

@router.get("/festivals")
def list_festivals(db: SessionDep, _: OptionalPrincipal,
                   year: Annotated[int | None, Query(ge=2000, le=2100)] = None) -> dict[str, Any]:
    return _list([FestivalOut.model_validate(f) for f in service.list_festivals(db, year=year)])


@router.post("/festivals", status_code=201, response_model=FestivalOut)
def create_festival(data: FestivalIn, db: SessionDep, _: OptionalPrincipal):
    """Register a festival: the county's own (scored for uplift) or a neighbour's (windows avoid it)."""
    return FestivalOut.model_validate(service.create_festival(db, data=data))


@router.get("/festivals/{festival_id}", response_model=FestivalOut)
def get_festival(festival_id: Id, db: SessionDep, _: OptionalPrincipal):
    return FestivalOut.model_validate(service.get_festival(db, festival_id=festival_id))


@router.delete("/festivals/{festival_id}", status_code=204)
def delete_festival(festival_id: Id, db: SessionDep, _: OptionalPrincipal) -> None:
    service.delete_festival(db, festival=service.get_festival(db, festival_id=festival_id))


@router.get("/festival-windows")
def festival_windows(request: Request, db: SessionDep, _: OptionalPrincipal, zone_code: ZoneQuery,
                     days: Annotated[int, Query(ge=1, le=30)] = 3,
                     year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
                     limit: Annotated[int, Query(ge=1, le=50)] = 10,
                     include_family_holidays: bool = False) -> dict[str, Any]:
    """Best N-day windows of a year for a festival in a zone: expected visitors with an interval and the
    reasons (season, weekend, holidays); windows clashing with neighbours' festivals, and (unless
    ``include_family_holidays``) 설날/추석 homecoming days, are left out and named in ``excluded_for``; past
    festivals of the county scored as uplift over the expected baseline."""
    zone = service.get_zone(db, code=zone_code)
    return analysis.festival_windows(db, zone=zone, days=days, year=year or today_seoul().year, k=_k(request),
                                     limit=limit, include_family_holidays=include_family_holidays)


@router.get("/heatmap")
def heatmap(request: Request, db: SessionDep, _: OptionalPrincipal, zone_code: ZoneQuery,
            visitor_type: Annotated[Literal["resident", "worker", "visitor"] | None, Query()] = None
            ) -> dict[str, Any]:
    """Average people present per weekday (0 = Monday) x hour in a zone; small cells hidden."""
    return analysis.heatmap(db, zone=service.get_zone(db, code=zone_code), visitor_type=visitor_type, k=_k(request))


# --- market items ------------------------------------------------------------------------------

@router.get("/market-items")
def market_items(request: Request, db: SessionDep, _: OptionalPrincipal, municipality_code: MunicipalityQuery = None,
                 months: Annotated[int, Query(ge=1, le=60)] = 12,
                 level: Literal["large", "middle"] = "middle",
                 limit: Annotated[int, Query(ge=1, le=200)] = 30) -> dict[str, Any]:
    """Categories ranked for the traditional market: residents' spending outside the county (leakage amount
    and share), visitors' spending inside, location quotient against the province, survey answers on
    what people buy elsewhere."""
    mid = service.target_municipality_id(db, code=municipality_code)
    return analysis.market_items(db, municipality_id=mid, k=_k(request), months=months, level=level, limit=limit)


@router.get("/category-fit")
def list_category_fit(db: SessionDep, _: OptionalPrincipal, municipality_code: MunicipalityQuery = None
                      ) -> dict[str, Any]:
    """Which card categories the market-items ranking considers: shipped defaults (대형마트, 백화점, 주유소,
    온라인, 면세점 … out) and the municipality's own settings."""
    mid = service.target_municipality_id(db, code=municipality_code)
    return _list([CategoryFitOut.model_validate(c) for c in service.list_category_fit(db, municipality_id=mid)])


@router.put("/category-fit", response_model=CategoryFitOut)
def set_category_fit(data: CategoryFitIn, db: SessionDep, _: OptionalPrincipal,
                     municipality_code: MunicipalityQuery = None):
    """Set whether a category fits the traditional market (only fitting categories are ranked)."""
    mid = service.target_municipality_id(db, code=municipality_code)
    service.set_category_fit(db, municipality_id=mid, data=data)
    found = [c for c in service.list_category_fit(db, municipality_id=mid) if c["category"] == data.category]
    return CategoryFitOut.model_validate(found[0])


# --- surveys -----------------------------------------------------------------------------------

@router.get("/surveys")
def list_surveys(db: SessionDep, _: OptionalPrincipal) -> dict[str, Any]:
    return _list([SurveyOut.model_validate(s) for s in service.list_surveys(db)])


@router.post("/surveys", status_code=201, response_model=SurveyOut)
def create_survey(data: SurveyIn, db: SessionDep, _: OptionalPrincipal):
    """A questionnaire (choice, multi-choice and scale questions), optionally with its responses."""
    survey = service.create_survey(db, data=data)
    return SurveyOut.model_validate(service.survey_out(survey, len(data.questions), len(data.responses)))


def _survey_summary(db: Any, survey_id: int) -> dict[str, Any]:
    survey = service.get_survey(db, survey_id=survey_id)
    found = [s for s in service.list_surveys(db) if s["id"] == survey.id]
    return found[0]


@router.get("/surveys/{survey_id}", response_model=SurveyOut)
def get_survey(survey_id: Id, db: SessionDep, _: OptionalPrincipal):
    return SurveyOut.model_validate(_survey_summary(db, survey_id))


@router.delete("/surveys/{survey_id}", status_code=204)
def delete_survey(survey_id: Id, db: SessionDep, _: OptionalPrincipal) -> None:
    """Remove a questionnaire with its responses and answers."""
    service.delete_survey(db, survey=service.get_survey(db, survey_id=survey_id))


@router.post("/surveys/{survey_id}/responses", openapi_extra=BATCH_DOC)
async def import_responses(survey_id: Id, request: Request, db: SessionDep, _: OptionalPrincipal
                           ) -> dict[str, int]:
    """Responses as a JSON array (``respondent_key, weight, sex, age_band, zone_code, answers``) or a wide
    CSV (one column per question code); all or nothing."""
    survey = service.get_survey(db, survey_id=survey_id)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await uploads.read_body(request)
    if content_type in ("text/csv", "application/csv"):
        codes = {q.code for q in service.questions_of(db, survey_id=survey.id)}
        rows = service.responses_from_csv(uploads.decode_text(raw), question_codes=codes)
    else:
        rows = uploads.parse_json_rows(raw)
    return service.import_responses(db, survey=survey, rows=rows)


@router.get("/surveys/{survey_id}/results")
def survey_results(survey_id: Id, request: Request, db: SessionDep, _: OptionalPrincipal,
                   by: Literal["sex", "age_band", "zone_code"] | None = None) -> dict[str, Any]:
    """Weighted results per question, overall and by a demographic, with 95% margins of error (Kish
    effective sample size); groups and cells under k respondents are hidden."""
    survey = service.get_survey(db, survey_id=survey_id)
    return analysis.survey_results(db, survey=survey, by=by, k=_k(request))
