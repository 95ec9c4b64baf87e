"""How the elderly digital-isolation analytics register themselves with the core."""

from __future__ import annotations

from app.core.manifest import ModuleManifest, NavEntry, Widget
from app.skt.isolation import api, cli, demo, objects, web

MANIFEST = ModuleManifest(
    key="skt.isolation",
    name_ko="어르신 정보격차·고립 분석",
    name_en="Elderly digital isolation",
    api_router=api.router,
    web_router=web.router,
    nav=(NavEntry("Digital divide", "isolation_divide"), NavEntry("Income gradient", "isolation_gradient"),
         NavEntry("Isolation ranking", "isolation_ranking"), NavEntry("Criteria", "isolation_criteria"),
         NavEntry("Education targets", "isolation_targets"), NavEntry("Import indicators", "isolation_import"),
         NavEntry("Dongs", "isolation_dongs")),
    widgets=(Widget("Elderly isolation", "skt/isolation/_widget.html", web.widget),),
    load_demo=demo.load_demo,
    sample_data=demo.sample_data,
    add_cli=cli.add_cli,
    objects=objects.OBJECTS,
)
