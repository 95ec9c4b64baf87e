"""How the 5G work network registers itself with the core."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from app.core.manifest import MetricSource, ModuleManifest, NavEntry, Widget
from app.core.pagination import count_rows
from app.core.tenancy import Principal
from app.kt.worknet import access, duties, objects, service
from app.kt.worknet.api import router as api_router
from app.kt.worknet.cli import add_cli
from app.kt.worknet.demo import load_demo, sample_data
from app.kt.worknet.web import router as web_router


def _widget(db: Session, principal: Principal) -> dict[str, Any] | None:
    pools = service.list_pools(db)
    total_routers = count_rows(db, service.router_query())
    if not pools and not total_routers:
        return None
    usage = service.pool_usage(db, pools)
    assigned = count_rows(db, service.router_query(status="assigned"))
    return {"routers": total_routers, "assigned": assigned, "open_alerts": access.open_alert_count(db),
            "pools": [service.pool_view(p, usage[p.id]) for p in pools][:4]}


def _connected(db: Session, municipality_id: int, start: date, end: date) -> int:
    return access.usage_by_day(db, today=end, first=start)["connected"]


METRICS = (
    MetricSource("kt.worknet.connected_users", "원격 접속 공무원", "Remote workers connected", "명",
                 "Distinct users who signed in to the work network successfully in the period (the usage page's "
                 "\"users connected\").", _connected, stats_route="worknet_usage"),
)


MANIFEST = ModuleManifest(
    key="kt.worknet",
    name_ko="5G 업무망",
    name_en="5G work network",
    api_router=api_router,
    web_router=web_router,
    nav=(
        NavEntry("Overview", "worknet_home"),
        NavEntry("Routers", "worknet_routers"),
        NavEntry("IP pools", "worknet_pools"),
        NavEntry("Leases", "worknet_leases"),
        NavEntry("Security policies", "worknet_policies"),
        NavEntry("Access log", "worknet_access"),
        NavEntry("Alerts", "worknet_alerts"),
        NavEntry("Usage", "worknet_usage"),
    ),
    widgets=(Widget("5G work network", "kt/worknet/_widget.html", _widget),),
    load_demo=load_demo,
    sample_data=sample_data,
    add_cli=add_cli,
    duties=duties.DUTIES,
    metrics=METRICS,
    objects=objects.OBJECTS,
)
