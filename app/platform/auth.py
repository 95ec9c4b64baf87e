"""Who is calling, resolved once per request, and the guards routers are included with.

Guards that only look at the principal are ``async`` so they run on the event loop, not in the
thread pool; the resolution itself reads the database and stays synchronous.

The principal comes from an ``Authorization: Bearer`` header (an integrator's API key or a staff
token) or from the signed session cookie of a browser. Resolving it binds the request's session to
the principal, which scopes every read to the principal's municipalities (see app.core.tenancy).

A browser session is a row on the server (``UserSession``) named by the cookie: signing out deletes
it, so a cookie saved before sign-out no longer signs anyone in. Staff tokens carry the user's
``session_version``, bumped (with the sessions deleted) when the password, role or activation changes.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from app.core import security
from app.core.deps import SAFE_METHODS, SessionDep
from app.core.errors import Forbidden, SignInRequired, Unauthorized
from app.core.ratelimit import RateLimiter, rule
from app.core.tenancy import PLATFORM_MODULE, Principal, bind_principal
from app.platform import accounts
from app.platform.models import User

SESSION_ID = "sid"
SESSION_CSRF = "csrf"


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def client_address(request: Request) -> str:
    """The caller's address (behind a proxy: as the server was told to trust, see docs/OPERATIONS.md)."""
    return request.client.host if request.client else "unknown"


def limiter(request: Request) -> RateLimiter:
    return request.app.state.limiter


def _session_principal(request: Request, db) -> Principal | None:
    session = request.scope.get("session") or {}
    session_id = session.get(SESSION_ID)
    if not isinstance(session_id, str):
        return None
    user = accounts.session_user(db, session_id=session_id)
    if user is None:
        session.clear()
        return None
    return accounts.principal_for_user(db, user)


def start_session(request: Request, db, *, user: User) -> None:
    """Sign a browser in: a new session id (never the one the browser came with) in a fresh cookie."""
    end_session(request, db)  # a session the browser still held ends here
    session = request.session
    session[SESSION_ID] = accounts.open_session(db, user=user, max_age_s=request.app.state.settings.session_max_age_s)


def end_session(request: Request, db) -> None:
    """Sign a browser out on the server: its session row goes, so a copy of the cookie is worthless."""
    session_id = request.session.get(SESSION_ID)
    if isinstance(session_id, str):
        accounts.close_session(db, session_id=session_id)
    request.session.clear()


def resolve_principal(request: Request, db: SessionDep) -> Principal | None:
    settings = request.app.state.settings
    token = _bearer(request)
    principal: Principal | None = None
    if token:
        if token.startswith(security.API_KEY_PREFIX):
            key = accounts.authenticate_api_key(db, secret=token)
            if key is None:
                raise Unauthorized("The API key is unknown or revoked")
            limiter(request).hit(rule(settings.rate_limit_api_key), "api-key", str(key.id))
            principal = accounts.principal_for_api_key(db, key)
        else:
            data = security.read_staff_token(settings.secret_keys, token, max_age_s=settings.token_max_age_s)
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


def rate_limited(setting: str):
    """A dependency counting requests per caller address against the rule in the setting ``setting``."""

    def guard(request: Request) -> None:  # sync: with Redis the count is network I/O
        spec = getattr(request.app.state.settings, setting)
        limiter(request).hit(rule(spec), setting, client_address(request))

    guard.__name__ = setting
    return guard


async def web_user(principal: OptionalPrincipal) -> Principal:
    if principal is None or principal.kind != "user":
        raise SignInRequired()
    return principal


WebUser = Annotated[Principal, Depends(web_user)]


def require_web_module_access(module_key: str):
    """Guard for a module's web router: any signed-in user reads; a change needs write access. The module's
    key is kept on the request, for :func:`require_writer` and the pages' ``can_write``."""

    async def guard(request: Request, principal: WebUser) -> Principal:
        request.state.module_key = module_key
        if request.method not in SAFE_METHODS and not principal.can(module_key, write=True):
            raise Forbidden("Viewers cannot change anything")
        return principal

    return guard


def can_write(request: Request) -> bool:
    """Whether the signed-in caller may change what the current page's module holds: the one test that
    decides which forms, buttons and links a page shows, and which form pages answer 403."""
    principal: Principal | None = getattr(request.state, "principal", None)
    return principal is not None and principal.can(getattr(request.state, "module_key", PLATFORM_MODULE), write=True)


async def require_writer(request: Request, principal: WebUser) -> Principal:
    """A write route's requirement, declared once on the route (``dependencies=WRITER``): it holds for every
    method, so the GET of a form page a viewer could not submit answers 403 instead of showing the form."""
    if not can_write(request):
        raise Forbidden("Viewers cannot change anything")
    return principal


# On a web route that changes data, or on a page whose purpose is a form: ``@router.post(..., dependencies=WRITER)``.
WRITER = [Depends(require_writer)]


def is_write_route(route) -> bool:
    """Whether a route declares :data:`WRITER` (the navigation and the tests read it)."""
    return any(getattr(d, "dependency", None) is require_writer for d in getattr(route, "dependencies", ()))


async def require_web_admin(principal: WebUser) -> Principal:
    if not principal.is_admin:
        raise Forbidden("Only administrators may open this page")
    return principal


PLATFORM_API_GUARD = require_module_access(PLATFORM_MODULE)
PLATFORM_WEB_GUARD = require_web_module_access(PLATFORM_MODULE)
