"""Request and response bodies of city-data consulting."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from app.core.schemas import InputModel, MunicipalityCode, OutputModel, ShortText
from app.lguplus.citydata.models import AGE_BANDS, SEXES

Code10 = Annotated[str, StringConstraints(pattern=r"^\d{10}$")]
Sex = Literal[SEXES]  # type: ignore[valid-type]
AgeBand = Literal[AGE_BANDS]  # type: ignore[valid-type]
QuestionCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,40}$")]
ChoiceText = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class ZoneIn(InputModel):
    db_table = "citydata_zone"
    code: Code10
    name_ko: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    name_en: Annotated[str, StringConstraints(max_length=100)] = ""
    area_code: Code10 | None = None  # where the zone lies; default: the county itself
    municipality_code: MunicipalityCode | None = None  # the county that keeps the list; default: the caller's


class ZoneOut(OutputModel):
    id: int
    code: str
    name_ko: str
    name_en: str
    area_code: str
    inside: bool


class JobOut(OutputModel):
    id: int
    kind: str
    status: str
    filename: str
    encoding: str | None
    client_id: str | None
    rows_done: int
    rows_total: int
    fraction: float
    error_count: int
    errors: list[dict[str, Any]]
    message: str
    digest: str | None = None
    coverage: dict[str, Any] = {}


class ImportDeletedOut(OutputModel):
    id: int
    rows_removed: int


class CategoryFitIn(InputModel):
    """Whether a card category (large or middle name) is something the traditional market could sell."""

    db_table = "citydata_category_fit"
    category: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
    fits: bool
    note: Annotated[str, StringConstraints(max_length=200)] = ""


class CategoryFitOut(OutputModel):
    category: str
    fits: bool
    default_fits: bool
    own: bool
    note: str


class FestivalIn(InputModel):
    db_table = "citydata_festival"
    name: ShortText
    host_code: Code10
    host_name: Annotated[str, StringConstraints(max_length=100)] = ""
    zone_code: Code10 | None = None
    start_date: date
    end_date: date
    municipality_code: MunicipalityCode | None = None

    @model_validator(mode="after")
    def _dates(self) -> FestivalIn:
        if self.end_date < self.start_date:
            raise ValueError("The end date must not be before the start date")
        if (self.end_date - self.start_date).days > 60:
            raise ValueError("A festival lasts at most 60 days")
        return self


class FestivalOut(OutputModel):
    id: int
    name: str
    host_code: str
    host_name: str
    zone_code: str | None
    start_date: date
    end_date: date


class QuestionIn(InputModel):
    db_table = "citydata_question"
    code: QuestionCode
    text: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    kind: Literal["choice", "multi", "scale"]
    choices: Annotated[list[ChoiceText], Field(max_length=50)] = []
    scale_min: Annotated[int, Field(ge=-1000, le=1000)] | None = None
    scale_max: Annotated[int, Field(ge=-1000, le=1000)] | None = None
    topic: Annotated[str, StringConstraints(max_length=40)] = ""

    @model_validator(mode="after")
    def _shape(self) -> QuestionIn:
        if self.kind == "scale":
            if self.scale_min is None or self.scale_max is None or self.scale_max <= self.scale_min:
                raise ValueError("A scale question needs scale_min below scale_max")
            if self.scale_max - self.scale_min > 20:
                raise ValueError("A scale has at most 21 points")
        elif len(self.choices) < 2 or len(set(self.choices)) != len(self.choices):
            raise ValueError("A choice question needs at least two different choices")
        return self


class ResponseIn(InputModel):
    db_table = "citydata_response"
    respondent_key: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    weight: Annotated[float, Field(gt=0, le=1e6, allow_inf_nan=False)] = 1.0
    sex: Sex
    age_band: AgeBand
    zone_code: Code10 | None = None
    answers: dict[QuestionCode, int | ChoiceText | list[ChoiceText]] = {}


class SurveyIn(InputModel):
    db_table = "citydata_survey"
    name: ShortText
    provider: Annotated[str, StringConstraints(max_length=100)] = ""
    fielded_date: date | None = None
    questions: Annotated[list[QuestionIn], Field(min_length=1, max_length=200)]
    responses: Annotated[list[ResponseIn], Field(max_length=100_000)] = []
    municipality_code: MunicipalityCode | None = None

    @model_validator(mode="after")
    def _unique_codes(self) -> SurveyIn:
        codes = [q.code for q in self.questions]
        if len(set(codes)) != len(codes):
            raise ValueError("Question codes must be unique")
        return self


class SurveyOut(OutputModel):
    id: int
    name: str
    provider: str
    fielded_date: date | None
    questions: int
    responses: int
