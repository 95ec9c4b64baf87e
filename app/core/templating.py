"""Jinja2 environment shared by every HTML router: translations, formatting, navigation, flashes."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import iter_route_contexts
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from markupsafe import Markup
from starlette.datastructures import URL, URLPath
from starlette.routing import NoMatchFound

from app.core.config import ROOT_DIR
from app.core.i18n import (
    current_locale,
    format_change,
    format_count,
    format_date,
    format_datetime,
    format_krw,
    format_krw_short,
    format_measure,
    format_points,
    format_ratio,
    gettext,
    ngettext,
    npgettext,
    pgettext,
)

templates = Jinja2Templates(directory=str(ROOT_DIR / "templates"))
env = templates.env

# Route names to their routes, per router. Starlette resolves a name by trying every route in turn, and
# with the platform's few hundred routes (nested by include_router) that cost milliseconds per link: a
# page's navigation alone took tens of milliseconds. The index is kept on the router and rebuilt when its
# routes change.
_INDEX_ATTR = "_dxhub_route_index"


def _route_index(router: Any) -> dict[str, list[Any]]:
    return _indexes(router)[0]


def _indexes(router: Any) -> tuple[dict[str, list[Any]], dict[str, URLPath]]:
    """The route index and the paths of routes without path parameters found so far (every page's menu
    links the same ones), both made again when the routes change."""
    cached = getattr(router, _INDEX_ATTR, None)
    if cached is not None and cached[0] == len(router.routes):
        return cached[1], cached[2]
    index: dict[str, list[Any]] = {}
    for route in iter_route_contexts(router.routes):
        if route.name:
            index.setdefault(route.name, []).append(route)
    plain: dict[str, URLPath] = {}
    setattr(router, _INDEX_ATTR, (len(router.routes), index, plain))
    return index, plain


def _router_of(request: Request) -> Any:
    return request.scope.get("router") or request.app.router


def url_path_for(request: Request, name: str, /, **path_params: Any) -> URLPath:
    """What ``request.url_for`` resolves, found through the per-router index of route names."""
    router = _router_of(request)
    if path_params:
        return _resolve(router, name, **path_params)
    plain = _indexes(router)[1]
    found = plain.get(name)
    if found is None:
        found = plain[name] = _resolve(router, name)
    return found


def _resolve(router: Any, name: str, /, **path_params: Any) -> URLPath:
    for route in _route_index(router).get(name, ()):
        try:
            return route.url_path_for(name, **path_params)
        except NoMatchFound:
            continue
    return router.url_path_for(name, **path_params)  # e.g. a mount's "name:sub-name"


def url_for(request: Request, name: str, /, **path_params: Any) -> URL:
    """The route's URL as a path from the site's root (its ``root_path`` included), with no scheme or host:
    a page links the same behind a proxy, under a prefix, or on any name the site is reached by."""
    return URL(request.scope.get("root_path", "").rstrip("/") + url_path_for(request, name, **path_params))


@pass_context
def _template_url_for(context: dict[str, Any], name: str, /, **path_params: Any) -> URL:
    return url_for(context["request"], name, **path_params)


def app_has_route(request: Request, name: str) -> bool:
    return name in _route_index(_router_of(request))


class QuantileScale:
    """Colour classes by quantile: each of ``classes`` colours holds about as many cells as the others, so a
    few large values do not paint every other cell the same shade. ``bands`` are (low, high) per class."""

    def __init__(self, values: Any, classes: int = 5) -> None:
        ordered = sorted(float(v) for row in values for v in (row if isinstance(row, list | tuple) else [row])
                         if v is not None)
        self.breaks: list[float] = []
        if ordered:
            # The upper bound of each class but the last: the value at the k/classes quantile (nearest rank).
            cuts = [ordered[min(len(ordered) - 1, (len(ordered) * k) // classes)] for k in range(1, classes)]
            self.breaks = sorted({c for c in cuts if c > ordered[0]})
        self.bands = list(zip([ordered[0] if ordered else 0.0, *self.breaks],
                              [*self.breaks, ordered[-1] if ordered else 0.0], strict=True))

    def __call__(self, value: float) -> int:
        """The class (1..n) of ``value``."""
        return 1 + sum(1 for b in self.breaks if value >= b)


@pass_context
def switch_language(context: dict[str, Any], language: str) -> str:
    """The current page's link in another language: its query string (a sign-in page's ``next``, a
    list's filters) kept, ``lang`` replaced."""
    params = [(k, v) for k, v in context["request"].query_params.multi_items() if k != "lang"]
    return "?" + urlencode([*params, ("lang", language)])


# Babel's gettext through Jinja's i18n extension: ``_()``/``gettext``, ``pgettext``, ``ngettext`` and
# ``{% trans %}`` blocks. The callables read the request's locale and module domain from context
# variables and fill ``{name}`` placeholders themselves (the templates' style), so they are installed
# as they are rather than wrapped in the extension's %-formatting "new style".
env.add_extension("jinja2.ext.i18n")
env.install_gettext_callables(gettext, ngettext, newstyle=False, pgettext=pgettext, npgettext=npgettext)
env.policies["ext.i18n.trimmed"] = True
env.globals.update(app_has_route=app_has_route, url_for=_template_url_for, quantile_scale=QuantileScale,
                   switch_language=switch_language)
