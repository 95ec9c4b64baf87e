"""Tenancy in one place.

Every ORM ``SELECT`` run through a session that carries a principal is filtered to the municipalities
that principal may reach: rows of :class:`~app.core.db.TenantScoped` tables by ``municipality_id`` and
the municipality table itself by ``id``. Routes and services never repeat the check; an object of
another tenant simply is not found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import event
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column, with_loader_criteria

from app.core.db import TenantScoped

ROLES = ("platform_admin", "municipal_admin", "staff", "viewer")
ROLE_RANK = {"viewer": 0, "staff": 1, "municipal_admin": 2, "platform_admin": 3}
PLATFORM_MODULE = "platform"


class TenantRoot:
    """Mixin for the municipality table: its own ``id`` is the tenant."""

    id: Mapped[int] = mapped_column(primary_key=True)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a signed-in staff member or an integrator's API key."""

    kind: Literal["user", "api_key", "system"]
    id: int | None
    name: str
    role: str
    municipality_id: int | None = None
    # None means every municipality (platform admins and the system itself).
    municipality_ids: frozenset[int] | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def is_platform_admin(self) -> bool:
        return self.kind == "system" or (self.kind == "user" and self.role == "platform_admin")

    @property
    def is_admin(self) -> bool:
        return self.kind == "user" and self.role in ("platform_admin", "municipal_admin")

    def reaches(self, municipality_id: int | None) -> bool:
        return self.municipality_ids is None or municipality_id in self.municipality_ids

    def can(self, module_key: str, *, write: bool) -> bool:
        if self.kind == "system":
            return True
        if self.kind == "api_key":
            return f"{module_key}:write" in self.scopes or (not write and f"{module_key}:read" in self.scopes)
        return not write or self.role != "viewer"


SYSTEM = Principal(kind="system", id=None, name="system", role="platform_admin")


def bind_principal(session: Session, principal: Principal) -> None:
    """Scope every later read of ``session`` to what ``principal`` may reach, and name the actor."""
    session.info["principal"] = principal


def principal_of(session: Session) -> Principal | None:
    return session.info.get("principal")


@event.listens_for(Session, "do_orm_execute")
def _scope_reads(state: ORMExecuteState) -> None:
    principal: Principal | None = state.session.info.get("principal")
    if principal is None or principal.municipality_ids is None:
        return
    if not state.is_select or state.execution_options.get("skip_tenant_scope", False):
        return
    ids = tuple(sorted(principal.municipality_ids)) or (-1,)
    state.statement = state.statement.options(
        with_loader_criteria(TenantScoped, lambda cls: cls.municipality_id.in_(ids), include_aliases=True),
        with_loader_criteria(TenantRoot, lambda cls: cls.id.in_(ids), include_aliases=True),
    )
