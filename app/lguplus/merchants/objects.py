"""How the small-merchant programme's objects read in histories (declared in the manifest)."""

from __future__ import annotations

from app.core.manifest import ObjectKind
from app.lguplus.merchants.models import Application, Budget, ConsultingSession, MerchantStore, Solution
from app.lguplus.merchants.web import STATE_LABELS

OBJECTS = (
    ObjectKind("lgum_merchant", "Merchant", MerchantStore, "name", fields={"name": "Name"}),
    ObjectKind("lgum_solution", "DX solution", Solution, "name", fields={"name": "Name", "code": "Code"}),
    ObjectKind("lgum_application", "Merchant application", Application,
               fields={"state": "State", "reason": "Reason", "requested_subsidy_krw": "Requested subsidy",
                       "committed_krw": "Committed", "installed_date": "Installed on", "year": "Year"},
               values={"state": STATE_LABELS}),
    ObjectKind("lgum_budget", "Merchant budget", Budget),
    ObjectKind("lgum_consulting", "Consulting session", ConsultingSession),
)
