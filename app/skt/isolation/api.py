"""REST API of the isolation analytics under /api/v1/skt/isolation."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Query

from app.core.deps import SessionDep
from app.core.pagination import Page, PageDep
from app.core.schemas import Id
from app.skt.isolation import service
from app.skt.isolation.deps import (
    BatchRows,
    DongCodeQuery,
    DongDep,
    KDep,
    MinAgeQuery,
    PeriodQuery,
    batch_doc,
)
from app.skt.isolation.schemas import (
    CellIn,
    CriteriaOut,
    DefinitionIn,
    DefinitionOut,
    DivideOut,
    DongBatchResult,
    DongIn,
    DongOut,
    EducationSessionIn,
    EducationSessionOut,
    EducationSessionUpdate,
    GradientOut,
    ImportResult,
    RankingOut,
    TargetsOut,
    TrendOut,
)

router = APIRouter()
TAG = ["isolation"]


def _inline(schema: type) -> dict:
    """A model's JSON schema for ``openapi_extra`` (no ``$defs``: the cell has only flat fields)."""
    return {k: v for k, v in schema.model_json_schema().items() if k != "$defs"}


# --- dongs -----------------------------------------------------------------------------------

@router.get("/dongs", response_model=Page[DongOut], tags=TAG)
def list_dongs(db: SessionDep, page: PageDep, q: Annotated[str | None, Query(max_length=60)] = None,
               district: Annotated[str | None, Query(max_length=60)] = None):
    items, total = service.list_dongs(db, page=page, q=q, district=district)
    return Page(items=[DongOut.model_validate(d) for d in items], total=total, limit=page.limit, offset=page.offset)


@router.post("/dongs", status_code=201, response_model=DongOut, tags=TAG)
def create_dong(data: DongIn, db: SessionDep):
    """Register one 행정동 in the caller's municipality (or the one named, if the caller reaches it)."""
    return DongOut.model_validate(service.create_dong(db, data=data))


@router.post("/dongs/batch", response_model=DongBatchResult, tags=TAG, openapi_extra=batch_doc(_inline(DongIn)))
def import_dongs(rows: BatchRows, db: SessionDep):
    """Create or rename dongs by code; a bad row refuses the whole batch."""
    return service.import_dongs(db, rows=rows)


@router.get("/dongs/{code}", response_model=DongOut, tags=TAG)
def get_dong(dong: DongDep):
    return DongOut.model_validate(dong)


# --- definitions of isolation ----------------------------------------------------------------

@router.get("/definitions", response_model=Page[DefinitionOut], tags=TAG)
def list_definitions(db: SessionDep, page: PageDep):
    """The definitions of isolation recorded by the caller's municipalities, newest first."""
    items, total = service.list_definitions(db, page=page)
    return Page(items=[_definition_out(d) for d in items], total=total, limit=page.limit, offset=page.offset)


@router.post("/definitions", status_code=201, response_model=DefinitionOut, tags=TAG)
def create_definition(data: DefinitionIn, db: SessionDep):
    """Record the floors in force from a month on; the criteria of that month and later show it."""
    return _definition_out(service.create_definition(db, data=data))


def _definition_out(d) -> DefinitionOut:
    return DefinitionOut(effective_from=d.effective_from, low_communication=d.low_communication,
                         low_outing=d.low_outing, isolated=d.isolated, source=d.source,
                         unit=service.DEFINITION["unit"], custom=True)


# --- indicators ------------------------------------------------------------------------------

@router.post("/indicators", response_model=ImportResult, tags=TAG, openapi_extra=batch_doc(_inline(CellIn)))
def import_indicators(rows: BatchRows, db: SessionDep):
    """Import indicator cells (JSON array or CSV). Any bad row refuses the whole batch (422 naming each
    bad row and field); a cell sent again replaces the stored one. Rollups are rebuilt in the same
    transaction."""
    return service.import_cells(db, rows=rows)


@router.get("/periods", tags=TAG)
def list_periods(db: SessionDep) -> dict[str, list[str]]:
    """Months with data, newest first."""
    return {"items": service.periods(db)}


# --- analyses --------------------------------------------------------------------------------

@router.get("/divide", response_model=DivideOut, tags=TAG)
def divide(db: SessionDep, k: KDep, period: PeriodQuery = None):
    """Each usage mean by age band and relative to the all-ages mean."""
    return service.digital_divide(db, period=period, k=k)


