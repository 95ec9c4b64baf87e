"""Rules of city-data consulting: zones, festivals, surveys, and the import entry points.

Plain functions with keyword-only arguments; the caller's session carries the principal, so reads are
scoped to the caller's municipalities. Analyses (heat map, festival windows, market items, survey
results) live in ``analysis.py``; file and batch imports in ``importers.py`` and ``jobs.py``.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.core.bulk import insert_rows
from app.core.errors import Conflict, InvalidInput, NotFound, field_error
from app.core.lookup import one_or_404
from app.lguplus.citydata.jobs import municipality_code
from app.lguplus.citydata.models import (
    CitydataAnswer,
    CitydataCardMonthly,
    CitydataCategoryFit,
    CitydataFestival,
    CitydataQuestion,
    CitydataResponse,
    CitydataSurvey,
    CitydataZone,
)
from app.lguplus.citydata.schemas import CategoryFitIn, FestivalIn, ResponseIn, SurveyIn, ZoneIn
from app.platform import audit
from app.platform.service import target_municipality_id

MAX_ZONES = 2000



def _refuse(errors: list[dict[str, Any]]) -> None:
    if errors:
        bad = len({e["loc"][1] for e in errors if len(e["loc"]) > 1})
        raise InvalidInput("{n} row is invalid; nothing was saved",
                           plural="{n} rows are invalid; nothing was saved", n=bad, errors=errors)


def validate_rows(schema: Any, rows: list[Any], *, limit: int) -> tuple[list[Any], list[dict[str, Any]]]:
    if not rows:
        raise InvalidInput.field("rows", "The batch is empty")
    if len(rows) > limit:
        raise InvalidInput.field("rows", "At most {n} rows per batch", n=limit)
    adapter = TypeAdapter(schema)
    parsed, errors = [], []
    for i, row in enumerate(rows):
        try:
            parsed.append(adapter.validate_python(row))
        except ValidationError as exc:
            parsed.append(None)
            for err in exc.errors():
                msg = str(err["msg"]).removeprefix("Value error, ")
                errors.append({"loc": ["rows", i, *err["loc"]], "msg": msg, "type": err["type"], "template": msg,
                               "params": {}})
    return parsed, errors


# --- zones -------------------------------------------------------------------------------------

def zone_out(zone: CitydataZone, county_code: str) -> dict[str, Any]:
    return {"id": zone.id, "code": zone.code, "name_ko": zone.name_ko, "name_en": zone.name_en,
            "area_code": zone.area_code, "inside": zone.area_code == county_code}


def list_zones(db: Session, *, municipality_id: int, inside_only: bool = False) -> list[CitydataZone]:
    stmt = select(CitydataZone).where(CitydataZone.municipality_id == municipality_id)
    if inside_only:
        stmt = stmt.where(CitydataZone.area_code == municipality_code(db, municipality_id))
    return list(db.scalars(stmt.order_by(CitydataZone.code)))


def get_zone(db: Session, *, code: str) -> CitydataZone:
    found = list(db.scalars(select(CitydataZone).where(CitydataZone.code == code)))
    if not found:
        raise NotFound("Zone {code} not found", code=code)
    return found[0]


def import_zones(db: Session, *, rows: list[Any]) -> dict[str, int]:
    """Create or rename zones by code; a bad row refuses the batch."""
    parsed, errors = validate_rows(ZoneIn, rows, limit=MAX_ZONES)
    seen: dict[tuple[int, str], int] = {}
    targets: list[int | None] = []
    for i, p in enumerate(parsed):
        if p is None:
            targets.append(None)
            continue
        try:
            mid = target_municipality_id(db, code=p.municipality_code)
        except InvalidInput:
            errors.append(field_error(["rows", i, "municipality_code"], "Unknown municipality code {code}",
                                      code=p.municipality_code))
            targets.append(None)
            continue
        targets.append(mid)
        if (mid, p.code) in seen:
            errors.append(field_error(["rows", i, "code"], "Duplicate of row {j} in this batch", j=seen[(mid, p.code)]))
        seen[(mid, p.code)] = i
    _refuse(errors)
    created = updated = 0
    for p, mid in zip(parsed, targets, strict=True):
        county = municipality_code(db, mid)
        zone = db.scalar(select(CitydataZone).where(CitydataZone.municipality_id == mid, CitydataZone.code == p.code))
        values = {"name_ko": p.name_ko, "name_en": p.name_en, "area_code": p.area_code or county}
        if zone is None:
            db.add(CitydataZone(municipality_id=mid, code=p.code, **values))
            created += 1
        else:
            for k, v in values.items():
                setattr(zone, k, v)
            updated += 1
    db.flush()
    return {"received": len(parsed), "created": created, "updated": updated}


# --- festivals ---------------------------------------------------------------------------------

def list_festivals(db: Session, *, municipality_id: int | None = None, year: int | None = None
                   ) -> list[CitydataFestival]:
    stmt = select(CitydataFestival).order_by(CitydataFestival.start_date, CitydataFestival.id)
    if municipality_id is not None:
        stmt = stmt.where(CitydataFestival.municipality_id == municipality_id)
    if year is not None:
        stmt = stmt.where(CitydataFestival.end_date >= date(year, 1, 1),
                          CitydataFestival.start_date <= date(year, 12, 31))
    return list(db.scalars(stmt))


def festivals_held(db: Session, *, municipality_id: int, start: date, end: date) -> int | None:
    """The municipality's own festivals (it is the host) that began between ``start`` and ``end``: the festivals
    its consulting covers. None when it has registered no festival of its own at all."""
    own = ((CitydataFestival.municipality_id == municipality_id)
           & (CitydataFestival.host_code == municipality_code(db, municipality_id)))
    total, held = db.execute(select(func.count(), func.count().filter(
        CitydataFestival.start_date.between(start, end))).where(own)).one()
    return held if total else None


def get_festival(db: Session, *, festival_id: int) -> CitydataFestival:
    return one_or_404(db, CitydataFestival, festival_id, "Festival {id} not found")


def create_festival(db: Session, *, data: FestivalIn) -> CitydataFestival:
    mid = target_municipality_id(db, code=data.municipality_code)
    exists = db.scalar(select(CitydataFestival.id).where(
        CitydataFestival.municipality_id == mid, CitydataFestival.name == data.name,
        CitydataFestival.start_date == data.start_date))
    if exists:
        raise Conflict("Festival {name} on {start} is already registered", name=data.name, start=data.start_date)
    festival = CitydataFestival(municipality_id=mid, **data.model_dump(exclude={"municipality_code"}))
    db.add(festival)
    db.flush()
    return festival


def delete_festival(db: Session, *, festival: CitydataFestival) -> None:
    db.delete(festival)
    db.flush()


# --- surveys -----------------------------------------------------------------------------------

def list_surveys(db: Session) -> list[dict[str, Any]]:
    surveys = list(db.scalars(select(CitydataSurvey).order_by(CitydataSurvey.id.desc())))
    ids = [s.id for s in surveys] or [-1]
    nq = dict(db.execute(select(CitydataQuestion.survey_id, func.count()).where(CitydataQuestion.survey_id.in_(ids))
                         .group_by(CitydataQuestion.survey_id)).all())
    nr = dict(db.execute(select(CitydataResponse.survey_id, func.count()).where(CitydataResponse.survey_id.in_(ids))
                         .group_by(CitydataResponse.survey_id)).all())
    return [survey_out(s, nq.get(s.id, 0), nr.get(s.id, 0)) for s in surveys]


def survey_out(s: CitydataSurvey, questions: int, responses: int) -> dict[str, Any]:
    return {"id": s.id, "name": s.name, "provider": s.provider, "fielded_date": s.fielded_date,
            "questions": questions, "responses": responses}


def get_survey(db: Session, *, survey_id: int) -> CitydataSurvey:
    return one_or_404(db, CitydataSurvey, survey_id, "Survey {id} not found")


def questions_of(db: Session, *, survey_id: int) -> list[CitydataQuestion]:
    return list(db.scalars(select(CitydataQuestion).where(CitydataQuestion.survey_id == survey_id)
                           .order_by(CitydataQuestion.position, CitydataQuestion.id)))


def create_survey(db: Session, *, data: SurveyIn) -> CitydataSurvey:
    mid = target_municipality_id(db, code=data.municipality_code)
    if db.scalar(select(CitydataSurvey.id).where(CitydataSurvey.municipality_id == mid,
                                                 CitydataSurvey.name == data.name)):
        raise Conflict("A survey named {name} already exists", name=data.name)
    survey = CitydataSurvey(municipality_id=mid, name=data.name, provider=data.provider, fielded_date=data.fielded_date)
    db.add(survey)
    db.flush()
    for position, q in enumerate(data.questions):
        db.add(CitydataQuestion(municipality_id=mid, survey_id=survey.id, position=position, code=q.code, text=q.text,
                                kind=q.kind, choices=list(q.choices) if q.kind != "scale" else [],
                                scale_min=q.scale_min, scale_max=q.scale_max, topic=q.topic))
    db.flush()
    if data.responses:
        store_responses(db, survey=survey, parsed=list(data.responses), loc_prefix=["responses"])
    return survey


def _check_answer(q: CitydataQuestion, value: Any) -> list[str] | str:
    """The answer's stored values, or an error template."""
    if q.kind == "scale":
        if isinstance(value, str) and value.lstrip("-").isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not (q.scale_min <= value <= q.scale_max):
            return "Enter a whole number on the scale"
        return [str(value)]
    values = value if isinstance(value, list) else [value]
    if q.kind == "multi" and isinstance(value, str) and ";" in value:
        values = [v.strip() for v in value.split(";") if v.strip()]
    if q.kind == "choice" and len(values) != 1:
        return "Choose exactly one answer"
    if any(str(v) not in q.choices for v in values):
        return "Not one of the question's choices"
    return list(dict.fromkeys(str(v) for v in values))


