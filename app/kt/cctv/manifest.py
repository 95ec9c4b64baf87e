"""How the CCTV module registers itself with the core."""

from __future__ import annotations

from app.core.manifest import ModuleManifest, NavEntry, Widget
from app.kt.cctv import api, duties, objects, web
from app.kt.cctv.cli import add_cli
from app.kt.cctv.demo import load_demo, sample_data

MANIFEST = ModuleManifest(
    key="kt.cctv",
    name_ko="CCTV AI 관제",
    name_en="CCTV AI control centre",
    api_router=api.router,
    web_router=web.router,
    nav=(NavEntry("Control centre", "cctv_console"), NavEntry("Cameras", "cctv_cameras"),
         NavEntry("CCTV statistics", "cctv_stats")),
    widgets=(Widget("CCTV control centre", "kt/cctv/_widget.html", web.widget_context),),
    load_demo=load_demo,
    sample_data=sample_data,
    add_cli=add_cli,
    duties=duties.DUTIES,
    objects=objects.OBJECTS,
)
