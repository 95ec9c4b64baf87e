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

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordBearer
from starlette.concurrency import run_in_threadpool

from app.core import security
from app.core.deps import SAFE_METHODS, SessionDep
from app.core.errors import Forbidden, NotFound, SignInRequired, Unauthorized
from app.core.ratelimit import RateLimiter, rule
from app.core.tenancy import PLATFORM_MODULE, Principal, all_tenants, bind_principal
from app.platform import accounts
from app.platform import service as platform_service
from app.platform.models import User

SESSION_ID = "sid"
SESSION_CSRF = "csrf"

# How API callers authenticate, as the OpenAPI document declares it (the "Authorize" button of /docs).
# Both name the same ``Authorization: Bearer`` header that resolve_principal reads; neither refuses a
# request on its own (auto_error=False): api_principal does, so a browser's session cookie still works.
BEARER_SCHEME = HTTPBearer(
    auto_error=False, scheme_name="bearerAuth", bearerFormat="dxh_... API key or staff token",
    description="An integrator's API key (`dxh_...`, issued by an administrator with scopes "
                "`<module>:read|write` and one municipality) or a staff token from `POST /api/v1/auth/token`.")
PASSWORD_SCHEME = OAuth2PasswordBearer(
    tokenUrl="api/v1/auth/token", auto_error=False, scheme_name="oauth2Password",
    description="A staff member's username and password exchanged for a bearer token (OAuth2 password flow); "
                "the token lasts `DXHUB_TOKEN_MAX_AGE_S` and ends when the password or role changes.")


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


def _bearer_principal(request: Request, db, token: str, *, count: bool = True) -> Principal:
    """The caller of an ``Authorization: Bearer`` token; ``count`` hits the key's rate limit."""
    settings = request.app.state.settings
    if token.startswith(security.API_KEY_PREFIX):
        key = accounts.authenticate_api_key(db, secret=token)
        if key is None:
            raise Unauthorized("The API key is unknown or revoked")
        if count:
            limiter(request).hit(rule(settings.rate_limit_api_key), "api-key", str(key.id))
        return accounts.principal_for_api_key(db, key)
    data = security.read_staff_token(settings.secret_keys, token, max_age_s=settings.token_max_age_s)
    user = data and accounts.load_active_user(db, user_id=data["uid"], session_version=data.get("sv"))
    if not user:
        raise Unauthorized("The token is invalid or expired")
    return accounts.principal_for_user(db, user)


def resolve_principal(request: Request, db: SessionDep) -> Principal | None:
    token = _bearer(request)
    principal: Principal | None = None
    # The caller is looked up before anyone is known (the key or session, the user, the municipalities it
    # reaches) and bound in the same block: on PostgreSQL the transaction declares the scope once for the
    # look-ups and once for the principal, whatever number of statements it took.
    with all_tenants(db):
        if token:
            principal = _bearer_principal(request, db, token)
        else:
            principal = _session_principal(request, db)
            if principal is not None and request.method not in SAFE_METHODS and _is_api(request):
                # A browser session may call the API, but writes need the CSRF header: a cookie alone
                # would let another site act for the user.
                check_csrf_token(request, request.headers.get("x-csrf-token"))
        if principal is not None:
            bind_principal(db, principal)
    if principal is not None and principal.kind == "user":
        # the pages' navigation shows only these (read here, before any route)
        request.state.enabled_modules = platform_service.enabled_modules(db, principal=principal)
    request.state.principal = principal
    return principal


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


OptionalPrincipal = Annotated[Principal | None, Depends(resolve_principal)]


async def api_principal(
        principal: OptionalPrincipal,
        _bearer_declared: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER_SCHEME)],
        _password_declared: Annotated[str | None, Security(PASSWORD_SCHEME)]) -> Principal:
    """The API caller; every operation behind it is documented with both security schemes (either will do)."""
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


class ModuleNotRun(NotFound):
    """The module is off for every municipality the caller reaches: it does not exist for them."""


def _check_module_runs(db, principal: Principal, module_key: str) -> None:
    if not platform_service.module_enabled(db, principal=principal, module_key=module_key):
        raise ModuleNotRun("This program is not in use in your municipality")


def require_module_enabled(module_key: str):
    """Guard for a module's API router: 404 for a caller whose municipalities do not run the module."""

    def guard(db: SessionDep, principal: ApiPrincipal) -> None:  # sync: it reads the database
        _check_module_runs(db, principal, module_key)

    guard.__name__ = f"require_{module_key.replace('.', '_')}_enabled"
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


def require_web_module_enabled(module_key: str):
    """Guard for a module's pages: the Korean 404 page for a user whose municipalities do not run it."""

    def guard(db: SessionDep, principal: WebUser) -> None:
        _check_module_runs(db, principal, module_key)

    guard.__name__ = f"require_web_{module_key.replace('.', '_')}_enabled"
    return guard


class PublicAnswer(Exception):
    """A guard of a public router answers in the router's own standard format (``response``)."""

    def __init__(self, response) -> None:
        super().__init__(response.status_code)
        self.response = response


def require_jurisdiction_module(module_key: str, error=None):
    """Guard for a module's public router (e.g. Open311): the jurisdiction it names (``jurisdiction_id``
    in the query, a form or a JSON body; else the municipality of an ``api_key`` given the same way) must
    run the module, or the answer is 404, in ``error(status, description)``'s format when given."""

    async def guard(request: Request, db: SessionDep) -> None:
        code, secret = await _public_caller(request)
        runs = await run_in_threadpool(_public_module_runs, request, db, module_key, code, secret)
        if runs is False:
            description = f"{module_key} is not in use in this jurisdiction"
            if error is None:
                raise ModuleNotRun(description)
            raise PublicAnswer(error(404, description))

    guard.__name__ = f"require_{module_key.replace('.', '_')}_jurisdiction"
    return guard


async def _public_caller(request: Request) -> tuple[str, str]:
    """The jurisdiction code and the api_key a public request names, wherever the standard puts them."""
    fields: dict = dict(request.query_params)
    if request.method not in SAFE_METHODS:
        content_type = request.headers.get("content-type", "")
        try:
            if content_type.startswith("application/json"):
                body = await request.json()
                fields = {**fields, **(body if isinstance(body, dict) else {})}
            elif content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
                fields = {**fields, **{k: v for k, v in (await request.form()).items() if isinstance(v, str)}}
        except ValueError:  # an unreadable body is the route's to refuse
            pass
    code, secret = fields.get("jurisdiction_id"), fields.get("api_key")
    return (code.strip() if isinstance(code, str) else ""), (secret.strip() if isinstance(secret, str) else "")


def _public_module_runs(request: Request, db, module_key: str, code: str, secret: str) -> bool | None:
    """None when nothing names a known municipality or caller (the route answers as the standard says):
    the jurisdiction, else the ``api_key``'s municipality, else a DX Hub caller's (bearer token) own."""
    if code.isdigit() and len(code) == 10:
        return platform_service.jurisdiction_runs(db, code=code, module_key=module_key)
    principal = None
    if secret:
        key = accounts.authenticate_api_key(db, secret=secret)
        principal = key and accounts.principal_for_api_key(db, key)
    elif token := _bearer(request):
        try:  # counted and bound by the route when it resolves its caller
            principal = _bearer_principal(request, db, token, count=False)
        except Unauthorized:
            return None
    if principal is None:
        return None
    with all_tenants(db):
        return platform_service.module_enabled(db, principal=principal, module_key=module_key)


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
