"""How the robot platform registers itself with the core."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from app.core.manifest import MetricSource, ModuleManifest, NavEntry, Widget
from app.kt.robots import api, bridge, cli, demo, duties, objects, stats, web


def _totals(db: Session, start: date, end: date) -> dict[str, Any]:
    return stats.fleet_stats(db, date_from=start, date_to=end)["totals"]


def _tasks_completed(db: Session, municipality_id: int, start: date, end: date) -> int:
    return _totals(db, start, end)["tasks_completed"]


def _utilisation(db: Session, municipality_id: int, start: date, end: date) -> float | None:
    return _totals(db, start, end)["utilisation_pct"]


METRICS = (
    MetricSource("kt.robots.tasks_completed", "로봇 작업 완료", "Robot tasks completed", "건",
                 "Tasks the robots finished as completed in the period (the statistics page's total).",
                 _tasks_completed, stats_route="robots_stats", period_params=("date_from", "date_to")),
    MetricSource("kt.robots.utilisation", "로봇 가동률", "Robot utilisation", "%",
                 "Working time over online time of every robot in the period (the statistics page's figure).",
                 _utilisation, stats_route="robots_stats", period_params=("date_from", "date_to")),
)

MANIFEST = ModuleManifest(
    key="kt.robots",
    name_ko="AI 로봇플랫폼",
    name_en="AI robot platform",
    api_router=api.router,
    web_router=web.router,
    nav=(NavEntry("Robot fleet", "robots_fleet"), NavEntry("Robot tasks", "robots_tasks"),
         NavEntry("Robot alerts", "robots_alerts"), NavEntry("Robot statistics", "robots_stats")),
    widgets=(Widget("Robots", "kt/robots/_widget.html", web.widget),),
    load_demo=demo.load_demo,
    sample_data=demo.sample_data,
    add_cli=cli.add_cli,
    duties=duties.DUTIES,
    metrics=METRICS,
    bridges=(bridge.BRIDGE,),
    objects=objects.OBJECTS,
)