# Numbers as Koreans read them (Babel): ``count`` (no decimals), ``krw`` (the exact won, for tables and
# tooltips), ``krw_short`` (만/억 on cards, the exact figure in its tooltip), ``percent`` (a share),
# ``change`` (a relative change: +13%), ``pp`` (a difference of percentages: %p), ``measure`` (a figure
# with its unit, or a bare decimal figure whose unit the column names).
env.filters.update(count=format_count, krw=format_krw, krw_short=format_krw_short, percent=format_ratio,
                   change=format_change, pp=format_points, measure=format_measure, dt=format_datetime,
                   d=format_date)

FLASH_KEY = "flash"


def see_other(url: str) -> RedirectResponse:
    """The answer to a successful form post (303: the browser follows with a GET). The location is kept
    to its path (an absolute ``request.url_for`` loses its scheme and host), so a redirect stays on the site
    and on the scheme the browser used, whatever the proxy in front told the app."""
    parts = urlsplit(url)
    return RedirectResponse(urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment)), status_code=303)


def flash(request: Request, message: str, category: str = "success") -> None:
    session = request.scope.get("session")
    if session is not None:
        session.setdefault(FLASH_KEY, []).append({"message": message, "category": category})


def _pop_flashes(request: Request) -> list[dict[str, str]]:
    session = request.scope.get("session")
    return session.pop(FLASH_KEY, []) if session is not None else []


def _navigation(request: Request) -> list[dict[str, Any]]:
    """The modules' navigation entries the user may follow, per module (the sidebar, and the sub-navigation
    of the module the page belongs to: ``current`` on that group and on the link whose page this is)."""
    from app.core.manifest import visible

    principal = getattr(request.state, "principal", None)
    if principal is None:
        return []
    path = request.url.path
    root = request.scope.get("root_path", "").rstrip("/")
    groups = []
    # Only the modules the user's municipalities run (set when the principal was resolved; None: all).
    for manifest in visible(getattr(request.state, "enabled_modules", None)):
        links = []
        for entry in manifest.nav:
            if entry.write and not principal.can(manifest.key, write=True):
                continue
            try:
                links.append({"label": gettext(entry.label), "href": str(url_for(request, entry.route_name))})
            except NoMatchFound:  # a route this process does not serve is simply not linked
                continue
        if links:
            name = manifest.name_ko if current_locale.get() == "ko" else manifest.name_en
            here = _within(path, root + manifest.web_prefix)
            if here:  # the page's own entry: the longest link whose path holds this page
                best = max((link for link in links if _within(path, link["href"])),
                           key=lambda link: len(link["href"]), default=None)
                for link in links:
                    link["current"] = link is best
            groups.append({"key": manifest.key, "operator": manifest.operator, "name": name, "links": links,
                           "current": here})
    return groups


def _within(path: str, prefix: str) -> bool:
    """Whether ``path`` is the page at ``prefix`` or under it ("/kt/cctv/cameras/3" within "/kt/cctv")."""
    prefix = prefix.rstrip("/")
    return path == prefix or path.startswith(prefix + "/")


def render(request: Request, template: str, context: dict[str, Any] | None = None,
           status_code: int = 200) -> HTMLResponse:
    from app.platform.auth import can_write, csrf_token

    nav_groups = _navigation(request)
    ctx = {
        "principal": getattr(request.state, "principal", None),
        "can_write": can_write(request),  # the one test for write forms, buttons and links
        "locale": current_locale.get(),
        "csrf_token": csrf_token(request),
        "nav_groups": nav_groups,
        # the module this page belongs to: its entries are the page's sub-navigation (macros/ui.html subnav)
        "module_nav": next((g for g in nav_groups if g["current"]), None),
        "flashes": _pop_flashes(request),
        "is_htmx": bool(request.headers.get("HX-Request")),
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, template, ctx, status_code=status_code)


def render_fragment(request: Request, template: str, context: dict[str, Any]) -> Markup:
    """A piece of a page rendered on its own, to be kept and shown to others (the home dashboard's cards):
    it sees the request (links, language) and ``context``, nothing of the user's session."""
    return Markup(env.get_template(template).render({"request": request, "locale": current_locale.get(),
                                                     **context}))


ERROR_MESSAGES = {
    400: "The request could not be understood. Check what you entered and try again.",
    401: "Please sign in.",
    403: "You do not have permission to do this.",
    404: "The page or item you asked for does not exist, or you cannot see it.",
    405: "This action is not available here.",
    409: "This conflicts with existing data.",
    422: "Some of what you entered is not valid.",
    429: "Too many requests. Please wait a moment and try again.",
    500: "Something went wrong on our side. It has been logged.",
}


def render_error_page(request: Request, status: int, detail: str | None = None) -> HTMLResponse:
    """A page in the user's language; ``detail`` is already translated."""
    message = gettext(ERROR_MESSAGES.get(status, "Something went wrong."))
    return render(request, "error.html", {"status": status, "message": message, "detail": detail},
                  status_code=status)