def store_responses(db: Session, *, survey: CitydataSurvey, parsed: list[ResponseIn | None],
                    loc_prefix: list[Any] | None = None, errors: list[dict[str, Any]] | None = None
                    ) -> dict[str, int]:
    """Check every response against the questionnaire and store all of them, or none. ``parsed`` may hold
    None for rows that failed the schema (their ``errors`` are reported with the others). Respondents
    already stored (same ``respondent_key``) are a retry: checked, then left as they are."""
    prefix = loc_prefix or ["rows"]
    questions = {q.code: q for q in questions_of(db, survey_id=survey.id)}
    existing = set(db.scalars(select(CitydataResponse.respondent_key).where(CitydataResponse.survey_id == survey.id)))
    errors = list(errors or [])
    seen: dict[str, int] = {}
    answers: list[list[tuple[int, str]]] = []
    for i, r in enumerate(parsed):
        if r is None:
            answers.append([])
            continue
        if r.respondent_key in seen:
            errors.append(field_error([*prefix, i, "respondent_key"], "Duplicate of row {j} in this batch",
                                      j=seen[r.respondent_key]))
        seen.setdefault(r.respondent_key, i)
        mine: list[tuple[int, str]] = []
        for code, value in r.answers.items():
            q = questions.get(code)
            if q is None:
                errors.append(field_error([*prefix, i, "answers", code], "Unknown question {code}", code=code))
                continue
            checked = _check_answer(q, value)
            if isinstance(checked, str):
                errors.append(field_error([*prefix, i, "answers", code], checked))
            else:
                mine += [(q.id, v) for v in checked]
        answers.append(mine)
    if errors:
        bad = len({e["loc"][len(prefix)] for e in errors})
        raise InvalidInput("{n} row is invalid; nothing was saved",
                           plural="{n} rows are invalid; nothing was saved", n=bad, errors=errors)
    mid = survey.municipality_id
    fresh = [(r, mine) for r, mine in zip(parsed, answers, strict=True) if r.respondent_key not in existing]
    rows = [{"municipality_id": mid, "survey_id": survey.id, "respondent_key": r.respondent_key, "weight": r.weight,
             "sex": r.sex, "age_band": r.age_band, "zone_code": r.zone_code} for r, _mine in fresh]
    if rows:
        insert_rows(db, CitydataResponse.__table__, rows)
    ids = dict(db.execute(select(CitydataResponse.respondent_key, CitydataResponse.id).where(
        CitydataResponse.survey_id == survey.id)).all())
    answer_rows = [{"municipality_id": mid, "response_id": ids[r.respondent_key], "question_id": qid, "value": v}
                   for r, mine in fresh for qid, v in mine]
    if answer_rows:
        insert_rows(db, CitydataAnswer.__table__, answer_rows)
    audit.record(db, action="import", object_type="citydata_response", object_id=str(survey.id),
                 municipality_id=mid, after={"responses": len(rows), "answers": len(answer_rows)})
    return {"received": len(parsed), "created": len(rows), "unchanged": len(parsed) - len(rows),
            "answers": len(answer_rows)}


