"""REST API of the shared domain under /api/v1."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from app.core import security
from app.core.deps import SessionDep, SettingsDep
from app.core.errors import Unauthorized
from app.core.pagination import Page, PageDep
from app.core.schemas import Id
from app.platform import accounts, audit
from app.platform import service as platform_service
from app.platform.auth import (
    ApiPrincipal,
    client_address,
    limiter,
    require_api_admin,
    require_api_platform_admin,
)
from app.platform.deps import ApiKeyDep, KpiDep, MilestoneDep, MunicipalityDep, PartnerDep, ProgramDep, UserDep
from app.platform.schemas import (
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyOut,
    AuditEntryOut,
    KpiIn,
    KpiOut,
    KpiUpdate,
    KpiValueIn,
    MilestoneIn,
    MilestoneOut,
    MilestoneUpdate,
    MunicipalityIn,
    MunicipalityOut,
    MunicipalityUpdate,
    PartnerIn,
    PartnerOut,
    PartnerUpdate,
    ProgramDetailOut,
    ProgramIn,
    ProgramOut,
    ProgramStatus,
    ProgramUpdate,
    TokenOut,
    UserIn,
    UserOut,
    UserUpdate,
    api_key_out,
    kpi_out,
    municipality_out,
    program_detail_out,
    program_out,
    user_out,
)

# Routes about reference data shared by every tenant carry this marker (the tenancy walk reads it).
GLOBAL = {"x-tenant-scope": "global"}

auth_router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
router = APIRouter(prefix="/api/v1")
admin = [Depends(require_api_admin)]
platform_admin = [Depends(require_api_platform_admin)]


@auth_router.post("/token", response_model=TokenOut, openapi_extra=GLOBAL,
                  responses={429: {"description": "Too many sign-in attempts (see Retry-After)"}})
def issue_token(form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, db: SessionDep,
                settings: SettingsDep) -> TokenOut:
    """Exchange a staff member's username and password for a bearer token (OAuth2 password flow).

    Failures are counted per username and caller address: too many answer 429 with ``Retry-After``."""
    try:
        user = accounts.sign_in(db, settings=settings, limiter=limiter(request), username=form.username,
                                password=form.password, address=client_address(request))
    except (accounts.SignInFailed, accounts.SignInThrottled) as failed:
        db.commit()  # keep the audit of a failure even though the request fails
        if isinstance(failed, accounts.SignInThrottled):
            raise
        raise Unauthorized("Wrong username or password") from None
    token = security.issue_staff_token(settings.secret_keys, user_id=user.id,
                                       session_version=user.session_version)
    return TokenOut(access_token=token, expires_in=settings.token_max_age_s)


@router.get("/me", tags=["auth"])
def me(principal: ApiPrincipal) -> dict:
    return {"kind": principal.kind, "name": principal.name, "role": principal.role,
            "scopes": sorted(principal.scopes)}


# --- municipalities --------------------------------------------------------------------------

@router.get("/municipalities", response_model=Page[MunicipalityOut], tags=["municipalities"])
def list_municipalities(db: SessionDep, page: PageDep, q: Annotated[str | None, Query(max_length=100)] = None,
                        level: Annotated[str | None, Query(pattern="^(metropolitan|basic)$")] = None,
                        parent_code: Annotated[str | None, Query(pattern=r"^\d{10}$")] = None):
    items, total = platform_service.list_municipalities(db, page=page, q=q, level=level, parent_code=parent_code)
    return Page(items=[municipality_out(m) for m in items], total=total, limit=page.limit, offset=page.offset)


@router.post("/municipalities", status_code=201, response_model=MunicipalityOut, tags=["municipalities"],
             dependencies=platform_admin)
def create_municipality(data: MunicipalityIn, db: SessionDep):
    return municipality_out(platform_service.create_municipality(db, data=data))


@router.get("/municipalities/{code}", response_model=MunicipalityOut, tags=["municipalities"])
def get_municipality(municipality: MunicipalityDep):
    return municipality_out(municipality)


@router.patch("/municipalities/{code}", response_model=MunicipalityOut, tags=["municipalities"],
              dependencies=platform_admin)
def update_municipality(municipality: MunicipalityDep, data: MunicipalityUpdate, db: SessionDep):
    return municipality_out(platform_service.update_municipality(db, municipality=municipality, data=data))


# --- partners --------------------------------------------------------------------------------

@router.get("/partners", response_model=Page[PartnerOut], tags=["partners"], openapi_extra=GLOBAL)
def list_partners(db: SessionDep, page: PageDep, kind: Annotated[str | None, Query(max_length=20)] = None,
                  q: Annotated[str | None, Query(max_length=100)] = None):
    items, total = platform_service.list_partners(db, page=page, kind=kind, q=q)
    return Page(items=[PartnerOut.model_validate(p) for p in items], total=total, limit=page.limit,
                offset=page.offset)


@router.post("/partners", status_code=201, response_model=PartnerOut, tags=["partners"],
             dependencies=platform_admin, openapi_extra=GLOBAL)
def create_partner(data: PartnerIn, db: SessionDep):
    return PartnerOut.model_validate(platform_service.create_partner(db, data=data))


@router.get("/partners/{code}", response_model=PartnerOut, tags=["partners"], openapi_extra=GLOBAL)
def get_partner(partner: PartnerDep):
    return PartnerOut.model_validate(partner)


@router.patch("/partners/{code}", response_model=PartnerOut, tags=["partners"], dependencies=platform_admin,
              openapi_extra=GLOBAL)
def update_partner(partner: PartnerDep, data: PartnerUpdate, db: SessionDep):
    return PartnerOut.model_validate(platform_service.update_partner(db, partner=partner, data=data))


# --- programs --------------------------------------------------------------------------------

@router.get("/programs", response_model=Page[ProgramOut], tags=["programs"])
def list_programs(db: SessionDep, page: PageDep,
                  partner: Annotated[str | None, Query(max_length=40)] = None,
                  municipality: Annotated[str | None, Query(pattern=r"^\d{10}$")] = None,
                  module: Annotated[str | None, Query(max_length=40)] = None,
                  status: ProgramStatus | None = None,
                  q: Annotated[str | None, Query(max_length=100)] = None):
    items, total = platform_service.list_programs(db, page=page, partner=partner, municipality=municipality,
                                                  module=module, status=status, q=q)
    return Page(items=[program_out(p) for p in items], total=total, limit=page.limit, offset=page.offset)


@router.post("/programs", status_code=201, response_model=ProgramDetailOut, tags=["programs"])
def create_program(data: ProgramIn, db: SessionDep, response: Response, request: Request):
    program = platform_service.create_program(db, data=data)
    response.headers["Location"] = str(request.url_for("get_program", program_id=program.id))
    return program_detail_out(program)


@router.get("/programs/{program_id}", response_model=ProgramDetailOut, tags=["programs"])
def get_program(program: ProgramDep):
    return program_detail_out(program)


@router.patch("/programs/{program_id}", response_model=ProgramDetailOut, tags=["programs"])
def update_program(program: ProgramDep, data: ProgramUpdate, db: SessionDep):
    return program_detail_out(platform_service.update_program(db, program=program, data=data))


@router.delete("/programs/{program_id}", status_code=204, tags=["programs"])
def delete_program(program: ProgramDep, db: SessionDep) -> Response:
    platform_service.delete_program(db, program=program)
    return Response(status_code=204)


@router.get("/programs/{program_id}/audit", response_model=Page[AuditEntryOut], tags=["programs"])
def program_audit(program: ProgramDep, db: SessionDep, page: PageDep):
    items, total = audit.list_entries(db, page=page, object_type="program", object_id=str(program.id))
    return Page(items=[AuditEntryOut.model_validate(e) for e in items], total=total, limit=page.limit,
                offset=page.offset)


# --- KPIs ------------------------------------------------------------------------------------

@router.get("/programs/{program_id}/kpis", response_model=list[KpiOut], tags=["kpis"])
def list_kpis(program: ProgramDep):
    return [kpi_out(k) for k in program.kpis]


@router.post("/programs/{program_id}/kpis", status_code=201, response_model=KpiOut, tags=["kpis"])
def add_kpi(program: ProgramDep, data: KpiIn, db: SessionDep):
    return kpi_out(platform_service.add_kpi(db, program=program, data=data))


@router.patch("/programs/{program_id}/kpis/{kpi_id}", response_model=KpiOut, tags=["kpis"])
def update_kpi(kpi: KpiDep, data: KpiUpdate, db: SessionDep):
    return kpi_out(platform_service.update_kpi(db, kpi=kpi, data=data))


@router.delete("/programs/{program_id}/kpis/{kpi_id}", status_code=204, tags=["kpis"])
def delete_kpi(kpi: KpiDep, db: SessionDep) -> Response:
    platform_service.delete_kpi(db, kpi=kpi)
    return Response(status_code=204)


@router.post("/programs/{program_id}/kpis/{kpi_id}/values", status_code=201, response_model=KpiOut,
             tags=["kpis"])
def record_kpi_value(kpi: KpiDep, data: KpiValueIn, db: SessionDep):
    platform_service.record_kpi_value(db, kpi=kpi, data=data)
    return kpi_out(kpi)


@router.delete("/programs/{program_id}/kpis/{kpi_id}/values/{value_id}", status_code=204, tags=["kpis"])
def delete_kpi_value(kpi: KpiDep, value_id: Id, db: SessionDep) -> Response:
    platform_service.delete_kpi_value(db, kpi=kpi, value_id=value_id)
    return Response(status_code=204)


# --- milestones ------------------------------------------------------------------------------

@router.get("/programs/{program_id}/milestones", response_model=list[MilestoneOut], tags=["milestones"])
def list_milestones(program: ProgramDep):
    return [MilestoneOut.model_validate(m) for m in program.milestones]


@router.post("/programs/{program_id}/milestones", status_code=201, response_model=MilestoneOut,
             tags=["milestones"])
def add_milestone(program: ProgramDep, data: MilestoneIn, db: SessionDep):
    return MilestoneOut.model_validate(platform_service.add_milestone(db, program=program, data=data))


@router.patch("/programs/{program_id}/milestones/{milestone_id}", response_model=MilestoneOut,
              tags=["milestones"])
def update_milestone(milestone: MilestoneDep, data: MilestoneUpdate, db: SessionDep):
    return MilestoneOut.model_validate(platform_service.update_milestone(db, milestone=milestone, data=data))


@router.delete("/programs/{program_id}/milestones/{milestone_id}", status_code=204, tags=["milestones"])
def delete_milestone(milestone: MilestoneDep, db: SessionDep) -> Response:
    platform_service.delete_milestone(db, milestone=milestone)
    return Response(status_code=204)


# --- users and API keys ----------------------------------------------------------------------

@router.get("/users", response_model=Page[UserOut], tags=["users"], dependencies=admin)
def list_users(db: SessionDep, page: PageDep, q: Annotated[str | None, Query(max_length=64)] = None):
    items, total = accounts.list_users(db, page=page, q=q)
    return Page(items=[user_out(u) for u in items], total=total, limit=page.limit, offset=page.offset)


@router.post("/users", status_code=201, response_model=UserOut, tags=["users"], dependencies=admin)
def create_user(data: UserIn, db: SessionDep):
    return user_out(accounts.create_user(db, data=data))


@router.get("/users/{user_id}", response_model=UserOut, tags=["users"], dependencies=admin)
def get_user(user: UserDep):
    return user_out(user)


@router.patch("/users/{user_id}", response_model=UserOut, tags=["users"], dependencies=admin)
def update_user(user: UserDep, data: UserUpdate, db: SessionDep):
    return user_out(accounts.update_user(db, user=user, data=data))


@router.get("/api-keys", response_model=Page[ApiKeyOut], tags=["api-keys"], dependencies=admin)
def list_api_keys(db: SessionDep, page: PageDep):
    items, total = accounts.list_api_keys(db, page=page)
    return Page(items=[api_key_out(k) for k in items], total=total, limit=page.limit, offset=page.offset)


@router.post("/api-keys", status_code=201, response_model=ApiKeyCreated, tags=["api-keys"], dependencies=admin)
def create_api_key(data: ApiKeyIn, db: SessionDep):
    key, secret = accounts.create_api_key(db, data=data)
    return api_key_out(key, secret)


@router.get("/api-keys/{key_id}", response_model=ApiKeyOut, tags=["api-keys"], dependencies=admin)
def get_api_key(key: ApiKeyDep):
    return api_key_out(key)


@router.delete("/api-keys/{key_id}", response_model=ApiKeyOut, tags=["api-keys"], dependencies=admin)
def revoke_api_key(key: ApiKeyDep, db: SessionDep):
    """Revoke the key: it stops working at once and stays listed for the record."""
    return api_key_out(accounts.revoke_api_key(db, key=key))


@router.get("/audit", response_model=Page[AuditEntryOut], tags=["audit"], dependencies=admin)
def list_audit(db: SessionDep, page: PageDep, object_type: Annotated[str | None, Query(max_length=60)] = None,
               object_id: Annotated[str | None, Query(max_length=60)] = None):
    items, total = audit.list_entries(db, page=page, object_type=object_type, object_id=object_id)
    return Page(items=[AuditEntryOut.model_validate(e) for e in items], total=total, limit=page.limit,
                offset=page.offset)
