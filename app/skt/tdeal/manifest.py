"""How T deal registers itself with the core."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from app.core.i18n import today_seoul
from app.core.manifest import MetricSource, ModuleManifest, NavEntry, Widget
from app.skt.tdeal import api, cli, demo, duties, objects, report, service, web


def _campaign_totals(db: Session, start: date, end: date) -> dict[str, Any] | None:
    """The campaign report's totals (the campaign page's figures) of the campaign running in the period,
    through the period's last day."""
    campaign = service.campaign_during(db, start=start, end=end)
    if campaign is None:
        return None
    return report.campaign_report(db, campaign=campaign, today=min(end, today_seoul()))["totals"]


def _participants(db: Session, municipality_id: int, start: date, end: date) -> int | None:
    totals = _campaign_totals(db, start, end)
    return None if totals is None else totals["participants"]


def _sales(db: Session, municipality_id: int, start: date, end: date) -> int | None:
    totals = _campaign_totals(db, start, end)
    return None if totals is None else totals["during_krw"]


METRICS = (
    MetricSource("skt.tdeal.participants", "기획전 참여 소상공인", "Merchants in the campaign", "곳",
                 "Merchants taking part in the campaign running in the period (the campaign page's figure).",
                 _participants, stats_route="tdeal_campaigns"),
    MetricSource("skt.tdeal.campaign_sales", "기획전 매출", "Campaign sales", "원",
                 "Participants' T deal sales from the campaign's first day through the period's last day (the "
                 "campaign page's \"sales during\").", _sales, stats_route="tdeal_campaigns"),
)

MANIFEST = ModuleManifest(
    key="skt.tdeal",
    name_ko="티딜 AI 큐레이션",
    name_en="T deal AI curation",
    api_router=api.router,
    web_router=web.router,
    nav=(NavEntry("Catalogue", "tdeal_catalogue"), NavEntry("Campaigns", "tdeal_campaigns"),
         NavEntry("Recommendation evaluation", "tdeal_models"), NavEntry("Import CSV", "tdeal_import", write=True)),
    widgets=(Widget("T deal campaign", "skt/tdeal/_widget.html", web.widget),),
    load_demo=demo.load_demo,
    sample_data=demo.sample_data,
    add_cli=cli.add_cli,
    duties=duties.DUTIES,
    jobs=duties.JOBS,
    metrics=METRICS,
    objects=objects.OBJECTS,
)
