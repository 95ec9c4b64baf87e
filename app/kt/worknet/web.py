"""Staff pages of the 5G work network: inventory, pools and leases, policies, access log, alerts, usage."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from app.core.csvout import csv_response
from app.core.deps import SessionDep
from app.core.forms import answer_form, form_to_dict
from app.core.i18n import gettext as _
from app.core.live import sse_response
from app.core.pagination import PageParams
from app.core.templating import env, flash, render, see_other
from app.kt.worknet import access, service
from app.kt.worknet.deps import AlertDep, LeaseDep, PolicyDep, PoolDep, RouterDep
from app.kt.worknet.models import ALERT_KINDS, ALERT_STATUSES, ROUTER_STATUSES
from app.kt.worknet.schemas import AlertUpdate, AssignIn, PolicyIn, PoolIn, RouterIn, StatusIn, hhmm_of
from app.platform.auth import WRITER, WebUser

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50

LABELS = {
    "in_stock": "In stock", "assigned": "Assigned", "lost": "Lost", "retired": "Retired",
    "open": "Open", "acknowledged": "Acknowledged", "resolved": "Resolved",
    "off_hours": "Off-hours use", "wrong_router": "Wrong router", "unknown_router": "Unregistered router",
    "inactive_router": "Lost or retired router", "failure_burst": "Burst of failures",
    "ip_mismatch": "Address other than the lease",
    "success": "Success", "failure": "Failure",
    "registered": "Registered", "reassigned": "Handed over", "returned": "Returned", "found": "Found",
    "ip_allocated": "Address given", "ip_released": "Address released",
}
BADGES = {"in_stock": "planned", "assigned": "active", "lost": "suspended", "retired": "completed",
          "open": "suspended", "acknowledged": "planned", "resolved": "completed",
          "success": "active", "failure": "suspended"}
env.globals["worknet_label"] = lambda value: _(LABELS.get(value, value))
env.globals["worknet_badge"] = lambda value: BADGES.get(value, "planned")


def _pages(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))


def _page(page: int) -> PageParams:
    return PageParams(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)


PageNo = Annotated[int, Query(ge=1, le=100000)]
Text = Annotated[str | None, Query(max_length=100)]


# --- overview --------------------------------------------------------------------------------

@router.get("/", name="worknet_home")
def home(request: Request, db: SessionDep):
    pools = service.list_pools(db)
    usage = service.pool_usage(db, pools)
    counts = {s: service.list_routers(db, page=PageParams(limit=1, offset=0), status=s)[1] for s in ROUTER_STATUSES}
    alerts, open_total = access.list_alerts(db, page=PageParams(limit=8, offset=0), status="open")
    return render(request, "kt/worknet/home.html", {
        "pools": [service.pool_view(p, usage[p.id]) for p in pools], "counts": counts,
        "total_routers": sum(counts.values()), "alerts": [access.alert_view(a) for a in alerts],
        "open_alerts": open_total, "statuses": ROUTER_STATUSES})


# --- routers ---------------------------------------------------------------------------------

@router.get("/routers", name="worknet_routers")
def router_list(request: Request, db: SessionDep, status: Text = None, department: Text = None, q: Text = None,
                page: PageNo = 1):
    filters = {k: v for k, v in {"status": status if status in ROUTER_STATUSES else None,
                                 "department": department, "q": q}.items() if v}
    items, total = service.list_routers(db, page=_page(page), **filters)
    return render(request, "kt/worknet/routers.html", {
        "routers": items, "ips": service.active_ips(db, [r.id for r in items]), "total": total, "page": page,
        "pages": _pages(total), "filters": filters, "query_base": urlencode(filters),
        "statuses": ROUTER_STATUSES, "departments": service.departments(db)})


@router.api_route("/routers/new", methods=["GET", "POST"], name="worknet_router_new", dependencies=WRITER)
async def router_new(request: Request, db: SessionDep, principal: WebUser):
    if request.method == "GET":
        return render(request, "kt/worknet/router_form.html", {"values": {}, "errors": {}})
    values = form_to_dict(await request.form())
    return answer_form(request, db, RouterIn, values,
                       lambda data: service.create_router(db, data=data, principal=principal),
                       page=lambda errors: render(request, "kt/worknet/router_form.html", {
                           # never echo a USIM number back into the page
                           "values": {k: v for k, v in values.items() if k != "iccid"}, "errors": errors}),
                       message=lambda item: _("Router {serial} registered.", serial=item.serial),
                       done=lambda item: request.url_for("worknet_router", router_id=item.id))


def _router_page(request: Request, db, item, *, errors: dict | None = None, values: dict | None = None,
                 status_code: int = 200, revealed_iccid: str | None = None, unreadable: bool = False):
    lease = service.active_lease_of(db, router_id=item.id)
    return render(request, "kt/worknet/router_detail.html", {
        "router": item, "lease": lease, "revealed_iccid": revealed_iccid, "unreadable": unreadable,
        "history": service.router_history(db, router=item),
        "pools": service.list_pools(db), "departments": service.departments(db),
        "errors": errors or {}, "values": values or {"assignee_username": item.assignee_username or "",
                                                     "assignee_name": item.assignee_name,
                                                     "department": item.department},
        "transitions": [s for s, sources in service.TRANSITIONS.items() if item.status in sources]},
        status_code=status_code)


@router.get("/routers/{router_id}", name="worknet_router")
def router_detail(request: Request, item: RouterDep, db: SessionDep):
    return _router_page(request, db, item)


@router.post("/routers/{router_id}/iccid", name="worknet_router_reveal_iccid", dependencies=WRITER)
def router_reveal_iccid(request: Request, item: RouterDep, db: SessionDep):
    """The full ICCID, shown once on this answer (never cached), with an access record."""
    iccid = service.reveal_iccid(db, router=item)
    response = _router_page(request, db, item, revealed_iccid=iccid, unreadable=iccid is None)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/routers/{router_id}/assign", name="worknet_router_assign", dependencies=WRITER)
async def router_assign(request: Request, item: RouterDep, db: SessionDep):
    values = form_to_dict(await request.form())

    def assign(data: AssignIn) -> str:
        service.assign_router(db, router=item, data=data)
        return data.assignee_name

    return answer_form(request, db, AssignIn, values, assign,
                       page=lambda errors: _router_page(request, db, item, errors=errors, values=values),
                       message=lambda name: _("Router assigned to {name}.", name=name),
                       done=request.url_for("worknet_router", router_id=item.id))


@router.post("/routers/{router_id}/unassign", name="worknet_router_unassign", dependencies=WRITER)
def router_unassign(request: Request, item: RouterDep, db: SessionDep):
    return answer_form(request, db, None, {}, lambda _data: service.unassign_router(db, router=item),
                       message=_("Router returned to stock."),
                       done=request.url_for("worknet_router", router_id=item.id))


@router.post("/routers/{router_id}/status", name="worknet_router_status", dependencies=WRITER)
async def router_status(request: Request, item: RouterDep, db: SessionDep):
    def change(data: StatusIn) -> str:
        service.change_status(db, router=item, data=data)
        return data.status

    return answer_form(request, db, StatusIn, form_to_dict(await request.form()), change,
                       message=lambda status: _("Status changed to {status}.", status=_(LABELS[status])),
                       done=request.url_for("worknet_router", router_id=item.id))


def _chosen_id(form, field: str, message: str) -> dict[str, str] | None:
    """A choice of one object in a select: None when it names an id, else the error to show."""
    return None if str(form.get(field, "")).isdigit() else {field: message}


@router.post("/routers/{router_id}/allocate", name="worknet_router_allocate", dependencies=WRITER)
async def router_allocate(request: Request, item: RouterDep, db: SessionDep):
    form = await request.form()
    return answer_form(request, db, None, {}, lambda _data: service.allocate(
                           db, pool=service.get_pool(db, pool_id=int(str(form["pool_id"]))), router_id=item.id),
                       errors=_chosen_id(form, "pool_id", _("Choose a pool.")),
                       message=lambda allocated: _("Address {ip} given to {serial}.", ip=allocated[0].ip,
                                                   serial=item.serial),
                       done=request.url_for("worknet_router", router_id=item.id))


# --- pools and leases ------------------------------------------------------------------------

def _pools_page(request: Request, db, *, values: dict, errors: dict, status_code: int = 200):
    pools = service.list_pools(db)
    usage = service.pool_usage(db, pools)
    return render(request, "kt/worknet/pools.html", {
        "pools": [service.pool_view(p, usage[p.id]) for p in pools], "values": values, "errors": errors,
        "departments": service.departments(db)}, status_code=status_code)


@router.get("/pools", name="worknet_pools")
def pool_list(request: Request, db: SessionDep):
    return _pools_page(request, db, values={"reserved_low": 1}, errors={})


@router.post("/pools", name="worknet_pool_new", dependencies=WRITER)
async def pool_new(request: Request, db: SessionDep, principal: WebUser):
    values = form_to_dict(await request.form())
    return answer_form(request, db, PoolIn, values,
                       lambda data: service.create_pool(db, data=data, principal=principal),
                       page=lambda errors: _pools_page(request, db, values=values, errors=errors),
                       message=lambda pool: _("Pool {name} created.", name=pool.name),
                       done=lambda pool: request.url_for("worknet_pool", pool_id=pool.id))


@router.get("/pools/{pool_id}", name="worknet_pool")
def pool_detail(request: Request, pool: PoolDep, db: SessionDep, page: PageNo = 1):
    leases, total = service.list_leases(db, page=_page(page), pool_id=pool.id, active=True)
    candidates, _n = service.list_routers(db, page=PageParams(limit=200, offset=0), status="assigned")
    held = service.active_ips(db, [r.id for r in candidates])
    candidates = [r for r in candidates if r.id not in held
                  and (not pool.department or not r.department or r.department == pool.department)]
    return render(request, "kt/worknet/pool_detail.html", {
        "pool": service.pool_view(pool, service.pool_usage(db, [pool])[pool.id]), "leases": leases, "total": total,
        "page": page, "pages": _pages(total), "candidates": candidates})


@router.post("/pools/{pool_id}/allocate", name="worknet_pool_allocate", dependencies=WRITER)
async def pool_allocate(request: Request, pool: PoolDep, db: SessionDep):
    form = await request.form()
    return answer_form(request, db, None, {},
                       lambda _data: service.allocate(db, pool=pool, router_id=int(str(form["router_id"]))),
                       errors=_chosen_id(form, "router_id", _("Choose a router.")),
                       message=lambda allocated: _("Address {ip} given to {serial}.", ip=allocated[0].ip,
                                                   serial=allocated[0].router.serial),
                       done=request.url_for("worknet_pool", pool_id=pool.id))


@router.get("/pools/{pool_id}/export.csv", name="worknet_pool_csv")
def pool_csv(pool: PoolDep, db: SessionDep):
    return csv_response(f"worknet-pool-{pool.id}.csv", service.EXPORT_COLUMNS, service.export_rows(db, pool=pool))


@router.get("/pools/{pool_id}/radius-users", name="worknet_pool_radius")
def pool_radius(pool: PoolDep, db: SessionDep):
    return PlainTextResponse(service.export_radius(db, pool=pool),
                             headers={"Content-Disposition": f'attachment; filename="worknet-pool-{pool.id}.users"'})


@router.get("/leases", name="worknet_leases")
def lease_list(request: Request, db: SessionDep, state: Annotated[str | None, Query(max_length=10)] = None,
               q: Text = None, page: PageNo = 1):
    active = {"active": True, "released": False}.get(state or "")
    filters = {k: v for k, v in {"state": state if active is not None else None, "q": q}.items() if v}
    items, total = service.list_leases(db, page=_page(page), active=active, q=q)
    return render(request, "kt/worknet/leases.html", {
        "leases": items, "total": total, "page": page, "pages": _pages(total), "filters": filters,
        "query_base": urlencode(filters)})


@router.post("/leases/{lease_id}/release", name="worknet_lease_release", dependencies=WRITER)
async def lease_release(request: Request, lease: LeaseDep, db: SessionDep):
    reason = str((await request.form()).get("reason", ""))[:200]
    service.release_lease(db, lease=lease, reason=reason)
    flash(request, _("Address {ip} released; it is quarantined for {hours} hours.", ip=lease.ip,
                     hours=lease.pool.quarantine_hours))
    back = str((await request.form()).get("back", ""))
    if back == "router":
        return see_other(str(request.url_for("worknet_router", router_id=lease.router_id)))
    return see_other(str(request.url_for("worknet_pool", pool_id=lease.pool_id)))


# --- policies --------------------------------------------------------------------------------

def _policy_values(form) -> tuple[dict[str, Any], dict[str, str]]:
    """Form fields as PolicyIn input: checkboxes, and "user: SERIAL, SERIAL" lines for the router grants."""
    values = form_to_dict(form, lists=("weekdays",))
    values["bind_routers"] = "bind_routers" in form
    grants: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    for number, line in enumerate(str(values.pop("user_routers_text", "")).splitlines(), start=1):
        if not line.strip():
            continue
        user, sep, serials = line.partition(":")
        if not sep or not user.strip():
            errors["user_routers_text"] = _("Line {n}: write it as user: SERIAL, SERIAL", n=number)
            continue
        grants[user.strip()] = [s.strip() for s in serials.replace(" ", ",").split(",") if s.strip()]
    values["user_routers"] = grants
    return values, errors


def _grants_text(grants: dict[str, list[str]]) -> str:
    return "\n".join(f"{user}: {', '.join(serials)}" for user, serials in sorted(grants.items()))


def _policy_form(request: Request, db, *, policy=None, values: dict, errors: dict, status_code: int = 200):
    context = {"policy": policy, "values": values, "errors": errors, "departments": service.departments(db),
               "weekday_names": access.WEEKDAY_NAMES,
               "versions": access.policy_versions(db, policy=policy) if policy else [], "hhmm": hhmm_of}
    return render(request, "kt/worknet/policy_form.html", context, status_code=status_code)


def _save_policy(request: Request, db, principal, form, *, policy=None):
    values, errors = _policy_values(form)

    def save(data: PolicyIn):
        if policy is None:
            municipality = service.target_municipality(db, principal=principal, code=data.municipality_code)
            return access.create_policy(db, municipality=municipality, data=data)
        access.update_policy(db, policy=policy, data=data)
        return policy

    shown = {k: v for k, v in values.items() if k != "user_routers"}
    shown["user_routers_text"] = _grants_text(values.get("user_routers", {}))
    return answer_form(request, db, PolicyIn, values, save, errors=errors,
                       page=lambda errors: _policy_form(request, db, policy=policy, values=shown, errors=errors),
                       message=lambda saved: _("Policy saved (version {version}).", version=saved.version),
                       done=lambda saved: request.url_for("worknet_policy", policy_id=saved.id))


@router.get("/policies", name="worknet_policies")
def policy_list(request: Request, db: SessionDep):
    return render(request, "kt/worknet/policies.html", {
        "policies": [{**access.policy_view(p), "hours": access.hours_label(access.rules_of(p))}
                     for p in access.list_policies(db)]})


@router.api_route("/policies/new", methods=["GET", "POST"], name="worknet_policy_new", dependencies=WRITER)
async def policy_new(request: Request, db: SessionDep, principal: WebUser):
    if request.method == "GET":
        return _policy_form(request, db, values={"weekdays": [0, 1, 2, 3, 4], "start": "07:00", "end": "22:00",
                                                 "bind_routers": True, "failure_threshold": 5,
                                                 "failure_window_minutes": 10, "department": ""}, errors={})
    return _save_policy(request, db, principal, await request.form())


@router.get("/policies/{policy_id}", name="worknet_policy")
def policy_page(request: Request, policy: PolicyDep, db: SessionDep):
    """The policy and its versions; a writer edits it here (a new version), a reader sees it."""
    view = access.policy_view(policy)
    view["user_routers_text"] = _grants_text(view.pop("user_routers"))
    return _policy_form(request, db, policy=policy, values=view, errors={})


@router.post("/policies/{policy_id}", name="worknet_policy_save", dependencies=WRITER)
async def policy_save(request: Request, policy: PolicyDep, db: SessionDep, principal: WebUser):
    return _save_policy(request, db, principal, await request.form(), policy=policy)


# --- access log, alerts, usage ---------------------------------------------------------------

@router.get("/access", name="worknet_access")
def access_log(request: Request, db: SessionDep, username: Text = None, router_serial: Text = None,
               result: Text = None, department: Text = None, flagged: Text = None,
               date_from: Annotated[str | None, Query(max_length=10)] = None,
               date_to: Annotated[str | None, Query(max_length=10)] = None, page: PageNo = 1):
    def as_date(value: str | None) -> date | None:
        try:
            return date.fromisoformat(value) if value else None
        except ValueError:
            return None

    start, end = as_date(date_from), as_date(date_to)
    since, until = access.local_day_bounds(start, end)
    filters = {k: v for k, v in {
        "username": username, "router_serial": router_serial,
        "result": result if result in ("success", "failure") else None, "department": department,
        "flagged": "1" if flagged == "1" else None, "date_from": start.isoformat() if start else None,
        "date_to": end.isoformat() if end else None}.items() if v}
    items, total = access.list_events(db, page=_page(page), username=username, router=router_serial,
                                      result=filters.get("result"), department=department,
                                      flagged=True if flagged == "1" else None, since=since, until=until)
    return render(request, "kt/worknet/access.html", {
        "events": [access.event_view(e) for e in items], "total": total, "page": page, "pages": _pages(total),
        "filters": filters, "query_base": urlencode(filters), "departments": service.departments(db)})


@router.get("/alerts", name="worknet_alerts")
def alert_list(request: Request, db: SessionDep, status: Text = None, kind: Text = None, page: PageNo = 1):
    filters = {k: v for k, v in {"status": status if status in ALERT_STATUSES else None,
                                 "kind": kind if kind in ALERT_KINDS else None}.items() if v}
    items, total = access.list_alerts(db, page=_page(page), **filters)
    return render(request, "kt/worknet/alerts.html", {
        "alerts": [access.alert_view(a) for a in items], "total": total, "page": page, "pages": _pages(total),
        "filters": filters, "query_base": urlencode(filters), "statuses": ALERT_STATUSES, "kinds": ALERT_KINDS})


@router.get("/alerts/stream", name="worknet_alert_stream")
async def alert_stream(request: Request, principal: WebUser):
    """Server-sent events: a message whenever new alerts arrive for the caller's municipalities."""
    if principal.municipality_ids is None:
        topics = access.alert_topics(None)
    else:
        topics = [access.alert_topics(mid)[0] for mid in sorted(principal.municipality_ids)]
    return sse_response(request, topics)


