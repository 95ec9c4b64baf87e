"""How the small-merchant DX program registers itself with the core."""

from __future__ import annotations

from app.core.manifest import ModuleManifest, NavEntry, Widget
from app.lguplus.merchants import api, cli, demo, objects, web

MANIFEST = ModuleManifest(
    key="lguplus.merchants",
    name_ko="소상공인 디지털 전환",
    name_en="Small-merchant DX",
    api_router=api.router,
    web_router=web.router,
    nav=(NavEntry("Merchants", "lgum_merchants"), NavEntry("Application queue", "lgum_applications"),
         NavEntry("Consulting calendar", "lgum_consulting"), NavEntry("Upload outcomes", "lgum_outcomes"),
         NavEntry("Effect report", "lgum_report")),
    widgets=(Widget("Small-merchant DX", "lguplus/merchants/_widget.html", web.widget),),
    load_demo=demo.load_demo,
    sample_data=demo.sample_data,
    add_cli=cli.add_cli,
    objects=objects.OBJECTS,
)
