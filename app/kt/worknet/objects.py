"""How the work network's objects read in histories (declared in the manifest)."""

from __future__ import annotations

from app.core.manifest import ObjectKind
from app.kt.worknet.models import Alert, Lease, Policy, Pool, Router

OBJECTS = (
    ObjectKind("worknet_router", "5G router", Router, "serial", fields={"serial": "Serial number", "status": "Status"}),
    ObjectKind("worknet_pool", "Fixed-IP pool", Pool, "name", fields={"name": "Name"}),
    ObjectKind("worknet_lease", "Fixed-IP lease", Lease, "ip", fields={"ip": "IP address"}),
    ObjectKind("worknet_policy", "Access policy", Policy, "department", fields={"department": "Department"}),
    ObjectKind("worknet_alert", "Work network alert", Alert, "kind", fields={"status": "Status"}),
    ObjectKind("worknet_access_event", "Access events", actions={"ingest": "Access events received"}),
)
