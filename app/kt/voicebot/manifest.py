"""Registers the voicebot with the core."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.core.manifest import ModuleManifest, NavEntry, Widget
from app.core.tenancy import Principal


def _widget(db: Session, principal: Principal) -> dict[str, Any] | None:
    from app.kt.voicebot import service

    stats = service.statistics(db, since=service.recent_window(7), failed_limit=0)
    if not stats["calls"]:
        return None
    counts = service.request_counts(db)
    return {"stats": stats, "open_requests": sum(counts.get(s, 0) for s in service.OPEN_STATUSES)}


def _manifest() -> ModuleManifest:
    from app.kt.voicebot import api, cli, demo, duties, objects, open311, web

    return ModuleManifest(
        key="kt.voicebot", name_ko="AI 민원 보이스봇 (에이센)", name_en="A'Cen civil-complaint voicebot",
        api_router=api.router, web_router=web.router, public_router=open311.router,
        nav=(NavEntry("Calls", "vb_calls"), NavEntry("Service requests", "vb_requests"),
             NavEntry("Statistics", "vb_stats"), NavEntry("Fee table", "vb_fees"),
             NavEntry("Services", "vb_services"),
             NavEntry("Caller console", "vb_console")),
        widgets=(Widget("Voicebot this week", "kt/voicebot/_widget.html", _widget),),
        load_demo=demo.load_demo, sample_data=demo.sample_data, add_cli=cli.add_cli,
        duties=duties.DUTIES, objects=objects.OBJECTS)


MANIFEST = _manifest()
