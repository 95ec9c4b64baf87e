"""The session cookie: Starlette's signed cookie, signed with the newest of several keys.

The cookie holds little: the session's random id (the server keeps its digest, see
``app.platform.models.UserSession``), the CSRF token and flash messages. Signing accepts a key list so a
leaked or aged key can be rotated without signing everyone out: the newest signs, every listed key
verifies, and a cookie signed by a key no longer listed is simply not read (the user signs in again).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp

from app.core import security


class RotatingSessionMiddleware(SessionMiddleware):
    def __init__(self, app: ASGIApp, *, secret_keys: Sequence[str], **options) -> None:
        """``secret_keys`` newest first; ``options`` as Starlette's (cookie name, max age, flags)."""
        super().__init__(app, secret_key=secret_keys[0], **options)
        self.signer = security.SkewTolerantSigner(security.signing_keys(secret_keys))
