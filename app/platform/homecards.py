"""The home dashboard's module cards, rendered and kept for a short while per audience.

A card sums a module's data (a campaign's sales per merchant, the isolation ranking of every 행정동, a county's
festival windows): tens of milliseconds for the whole dashboard, the same for everyone who sees the same
municipalities, on the page every civil servant opens first. So a rendered card is kept under what decides
its content: the module and card, whose data it may read (the principal's municipality and those it reaches,
and whether it is the platform's administrator), the language, the Seoul date and the path the site is
served under (its links are paths from there, whatever the host), and the data's generation in this process
(:attr:`app.core.db.Database.generation`, which changes with every commit that wrote). A write made through
this process shows on the next visit; one made elsewhere (the worker, another web process) within
``home_card_ttl_s``. Each card says when it was computed. The module pages themselves are never kept: they
are the live figures.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cachetools import TTLCache
from fastapi import Request
from markupsafe import Markup

from app.core.db import Database, utcnow
from app.core.i18n import current_locale, gettext, today_seoul
from app.core.manifest import visible
from app.core.templating import render_fragment
from app.core.tenancy import Principal
from app.platform import service as platform_service

CARD_TEMPLATE = "platform/_card.html"


@dataclass(frozen=True)
class Card:
    title: str
    html: Markup
    computed_at: datetime


class HomeCards:
    """Rendered cards by audience; ``ttl_s`` 0 computes every card on every visit."""

    def __init__(self, ttl_s: int, *, maxsize: int = 512, timer: Callable[[], float] = time.monotonic) -> None:
        self._cards: TTLCache | None = TTLCache(maxsize, ttl_s, timer=timer) if ttl_s > 0 else None
        self._lock = threading.Lock()
        self._building: dict[tuple, threading.Lock] = {}

    def cards(self, request: Request, db: Any, principal: Principal) -> list[Card]:
        database: Database = request.app.state.db
        audience = (principal.is_platform_admin, principal.municipality_id, principal.municipality_ids,
                    current_locale.get(), today_seoul(), request.scope.get("root_path", ""))
        cards = []
        for manifest in visible(platform_service.enabled_modules(db, principal=principal)):
            for number, widget in enumerate(manifest.widgets):
                key = (manifest.key, number, audience, database.generation)
                card = self._card(key, lambda w=widget: self._build(request, db, principal, w))
                if card.html:
                    cards.append(card)
        return cards

    def _card(self, key: tuple, build: Callable[[], Card]) -> Card:
        """The kept card, or one built now: by one request only, those arriving meanwhile wait for it (the
        first visits after a write or at opening time would otherwise all compute every card)."""
        card = self._get(key)
        if card is not None or self._cards is None:
            return card or build()
        with self._lock:
            building = self._building.setdefault(key, threading.Lock())
        try:
            with building:
                card = self._get(key)
                if card is None:
                    card = build()
                    self._put(key, card)
        finally:
            with self._lock:
                self._building.pop(key, None)
        return card

    @staticmethod
    def _build(request: Request, db: Any, principal: Principal, widget: Any) -> Card:
        context = widget.build(db, principal)
        html = (render_fragment(request, CARD_TEMPLATE, {"template": widget.template, "ctx": context})
                if context is not None else Markup(""))  # a card with nothing to show is kept as such
        return Card(title=gettext(widget.title), html=html, computed_at=utcnow())

    def _get(self, key: tuple) -> Card | None:
        if self._cards is None:
            return None
        with self._lock:
            return self._cards.get(key)

    def _put(self, key: tuple, card: Card) -> None:
        if self._cards is not None:
            with self._lock:
                self._cards[key] = card
