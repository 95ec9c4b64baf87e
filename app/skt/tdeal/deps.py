""""Get or 404" lookups; each resolves the caller first, so the lookup is scoped."""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Any

from fastapi import Depends, Path, Request

from app.core.deps import SessionDep
from app.core.errors import InvalidInput
from app.platform.auth import OptionalPrincipal
from app.skt.tdeal import service
from app.skt.tdeal.models import TdealCampaign, TdealCoupon, TdealMerchant, TdealProduct, TdealSubscriber

IdPath = Annotated[int, Path(ge=1, le=2**62)]


def merchant_or_404(merchant_id: IdPath, db: SessionDep, _: OptionalPrincipal) -> TdealMerchant:
    return service.get_merchant(db, merchant_id=merchant_id)


def product_or_404(product_id: IdPath, db: SessionDep, _: OptionalPrincipal) -> TdealProduct:
    return service.get_product(db, product_id=product_id)


def campaign_or_404(campaign_id: IdPath, db: SessionDep, _: OptionalPrincipal) -> TdealCampaign:
    return service.get_campaign(db, campaign_id=campaign_id)


def coupon_or_404(coupon_id: IdPath, db: SessionDep, _: OptionalPrincipal) -> TdealCoupon:
    return service.get_coupon(db, coupon_id=coupon_id)


def subscriber_or_404(subscriber_id: IdPath, db: SessionDep, _: OptionalPrincipal) -> TdealSubscriber:
    return service.get_subscriber(db, subscriber_id=subscriber_id)


MerchantDep = Annotated[TdealMerchant, Depends(merchant_or_404)]
ProductDep = Annotated[TdealProduct, Depends(product_or_404)]
CampaignDep = Annotated[TdealCampaign, Depends(campaign_or_404)]
CouponDep = Annotated[TdealCoupon, Depends(coupon_or_404)]
SubscriberDep = Annotated[TdealSubscriber, Depends(subscriber_or_404)]


def parse_csv(raw: bytes) -> list[dict[str, Any]]:
    """CSV with a header row (UTF-8, BOM allowed); blank cells are left out so defaults apply."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput.field("body", "The CSV file must be UTF-8") from None
    reader = csv.DictReader(io.StringIO(text))
    rows = []
    for row in reader:
        if None in row:
            raise InvalidInput.field(["rows", len(rows)], "The row has more cells than the header")
        rows.append({k.strip(): v.strip() for k, v in row.items() if k and v is not None and v.strip() != ""})
    return rows


async def batch_rows(request: Request) -> list[Any]:
    """The rows of a batch: a JSON array (or ``{"rows": [...]}``) or a CSV file (``text/csv``)."""
    raw = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in ("text/csv", "application/csv"):
        return parse_csv(raw)
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput.field("body", "The body is not valid JSON") from None
    if isinstance(body, dict) and isinstance(body.get("rows"), list) and len(body) == 1:
        body = body["rows"]
    if not isinstance(body, list):
        raise InvalidInput.field("body", "Send a JSON array of rows or a CSV file")
    return body


BatchRows = Annotated[list[Any], Depends(batch_rows)]

BATCH_DOC = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
    "text/csv": {"schema": {"type": "string"}}}}}
