"""Who is calling, resolved once per request, and the guards routers are included with.

Guards that only look at the principal are ``async`` so they run on the event loop, not in the
thread pool; the resolution itself reads the database and stays synchronous.

The principal comes from an ``Authorization: Bearer`` header (an integrator's API key or a staff
token) or from the signed session cookie of a browser. Resolving it binds the request's session to
the principal, which scopes every read to the principal's municipalities (see app.core.tenancy).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from app.core import security
from app.core.deps import SAFE_METHODS, SessionDep
from app.core.errors import Forbidden, SignInRequired, Unauthorized
from app.core.tenancy import PLATFORM_MODULE, Principal, bind_principal
from app.platform import accounts

SESSION_USER = "uid"
SESSION_VERSION = "sv"
SESSION_CSRF = "csrf"


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _session_principal(request: Request, db) -> Principal | None:
    session = request.scope.get("session") or {}
    user_id = session.get(SESSION_USER)
    if not isinstance(user_id, int):
        return None
    user = accounts.load_active_user(db, user_id=user_id, session_version=session.get(SESSION_VERSION))
    if user is None:
        session.clear()
        return None
    return accounts.principal_for_user(db, user)


def resolve_principal(request: Request, db: SessionDep) -> Principal | None:
    settings = request.app.state.settings
    token = _bearer(request)
    principal: Principal | None = None
    if token:
        if token.startswith(security.API_KEY_PREFIX):
            key = accounts.authenticate_api_key(db, secret=token)
            if key is None:
                raise Unauthorized("The API key is unknown or revoked")
            principal = accounts.principal_for_api_key(db, key)
        else:
            data = security.read_staff_token(settings.secret_key, token, max_age_s=settings.token_max_age_s)
            user = data and accounts.load_active_user(db, user_id=data["uid"], session_version=data.get("sv"))
            if not user:
                raise Unauthorized("The token is invalid or expired")
            principal = accounts.principal_for_user(db, user)
    else:
        principal = _session_principal(request, db)
        if principal is not None and request.method not in SAFE_METHODS and _is_api(request):
            # A browser session may call the API, but writes need the CSRF header: a cookie alone
            # would let another site act for the user.
            check_csrf_token(request, request.headers.get("x-csrf-token"))
    if principal is not None:
        bind_principal(db, principal)
    request.state.principal = principal
    return principal


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


OptionalPrincipal = Annotated[Principal | None, Depends(resolve_principal)]


async def api_principal(principal: OptionalPrincipal) -> Principal:
    if principal is None:
        raise Unauthorized("Send a bearer token: an API key or a staff token from /api/v1/auth/token")
    return principal


ApiPrincipal = Annotated[Principal, Depends(api_principal)]


def require_module_access(module_key: str):
    """Guard for a module's API router: read for safe methods, write for the others."""

    async def guard(request: Request, principal: ApiPrincipal) -> Principal:
        write = request.method not in SAFE_METHODS
        if not principal.can(module_key, write=write):
            raise Forbidden(f"This caller may not {'write' if write else 'read'} {module_key}")
        return principal

    guard.__name__ = f"require_{module_key.replace('.', '_')}_access"
    return guard


async def require_api_admin(principal: ApiPrincipal) -> Principal:
    if not principal.is_admin:
        raise Forbidden("Only administrators may do this")
    return principal


async def require_api_platform_admin(principal: ApiPrincipal) -> Principal:
    if not principal.is_platform_admin:
        raise Forbidden("Only platform administrators may do this")
    return principal


# --- web -------------------------------------------------------------------------------------

def csrf_token(request: Request) -> str:
    session = request.scope.get("session")
    if session is None:
        return ""
    token = session.get(SESSION_CSRF)
    if not token:
        token = session[SESSION_CSRF] = security.new_csrf_token()
    return token


def check_csrf_token(request: Request, sent: str | None) -> None:
    expected = (request.scope.get("session") or {}).get(SESSION_CSRF)
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise Forbidden("The form has expired or did not come from this site; reload the page and try again")


async def csrf_protect(request: Request) -> None:
    """Every unsafe web request carries the session's CSRF token, in the form or the X-CSRF-Token header."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get("x-csrf-token")
    if not sent and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    check_csrf_token(request, sent)


async def web_user(principal: OptionalPrincipal) -> Principal:
    if principal is None or principal.kind != "user":
        raise SignInRequired()
    return principal


WebUser = Annotated[Principal, Depends(web_user)]


def require_web_module_access(module_key: str):
    async def guard(request: Request, principal: WebUser) -> Principal:
        if request.method not in SAFE_METHODS and not principal.can(module_key, write=True):
            raise Forbidden("Viewers cannot change anything")
        return principal

    return guard


async def require_web_admin(principal: WebUser) -> Principal:
    if not principal.is_admin:
        raise Forbidden("Only administrators may open this page")
    return principal


PLATFORM_API_GUARD = require_module_access(PLATFORM_MODULE)
PLATFORM_WEB_GUARD = require_web_module_access(PLATFORM_MODULE)
