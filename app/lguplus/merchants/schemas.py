"""Request and response bodies of the small-merchant DX program."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from app.core.brn import normalise_brn
from app.core.schemas import Id, InputModel, MunicipalityCode, OutputModel, ShortText, UpdateModel, UtcDateTime

State = Literal["submitted", "reviewed", "approved", "installed", "active", "cancelled", "rejected"]
SolutionCode = Literal["ai_call", "ai_booking", "waiting", "order", "pos", "serving_robot"]
Brn = Annotated[str, StringConstraints(pattern=r"^\d{3}-?\d{2}-?\d{5}$")]
DongCode = Annotated[str, StringConstraints(pattern=r"^\d{10}$")]
Category = Annotated[str, StringConstraints(min_length=1, max_length=40)]
Phone = Annotated[str, StringConstraints(pattern=r"^0\d{1,2}-?\d{3,4}-?\d{4}$")]
Won = Annotated[int, Field(ge=0, le=10_000_000_000)]
Year = Annotated[int, Field(ge=2000, le=2100)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=500)]
Month = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}$")]
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)


def in_range(value: date) -> date:
    if not EARLIEST <= value <= LATEST:
        raise ValueError("Dates must lie between 2000 and 2100")
    return value


def month_start(value: str) -> date:
    """``YYYY-MM`` as the first day of that month; ValueError for a month like 2025-13."""
    year, month = int(value[:4]), int(value[5:7])
    if not 1 <= month <= 12:
        raise ValueError("The month must be YYYY-MM with a month from 01 to 12")
    return in_range(date(year, month, 1))


# --- merchants -------------------------------------------------------------------------------

class MerchantIn(InputModel):
    db_table = "lgum_merchant"
    brn: Brn
    name: ShortText
    address: Annotated[str, StringConstraints(max_length=300)] = ""
    dong_code: DongCode
    dong_name: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    category: Category
    owner_phone: Phone | None = None
    lat: Annotated[float, Field(ge=33, le=39)] | None = None
    lon: Annotated[float, Field(ge=124, le=132)] | None = None
    municipality_code: MunicipalityCode | None = None

    @field_validator("brn")
    @classmethod
    def _brn(cls, v: str) -> str:
        return normalise_brn(v)

    @field_validator("owner_phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        return v.replace("-", "") if v else v


class MerchantUpdate(UpdateModel):
    db_table = "lgum_merchant"
    name: ShortText | None = None
    address: Annotated[str, StringConstraints(max_length=300)] | None = None
    dong_code: DongCode | None = None
    dong_name: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    category: Category | None = None
    owner_phone: Phone | None = None
    lat: Annotated[float, Field(ge=33, le=39)] | None = None
    lon: Annotated[float, Field(ge=124, le=132)] | None = None

    @field_validator("owner_phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        return v.replace("-", "") if v else v


class MerchantOut(OutputModel):
    id: int
    brn: str
    name: str
    address: str
    dong_code: str
    dong_name: str
    category: str
    owner_phone_masked: str | None
    lat: float | None
    lon: float | None
    municipality_id: int


# --- solutions -------------------------------------------------------------------------------

class SolutionIn(InputModel):
    db_table = "lgum_solution"
    monthly_fee_krw: Won
    one_off_krw: Won
    subsidy_pct: Annotated[int, Field(ge=0, le=100)]
    subsidy_cap_krw: Won


class SolutionOut(OutputModel):
    id: int | None
    code: str
    name: str
    monthly_fee_krw: int
    one_off_krw: int
    subsidy_pct: int
    subsidy_cap_krw: int
    max_subsidy_krw: int
    configured: bool


# --- applications ----------------------------------------------------------------------------

class ApplicationIn(InputModel):
    db_table = "lgum_application"
    merchant_id: Id
    solution: SolutionCode
    requested_subsidy_krw: Won
    year: Year


class TransitionIn(InputModel):
    db_table = "lgum_application_step"
    to: State
    reason: Reason | None = None
    on: date | None = None  # the day of installation, when it was not today

    @field_validator("on")
    @classmethod
    def _on(cls, v: date | None) -> date | None:
        return in_range(v) if v else v


class StepOut(OutputModel):
    from_state: str | None
    to_state: str
    reason: str | None
    actor: str
    at: UtcDateTime


class ApplicationOut(OutputModel):
    id: int
    merchant_id: int
    merchant_name: str
    solution: str
    solution_name: str
    year: int
    requested_subsidy_krw: int
    committed_krw: int
    state: str
    reason: str | None
    installed_date: date | None
    allowed: list[str]
    created_at: UtcDateTime
    history: list[StepOut] | None = None


# --- budget ----------------------------------------------------------------------------------

class BudgetIn(InputModel):
    db_table = "lgum_budget"
    year: Year
    amount: Won  # won
    municipality_code: MunicipalityCode | None = None


class BudgetOut(OutputModel):
    year: int
    amount_krw: int
    committed_krw: int
    remaining_krw: int
    used_share: float


# --- consulting ------------------------------------------------------------------------------

class FollowUpIn(InputModel):
    db_table = "lgum_followup"
    action: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    due_date: date
    done: bool = False

    @field_validator("due_date")
    @classmethod
    def _due(cls, v: date) -> date:
        return in_range(v)


class ConsultingIn(InputModel):
    db_table = "lgum_consulting"
    merchant_id: Id
    session_date: date
    topic: ShortText
    notes: Annotated[str, StringConstraints(max_length=5000)] = ""
    consultant: Annotated[str, StringConstraints(max_length=100)] = ""
    actions: list[FollowUpIn] = Field(default_factory=list, max_length=50)

    @field_validator("session_date")
    @classmethod
    def _date(cls, v: date) -> date:
        return in_range(v)

    @model_validator(mode="after")
    def _due_after(self) -> ConsultingIn:
        for action in self.actions:
            if action.due_date < self.session_date:
                raise ValueError("A follow-up cannot be due before the session")
        return self


class FollowUpOut(OutputModel):
    id: int
    action: str
    due_date: date
    done: bool


class FollowUpUpdate(UpdateModel):
    db_table = "lgum_followup"
    done: bool


class ConsultingOut(OutputModel):
    id: int
    merchant_id: int
    merchant_name: str
    session_date: date
    topic: str
    notes: str
    consultant: str
    actions: list[FollowUpOut]


# --- outcomes --------------------------------------------------------------------------------

class OutcomeIn(InputModel):
    """One month of one merchant, named by id or by business registration number."""

    db_table = "lgum_outcome"

    merchant_id: Id | None = None
    brn: Brn | None = None
    month: Month
    sales_krw: Won
    orders: Annotated[int, Field(ge=0, le=10_000_000)]
    reservations: Annotated[int, Field(ge=0, le=10_000_000)] = 0
    no_show_rate: Annotated[float, Field(ge=0, le=1)] | None = None
    staff_hours: Annotated[float, Field(ge=0, le=100_000)] = 0

    @field_validator("brn")
    @classmethod
    def _brn(cls, v: str | None) -> str | None:
        return normalise_brn(v) if v else v

    @field_validator("month")
    @classmethod
    def _month(cls, v: str) -> str:
        month_start(v)
        return v

    @model_validator(mode="after")
    def _one_merchant(self) -> OutcomeIn:
        if (self.merchant_id is None) == (self.brn is None):
            raise ValueError("Give exactly one of merchant_id and brn")
        return self


class OutcomeOut(OutputModel):
    merchant_id: int
    month: str
    sales_krw: int
    orders: int
    reservations: int
    no_show_rate: float | None
    staff_hours: float


class BatchResult(OutputModel):
    received: int
    created: int
    updated: int
