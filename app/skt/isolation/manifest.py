"""How the elderly digital-isolation analytics register themselves with the core."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from app.core.config import get_settings
from app.core.manifest import MetricSource, ModuleManifest, NavEntry, Widget, deferred
from app.skt.isolation import api, cli, objects, service, web


def _isolated_share(db: Session, municipality_id: int, start: date, end: date) -> float | None:
    """The criteria page's month-by-month share of people 65+ isolated, for the period's last month with
    data (None when that month is missing or hidden under k people)."""
    month = end.isoformat()[:7]
    trend = service.isolation_trend(db, min_age=65, k=max(1, int(get_settings().k_threshold)))
    rate = next((i["rate"] for i in trend["items"] if i["period"] == month), None)
    return None if rate is None else round(rate * 100, 2)


def _education_attendees(db: Session, municipality_id: int, start: date, end: date) -> int | None:
    return service.education_attendees(db, since=start, until=end)


METRICS = (
    MetricSource("skt.isolation.isolated_share", "고립 어르신 비율", "Share of people 65+ isolated", "%",
                 "People 65 and over under the communication and outing floors of the definition in force, out "
                 "of all people 65 and over, in the period's month (the criteria page's trend).",
                 _isolated_share, stats_route="isolation_criteria"),
    MetricSource("skt.isolation.education_attendees", "디지털 교육 참여 어르신",
                 "Older people at digital-education sessions", "명",
                 "Attendees aged 65 and over at the digital-education sessions held in the period, as recorded per "
                 "행정동 on the education sessions page (none recorded at all: no figure).", _education_attendees,
                 stats_route="isolation_education"),
)

MANIFEST = ModuleManifest(
    key="skt.isolation",
    name_ko="어르신 정보격차·고립 분석",
    name_en="Elderly digital isolation",
    api_router=api.router,
    web_router=web.router,
    nav=(NavEntry("Digital divide", "isolation_divide"), NavEntry("Income gradient", "isolation_gradient"),
         NavEntry("Isolation ranking", "isolation_ranking"), NavEntry("Criteria", "isolation_criteria"),
         NavEntry("Education targets", "isolation_targets"),
         NavEntry("Education sessions", "isolation_education"),
         NavEntry("Import indicators", "isolation_import", write=True), NavEntry("Dongs", "isolation_dongs")),
    widgets=(Widget("Elderly isolation", "skt/isolation/_widget.html", web.widget),),
    load_demo=deferred("app.skt.isolation.demo:load_demo"),
    sample_data=deferred("app.skt.isolation.demo:sample_data"),
    add_cli=cli.add_cli,
    metrics=METRICS,
    objects=objects.OBJECTS,
)
