"""How city-data consulting registers itself with the core."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from app.core.manifest import MetricSource, ModuleManifest, NavEntry, Widget, deferred
from app.lguplus.citydata import api, cli, jobs, objects, service, web


def _festivals_held(db: Session, municipality_id: int, start: date, end: date) -> int | None:
    return service.festivals_held(db, municipality_id=municipality_id, start=start, end=end)


METRICS = (
    MetricSource("lguplus.citydata.festivals_held", "컨설팅 대상 축제", "Festivals consulted on", "건",
                 "The municipality's own festivals (it is the host, not a neighbour) that began in the period: "
                 "the festivals whose timing and effect the consulting reports on.", _festivals_held,
                 stats_route="citydata_festivals"),
)

MANIFEST = ModuleManifest(
    key="lguplus.citydata",
    name_ko="도시데이터 컨설팅",
    name_en="City-data consulting",
    api_router=api.router,
    web_router=web.router,
    nav=(NavEntry("Population heat map", "citydata_heatmap"), NavEntry("Festival timing", "citydata_festivals"),
         NavEntry("Market items", "citydata_market"), NavEntry("Survey explorer", "citydata_surveys"),
         NavEntry("Data imports", "citydata_imports"), NavEntry("Consulting report", "citydata_report")),
    widgets=(Widget("City-data consulting", "lguplus/citydata/_widget.html", web.widget),),
    load_demo=deferred("app.lguplus.citydata.demo:load_demo"),
    sample_data=deferred("app.lguplus.citydata.demo:sample_data"),
    add_cli=cli.add_cli,
    jobs=jobs.JOBS,
    objects=objects.OBJECTS,
    metrics=METRICS,
)
