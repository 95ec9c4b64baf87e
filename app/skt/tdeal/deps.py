""""Get or 404" lookups; each resolves the caller first, so the lookup is scoped."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends

from app.core.batch import batch_rows_reader
from app.core.deps import SessionDep
from app.core.schemas import Id
from app.platform.auth import OptionalPrincipal
from app.skt.tdeal import service
from app.skt.tdeal.models import TdealCampaign, TdealCoupon, TdealMerchant, TdealProduct, TdealSubscriber


def merchant_or_404(merchant_id: Id, db: SessionDep, _: OptionalPrincipal) -> TdealMerchant:
    return service.get_merchant(db, merchant_id=merchant_id)


def product_or_404(product_id: Id, db: SessionDep, _: OptionalPrincipal) -> TdealProduct:
    return service.get_product(db, product_id=product_id)


def campaign_or_404(campaign_id: Id, db: SessionDep, _: OptionalPrincipal) -> TdealCampaign:
    return service.get_campaign(db, campaign_id=campaign_id)


def coupon_or_404(coupon_id: Id, db: SessionDep, _: OptionalPrincipal) -> TdealCoupon:
    return service.get_coupon(db, coupon_id=coupon_id)


def subscriber_or_404(subscriber_id: Id, db: SessionDep, _: OptionalPrincipal) -> TdealSubscriber:
    return service.get_subscriber(db, subscriber_id=subscriber_id)


MerchantDep = Annotated[TdealMerchant, Depends(merchant_or_404)]
ProductDep = Annotated[TdealProduct, Depends(product_or_404)]
CampaignDep = Annotated[TdealCampaign, Depends(campaign_or_404)]
CouponDep = Annotated[TdealCoupon, Depends(coupon_or_404)]
SubscriberDep = Annotated[TdealSubscriber, Depends(subscriber_or_404)]


# A batch of 10,000 rows (the most one request may carry) stays well under this.
MAX_BODY_BYTES = 20 * 1024 * 1024
BatchRows = Annotated[list[Any], Depends(batch_rows_reader(MAX_BODY_BYTES))]

BATCH_DOC = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
    "text/csv": {"schema": {"type": "string"}}}}}
