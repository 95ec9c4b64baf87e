"""Security headers on every response (pure ASGI, so streaming responses pass through untouched).

- ``Content-Security-Policy``: scripts, styles, images, fonts and connections from the app's own origin
  only. No page carries an inline script, event handler or style: behaviour lives in ``app/static/js``,
  looks in ``app/static/css``, and values that differ per response (a bar's width, a heat-map colour)
  travel in ``data-*`` attributes that ``static/js/dxhub.js`` applies through the CSSOM, which the policy
  allows. Data islands (``<script type="application/json">``) are data, not scripts, and need no nonce.
- ``Strict-Transport-Security`` in production only (``DXHUB_ENV=production``): a development server on
  plain HTTP must stay reachable.
- ``Cache-Control: no-store`` on every answer except the static files: pages and API answers carry
  personal or municipal data, and a shared or back-button cache must not keep them. One rule for all,
  instead of deciding per route who is signed in; a route that already says ``no-store`` keeps its header.
"""

from __future__ import annotations

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",  # Swagger UI's icons are data: URLs in its stylesheet
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
HSTS = b"max-age=63072000; includeSubDomains"
NO_STORE = b"no-store"
STATIC_PREFIX = "/static/"

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode("ascii")),
]


def _app_path(scope) -> str:
    """The request path inside the app (without a ``root_path`` the app may be mounted under)."""
    path, root = scope.get("path", ""), scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


class SecurityHeadersMiddleware:
    def __init__(self, app, *, hsts: bool = False) -> None:
        self.app = app
        self.headers = SECURITY_HEADERS + ([(b"strict-transport-security", HSTS)] if hsts else [])

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        cacheable = _app_path(scope).startswith(STATIC_PREFIX)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in self.headers if name not in present]
                if not cacheable:
                    headers = [(n, v) for n, v in headers if n.lower() != b"cache-control" or NO_STORE in v.lower()]
                    if not any(n.lower() == b"cache-control" for n, _ in headers):
                        headers.append((b"cache-control", NO_STORE))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