def import_responses(db: Session, *, survey: CitydataSurvey, rows: list[Any]) -> dict[str, int]:
    parsed, errors = validate_rows(ResponseIn, rows, limit=100_000)
    return store_responses(db, survey=survey, parsed=parsed, errors=errors)


RESPONSE_FIELDS = ("respondent_key", "weight", "sex", "age_band", "zone_code")


def responses_from_csv(text: str, *, question_codes: set[str]) -> list[dict[str, Any]]:
    """Wide CSV: ``respondent_key, weight, sex, age_band, zone_code`` then one column per question code
    (several choices separated by ``;``); blank cells are no answer."""
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    unknown = [h for h in header if h not in RESPONSE_FIELDS and h not in question_codes]
    missing = [h for h in ("respondent_key", "sex", "age_band") if h not in header]
    errors = [field_error(["line", 1, h], "Unknown column {column}", column=h) for h in unknown]
    errors += [field_error(["line", 1, h], "Missing column {column}", column=h) for h in missing]
    if errors:
        raise InvalidInput("The file's columns do not match the questionnaire", errors=errors)
    rows = []
    for row in reader:
        item: dict[str, Any] = {k: (row.get(k) or "").strip() for k in RESPONSE_FIELDS if (row.get(k) or "").strip()}
        item["answers"] = {k: v.strip() for k, v in row.items() if k in question_codes and v and v.strip()}
        rows.append(item)
    return rows


