""""Get or 404" lookups of the work network; each resolves the caller first, so the lookup is scoped."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.core.deps import SessionDep
from app.core.schemas import Id
from app.kt.worknet import access, service
from app.kt.worknet.models import Alert, Lease, Policy, Pool, Router
from app.platform.auth import OptionalPrincipal


def router_or_404(router_id: Id, db: SessionDep, _: OptionalPrincipal) -> Router:
    return service.get_router(db, router_id=router_id)


def pool_or_404(pool_id: Id, db: SessionDep, _: OptionalPrincipal) -> Pool:
    return service.get_pool(db, pool_id=pool_id)


def lease_or_404(lease_id: Id, db: SessionDep, _: OptionalPrincipal) -> Lease:
    return service.get_lease(db, lease_id=lease_id)


def policy_or_404(policy_id: Id, db: SessionDep, _: OptionalPrincipal) -> Policy:
    return access.get_policy(db, policy_id=policy_id)


def alert_or_404(alert_id: Id, db: SessionDep, _: OptionalPrincipal) -> Alert:
    return access.get_alert(db, alert_id=alert_id)


RouterDep = Annotated[Router, Depends(router_or_404)]
PoolDep = Annotated[Pool, Depends(pool_or_404)]
LeaseDep = Annotated[Lease, Depends(lease_or_404)]
PolicyDep = Annotated[Policy, Depends(policy_or_404)]
AlertDep = Annotated[Alert, Depends(alert_or_404)]
