"""Request and response bodies of the isolation analytics."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, ValidationInfo, field_validator, with_config
from typing_extensions import TypedDict

from app.core.schemas import InputModel, OutputModel, UpdateModel

Period = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
DongCode = Annotated[str, StringConstraints(pattern=r"^\d{10}$")]
AgeBand = Literal["20-29", "30-39", "40-49", "50-59", "60-64", "65-69", "70-74", "75-79", "80+"]
Sex = Literal["M", "F"]
IncomeBand = Literal["none", "low", "middle", "high"]
Count = Annotated[int, Field(ge=0, le=100_000_000)]
Mean = Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)]


class CellIn(InputModel):
    """One indicator cell: people of one dong, age band, sex and income band in one month."""

    db_table = "iso_cell"

    period: Period
    dong_code: DongCode
    age_band: AgeBand
    sex: Sex
    income_band: IncomeBand
    population: Count
    low_communication: Count
    low_outing: Count
    isolated: Count
    smartphone_data_mb: Mean
    app_minutes: Mean
    messenger_minutes: Mean
    sns_minutes: Mean
    calls: Mean
    call_partners: Mean
    outings: Mean
    travel_km: Mean
    home_hours: Mean


@with_config(ConfigDict(extra="forbid", str_strip_whitespace=True))
class CellRow(TypedDict):
    """:class:`CellIn` as a plain dict: the same rules, validated without building a model per row (bulk path)."""

    period: Period
    dong_code: DongCode
    age_band: AgeBand
    sex: Sex
    income_band: IncomeBand
    population: Count
    low_communication: Count
    low_outing: Count
    isolated: Count
    smartphone_data_mb: Mean
    app_minutes: Mean
    messenger_minutes: Mean
    sns_minutes: Mean
    calls: Mean
    call_partners: Mean
    outings: Mean
    travel_km: Mean
    home_hours: Mean


class DongIn(InputModel):
    db_table = "iso_dong"
    code: DongCode
    name: Annotated[str, StringConstraints(min_length=1, max_length=60)]
    district: Annotated[str, StringConstraints(max_length=60)] = ""
    municipality_code: Annotated[str | None, StringConstraints(pattern=r"^\d{10}$")] = None


Rule = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class DefinitionIn(InputModel):
    """The floors a municipality applies from ``effective_from`` on (as text: the operator computes them)."""

    db_table = "iso_definition"

    effective_from: Period
    low_communication: Rule
    low_outing: Rule
    isolated: Rule = "Under both floors in the same month"
    source: Annotated[str, StringConstraints(max_length=200)] = ""
    municipality_code: Annotated[str | None, StringConstraints(pattern=r"^\d{10}$")] = None


class DefinitionOut(OutputModel):
    effective_from: str | None
    low_communication: str
    low_outing: str
    isolated: str
    source: str
    unit: str
    custom: bool  # False: the platform's default definition (no municipality record in force)


class DongOut(OutputModel):
    code: str
    name: str
    district: str


class ImportResult(OutputModel):
    received: int
    created: int
    replaced: int
    periods: list[str]
    dongs: int


class DongBatchResult(OutputModel):
    received: int
    created: int
    updated: int
    unchanged: int


class DivideRow(OutputModel):
    age_band: str
    population: int | None
    suppressed: bool
    means: dict[str, float | None]
    relative: dict[str, float | None]


class DivideOut(OutputModel):
    period: str | None
    k: int
    total_population: int | None
    overall: dict[str, float | None]
    items: list[DivideRow]


class GradientRow(OutputModel):
    income_band: str
    population: int | None
    suppressed: bool
    means: dict[str, float | None]
    isolated_rate: float | None


class GradientOut(OutputModel):
    period: str | None
    min_age: int
    k: int
    items: list[GradientRow]
    gap: dict[str, float | None]  # highest over lowest income band, per measure
    gap_bands: list[str | None]


class RankingItem(OutputModel):
    dong_code: str
    dong_name: str
    district: str
    population: int | None
    isolated: int | None
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    change: int | None
    suppressed: bool


class RankingOut(OutputModel):
    period: str | None
    previous_period: str | None
    min_age: int
    k: int
    items: list[RankingItem]
    total: int
    limit: int
    offset: int


class ShareRow(OutputModel):
    group: str
    population: int | None
    low_communication: int | None
    low_outing: int | None
    isolated: int | None
    rate: float | None
    suppressed: bool


class CriteriaOut(OutputModel):
    period: str | None
    min_age: int
    k: int
    definition: DefinitionOut
    by_age: list[ShareRow]
    by_sex: list[ShareRow]
    by_income: list[ShareRow]


class TargetItem(OutputModel):
    dong_code: str
    dong_name: str
    district: str
    population: int | None
    digital_index: float | None
    outing_index: float | None
    score: float | None
    reachable: int | None
    expected_reached: int | None
    suppressed: bool


class TargetsOut(OutputModel):
    period: str | None
    min_age: int
    k: int
    uptake: float
    items: list[TargetItem]
    total: int
    limit: int
    offset: int


class TrendItem(OutputModel):
    period: str
    population: int | None
    low_communication: int | None
    low_outing: int | None
    isolated: int | None
    rate: float | None
    low_communication_rate: float | None
    low_outing_rate: float | None
    suppressed: bool


class TrendOut(OutputModel):
    min_age: int
    k: int
    items: list[TrendItem]


Attendees = Annotated[int, Field(ge=0, le=100_000)]
SessionTitle = Annotated[str, StringConstraints(min_length=1, max_length=80)]
SessionNote = Annotated[str, StringConstraints(max_length=500)]


class EducationSessionIn(InputModel):
    """A digital-education session held in one of the municipality's 행정동 (the dong says whose)."""

    db_table = "iso_education_session"
    dong_code: DongCode
    held_date: date
    title: SessionTitle
    attendees_65plus: Attendees
    attendees_total: Attendees
    note: SessionNote = ""

    @field_validator("attendees_total")
    @classmethod
    def _covers_65plus(cls, value: int, info: ValidationInfo) -> int:
        older = info.data.get("attendees_65plus")
        if older is not None and value < older:
            raise ValueError("The attendees in all cannot be fewer than those aged 65 and over")
        return value


class EducationSessionUpdate(UpdateModel):
    """The fields of a recorded session to change; a field left out stays as it is (none may be emptied).
    Attendees in all still cannot be fewer than those aged 65 and over once the change is made."""

    db_table = "iso_education_session"
    kept = frozenset({"dong_code"})
    dong_code: DongCode | None = None
    held_date: date | None = None
    title: SessionTitle | None = None
    attendees_65plus: Attendees | None = None
    attendees_total: Attendees | None = None
    note: SessionNote | None = None


class EducationSessionOut(OutputModel):
    id: int
    dong_code: str
    dong_name: str
    held_date: date
    title: str
    attendees_65plus: int
    attendees_total: int
    note: str
    created_at: datetime

    @classmethod
    def of(cls, row) -> EducationSessionOut:
        return cls(id=row.id, dong_code=row.dong.code, dong_name=row.dong.name, held_date=row.held_date,
                   title=row.title, attendees_65plus=row.attendees_65plus, attendees_total=row.attendees_total,
                   note=row.note, created_at=row.created_at)