def delete_survey(db: Session, *, survey: CitydataSurvey) -> None:
    db.execute(delete(CitydataAnswer).where(CitydataAnswer.response_id.in_(
        select(CitydataResponse.id).where(CitydataResponse.survey_id == survey.id))))
    db.delete(survey)
    db.flush()



# --- market fit of card categories --------------------------------------------------------------

def list_category_fit(db: Session, *, municipality_id: int) -> list[dict[str, Any]]:
    """Every category the card data name (large and middle), the defaults and the municipality's own
    settings, each with what applies."""
    from app.lguplus.citydata.analysis import DEFAULT_UNFIT

    own = {f.category: f for f in db.scalars(select(CitydataCategoryFit).where(
        CitydataCategoryFit.municipality_id == municipality_id))}
    names = set(own) | set(DEFAULT_UNFIT)
    for large, middle in db.execute(select(CitydataCardMonthly.category_large, CitydataCardMonthly.category_middle)
                                    .where(CitydataCardMonthly.municipality_id == municipality_id).distinct()):
        names.update((large, middle))
    out = []
    for name in sorted(names):
        default = name not in DEFAULT_UNFIT
        mine = own.get(name)
        out.append({"category": name, "fits": mine.fits if mine else default, "default_fits": default,
                    "own": mine is not None, "note": mine.note if mine else ""})
    return out


def set_category_fit(db: Session, *, municipality_id: int, data: CategoryFitIn) -> CitydataCategoryFit:
    """Set (or change) whether a category fits the market for one municipality; audited by the flush hook."""
    found = db.scalar(select(CitydataCategoryFit).where(CitydataCategoryFit.municipality_id == municipality_id,
                                                        CitydataCategoryFit.category == data.category))
    if found is None:
        found = CitydataCategoryFit(municipality_id=municipality_id, category=data.category)
        db.add(found)
    found.fits, found.note = data.fits, data.note
    db.flush()
    return found
