"""How T deal registers itself with the core."""

from __future__ import annotations

from app.core.manifest import ModuleManifest, NavEntry, Widget
from app.skt.tdeal import api, cli, demo, duties, objects, web

MANIFEST = ModuleManifest(
    key="skt.tdeal",
    name_ko="티딜 AI 큐레이션",
    name_en="T deal AI curation",
    api_router=api.router,
    web_router=web.router,
    nav=(NavEntry("Catalogue", "tdeal_catalogue"), NavEntry("Campaigns", "tdeal_campaigns"),
         NavEntry("Recommendation evaluation", "tdeal_models"), NavEntry("Import CSV", "tdeal_import")),
    widgets=(Widget("T deal campaign", "skt/tdeal/_widget.html", web.widget),),
    load_demo=demo.load_demo,
    sample_data=demo.sample_data,
    add_cli=cli.add_cli,
    duties=duties.DUTIES,
    jobs=duties.JOBS,
    objects=objects.OBJECTS,
)
