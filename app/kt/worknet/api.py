"""REST API of the 5G work network under /api/v1/kt/worknet, for the network side and admins' tools."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import PlainTextResponse

from app.core.csvout import CsvResponse, csv_response
from app.core.deps import SessionDep
from app.core.errors import InvalidInput
from app.core.pagination import Page, PageDep
from app.core.schemas import Id, MunicipalityCode
from app.kt.worknet import access, service
from app.kt.worknet.deps import AlertDep, LeaseDep, PolicyDep, PoolDep, RouterDep
from app.kt.worknet.schemas import (
    AccessEventIn,
    AccessEventOut,
    AlertKind,
    AlertOut,
    AlertStatus,
    AlertUpdate,
    AllocateIn,
    AssignIn,
    IngestOut,
    LeaseOut,
    PolicyIn,
    PolicyOut,
    PolicyVersionOut,
    PoolIn,
    PoolOut,
    ReleaseIn,
    RouterEventOut,
    RouterIn,
    RouterOut,
    RouterStatus,
    RouterUpdate,
    StatusIn,
    UsageDayOut,
)
from app.platform.auth import ApiPrincipal

router = APIRouter(tags=["kt.worknet"])
Text = Annotated[str | None, Query(max_length=100)]


def _router_out(db, routers) -> list[RouterOut]:
    ips = service.active_ips(db, [r.id for r in routers])
    return [RouterOut.model_validate(r).model_copy(update={"ip": ips.get(r.id)}) for r in routers]


# --- routers ---------------------------------------------------------------------------------

@router.get("/routers", response_model=Page[RouterOut])
def list_routers(db: SessionDep, page: PageDep, status: RouterStatus | None = None, department: Text = None,
                 q: Text = None):
    items, total = service.list_routers(db, page=page, status=status, department=department, q=q)
    return Page(items=_router_out(db, items), total=total, limit=page.limit, offset=page.offset)


@router.post("/routers", status_code=201, response_model=RouterOut)
def create_router(data: RouterIn, db: SessionDep, principal: ApiPrincipal):
    return _router_out(db, [service.create_router(db, data=data, principal=principal)])[0]


@router.post("/routers/import", status_code=201, response_model=list[RouterOut],
             openapi_extra={"requestBody": {"content": {
                 "application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/RouterIn"}}},
                 "text/csv": {"schema": {"type": "string"}}}}})
async def import_routers(request: Request, db: SessionDep, principal: ApiPrincipal,
                         municipality_code: Annotated[MunicipalityCode | None, Query()] = None):
    """Register many routers: a JSON array of routers or a CSV with serial,model,imei,iccid[,note].
    A bad row rejects the whole batch with every bad row named."""
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput.field("body", "The body must be UTF-8 text") from None
    if request.headers.get("content-type", "").startswith("text/csv"):
        rows = service.parse_router_csv(text)
    else:
        try:
            rows = json.loads(text)
        except ValueError:
            raise InvalidInput.field("body", "The body is not valid JSON") from None
        if not isinstance(rows, list):
            raise InvalidInput.field("body", "Send a JSON array of routers")
    created = service.import_routers(db, rows=rows, municipality_code=municipality_code, principal=principal)
    return _router_out(db, created)


@router.get("/routers/{router_id}", response_model=RouterOut)
def get_router(item: RouterDep, db: SessionDep):
    return _router_out(db, [item])[0]


@router.patch("/routers/{router_id}", response_model=RouterOut)
def update_router(item: RouterDep, data: RouterUpdate, db: SessionDep):
    return _router_out(db, [service.update_router(db, router=item, data=data)])[0]


@router.post("/routers/{router_id}/assign", response_model=RouterOut)
def assign_router(item: RouterDep, data: AssignIn, db: SessionDep):
    """Lend the router to a civil servant of a department (or hand it over to another one)."""
    return _router_out(db, [service.assign_router(db, router=item, data=data)])[0]


@router.post("/routers/{router_id}/unassign", response_model=RouterOut)
def unassign_router(item: RouterDep, db: SessionDep):
    """The router comes back to stock; its fixed address stays bound to it."""
    return _router_out(db, [service.unassign_router(db, router=item)])[0]


@router.post("/routers/{router_id}/status", response_model=RouterOut)
def change_status(item: RouterDep, data: StatusIn, db: SessionDep):
    """Report a router lost, found (back to stock) or retired. Lost and retired routers lose their address."""
    return _router_out(db, [service.change_status(db, router=item, data=data)])[0]


@router.get("/routers/{router_id}/history", response_model=list[RouterEventOut])
def router_history(item: RouterDep, db: SessionDep):
    return [RouterEventOut.model_validate(e) for e in service.router_history(db, router=item)]


# --- pools and leases ------------------------------------------------------------------------

@router.get("/pools", response_model=list[PoolOut])
def list_pools(db: SessionDep):
    pools = service.list_pools(db)
    usage = service.pool_usage(db, pools)
    return [service.pool_view(p, usage[p.id]) for p in pools]


@router.post("/pools", status_code=201, response_model=PoolOut)
def create_pool(data: PoolIn, db: SessionDep, principal: ApiPrincipal):
    pool = service.create_pool(db, data=data, principal=principal)
    return service.pool_view(pool, service.pool_usage(db, [pool])[pool.id])


@router.get("/pools/{pool_id}", response_model=PoolOut)
def get_pool(pool: PoolDep, db: SessionDep):
    return service.pool_view(pool, service.pool_usage(db, [pool])[pool.id])


@router.post("/pools/{pool_id}/allocate", response_model=LeaseOut, status_code=201,
             responses={200: {"description": "The router already held an address of this pool: that lease"},
                        409: {"description": "The pool is exhausted, or the router holds an address elsewhere"}})
def allocate(pool: PoolDep, data: AllocateIn, db: SessionDep, response: Response):
    """Bind the pool's next free address to the router (one active lease per router)."""
    lease, created = service.allocate(db, pool=pool, router_id=data.router_id)
    if not created:
        response.status_code = 200
    return service.lease_view(lease)


