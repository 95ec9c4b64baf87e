"""How the small-merchant DX program registers itself with the core."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from app.core.manifest import MetricSource, ModuleManifest, NavEntry, Widget
from app.lguplus.merchants import api, cli, demo, objects, service, web


def _installed(db: Session, municipality_id: int, start: date, end: date) -> int:
    return service.installed_merchants(db, as_of=end)


METRICS = (
    MetricSource("lguplus.merchants.installed", "솔루션 도입 매장", "Merchants with a solution installed", "곳",
                 "Merchants that have had a solution installed by the period's last day (a later cancellation "
                 "still counts; the effect report's \"installed a solution\").", _installed,
                 stats_route="lgum_report"),
)

MANIFEST = ModuleManifest(
    key="lguplus.merchants",
    name_ko="소상공인 디지털 전환",
    name_en="Small-merchant DX",
    api_router=api.router,
    web_router=web.router,
    nav=(NavEntry("Merchants", "lgum_merchants"), NavEntry("Application queue", "lgum_applications"),
         NavEntry("Consulting calendar", "lgum_consulting"), NavEntry("Upload outcomes", "lgum_outcomes", write=True),
         NavEntry("Effect report", "lgum_report")),
    widgets=(Widget("Small-merchant DX", "lguplus/merchants/_widget.html", web.widget),),
    load_demo=demo.load_demo,
    sample_data=demo.sample_data,
    add_cli=cli.add_cli,
    metrics=METRICS,
    objects=objects.OBJECTS,
)