@router.get("/gradient", response_model=GradientOut, tags=TAG)
def gradient(db: SessionDep, k: KDep, period: PeriodQuery = None, min_age: MinAgeQuery = 65):
    """Usage, outings and isolation by income band among people min_age+, and the gap highest vs lowest."""
    return service.income_gradient(db, period=period, min_age=min_age, k=k)


@router.get("/ranking", response_model=RankingOut, tags=TAG)
def ranking(db: SessionDep, k: KDep, page: PageDep, period: PeriodQuery = None, min_age: MinAgeQuery = 65):
    """Dongs ordered by isolated people min_age+, with a 95% Wilson interval and the change from the
    previous month. Figures resting on fewer than k people are null (``suppressed``)."""
    data = service.isolation_ranking(db, period=period, min_age=min_age, k=k)
    items, total = service.page_of(data["items"], page)
    return {**data, "items": items, "total": total, "limit": page.limit, "offset": page.offset}


@router.get("/criteria", response_model=CriteriaOut, tags=TAG)
def criteria(db: SessionDep, k: KDep, period: PeriodQuery = None, min_age: MinAgeQuery = 65):
    """The definition of isolation in force and the share isolated by age, sex and income."""
    return service.criteria(db, period=period, min_age=min_age, k=k)


@router.get("/trend", response_model=TrendOut, tags=TAG)
def trend(db: SessionDep, k: KDep, min_age: MinAgeQuery = 65,
          months: Annotated[int, Query(ge=1, le=120)] = 60):
    """People min_age+ under each floor and isolated, month by month (oldest first)."""
    return service.isolation_trend(db, min_age=min_age, k=k, months=months)


@router.get("/targets", response_model=TargetsOut, tags=TAG)
def targets(db: SessionDep, k: KDep, page: PageDep, period: PeriodQuery = None, min_age: MinAgeQuery = 65,
            uptake: Annotated[float, Query(gt=0, le=1)] = service.DEFAULT_UPTAKE):
    """Digital-education targets: dongs where people min_age+ use messenger and apps least relative to
    their outings, with the expected number of people reached."""
    data = service.education_targets(db, period=period, min_age=min_age, k=k, uptake=uptake)
    items, total = service.page_of(data["items"], page)
    return {**data, "items": items, "total": total, "limit": page.limit, "offset": page.offset}


# --- digital-education sessions held -------------------------------------------------------------

@router.get("/education-sessions", response_model=Page[EducationSessionOut], tags=TAG)
def list_education_sessions(db: SessionDep, page: PageDep, dong_code: DongCodeQuery = None,
                            since: date | None = None, until: date | None = None):
    """Digital-education sessions held in the caller's municipalities, newest first; ``since`` and ``until``
    (both included) bound the date held."""
    items, total = service.list_education_sessions(db, page=page, dong_code=dong_code, since=since, until=until)
    return Page(items=[EducationSessionOut.of(e) for e in items], total=total, limit=page.limit,
                offset=page.offset)


@router.post("/education-sessions", status_code=201, response_model=EducationSessionOut, tags=TAG)
def create_education_session(data: EducationSessionIn, db: SessionDep):
    """Record a session held in one of the municipality's dongs (422 for a dong it does not have, or fewer
    attendees in all than aged 65+)."""
    return EducationSessionOut.of(service.record_education_session(db, data=data))


@router.get("/education-sessions/{education_session_id}", response_model=EducationSessionOut, tags=TAG)
def get_education_session(education_session_id: Id, db: SessionDep):
    return EducationSessionOut.of(service.get_education_session(db, session_id=education_session_id))


@router.patch("/education-sessions/{education_session_id}", response_model=EducationSessionOut, tags=TAG)
def update_education_session(education_session_id: Id, db: SessionDep, data: Annotated[
        EducationSessionUpdate, Body(openapi_examples={
            "attendance": {"summary": "Correct the attendance counted",
                           "value": {"attendees_65plus": 14, "attendees_total": 18}},
            "moved": {"summary": "Held on another day in another dong",
                      "value": {"dong_code": "4812351000", "held_date": "2026-11-21"}}})]):
    """Change the fields given of a recorded session; a field left out stays as it is and none may be emptied
    (422 for a dong the municipality does not have, a day still to come, or fewer attendees in all than aged
    65+ once changed)."""
    row = service.get_education_session(db, session_id=education_session_id)
    return EducationSessionOut.of(service.update_education_session(db, row=row, data=data))


@router.delete("/education-sessions/{education_session_id}", status_code=204, tags=TAG)
def delete_education_session(education_session_id: Id, db: SessionDep) -> None:
    service.delete_education_session(db, row=service.get_education_session(db, session_id=education_session_id))