@router.post("/alerts/{alert_id}", name="worknet_alert_update", dependencies=WRITER)
async def alert_update(request: Request, alert: AlertDep, db: SessionDep):
    def update(data: AlertUpdate) -> str:
        access.update_alert(db, alert=alert, data=data)
        return data.status

    return answer_form(request, db, AlertUpdate, form_to_dict(await request.form()), update,
                       message=lambda status: _("Alert marked {status}.", status=_(LABELS[status])),
                       done=request.url_for("worknet_alerts"))


def _days(days: int | None) -> int:
    return days if days in (7, 30, 90) else 30


@router.get("/usage", name="worknet_usage")
def usage(request: Request, db: SessionDep, days: Annotated[int | None, Query(ge=1, le=366)] = None,
          since: date | None = None, until: date | None = None):
    """The last ``days`` days, or ``since``..``until`` (at most a year; a bound program KPI links its month)."""
    if since is not None and until is not None and date(2000, 1, 1) <= since <= until <= date(2999, 12, 31):
        stats = access.usage_by_day(db, today=until, first=since)
    else:
        stats = access.usage_by_day(db, days=_days(days))
    return render(request, "kt/worknet/usage.html", {"stats": stats, "days": _days(days)})


@router.get("/usage.csv", name="worknet_usage_csv")
def usage_csv(db: SessionDep, days: Annotated[int | None, Query(ge=1, le=366)] = None):
    return csv_response("worknet-usage.csv", access.USAGE_COLUMNS,
                        access.usage_rows(access.usage_by_day(db, days=_days(days))))
