"""Registers the voicebot with the core."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from app.core.manifest import MetricSource, ModuleManifest, NavEntry, Widget
from app.core.tenancy import Principal


def _widget(db: Session, principal: Principal) -> dict[str, Any] | None:
    from app.kt.voicebot import service

    stats = service.statistics(db, since=service.recent_window(7), failed_limit=0)
    if not stats["calls"]:
        return None
    counts = service.request_counts(db)
    return {"stats": stats, "open_requests": sum(counts.get(s, 0) for s in service.OPEN_STATUSES)}


def _period_statistics(db: Session, municipality_id: int, start: date, end: date) -> dict[str, Any]:
    from app.kt.voicebot import service

    return service.statistics(db, since=start, until=end, failed_limit=0)


def _automation_rate(db: Session, municipality_id: int, start: date, end: date) -> float | None:
    rate = _period_statistics(db, municipality_id, start, end)["automation_rate"]
    return None if rate is None else round(rate * 100, 2)


def _calls_handled(db: Session, municipality_id: int, start: date, end: date) -> int:
    return _period_statistics(db, municipality_id, start, end)["automated"]


METRICS = (
    MetricSource("kt.voicebot.automation_rate", "자동 처리율", "Automation rate", "%",
                 "Finished calls the bot completed without handing them to a person, out of all finished calls "
                 "started in the period (the statistics page's automation rate).", _automation_rate,
                 stats_route="vb_stats"),
    MetricSource("kt.voicebot.calls_handled", "보이스봇 처리 전화", "Calls handled by the bot", "건",
                 "Calls started in the period that the bot completed without a person.", _calls_handled,
                 stats_route="vb_stats"),
)


def _manifest() -> ModuleManifest:
    from app.kt.voicebot import api, cli, demo, duties, objects, open311, web

    return ModuleManifest(
        key="kt.voicebot", name_ko="AI 민원 보이스봇 (에이센)", name_en="A'Cen civil-complaint voicebot",
        api_router=api.router, web_router=web.router, public_router=open311.router, public_error=open311.error,
        nav=(NavEntry("Calls", "vb_calls"), NavEntry("Service requests", "vb_requests"),
             NavEntry("Statistics", "vb_stats"), NavEntry("Fee table", "vb_fees"), NavEntry("FAQ", "vb_faq"),
             NavEntry("Services", "vb_services"),
             NavEntry("Caller console", "vb_console", write=True)),
        widgets=(Widget("Voicebot this week", "kt/voicebot/_widget.html", _widget),),
        load_demo=demo.load_demo, sample_data=demo.sample_data, add_cli=cli.add_cli,
        duties=duties.DUTIES, metrics=METRICS, objects=objects.OBJECTS)


MANIFEST = _manifest()
