"""How the CCTV module registers itself with the core."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from app.core.manifest import MetricSource, ModuleManifest, NavEntry, Widget
from app.kt.cctv import api, duties, objects, rollup, service, web
from app.kt.cctv.bridge import frigate_bridge
from app.kt.cctv.cli import add_cli
from app.kt.cctv.demo import load_demo, sample_data


def _totals(db: Session, start: date, end: date) -> dict[str, Any]:
    """The statistics page's totals for incidents started on the Seoul days ``start``..``end``."""
    return service.compute_stats(db, since=rollup.day_bounds(start)[0], until=rollup.day_bounds(end)[1])["totals"]


def _incidents(db: Session, municipality_id: int, start: date, end: date) -> int:
    return _totals(db, start, end)["incidents"]


def _false_alarm_rate(db: Session, municipality_id: int, start: date, end: date) -> float | None:
    rate = _totals(db, start, end)["false_alarm_rate"]
    return None if rate is None else round(rate * 100, 2)


METRICS = (
    MetricSource("kt.cctv.incidents", "AI 탐지 사건", "AI-detected incidents", "건",
                 "Incidents the AI opened from camera detections in the period (the statistics page's total).",
                 _incidents, stats_route="cctv_stats"),
    MetricSource("kt.cctv.false_alarm_rate", "오탐률", "False-alarm rate", "%",
                 "Incidents closed as false alarms, out of the incidents started in the period and closed.",
                 _false_alarm_rate, stats_route="cctv_stats"),
)

MANIFEST = ModuleManifest(
    key="kt.cctv",
    name_ko="CCTV AI 관제",
    name_en="CCTV AI control centre",
    api_router=api.router,
    web_router=web.router,
    nav=(NavEntry("Control centre", "cctv_console"), NavEntry("Cameras", "cctv_cameras"),
         NavEntry("CCTV statistics", "cctv_stats"), NavEntry("Frigate labels", "cctv_frigate")),
    widgets=(Widget("CCTV control centre", "kt/cctv/_widget.html", web.widget_context),),
    load_demo=load_demo,
    sample_data=sample_data,
    add_cli=add_cli,
    duties=duties.DUTIES,
    bridges=(frigate_bridge(),),
    metrics=METRICS,
    objects=objects.OBJECTS,
)
