"""Application factory: settings, middleware, static files, the platform and every module."""

from __future__ import annotations

import gc
import html
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from app.core import health, metrics
from app.core.config import Settings, get_settings
from app.core.db import Database
from app.core.edge import ControlCharacterGuard, HeadAsGet
from app.core.errors import PROBLEM_JSON, UnexpectedErrorMiddleware, install_error_handlers, problem
from app.core.headers import SecurityHeadersMiddleware
from app.core.i18n import LocaleMiddleware
from app.core.manifest import install
from app.core.observe import RequestObservationMiddleware
from app.core.openapi import install_openapi
from app.core.origin import OriginMiddleware
from app.core.ratelimit import RateLimiter
from app.core.sealing import settings_error as sealing_settings_error
from app.core.sessions import RotatingSessionMiddleware
from app.core.tenancy import PLATFORM_MODULE
from app.modules import load_manifests
from app.platform import admin as platform_admin
from app.platform import api as platform_api
from app.platform import web as platform_web
from app.platform.auth import (
    PLATFORM_API_GUARD,
    PublicAnswer,
    csrf_protect,
    require_jurisdiction_module,
    require_module_access,
    require_module_enabled,
    require_web_module_access,
    require_web_module_enabled,
)
from app.platform.homecards import HomeCards

API_DESCRIPTION = """
DX Hub's REST API for integrators: operators' and vendors' systems.

Authenticate with `Authorization: Bearer <key>`: an API key made by a municipal administrator
(bound to one municipality, with read/write scopes per module), or a staff token from
`POST /api/v1/auth/token`. Lists answer `{"items", "total", "limit", "offset"}`; errors are
RFC 9457 `application/problem+json`.
"""

SWAGGER_UI_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{static}/swagger/swagger-ui.css">
<link rel="icon" href="{static}/swagger/favicon-32x32.png">
<title>DX Hub API</title>
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="{static}/swagger/swagger-ui-bundle.js"></script>
<script src="{static}/js/swagger-init.js"></script>
</body>
</html>
"""


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    refused = sealing_settings_error()  # unset sealing/lookup keys in production
    if refused:
        raise RuntimeError(refused)
    db = database or Database(settings.database_url)
    manifests = load_manifests()
    install(manifests)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        if database is None:  # a served process (tests bring their own database and skip this)
            # What start-up built (routes, models, templates) lives as long as the process; frozen, it
            # is no longer walked by every full collection, which the allocations of one 1,000-row
            # batch set off every few requests (~15 ms a CCTV batch measured).
            gc.collect()
            gc.freeze()
        yield
        if database is None:
            db.dispose()
            metrics.mark_process_dead()

    app = FastAPI(title="DX Hub API", version="1.0", description=API_DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.db = db
    app.state.manifests = manifests

    app.state.limiter = RateLimiter.from_settings(settings)
    app.state.home_cards = HomeCards(settings.home_card_ttl_s)

    # Innermost first: control characters are refused before any route reads the request, and an error
    # no handler took is answered inside the session and locale middleware (so the page is translated).
    app.add_middleware(ControlCharacterGuard)
    app.add_middleware(UnexpectedErrorMiddleware)
    app.add_middleware(RotatingSessionMiddleware, secret_keys=settings.secret_keys,
                       session_cookie=settings.session_cookie, max_age=settings.session_max_age_s,
                       same_site="lax", https_only=settings.secure_cookies)
    app.add_middleware(LocaleMiddleware, default=settings.default_locale)
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.env == "production")
    app.add_middleware(OriginMiddleware)
    app.add_middleware(HeadAsGet)  # every layer below sees the GET a HEAD is answered like
    # Outermost: it times the whole answer and its request id reaches every log line of the request.
    app.add_middleware(RequestObservationMiddleware)
    install_error_handlers(app)
    install_openapi(app)

    from app.core.config import ROOT_DIR

    app.mount("/static", StaticFiles(directory=str(ROOT_DIR / "app" / "static")), name="static")

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request):
        # Swagger UI from our own static files (municipal networks often cannot reach a CDN), started by a
        # static script: the Content-Security-Policy allows no inline one.
        root = request.scope.get("root_path", "").rstrip("/")
        return HTMLResponse(SWAGGER_UI_PAGE.format(openapi_url=html.escape(root + app.openapi_url, quote=True),
                                                   static=html.escape(root + "/static", quote=True)))

    # Probes. /livez: the process answers. /readyz: it can serve (every check of app.core.health: the
    # database, the task queue). /healthz, kept as it was for existing monitors: the database answers.
    unavailable = {503: {"description": "Not ready: the check that failed is named",
                         "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}}

    @app.get("/healthz", tags=["health"], responses=unavailable, openapi_extra={"x-tenant-scope": "global"})
    def healthz():
        try:
            health.check_database(app)
        except Exception:
            return problem(503, "Service unavailable", "The database does not answer")
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses=unavailable, openapi_extra={"x-tenant-scope": "global"})
    def readyz():
        ready, checks = health.readiness(app)
        if not ready:
            failed = ", ".join(name for name, result in checks.items() if result != "ok")
            return problem(503, "Service unavailable", f"Not ready: {failed}", checks=checks)
        return {"status": "ok", "checks": checks}

    @app.get("/livez", tags=["health"], openapi_extra={"x-tenant-scope": "global"})
    def livez():
        return JSONResponse({"status": "ok"})

    @app.get("/metrics", include_in_schema=False)
    def metrics_endpoint(request: Request):
        if not metrics.scrape_allowed(request, settings.metrics_token):
            # With a token, say a token is wanted; without one the endpoint does not exist for outsiders.
            return problem(401, "Unauthorized") if settings.metrics_token else problem(404, "Not Found")
        return metrics.metrics_response()

    # The platform: auth is open; everything else is guarded once, here, so a new route is protected.
    app.include_router(platform_api.auth_router)
    app.include_router(platform_api.router, dependencies=[Depends(PLATFORM_API_GUARD)])
    app.include_router(platform_web.public_router)
    web_guards = [Depends(require_web_module_access(PLATFORM_MODULE)), Depends(csrf_protect)]
    app.include_router(platform_web.router, dependencies=web_guards)
    app.include_router(platform_admin.router, dependencies=web_guards)
    # Each module: a caller whose municipalities do not run it finds nothing there (404), then the
    # permission checks. Platform administrators reach every module.
    for manifest in manifests:
        if manifest.api_router is not None:
            app.include_router(manifest.api_router, prefix=manifest.api_prefix,
                               dependencies=[Depends(require_module_enabled(manifest.key)),
                                             Depends(require_module_access(manifest.key))])
        if manifest.web_router is not None:
            app.include_router(manifest.web_router, prefix=manifest.web_prefix,
                               dependencies=[Depends(require_web_module_enabled(manifest.key)),
                                             Depends(require_web_module_access(manifest.key)),
                                             Depends(csrf_protect)])
        if manifest.public_router is not None:
            app.include_router(manifest.public_router, dependencies=[
                Depends(require_jurisdiction_module(manifest.key, manifest.public_error))])

    @app.exception_handler(PublicAnswer)
    def _public_answer(_request: Request, exc: PublicAnswer):
        return exc.response

    return app
