"""Request and response bodies of the shared domain."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, ValidationInfo, field_validator, model_validator

from app.core.schemas import Chars, InputModel, LongText, MunicipalityCode, OutputModel, ShortText, UpdateModel
from app.core.tenancy import ROLES
from app.platform.models import PARTNER_KINDS, PROGRAM_STATUSES

PartnerCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,39}$")]
ModuleKey = Annotated[str, StringConstraints(pattern=r"^[a-z]+\.[a-z_]+$", max_length=40)]
ProgramStatus = Literal["planned", "active", "completed", "suspended"]
Role = Literal["platform_admin", "municipal_admin", "staff", "viewer"]
assert set(ROLES) == set(Role.__args__) and set(PROGRAM_STATUSES) == set(ProgramStatus.__args__)


# --- municipalities and partners -------------------------------------------------------------

class MunicipalityIn(InputModel):
    db_table = "municipality"
    code: MunicipalityCode
    name_ko: Chars(100)
    name_en: Chars(100)
    level: Literal["metropolitan", "basic"]
    parent_code: MunicipalityCode | None = None


class MunicipalityUpdate(UpdateModel):
    db_table = "municipality"
    name_ko: Chars(100) | None = None
    name_en: Chars(100) | None = None


class ModuleSwitchIn(InputModel):
    """A platform administrator's switch of one module for one municipality: ``programs`` lets its
    programs decide again."""

    db_table = "municipality_module"
    module_key: ModuleKey
    state: Literal["on", "off", "programs"]


class MunicipalityOut(OutputModel):
    id: int
    code: str
    name_ko: str
    name_en: str
    level: str
    parent_code: str | None = None


class PartnerIn(InputModel):
    db_table = "partner"
    code: PartnerCode
    name_ko: Chars(100)
    name_en: Chars(100)
    kind: Literal[PARTNER_KINDS]  # type: ignore[valid-type]


class PartnerUpdate(UpdateModel):
    db_table = "partner"
    name_ko: Chars(100) | None = None
    name_en: Chars(100) | None = None
    kind: Literal[PARTNER_KINDS] | None = None  # type: ignore[valid-type]


class PartnerOut(OutputModel):
    id: int
    code: str
    name_ko: str
    name_en: str
    kind: str


# --- programs --------------------------------------------------------------------------------

class _ProgramFields(InputModel):
    db_table = "program"
    @field_validator("end_date", check_fields=False)
    @classmethod
    def _dates_in_order(cls, end: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("start_date")
        if start and end and end < start:
            raise ValueError("end_date must not be before start_date")
        return end


class ProgramIn(_ProgramFields):
    title: ShortText
    description: LongText = ""
    module: ModuleKey | None = None
    status: ProgramStatus = "planned"
    municipality_code: MunicipalityCode
    partner_codes: list[PartnerCode] = Field(default_factory=list, max_length=20)
    start_date: date | None = None
    end_date: date | None = None
    budget_krw: int | None = Field(default=None, ge=0, le=10**15)
    agreement_date: date | None = None

    @field_validator("partner_codes")
    @classmethod
    def _unique_partners(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(v))


class ProgramUpdate(_ProgramFields, UpdateModel):
    """Partial update: only the fields sent change. ``status`` follows the allowed transitions."""

    title: ShortText | None = None
    description: LongText | None = None
    module: ModuleKey | None = None
    status: ProgramStatus | None = None
    partner_codes: list[PartnerCode] | None = Field(default=None, max_length=20)
    start_date: date | None = None
    end_date: date | None = None
    budget_krw: int | None = Field(default=None, ge=0, le=10**15)
    agreement_date: date | None = None


class KpiValueOut(OutputModel):
    id: int
    measured_date: date
    value: float
    note: str


class KpiReadingOut(OutputModel):
    period_start: date
    period_end: date
    value: float | None
    computed_at: datetime


class KpiOut(OutputModel):
    id: int
    name: str
    unit: str
    baseline: float
    target: float
    source_key: str | None = Field(description="The module metric the value is computed from; null: typed by hand")
    latest_value: float | None
    progress: float | None = Field(description="0-1: how far the latest value has moved from baseline to target")
    values: list[KpiValueOut]
    readings: list[KpiReadingOut] = Field(description="A bound KPI's computed value per calendar month")


class MilestoneOut(OutputModel):
    id: int
    title: str
    due_date: date
    done_date: date | None


class ProgramOut(OutputModel):
    id: int
    title: str
    description: str
    module: str | None
    status: str
    municipality_code: str
    municipality_name: str
    partner_codes: list[str]
    start_date: date | None
    end_date: date | None
    budget_krw: int | None
    agreement_date: date | None
    created_at: datetime
    updated_at: datetime


class ProgramDetailOut(ProgramOut):
    kpis: list[KpiOut]
    milestones: list[MilestoneOut]
    allowed_transitions: list[str]


MetricKey = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=r"^[a-z0-9_.]+$")]


class KpiIn(InputModel):
    db_table = "kpi"
    name: ShortText
    unit: Annotated[str, StringConstraints(max_length=40)] = ""
    baseline: float = 0.0
    target: float
    source_key: MetricKey | None = Field(default=None, description="Bind to a module's metric source; "
                                         "omitted or null: values are typed by hand")

    @model_validator(mode="after")
    def _target_differs(self):
        if self.target == self.baseline:
            raise ValueError("target must differ from baseline")
        return self


class KpiUpdate(UpdateModel):
    db_table = "kpi"
    name: ShortText | None = None
    unit: Annotated[str, StringConstraints(max_length=40)] | None = None
    baseline: float | None = None
    target: float | None = None
    source_key: MetricKey | None = Field(default=None, description="null unbinds the KPI")


class KpiValueIn(InputModel):
    db_table = "kpi_value"
    measured_date: date
    value: float = Field(allow_inf_nan=False)
    note: Annotated[str, StringConstraints(max_length=500)] = ""


class MilestoneIn(InputModel):
    db_table = "milestone"
    title: ShortText
    due_date: date
    done_date: date | None = None


class MilestoneUpdate(UpdateModel):
    db_table = "milestone"
    title: ShortText | None = None
    due_date: date | None = None
    done_date: date | None = None


# --- accounts --------------------------------------------------------------------------------

Username = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_.-]{3,64}$")]
Password = Annotated[str, StringConstraints(min_length=10, max_length=256)]


class UserIn(InputModel):
    db_table = "app_user"
    username: Username
    display_name: Annotated[str, StringConstraints(max_length=100)] = ""
    password: Password
    role: Role
    municipality_code: MunicipalityCode | None = None


class UserUpdate(UpdateModel):
    db_table = "app_user"
    display_name: Annotated[str, StringConstraints(max_length=100)] | None = None
    password: Password | None = None
    role: Role | None = None
    is_active: bool | None = None


class UserOut(OutputModel):
    id: int
    username: str
    display_name: str
    role: str
    municipality_code: str | None
    is_active: bool
    last_login_at: datetime | None
    created_at: datetime


Scope = Annotated[str, StringConstraints(pattern=r"^[a-z]+(\.[a-z_]+)?:(read|write)$")]


class ApiKeyIn(InputModel):
    db_table = "api_key"
    name: Chars(100)
    municipality_code: MunicipalityCode
    scopes: list[Scope] = Field(min_length=1, max_length=50)


class ApiKeyOut(OutputModel):
    id: int
    name: str
    prefix: str
    municipality_code: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    secret: str = Field(description="The key itself. It is shown this once and never stored.")


class TokenOut(OutputModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class AuditEntryOut(OutputModel):
    id: int
    occurred_at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    before: dict | None
    after: dict | None


# --- converters ------------------------------------------------------------------------------

def municipality_out(m) -> MunicipalityOut:
    return MunicipalityOut(id=m.id, code=m.code, name_ko=m.name_ko, name_en=m.name_en, level=m.level,
                           parent_code=m.parent.code if m.parent else None)


def kpi_out(kpi) -> KpiOut:
    from app.platform.service import kpi_progress

    latest, progress = kpi_progress(kpi)
    return KpiOut(id=kpi.id, name=kpi.name, unit=kpi.unit, baseline=kpi.baseline, target=kpi.target,
                  source_key=kpi.source_key, latest_value=latest, progress=progress,
                  values=[KpiValueOut.model_validate(v) for v in kpi.values],
                  readings=[KpiReadingOut.model_validate(r) for r in kpi.readings if r.source_key == kpi.source_key])


def _program_fields(p) -> dict:
    return dict(id=p.id, title=p.title, description=p.description, module=p.module, status=p.status,
                municipality_code=p.municipality.code, municipality_name=p.municipality.name_ko,
                partner_codes=sorted(x.code for x in p.partners), start_date=p.start_date, end_date=p.end_date,
                budget_krw=p.budget_krw, agreement_date=p.agreement_date, created_at=p.created_at,
                updated_at=p.updated_at)


def program_out(p) -> ProgramOut:
    return ProgramOut(**_program_fields(p))


def program_detail_out(p) -> ProgramDetailOut:
    from app.platform.service import STATUS_TRANSITIONS

    return ProgramDetailOut(**_program_fields(p), kpis=[kpi_out(k) for k in p.kpis],
                            milestones=[MilestoneOut.model_validate(m) for m in p.milestones],
                            allowed_transitions=list(STATUS_TRANSITIONS[p.status]))


def user_out(u) -> UserOut:
    return UserOut(id=u.id, username=u.username, display_name=u.display_name, role=u.role,
                   municipality_code=u.municipality.code if u.municipality else None, is_active=u.is_active,
                   last_login_at=u.last_login_at, created_at=u.created_at)


def api_key_out(k, secret: str | None = None) -> ApiKeyOut:
    fields = dict(id=k.id, name=k.name, prefix=k.prefix, municipality_code=k.municipality.code,
                  scopes=list(k.scopes), created_at=k.created_at, last_used_at=k.last_used_at,
                  revoked_at=k.revoked_at)
    return ApiKeyCreated(**fields, secret=secret) if secret else ApiKeyOut(**fields)
