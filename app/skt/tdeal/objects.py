"""How the T deal module's objects read in histories (declared in the manifest)."""

from __future__ import annotations

from app.core.manifest import ObjectKind
from app.skt.tdeal.models import TdealCampaign, TdealCoupon, TdealMerchant, TdealModel, TdealProduct

OBJECTS = (
    ObjectKind("tdeal_merchant", "T deal merchant", TdealMerchant, "name", fields={"name": "Name"}),
    ObjectKind("tdeal_product", "T deal product", TdealProduct, "name", fields={"name": "Name"}),
    ObjectKind("tdeal_campaign", "T deal campaign", TdealCampaign, "name",
               fields={"name": "Name", "start_date": "Start date", "end_date": "End date"}),
    ObjectKind("tdeal_coupon", "T deal coupon", TdealCoupon, "name", fields={"name": "Name", "code": "Code"}),
    ObjectKind("tdeal_model", "Recommendation model", TdealModel, "algorithm", actions={"train": "Model trained"}),
    ObjectKind("tdeal_subscriber", "T deal subscribers"),
    ObjectKind("tdeal_event", "T deal events"),
)
