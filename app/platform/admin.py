"""Administration pages: users, API keys, municipalities, partners and the audit log."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request

from app.core.deps import SessionDep
from app.core.errors import Forbidden
from app.core.forms import form_to_dict, submit_form
from app.core.i18n import gettext as _
from app.core.pagination import PageParams
from app.core.templating import flash, render, see_other
from app.core.tenancy import ROLES, Principal
from app.platform import accounts, audit, history
from app.platform import service as platform_service
from app.platform.auth import WebUser, require_web_admin
from app.platform.deps import ApiKeyDep, UserDep
from app.platform.models import PARTNER_KINDS
from app.platform.schemas import ApiKeyIn, MunicipalityIn, PartnerIn, UserIn, UserUpdate

router = APIRouter(prefix="/admin", dependencies=[Depends(require_web_admin)], include_in_schema=False)
PAGE_SIZE = 25
ROLE_LABELS = {"platform_admin": "Platform admin", "municipal_admin": "Municipal admin", "staff": "Staff",
               "viewer": "Viewer"}
KIND_LABELS = {"telecom": "Telecom operator", "public_agency": "Public agency", "data_company": "Data company",
               "consultancy": "Consultancy", "other": "Other"}


def _page(page: int) -> PageParams:
    return PageParams(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)


def _pages(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))


async def _register(request: Request, db, principal: Principal, schema, create) -> tuple[dict, dict]:
    """Reference data (municipalities, partners) is registered by platform administrators only."""
    if not principal.is_platform_admin:
        raise Forbidden("Only platform administrators may do this")
    values = form_to_dict(await request.form())
    _created, errors = submit_form(db, schema, values, create)
    return values, errors


def _grantable_roles(principal: Principal) -> list[tuple[str, str]]:
    from app.core.tenancy import ROLE_RANK

    return [(r, _(ROLE_LABELS[r])) for r in ROLES
            if principal.is_platform_admin or ROLE_RANK[r] <= ROLE_RANK[principal.role]]


def _municipality_options(db) -> list[tuple[str, str]]:
    return [(m.code, f"{m.name_ko} ({m.code})") for m in platform_service.all_municipalities(db)]


# --- users -----------------------------------------------------------------------------------

@router.get("/users", name="admin_users")
def users(request: Request, db: SessionDep, q: Annotated[str | None, Query(max_length=64)] = None,
          page: Annotated[int, Query(ge=1, le=100000)] = 1):
    items, total = accounts.list_users(db, page=_page(page), q=q)
    return render(request, "platform/admin/users.html", {
        "users": items, "total": total, "page": page, "pages": _pages(total), "q": q or "",
        "role_labels": ROLE_LABELS})


def _user_form(request, db, principal, *, user=None, values, errors, status_code=200):
    return render(request, "platform/admin/user_form.html", {
        "user": user, "values": values, "errors": errors, "roles": _grantable_roles(principal),
        "municipalities": _municipality_options(db)}, status_code=status_code)


@router.api_route("/users/new", methods=["GET", "POST"], name="admin_user_new")
async def user_new(request: Request, db: SessionDep, principal: WebUser):
    if request.method == "GET":
        return _user_form(request, db, principal, values={"role": "staff"}, errors={})
    values = form_to_dict(await request.form())
    user, errors = submit_form(db, UserIn, values, lambda d: accounts.create_user(db, data=d))
    if user is not None:
        flash(request, _("User {username} created.", username=user.username))
        return see_other(str(request.url_for("admin_users")))
    values.pop("password", None)
    return _user_form(request, db, principal, values=values, errors=errors, status_code=400)


@router.api_route("/users/{user_id}/edit", methods=["GET", "POST"], name="admin_user_edit")
async def user_edit(request: Request, user: UserDep, db: SessionDep, principal: WebUser):
    if request.method == "GET":
        values = {"display_name": user.display_name, "role": user.role, "is_active": user.is_active}
        return _user_form(request, db, principal, user=user, values=values, errors={})
    values = form_to_dict(await request.form())
    values["is_active"] = values.get("is_active") == "on"
    saved, errors = submit_form(db, UserUpdate, values, lambda d: accounts.update_user(db, user=user, data=d))
    if saved is not None:
        flash(request, _("Changes saved."))
        return see_other(str(request.url_for("admin_users")))
    values.pop("password", None)
    return _user_form(request, db, principal, user=user, values=values, errors=errors, status_code=400)


# --- API keys --------------------------------------------------------------------------------

@router.get("/api-keys", name="admin_api_keys")
def api_keys(request: Request, db: SessionDep, page: Annotated[int, Query(ge=1, le=100000)] = 1):
    items, total = accounts.list_api_keys(db, page=_page(page))
    return render(request, "platform/admin/api_keys.html", {
        "keys": items, "total": total, "page": page, "pages": _pages(total)})


@router.api_route("/api-keys/new", methods=["GET", "POST"], name="admin_api_key_new")
async def api_key_new(request: Request, db: SessionDep, principal: WebUser):
    context = {"municipalities": _municipality_options(db), "scopes": accounts.valid_scopes()}
    if request.method == "GET":
        return render(request, "platform/admin/api_key_form.html",
                      {**context, "values": {"scopes": []}, "errors": {}})
    values = form_to_dict(await request.form(), lists=("scopes",))
    created, errors = submit_form(db, ApiKeyIn, values, lambda d: accounts.create_api_key(db, data=d))
    if created is not None:
        key, secret = created
        return render(request, "platform/admin/api_key_created.html", {"key": key, "secret": secret},
                      status_code=201)
    return render(request, "platform/admin/api_key_form.html", {**context, "values": values, "errors": errors},
                  status_code=400)


@router.post("/api-keys/{key_id}/revoke", name="admin_api_key_revoke")
def api_key_revoke(request: Request, key: ApiKeyDep, db: SessionDep):
    accounts.revoke_api_key(db, key=key)
    flash(request, _("API key {name} revoked.", name=key.name))
    return see_other(str(request.url_for("admin_api_keys")))


# --- municipalities and partners -------------------------------------------------------------

@router.api_route("/municipalities", methods=["GET", "POST"], name="admin_municipalities")
async def municipalities(request: Request, db: SessionDep, principal: WebUser,
                         q: Annotated[str | None, Query(max_length=100)] = None,
                         page: Annotated[int, Query(ge=1, le=100000)] = 1):
    values: dict = {"level": "basic"}
    errors: dict = {}
    if request.method == "POST":
        values, errors = await _register(request, db, principal, MunicipalityIn,
                                         lambda d: platform_service.create_municipality(db, data=d))
        if not errors:
            flash(request, _("Municipality registered."))
            return see_other(str(request.url_for("admin_municipalities")))
    items, total = platform_service.list_municipalities(db, page=_page(page), q=q)
    parents = [(m.code, m.name_ko) for m in platform_service.all_municipalities(db) if m.level == "metropolitan"]
    return render(request, "platform/admin/municipalities.html", {
        "items": items, "total": total, "page": page, "pages": _pages(total), "q": q or "",
        "values": values, "errors": errors, "parents": parents},
        status_code=400 if errors else 200)


@router.api_route("/partners", methods=["GET", "POST"], name="admin_partners")
async def partners(request: Request, db: SessionDep, principal: WebUser,
                   page: Annotated[int, Query(ge=1, le=100000)] = 1):
    values: dict = {"kind": "other"}
    errors: dict = {}
    if request.method == "POST":
        values, errors = await _register(request, db, principal, PartnerIn,
                                         lambda d: platform_service.create_partner(db, data=d))
        if not errors:
            flash(request, _("Partner registered."))
            return see_other(str(request.url_for("admin_partners")))
    items, total = platform_service.list_partners(db, page=_page(page))
    return render(request, "platform/admin/partners.html", {
        "items": items, "total": total, "page": page, "pages": _pages(total), "values": values,
        "errors": errors, "kinds": [(k, _(KIND_LABELS[k])) for k in PARTNER_KINDS]},
        status_code=400 if errors else 200)


# --- audit -----------------------------------------------------------------------------------

@router.get("/audit", name="admin_audit")
def audit_log(request: Request, db: SessionDep,
              object_type: Annotated[str | None, Query(max_length=60)] = None,
              kind: Literal["changes", "access"] = "changes",
              actor: Annotated[str | None, Query(max_length=120)] = None,
              period: Literal["", "today", "7d", "30d", "custom"] = "",
              start: Annotated[date | None, Query()] = None,
              end: Annotated[date | None, Query()] = None,
              page: Annotated[int, Query(ge=1, le=100000)] = 1):
    """Changes (the audit trail, as readable lines) or access records (reads of personal data), chosen by
    ``kind``, filtered by kind of object, person and period. A GET: the filters change nothing."""
    since, until = history.period_bounds(period, start, end)
    lines = []
    if kind == "access":
        items, total = audit.list_access(db, page=_page(page), subject_type=object_type or None)
    else:
        items, total = audit.list_entries(db, page=_page(page), object_type=object_type or None,
                                          actor=actor or None, since=since, until=until)
        lines = history.present(db, items)
    filters = {"kind": kind, "object_type": object_type, "actor": actor, "period": period,
               "start": start.isoformat() if start and period == "custom" else None,
               "end": end.isoformat() if end and period == "custom" else None}
    query = urlencode({k: v for k, v in filters.items() if v})
    return render(request, "platform/admin/audit.html", {
        "entries": items, "lines": lines, "total": total, "page": page, "pages": _pages(total),
        "object_type": object_type or "", "kind": kind, "query": query, "actor": actor or "",
        "period": period, "start": start, "end": end, "kinds": history.kind_choices(),
        "actors": history.actor_choices(db),
        "periods": [(k, _(v)) for k, v in history.PERIODS.items()]})
