"""Rate limits on the `limits` library: moving windows, in memory by default, in Redis when configured.

A rule is a `limits` string such as ``"60/minute"`` or several tiers joined by ``;``
(``"5/15 minutes;10/hour"``); an empty rule limits nothing. Counts are kept per rule name and
identifiers (an address, a username digest, an API key id). In memory each process counts alone; with
``DXHUB_REDIS_URL`` every process shares the counts, so a limit holds however many workers serve.

The moving windows read ``time.time()`` on the client side (also with Redis), so tests move through
windows with time-machine instead of sleeping.

If the storage fails (Redis down), the request goes through and a warning is logged: an outage of the
counter must not lock every user out.
"""

from __future__ import annotations

import logging
import math
import time
from functools import lru_cache

from limits import RateLimitItem, RateLimitItemPerSecond, parse_many
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from app.core.config import Settings
from app.core.errors import DomainError

logger = logging.getLogger("dxhub.ratelimit")
Rule = tuple[RateLimitItem, ...]


class TooManyRequests(DomainError):
    """429, with ``Retry-After``: the caller may try again after ``retry_after_s`` seconds."""

    status = 429
    title = "Too many requests"

    def __init__(self, retry_after_s: int,
                 message: str = "Too many requests: try again in {seconds} seconds") -> None:
        super().__init__(message, seconds=retry_after_s)
        self.retry_after_s = retry_after_s
        self.headers = {"Retry-After": str(retry_after_s)}


@lru_cache(maxsize=64)
def rule(spec: str) -> Rule:
    """Parse a settings string (``"60/minute"``, tiers joined by ``;``); empty means no limit."""
    return tuple(parse_many(spec)) if spec.strip() else ()


def tiers(count: int, window_s: int, *, steps: int = 3, cap_s: int = 86400) -> Rule:
    """Growing waits: ``count`` per ``window_s``, then twice the count per four times the window, and so
    on for ``steps`` tiers (windows capped at ``cap_s``)."""
    if count <= 0 or window_s <= 0:
        return ()
    return tuple(RateLimitItemPerSecond(count * 2 ** i, min(window_s * 4 ** i, cap_s)) for i in range(steps))


class RateLimiter:
    def __init__(self, storage_uri: str = "memory://", *, prefix: str = "dxhub") -> None:
        options = {} if storage_uri.startswith("memory") else {"key_prefix": prefix}
        self.storage = storage_from_string(storage_uri, wrap_exceptions=True, **options)
        self._windows = MovingWindowRateLimiter(self.storage)

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        return cls(settings.redis_url or "memory://", prefix=settings.rate_limit_prefix)

    def hit(self, limits: Rule, *ids: str) -> None:
        """Count one request; raise :class:`TooManyRequests` if it is one too many for any tier."""
        refused = [item for item in limits if not self._safely(self._windows.hit, item, *ids)]
        if refused:
            raise TooManyRequests(self.retry_after(refused, *ids))

    def check(self, limits: Rule, *ids: str) -> None:
        """Raise :class:`TooManyRequests` if the next request would be refused; count nothing."""
        refused = [item for item in limits if not self._safely(self._windows.test, item, *ids)]
        if refused:
            raise TooManyRequests(self.retry_after(refused, *ids))

    def count(self, limits: Rule, *ids: str) -> None:
        """Count one event (a failure, say) without refusing anything now."""
        for item in limits:
            self._safely(self._windows.hit, item, *ids)

    def clear(self, limits: Rule, *ids: str) -> None:
        for item in limits:
            self._safely(self._windows.clear, item, *ids)

    def retry_after(self, limits: Rule | list[RateLimitItem], *ids: str) -> int:
        """Whole seconds until every one of ``limits`` admits one more request (at least 1)."""
        now = time.time()
        try:
            waits = [self._windows.get_window_stats(item, *ids).reset_time - now for item in limits]
        except StorageError:
            return 1
        return max(1, math.ceil(max(waits, default=1)))

    def _safely(self, call, item: RateLimitItem, *ids: str) -> bool:
        try:
            result = call(item, *ids)
        except StorageError as exc:
            logger.warning("rate-limit storage failed (%s); request let through", exc.storage_error)
            return True
        return result is not False
