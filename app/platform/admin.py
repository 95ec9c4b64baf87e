"""Administration pages: users, API keys, municipalities, the modules each runs, partners, the audit log."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request

from app.core.deps import SessionDep
from app.core.errors import Forbidden
from app.core.forms import answer_form, form_to_dict, submit_form
from app.core.i18n import gettext as _
from app.core.pagination import PageParams
from app.core.templating import flash, render, see_other
from app.core.tenancy import ROLES, Principal
from app.platform import accounts, audit, history
from app.platform import service as platform_service
from app.platform.auth import WebUser, require_web_admin
from app.platform.deps import ApiKeyDep, MunicipalityDep, UserDep
from app.platform.models import PARTNER_KINDS
from app.platform.schemas import ApiKeyIn, ModuleSwitchIn, MunicipalityIn, PartnerIn, UserIn, UserUpdate

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


async def _register(request: Request, db, principal: Principal, schema, create, *, page, message: str, done: str):
    """Reference data (municipalities, partners) is registered by platform administrators only; a mistake shows
    the list again with the form's values (``page(values, errors)``)."""
    if not principal.is_platform_admin:
        raise Forbidden("Only platform administrators may do this")
    values = form_to_dict(await request.form())
    return answer_form(request, db, schema, values, create, page=lambda errors: page(values, errors),
                       message=message, done=done)


def _grantable_roles(principal: Principal) -> list[tuple[str, str]]:
    from app.core.tenancy import ROLE_RANK

    return [(r, _(ROLE_LABELS[r])) for r in ROLES
            if principal.is_platform_admin or ROLE_RANK[r] <= ROLE_RANK[principal.role]]


def _municipality_options(db) -> list[tuple[str, str]]:
    return platform_service.municipality_options(platform_service.all_municipalities(db))


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


def _no_password(values: dict) -> dict:
    """A form shown again never carries the password typed."""
    return {k: v for k, v in values.items() if k != "password"}


@router.api_route("/users/new", methods=["GET", "POST"], name="admin_user_new")
async def user_new(request: Request, db: SessionDep, principal: WebUser):
    if request.method == "GET":
        return _user_form(request, db, principal, values={"role": "staff"}, errors={})
    values = form_to_dict(await request.form())
    return answer_form(request, db, UserIn, values, lambda d: accounts.create_user(db, data=d),
                       page=lambda errors: _user_form(request, db, principal, values=_no_password(values),
                                                      errors=errors),
                       message=lambda user: _("User {username} created.", username=user.username),
                       done=request.url_for("admin_users"))


@router.api_route("/users/{user_id}/edit", methods=["GET", "POST"], name="admin_user_edit")
async def user_edit(request: Request, user: UserDep, db: SessionDep, principal: WebUser):
    if request.method == "GET":
        values = {"display_name": user.display_name, "role": user.role, "is_active": user.is_active}
        return _user_form(request, db, principal, user=user, values=values, errors={})
    values = form_to_dict(await request.form())
    values["is_active"] = values.get("is_active") == "on"
    return answer_form(request, db, UserUpdate, values, lambda d: accounts.update_user(db, user=user, data=d),
                       page=lambda errors: _user_form(request, db, principal, user=user,
                                                      values=_no_password(values), errors=errors),
                       message=_("Changes saved."), done=request.url_for("admin_users"))


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

def _municipalities_page(request: Request, db, *, q: str | None = None, page: int = 1, values: dict,
                         errors: dict):
    items, total = platform_service.list_municipalities(db, page=_page(page), q=q)
    parents = platform_service.municipality_options(
        [m for m in platform_service.all_municipalities(db) if m.level == "metropolitan"])
    return render(request, "platform/admin/municipalities.html", {
        "items": items, "total": total, "page": page, "pages": _pages(total), "q": q or "",
        "values": values, "errors": errors, "parents": parents})


@router.get("/municipalities", name="admin_municipalities")
def municipalities(request: Request, db: SessionDep, q: Annotated[str | None, Query(max_length=100)] = None,
                   page: Annotated[int, Query(ge=1, le=100000)] = 1):
    return _municipalities_page(request, db, q=q, page=page, values={"level": "basic"}, errors={})


@router.post("/municipalities", name="admin_municipality_new")
async def municipality_new(request: Request, db: SessionDep, principal: WebUser):
    return await _register(request, db, principal, MunicipalityIn,
                           lambda d: platform_service.create_municipality(db, data=d),
                           page=lambda values, errors: _municipalities_page(request, db, values=values, errors=errors),
                           message=_("Municipality registered."), done=str(request.url_for("admin_municipalities")))


def _partners_page(request: Request, db, *, page: int = 1, values: dict, errors: dict):
    items, total = platform_service.list_partners(db, page=_page(page))
    return render(request, "platform/admin/partners.html", {
        "items": items, "total": total, "page": page, "pages": _pages(total), "values": values,
        "errors": errors, "kinds": [(k, _(KIND_LABELS[k])) for k in PARTNER_KINDS]})


@router.get("/partners", name="admin_partners")
def partners(request: Request, db: SessionDep, page: Annotated[int, Query(ge=1, le=100000)] = 1):
    return _partners_page(request, db, page=page, values={"kind": "other"}, errors={})


@router.post("/partners", name="admin_partner_new")
async def partner_new(request: Request, db: SessionDep, principal: WebUser):
    return await _register(request, db, principal, PartnerIn, lambda d: platform_service.create_partner(db, data=d),
                           page=lambda values, errors: _partners_page(request, db, values=values, errors=errors),
                           message=_("Partner registered."), done=str(request.url_for("admin_partners")))


# --- the modules each municipality runs ------------------------------------------------------

MODULE_REASON_LABELS = {"programs": "Has programs", "switched_on": "Switched on by an administrator",
                        "switched_off": "Switched off by an administrator", "off": "No program"}


async def require_web_platform_admin(principal: WebUser) -> Principal:
    if not principal.is_platform_admin:
        raise Forbidden("Only platform administrators may do this")
    return principal


@router.get("/modules", name="admin_modules", dependencies=[Depends(require_web_platform_admin)])
def modules(request: Request, db: SessionDep):
    counts = platform_service.enabled_counts(db)
    items = [(m, counts.get(m.id, 0)) for m in platform_service.all_municipalities(db)]
    return render(request, "platform/admin/modules.html", {"items": items})


def _module_switches_page(request: Request, db, municipality, errors: dict):
    return render(request, "platform/admin/module_switches.html", {
        "municipality": municipality, "states": platform_service.module_states(db, municipality=municipality),
        "reason_labels": MODULE_REASON_LABELS, "errors": errors})


@router.get("/modules/{code}", name="admin_module_switches", dependencies=[Depends(require_web_platform_admin)])
def module_switches(request: Request, municipality: MunicipalityDep, db: SessionDep):
    return _module_switches_page(request, db, municipality, {})


@router.post("/modules/{code}", name="admin_module_switch", dependencies=[Depends(require_web_platform_admin)])
async def module_switch(request: Request, municipality: MunicipalityDep, db: SessionDep):
    return answer_form(
        request, db, ModuleSwitchIn, form_to_dict(await request.form()),
        lambda d: platform_service.switch_module(db, municipality=municipality, module_key=d.module_key,
                                                 state=d.state),
        done=str(request.url_for("admin_module_switches", code=municipality.code)),
        message=_("Module settings of {name} saved.", name=municipality.name_ko),
        page=lambda errors: _module_switches_page(request, db, municipality, errors))


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