@router.get("/pools/{pool_id}/leases", response_model=Page[LeaseOut])
def pool_leases(pool: PoolDep, db: SessionDep, page: PageDep, active: bool | None = None):
    items, total = service.list_leases(db, page=page, pool_id=pool.id, active=active)
    return Page(items=[service.lease_view(x) for x in items], total=total, limit=page.limit, offset=page.offset)


@router.get("/pools/{pool_id}/export.csv", response_class=CsvResponse)
def export_csv(pool: PoolDep, db: SessionDep):
    """Active leases for the network side, as CSV (UTF-8 with BOM)."""
    return csv_response(f"worknet-pool-{pool.id}.csv", service.EXPORT_COLUMNS, service.export_rows(db, pool=pool))


@router.get("/pools/{pool_id}/radius-users", response_class=PlainTextResponse)
def export_radius(pool: PoolDep, db: SessionDep):
    """A FreeRADIUS users file: one entry per router with its Framed-IP-Address."""
    return PlainTextResponse(service.export_radius(db, pool=pool),
                             headers={"Content-Disposition": f'attachment; filename="worknet-pool-{pool.id}.users"'})


@router.get("/leases", response_model=Page[LeaseOut])
def list_leases(db: SessionDep, page: PageDep, active: bool | None = None,
                router_id: Id | None = None, q: Text = None):
    items, total = service.list_leases(db, page=page, active=active, router_id=router_id, q=q)
    return Page(items=[service.lease_view(x) for x in items], total=total, limit=page.limit, offset=page.offset)


@router.get("/leases/{lease_id}", response_model=LeaseOut)
def get_lease(lease: LeaseDep):
    return service.lease_view(lease)


@router.post("/leases/{lease_id}/release", response_model=LeaseOut)
def release_lease(lease: LeaseDep, db: SessionDep, data: Annotated[ReleaseIn | None, Body()] = None):
    """Take the address back; it stays in quarantine for the pool's quarantine period before reuse."""
    return service.lease_view(service.release_lease(db, lease=lease, reason=(data.reason if data else "")))


