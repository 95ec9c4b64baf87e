""""Get or 404" lookups that routes declare; each resolves the caller first, so the lookup is scoped."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from app.core.deps import SessionDep
from app.core.schemas import Id
from app.platform import accounts
from app.platform import service as platform_service
from app.platform.auth import OptionalPrincipal
from app.platform.models import ApiKey, Kpi, Milestone, Municipality, Partner, Program, User


def program_or_404(program_id: Id, db: SessionDep, _: OptionalPrincipal) -> Program:
    return platform_service.get_program(db, program_id=program_id)


ProgramDep = Annotated[Program, Depends(program_or_404)]


def kpi_or_404(kpi_id: Id, program: ProgramDep, db: SessionDep) -> Kpi:
    return platform_service.get_kpi(db, program=program, kpi_id=kpi_id)


KpiDep = Annotated[Kpi, Depends(kpi_or_404)]


def milestone_or_404(milestone_id: Id, program: ProgramDep, db: SessionDep) -> Milestone:
    return platform_service.get_milestone(db, program=program, milestone_id=milestone_id)


MilestoneDep = Annotated[Milestone, Depends(milestone_or_404)]


def municipality_or_404(code: Annotated[str, Path(pattern=r"^\d{10}$")], db: SessionDep,
                        _: OptionalPrincipal) -> Municipality:
    return platform_service.get_municipality(db, code=code)


MunicipalityDep = Annotated[Municipality, Depends(municipality_or_404)]


def partner_or_404(code: Annotated[str, Path(max_length=40)], db: SessionDep) -> Partner:
    return platform_service.get_partner(db, code=code)


PartnerDep = Annotated[Partner, Depends(partner_or_404)]


def user_or_404(user_id: Id, db: SessionDep, _: OptionalPrincipal) -> User:
    return accounts.get_user(db, user_id=user_id)


UserDep = Annotated[User, Depends(user_or_404)]


def api_key_or_404(key_id: Id, db: SessionDep, _: OptionalPrincipal) -> ApiKey:
    return accounts.get_api_key(db, key_id=key_id)


ApiKeyDep = Annotated[ApiKey, Depends(api_key_or_404)]
