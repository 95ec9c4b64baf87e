"""How the robot platform registers itself with the core."""

from __future__ import annotations

from app.core.manifest import ModuleManifest, NavEntry, Widget
from app.kt.robots import api, cli, demo, duties, objects, web

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
    objects=objects.OBJECTS,
)