# --- policies --------------------------------------------------------------------------------

@router.get("/policies", response_model=list[PolicyOut])
def list_policies(db: SessionDep):
    return [access.policy_view(p) for p in access.list_policies(db)]


@router.post("/policies", status_code=201, response_model=PolicyOut)
def create_policy(data: PolicyIn, db: SessionDep, principal: ApiPrincipal):
    municipality = service.target_municipality(db, principal=principal, code=data.municipality_code)
    return access.policy_view(access.create_policy(db, municipality=municipality, data=data))


@router.get("/policies/{policy_id}", response_model=PolicyOut)
def get_policy(policy: PolicyDep):
    return access.policy_view(policy)


@router.put("/policies/{policy_id}", response_model=PolicyOut)
def update_policy(policy: PolicyDep, data: PolicyIn, db: SessionDep):
    """Replace the rules; a change makes a new version (events keep the version that judged them)."""
    return access.policy_view(access.update_policy(db, policy=policy, data=data))


@router.get("/policies/{policy_id}/versions", response_model=list[PolicyVersionOut])
def policy_versions(policy: PolicyDep, db: SessionDep):
    return [PolicyVersionOut.model_validate(v) for v in access.policy_versions(db, policy=policy)]


# --- access log ------------------------------------------------------------------------------

@router.post("/access-events", response_model=IngestOut)
def ingest_events(events: Annotated[list[AccessEventIn], Body(min_length=1, max_length=access.MAX_BATCH)],
                  db: SessionDep, principal: ApiPrincipal,
                  municipality_code: Annotated[MunicipalityCode | None, Query()] = None):
    """A batch of authentication events from the network side (RADIUS accounting, the 5G core's logs).

    Idempotent by ``client_id``: events already received are counted as duplicates and skipped.
    """
    municipality = service.target_municipality(db, principal=principal, code=municipality_code)
    return access.ingest(db, municipality=municipality, events=events)


@router.get("/access-events", response_model=Page[AccessEventOut])
def list_events(db: SessionDep, page: PageDep, username: Text = None, router_serial: Text = None,
                result: Annotated[str | None, Query(pattern="^(success|failure)$")] = None,
                department: Text = None, flagged: bool | None = None,
                date_from: date | None = None, date_to: date | None = None):
    since, until = access.local_day_bounds(date_from, date_to)
    items, total = access.list_events(db, page=page, username=username, router=router_serial, result=result,
                                      department=department, flagged=flagged, since=since, until=until)
    return Page(items=[access.event_view(e) for e in items], total=total, limit=page.limit, offset=page.offset)


@router.get("/alerts", response_model=Page[AlertOut])
def list_alerts(db: SessionDep, page: PageDep, status: AlertStatus | None = None, kind: AlertKind | None = None,
                username: Text = None):
    items, total = access.list_alerts(db, page=page, status=status, kind=kind, username=username)
    return Page(items=[access.alert_view(a) for a in items], total=total, limit=page.limit, offset=page.offset)


@router.get("/alerts/{alert_id}", response_model=AlertOut)
def get_alert(alert: AlertDep):
    return access.alert_view(alert)


@router.patch("/alerts/{alert_id}", response_model=AlertOut)
def update_alert(alert: AlertDep, data: AlertUpdate, db: SessionDep):
    return access.alert_view(access.update_alert(db, alert=alert, data=data))


@router.get("/stats/usage", response_model=list[UsageDayOut])
def usage(db: SessionDep, days: Annotated[int, Query(ge=1, le=366)] = 30):
    """Sign-ins per Seoul day: successes, failures, distinct users, flagged events."""
    return access.usage_by_day(db, days=days)["days"]


@router.get("/stats/usage.csv", response_class=CsvResponse)
def usage_csv(db: SessionDep, days: Annotated[int, Query(ge=1, le=366)] = 30):
    return csv_response("worknet-usage.csv", access.USAGE_COLUMNS,
                        access.usage_rows(access.usage_by_day(db, days=days)))
