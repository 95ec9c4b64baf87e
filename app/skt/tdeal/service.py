"""Rules of T deal: catalogue, batch imports, coupon redemption.

Plain functions with keyword-only arguments; the caller's session carries the principal, so every read
is already scoped to the caller's municipalities. Recommendations live in ``recommend.py`` and the
campaign report in ``report.py``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from app.core.bulk import among, insert_rows
from app.core.db import utcnow
from app.core.errors import Conflict, InvalidInput, NotFound, field_error, flush_or_conflict
from app.core.forms import error_template
from app.core.lookup import one_or_404
from app.core.metrics import count_ingested
from app.core.pagination import PageParams, paginate
from app.core.tenancy import principal_of
from app.platform import audit
from app.platform import service as platform_service
from app.platform.service import target_municipality_id
from app.skt.tdeal.models import (
    TdealCampaign,
    TdealCampaignMerchant,
    TdealCoupon,
    TdealCouponIssue,
    TdealEvent,
    TdealMerchant,
    TdealProduct,
    TdealRedemption,
    TdealSubscriber,
)
from app.skt.tdeal.schemas import (
    CampaignIn,
    CampaignUpdate,
    CouponIn,
    EventIn,
    IssueIn,
    MerchantIn,
    MerchantUpdate,
    ProductIn,
    ProductUpdate,
    RedeemIn,
    RedemptionCancelIn,
    SubscriberIn,
    SubscriberUpdate,
)

MAX_BATCH = 10_000




def _apply(obj: Any, data: BaseModel) -> None:
    for key, value in data.model_dump(exclude_unset=True).items():
        setattr(obj, key, value)


# --- merchants -------------------------------------------------------------------------------

def get_merchant(db: Session, *, merchant_id: int) -> TdealMerchant:
    return one_or_404(db, TdealMerchant, merchant_id, "Merchant {id} not found")


def merchants_by_id(db: Session, *, ids: set[int]) -> dict[int, TdealMerchant]:
    return {m.id: m for m in db.scalars(select(TdealMerchant).where(TdealMerchant.id.in_(ids)))} if ids else {}


def merchant_query(*, q: str | None = None, category: str | None = None, small: bool | None = None,
                   municipality_id: int | None = None) -> Select[Any]:
    stmt = select(TdealMerchant).order_by(TdealMerchant.name, TdealMerchant.id)
    if q:
        stmt = stmt.where(or_(TdealMerchant.name.ilike(f"%{q}%"), TdealMerchant.brn.like(f"%{q.replace('-', '')}%")))
    if category:
        stmt = stmt.where(TdealMerchant.category == category)
    if small is not None:
        stmt = stmt.where(TdealMerchant.is_small == small)
    if municipality_id is not None:
        stmt = stmt.where(TdealMerchant.municipality_id == municipality_id)
    return stmt


def list_merchants(db: Session, *, page: PageParams, **filters: Any) -> tuple[list[TdealMerchant], int]:
    return paginate(db, merchant_query(**filters), page)


def create_merchant(db: Session, *, data: MerchantIn) -> TdealMerchant:
    mid = target_municipality_id(db, code=data.municipality_code)
    merchant = TdealMerchant(municipality_id=mid, **data.model_dump(exclude={"municipality_code"}))
    db.add(merchant)
    flush_or_conflict(db, "A merchant with business registration number {brn} already exists", brn=data.brn)
    return merchant


def update_merchant(db: Session, *, merchant: TdealMerchant, data: MerchantUpdate) -> TdealMerchant:
    _apply(merchant, data)
    db.flush()
    return merchant


# --- products --------------------------------------------------------------------------------

def get_product(db: Session, *, product_id: int) -> TdealProduct:
    return one_or_404(db, TdealProduct, product_id, "Product {id} not found")


def list_products(db: Session, *, page: PageParams, merchant_id: int | None = None, category: str | None = None,
                  q: str | None = None) -> tuple[list[TdealProduct], int]:
    stmt = select(TdealProduct).order_by(TdealProduct.id)
    if merchant_id:
        stmt = stmt.where(TdealProduct.merchant_id == merchant_id)
    if category:
        stmt = stmt.where(TdealProduct.category == category)
    if q:
        stmt = stmt.where(TdealProduct.name.ilike(f"%{q}%"))
    return paginate(db, stmt, page)


def _merchant_for(db: Session, data: ProductIn, loc: list[str | int]) -> TdealMerchant:
    if data.merchant_id is not None:
        found = db.scalar(select(TdealMerchant).where(TdealMerchant.id == data.merchant_id))
        if found is None:
            raise InvalidInput.field([*loc, "merchant_id"], "Unknown merchant {id}", id=data.merchant_id)
        return found
    found_all = list(db.scalars(select(TdealMerchant).where(TdealMerchant.brn == data.merchant_brn)))
    if len(found_all) != 1:
        raise InvalidInput.field([*loc, "merchant_brn"], "Unknown merchant {brn}", brn=data.merchant_brn)
    return found_all[0]


def create_product(db: Session, *, data: ProductIn) -> TdealProduct:
    merchant = _merchant_for(db, data, [])
    product = TdealProduct(municipality_id=merchant.municipality_id, merchant_id=merchant.id,
                           **data.model_dump(exclude={"merchant_id", "merchant_brn"}))
    db.add(product)
    flush_or_conflict(db, "The merchant already has a product with SKU {sku}", sku=data.sku)
    return product


def update_product(db: Session, *, product: TdealProduct, data: ProductUpdate) -> TdealProduct:
    _apply(product, data)
    db.flush()
    return product


# --- subscribers -----------------------------------------------------------------------------

def get_subscriber(db: Session, *, subscriber_id: int) -> TdealSubscriber:
    return one_or_404(db, TdealSubscriber, subscriber_id, "Subscriber {id} not found")


def list_subscribers(db: Session, *, page: PageParams, age_band: str | None = None,
                     opted_in: bool | None = None) -> tuple[list[TdealSubscriber], int]:
    stmt = select(TdealSubscriber).order_by(TdealSubscriber.id)
    if age_band:
        stmt = stmt.where(TdealSubscriber.age_band == age_band)
    if opted_in is not None:
        stmt = stmt.where(TdealSubscriber.marketing_opt_in == opted_in)
    return paginate(db, stmt, page)


def create_subscriber(db: Session, *, data: SubscriberIn) -> TdealSubscriber:
    mid = target_municipality_id(db, code=data.home_municipality_code, field="home_municipality_code")
    sub = TdealSubscriber(municipality_id=mid, **data.model_dump(exclude={"home_municipality_code"}))
    db.add(sub)
    flush_or_conflict(db, "Subscriber {pseudonym} already exists", pseudonym=data.pseudonym)
    return sub


def update_subscriber(db: Session, *, subscriber: TdealSubscriber, data: SubscriberUpdate) -> TdealSubscriber:
    _apply(subscriber, data)
    db.flush()
    return subscriber


# --- campaigns -------------------------------------------------------------------------------

def get_campaign(db: Session, *, campaign_id: int) -> TdealCampaign:
    return one_or_404(db, TdealCampaign, campaign_id, "Campaign {id} not found")


def list_campaigns(db: Session, *, page: PageParams, active_on: date | None = None
                   ) -> tuple[list[TdealCampaign], int]:
    stmt = select(TdealCampaign).order_by(TdealCampaign.start_date.desc(), TdealCampaign.id.desc())
    if active_on:
        stmt = stmt.where(TdealCampaign.start_date <= active_on, TdealCampaign.end_date >= active_on)
    return paginate(db, stmt, page)


def active_campaign(db: Session, *, today: date) -> TdealCampaign | None:
    return campaign_during(db, start=today, end=today)


def campaign_during(db: Session, *, start: date, end: date) -> TdealCampaign | None:
    """The latest-starting campaign running on some day of ``start``..``end``."""
    return db.scalar(select(TdealCampaign).where(TdealCampaign.start_date <= end, TdealCampaign.end_date >= start)
                     .order_by(TdealCampaign.start_date.desc(), TdealCampaign.id.desc()).limit(1))


def merchant_counts(db: Session, *, campaign_ids: list[int]) -> dict[int, int]:
    if not campaign_ids:
        return {}
    rows = db.execute(select(TdealCampaignMerchant.campaign_id, func.count())
                      .where(TdealCampaignMerchant.campaign_id.in_(campaign_ids))
                      .group_by(TdealCampaignMerchant.campaign_id)).all()
    return {cid: n for cid, n in rows}


def participant_ids(db: Session, *, campaign_id: int) -> set[int]:
    return set(db.scalars(select(TdealCampaignMerchant.merchant_id)
                          .where(TdealCampaignMerchant.campaign_id == campaign_id)))


def region_ids(db: Session, *, campaign: TdealCampaign) -> frozenset[int]:
    return platform_service.descendant_ids(db, municipality_id=campaign.municipality_id)


def create_campaign(db: Session, *, data: CampaignIn) -> TdealCampaign:
    mid = target_municipality_id(db, code=data.municipality_code)
    campaign = TdealCampaign(municipality_id=mid, name=data.name, start_date=data.start_date,
                             end_date=data.end_date, description=data.description)
    db.add(campaign)
    flush_or_conflict(db, "A campaign named {name} already exists", name=data.name)
    if data.merchant_ids:
        add_participants(db, campaign=campaign, merchant_ids=data.merchant_ids)
    return campaign


def add_participants(db: Session, *, campaign: TdealCampaign, merchant_ids: list[int]) -> int:
    """Add merchants of the campaign's region; every unknown or out-of-region id is named. Returns how many joined."""
    wanted = list(dict.fromkeys(merchant_ids))
    found = {m.id: m for m in db.scalars(select(TdealMerchant).where(TdealMerchant.id.in_(wanted)))}
    region = region_ids(db, campaign=campaign)
    errors = []
    for i, mid in enumerate(merchant_ids):
        merchant = found.get(mid)
        if merchant is None:
            errors.append(field_error(["merchant_ids", i], "Unknown merchant {id}", id=mid))
        elif merchant.municipality_id not in region:
            errors.append(field_error(["merchant_ids", i], "Merchant {id} is outside the campaign's region", id=mid))
    if errors:
        raise InvalidInput("Some merchants cannot join the campaign", errors=errors)
    already = participant_ids(db, campaign_id=campaign.id)
    new = [found[m] for m in wanted if m not in already]
    for merchant in new:
        db.add(TdealCampaignMerchant(campaign_id=campaign.id, merchant_id=merchant.id,
                                     municipality_id=merchant.municipality_id))
    db.flush()
    return len(new)


def update_campaign(db: Session, *, campaign: TdealCampaign, data: CampaignUpdate) -> TdealCampaign:
    """Rename or move a campaign; with ``merchant_ids`` the participants become exactly those merchants
    (each checked against the region as in :func:`add_participants`, all or nothing)."""
    campaign.name = data.name
    campaign.start_date = data.start_date
    campaign.end_date = data.end_date
    campaign.description = data.description
    flush_or_conflict(db, "A campaign named {name} already exists", name=data.name)
    if data.merchant_ids is not None:
        if data.merchant_ids:
            add_participants(db, campaign=campaign, merchant_ids=data.merchant_ids)
        keep = set(data.merchant_ids)
        for link in db.scalars(select(TdealCampaignMerchant).where(TdealCampaignMerchant.campaign_id == campaign.id)):
            if link.merchant_id not in keep:
                db.delete(link)
        db.flush()
    return campaign


# --- coupons ---------------------------------------------------------------------------------

def get_coupon(db: Session, *, coupon_id: int) -> TdealCoupon:
    return one_or_404(db, TdealCoupon, coupon_id, "Coupon {id} not found")


def list_coupons(db: Session, *, page: PageParams, campaign_id: int | None = None) -> tuple[list[TdealCoupon], int]:
    stmt = select(TdealCoupon).order_by(TdealCoupon.id)
    if campaign_id:
        stmt = stmt.where(TdealCoupon.campaign_id == campaign_id)
    return paginate(db, stmt, page)


def create_coupon(db: Session, *, data: CouponIn) -> TdealCoupon:
    if data.campaign_id is not None:
        campaign = db.scalar(select(TdealCampaign).where(TdealCampaign.id == data.campaign_id))
        if campaign is None:
            raise InvalidInput.field("campaign_id", "Unknown campaign {id}", id=data.campaign_id)
        mid = campaign.municipality_id
    else:
        mid = target_municipality_id(db, code=data.municipality_code)
    coupon = TdealCoupon(municipality_id=mid, issued_count=0, redeemed_count=0,
                         **data.model_dump(exclude={"municipality_code"}))
    db.add(coupon)
    flush_or_conflict(db, "A coupon with code {code} already exists", code=data.code)
    return coupon


def discount_for(coupon: TdealCoupon, order_amount: int) -> int:
    if coupon.discount_kind == "percent":
        discount = order_amount * coupon.discount_value // 100
    else:
        discount = coupon.discount_value
    if coupon.max_discount_krw is not None:
        discount = min(discount, coupon.max_discount_krw)
    return min(discount, order_amount)


def _refusal(cls: type[Conflict] | type[InvalidInput], kind: str, loc: list[str], message: str, **params: Any):
    exc = cls(message, **params)
    err = field_error(loc, message, **params)
    err["type"] = kind
    exc.errors = [err]
    return exc


def _locked_coupon(db: Session, coupon_id: int) -> TdealCoupon:
    """The coupon row, locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite writers are serialised by
    ``BEGIN IMMEDIATE``), so concurrent issues, redemptions and cancellations never overrun its counts."""
    coupon = db.scalar(select(TdealCoupon).where(TdealCoupon.id == coupon_id).with_for_update()
                       .execution_options(populate_existing=True))
    if coupon is None:
        raise NotFound("Coupon {id} not found", id=coupon_id)
    return coupon


def _check_validity(coupon: TdealCoupon, now: datetime) -> None:
    if now < coupon.valid_from_at:
        raise _refusal(Conflict, "not_yet_valid", ["coupon_id"], "The coupon is not valid yet")
    if now >= coupon.valid_until_at:
        raise _refusal(Conflict, "expired", ["coupon_id"], "The coupon has expired")


def _subscriber_for(db: Session, subscriber_id: int) -> TdealSubscriber:
    subscriber = db.scalar(select(TdealSubscriber).where(TdealSubscriber.id == subscriber_id))
    if subscriber is None:
        raise InvalidInput.field("subscriber_id", "Unknown subscriber {id}", id=subscriber_id)
    return subscriber


def _new_issue(db: Session, *, coupon: TdealCoupon, subscriber: TdealSubscriber, client_id: str | None,
               now: datetime, at_checkout: bool = False) -> TdealCouponIssue:
    """Issue one coupon to the subscriber, within the coupon's quantity and the subscriber's limit."""
    held = db.scalar(select(func.count()).select_from(TdealCouponIssue).where(
        TdealCouponIssue.coupon_id == coupon.id, TdealCouponIssue.subscriber_id == subscriber.id)) or 0
    if held >= coupon.per_subscriber_limit:
        raise _refusal(Conflict, "limit_reached", ["subscriber_id"],
                       "The subscriber has reached this coupon's limit of {limit}", limit=coupon.per_subscriber_limit)
    if coupon.issued_count >= coupon.total_quantity:
        raise _refusal(Conflict, "sold_out", ["coupon_id"], "The coupon is sold out")
    issue = TdealCouponIssue(municipality_id=coupon.municipality_id, coupon_id=coupon.id,
                             subscriber_id=subscriber.id, client_id=client_id, at_checkout=at_checkout,
                             issued_at=now)
    coupon.issued_count = coupon.issued_count + 1
    db.add(issue)
    db.flush()
    return issue


def issue(db: Session, *, coupon_id: int, data: IssueIn, now: datetime | None = None
          ) -> tuple[TdealCouponIssue, bool]:
    """Issue a coupon to a subscriber (it lands in the wallet, to be used later). Returns the issue and
    whether it is new (a retry with the same ``client_id`` returns the first one)."""
    now = now or utcnow()
    coupon = _locked_coupon(db, coupon_id)
    if data.client_id:
        done = db.scalar(select(TdealCouponIssue).where(TdealCouponIssue.coupon_id == coupon.id,
                                                         TdealCouponIssue.client_id == data.client_id))
        if done is not None:
            if done.subscriber_id != data.subscriber_id:
                raise _refusal(Conflict, "client_id_reused", ["client_id"],
                               "client_id {client_id} was already used for another issue", client_id=data.client_id)
            return done, False
    subscriber = _subscriber_for(db, data.subscriber_id)
    _check_validity(coupon, now)
    return _new_issue(db, coupon=coupon, subscriber=subscriber, client_id=data.client_id, now=now), True


def list_issues(db: Session, *, coupon: TdealCoupon, page: PageParams) -> tuple[list[TdealCouponIssue], int]:
    stmt = select(TdealCouponIssue).where(TdealCouponIssue.coupon_id == coupon.id).order_by(TdealCouponIssue.id.desc())
    return paginate(db, stmt, page)


def _merchant_for_redemption(db: Session, *, coupon: TdealCoupon, merchant_id: int) -> TdealMerchant:
    """The merchant named by a redemption: one the caller sees, taking part in the coupon's campaign."""
    merchant = db.scalar(select(TdealMerchant).where(TdealMerchant.id == merchant_id))
    if merchant is None:
        raise InvalidInput.field("merchant_id", "Unknown merchant {id}", id=merchant_id)
    if coupon.campaign_id is not None and merchant.id not in participant_ids(db, campaign_id=coupon.campaign_id):
        raise InvalidInput.field("merchant_id", "Merchant {name} does not take part in this coupon's campaign",
                                 name=merchant.name)
    return merchant


def _unused_issue(db: Session, *, coupon: TdealCoupon, subscriber: TdealSubscriber) -> TdealCouponIssue | None:
    """An issued coupon of the subscriber that no live redemption uses (oldest first)."""
    used = select(TdealRedemption.issue_id).where(TdealRedemption.coupon_id == coupon.id,
                                                  TdealRedemption.issue_id.is_not(None),
                                                  TdealRedemption.cancelled_at.is_(None))
    return db.scalar(select(TdealCouponIssue).where(
        TdealCouponIssue.coupon_id == coupon.id, TdealCouponIssue.subscriber_id == subscriber.id,
        TdealCouponIssue.id.not_in(used)).order_by(TdealCouponIssue.id).limit(1))


def redeem(db: Session, *, coupon_id: int, data: RedeemIn, now: datetime | None = None
           ) -> tuple[TdealRedemption, bool]:
    """Redeem a coupon for one order at one merchant. The redemption uses one of the subscriber's issued
    coupons, or issues one at checkout when the wallet holds none (within the quantity and the
    subscriber's limit). The coupon row is locked, so neither is ever exceeded by concurrent requests.
    Returns the redemption and whether it is new (a retry with the same ``client_id`` returns the first
    one)."""
    now = now or utcnow()
    coupon = _locked_coupon(db, coupon_id)
    if data.client_id:
        done = db.scalar(select(TdealRedemption).where(TdealRedemption.coupon_id == coupon.id,
                                                        TdealRedemption.client_id == data.client_id))
        if done is not None:
            if (done.subscriber_id, done.order_amount_krw, done.merchant_id) != (
                    data.subscriber_id, data.order_amount, data.merchant_id):
                raise _refusal(Conflict, "client_id_reused", ["client_id"],
                               "client_id {client_id} was already used for another redemption",
                               client_id=data.client_id)
            return done, False
    subscriber = _subscriber_for(db, data.subscriber_id)
    merchant = _merchant_for_redemption(db, coupon=coupon, merchant_id=data.merchant_id)
    _check_validity(coupon, now)
    if data.order_amount < coupon.min_order_krw:
        raise _refusal(InvalidInput, "below_minimum", ["order_amount"],
                       "The order is below the coupon's minimum of {minimum} won", minimum=coupon.min_order_krw)
    issued = _unused_issue(db, coupon=coupon, subscriber=subscriber)
    if issued is None:
        issued = _new_issue(db, coupon=coupon, subscriber=subscriber, client_id=None, now=now, at_checkout=True)
    redemption = TdealRedemption(municipality_id=coupon.municipality_id, coupon_id=coupon.id,
                                 subscriber_id=subscriber.id, merchant_id=merchant.id, issue_id=issued.id,
                                 order_ref=data.order_ref, client_id=data.client_id,
                                 order_amount_krw=data.order_amount,
                                 discount_krw=discount_for(coupon, data.order_amount), redeemed_at=now)
    coupon.redeemed_count = coupon.redeemed_count + 1
    db.add(redemption)
    db.flush()
    return redemption, True


def get_redemption(db: Session, *, redemption_id: int) -> TdealRedemption:
    return one_or_404(db, TdealRedemption, redemption_id, "Redemption {id} not found")


def cancel_redemption(db: Session, *, redemption_id: int, data: RedemptionCancelIn,
                      now: datetime | None = None) -> TdealRedemption:
    """Cancel a redemption (the order was refunded), undoing exactly what it did: the subscriber's limit
    and the coupon's stock (``remaining``) grow by one again; a coupon issued at checkout is taken back
    (``issued_count`` too), a wallet coupon goes back to the wallet. The row stays, marked cancelled with
    who, when and why; the audit trail records both changes. Cancelling twice is 409."""
    redemption = get_redemption(db, redemption_id=redemption_id)
    coupon = _locked_coupon(db, redemption.coupon_id)
    db.refresh(redemption, with_for_update=True)
    if redemption.cancelled_at is not None:
        raise Conflict("Redemption {id} was already cancelled", id=redemption.id)
    issued = db.get(TdealCouponIssue, redemption.issue_id) if redemption.issue_id else None
    redemption.cancelled_at = now or utcnow()
    redemption.cancelled_by = audit.actor(db)
    redemption.cancel_reason = data.cancel_reason
    coupon.redeemed_count = coupon.redeemed_count - 1
    if issued is not None and issued.at_checkout:
        redemption.issue_id = None
        db.flush()  # the redemption lets go of the issue before the issue goes
        db.delete(issued)
        coupon.issued_count = coupon.issued_count - 1
    db.flush()
    return redemption


def list_redemptions(db: Session, *, coupon: TdealCoupon, page: PageParams) -> tuple[list[TdealRedemption], int]:
    stmt = select(TdealRedemption).where(TdealRedemption.coupon_id == coupon.id).order_by(TdealRedemption.id.desc())
    return paginate(db, stmt, page)


# --- events ----------------------------------------------------------------------------------

def list_events(db: Session, *, page: PageParams, subscriber_id: int | None = None, product_id: int | None = None,
                kind: str | None = None) -> tuple[list[TdealEvent], int]:
    stmt = select(TdealEvent).order_by(TdealEvent.occurred_at.desc(), TdealEvent.id.desc())
    if subscriber_id:
        stmt = stmt.where(TdealEvent.subscriber_id == subscriber_id)
    if product_id:
        stmt = stmt.where(TdealEvent.product_id == product_id)
    if kind:
        stmt = stmt.where(TdealEvent.kind == kind)
    return paginate(db, stmt, page)


# --- batch imports ---------------------------------------------------------------------------

def validate_rows(schema: type[BaseModel], rows: list[Any]) -> tuple[list[Any], list[dict[str, Any]]]:
    """Validate every row; errors name ``["rows", i, field]``."""
    if len(rows) > MAX_BATCH:
        raise InvalidInput.field("rows", "At most {n} rows per batch", n=MAX_BATCH)
    if not rows:
        raise InvalidInput.field("rows", "The batch is empty")
    adapter = TypeAdapter(schema)
    parsed, errors = [], []
    for i, row in enumerate(rows):
        try:
            parsed.append(adapter.validate_python(row))
        except ValidationError as exc:
            parsed.append(None)
            for err in exc.errors():
                loc = ["rows", i, *[p for p in err["loc"]]]
                template, params = error_template(dict(err))
                errors.append({"loc": loc, "msg": str(err["msg"]).removeprefix("Value error, "),
                               "type": err["type"], "template": template, "params": params})
    return parsed, errors


def _refuse(errors: list[dict[str, Any]]) -> None:
    if errors:
        bad = len({e["loc"][1] for e in errors if len(e["loc"]) > 1})
        raise InvalidInput("{n} row is invalid; nothing was saved",
                           plural="{n} rows are invalid; nothing was saved", n=bad, errors=errors)


def _duplicates(keys: list[Any], field: str) -> list[dict[str, Any]]:
    seen: dict[Any, int] = {}
    errors = []
    for i, key in enumerate(keys):
        if key is None:
            continue
        if key in seen:
            errors.append(field_error(["rows", i, field], "Duplicate of row {j} in this batch", j=seen[key]))
        else:
            seen[key] = i
    return errors


def _municipality_ids(db: Session, codes: set[str]) -> dict[str, int]:
    from app.platform.models import Municipality  # read through the scoped session

    if not codes:
        return {}
    return dict(db.execute(select(Municipality.code, Municipality.id).where(Municipality.code.in_(codes))).all())


def _default_mid(db: Session) -> int | None:
    principal = principal_of(db)
    return principal.municipality_id if principal else None


def import_merchants(db: Session, *, rows: list[Any]) -> dict[str, int]:
    parsed, errors = validate_rows(MerchantIn, rows)
    codes = _municipality_ids(db, {p.municipality_code for p in parsed if p and p.municipality_code})
    default = _default_mid(db)
    targets: list[tuple[int, str] | None] = []
    for i, p in enumerate(parsed):
        if p is None:
            targets.append(None)
            continue
        mid = codes.get(p.municipality_code) if p.municipality_code else default
        if mid is None:
            errors.append(field_error(["rows", i, "municipality_code"], "Unknown municipality code {code}",
                                      code=p.municipality_code or ""))
            targets.append(None)
        else:
            targets.append((mid, p.brn))
    errors += _duplicates(targets, "brn")
    _refuse(errors)
    existing = {(m.municipality_id, m.brn): m for m in db.scalars(
        select(TdealMerchant).where(TdealMerchant.brn.in_({p.brn for p in parsed})))}
    new_rows, updated = [], 0
    now = utcnow()
    for p, key in zip(parsed, targets, strict=True):
        found = existing.get(key)
        if found is not None:
            if (found.name, found.category, found.is_small) != (p.name, p.category, p.is_small):
                found.name, found.category, found.is_small = p.name, p.category, p.is_small
                updated += 1
        else:
            new_rows.append({"municipality_id": key[0], "brn": p.brn, "name": p.name, "category": p.category,
                             "is_small": p.is_small, "created_at": now})
    if new_rows:
        insert_rows(db, TdealMerchant.__table__, new_rows)
    db.flush()
    result = {"received": len(parsed), "created": len(new_rows), "updated": updated,
              "unchanged": len(parsed) - len(new_rows) - updated}
    audit.record(db, action="import", object_type="tdeal_merchant", object_id="batch",
                 municipality_id=default, after=result)
    return result


def import_products(db: Session, *, rows: list[Any]) -> dict[str, int]:
    parsed, errors = validate_rows(ProductIn, rows)
    ids = {p.merchant_id for p in parsed if p and p.merchant_id}
    brns = {p.merchant_brn for p in parsed if p and p.merchant_brn}
    merchants = list(db.scalars(select(TdealMerchant).where(or_(TdealMerchant.id.in_(ids or {-1}),
                                                                 TdealMerchant.brn.in_(brns or {""})))))
    by_id = {m.id: m for m in merchants}
    by_brn: dict[str, list[TdealMerchant]] = {}
    for m in merchants:
        by_brn.setdefault(m.brn, []).append(m)
    keys: list[tuple[int, str] | None] = []
    resolved: list[TdealMerchant | None] = []
    for i, p in enumerate(parsed):
        merchant = None
        if p is not None:
            if p.merchant_id is not None:
                merchant = by_id.get(p.merchant_id)
                if merchant is None:
                    errors.append(field_error(["rows", i, "merchant_id"], "Unknown merchant {id}", id=p.merchant_id))
            else:
                found = by_brn.get(p.merchant_brn or "", [])
                merchant = found[0] if len(found) == 1 else None
                if merchant is None:
                    errors.append(field_error(["rows", i, "merchant_brn"], "Unknown merchant {brn}",
                                              brn=p.merchant_brn))
        resolved.append(merchant)
        keys.append((merchant.id, p.sku) if merchant and p else None)
    errors += _duplicates(keys, "sku")
    _refuse(errors)
    mids = {k[0] for k in keys if k}
    existing = {(x.merchant_id, x.sku): x for x in db.scalars(
        select(TdealProduct).where(TdealProduct.merchant_id.in_(mids)))}
    new_rows, updated, now = [], 0, utcnow()
    for p, merchant, key in zip(parsed, resolved, keys, strict=True):
        found = existing.get(key)
        values = {"name": p.name, "category": p.category, "price_krw": p.price_krw, "stock": p.stock}
        if found is not None:
            if any(getattr(found, k) != v for k, v in values.items()):
                _apply_dict(found, values)
                updated += 1
        else:
            new_rows.append({"municipality_id": merchant.municipality_id, "merchant_id": merchant.id, "sku": p.sku,
                             "created_at": now, **values})
    if new_rows:
        insert_rows(db, TdealProduct.__table__, new_rows)
    db.flush()
    result = {"received": len(parsed), "created": len(new_rows), "updated": updated,
              "unchanged": len(parsed) - len(new_rows) - updated}
    audit.record(db, action="import", object_type="tdeal_product", object_id="batch",
                 municipality_id=_default_mid(db), after=result)
    return result


def _apply_dict(obj: Any, values: dict[str, Any]) -> None:
    for k, v in values.items():
        setattr(obj, k, v)


def import_subscribers(db: Session, *, rows: list[Any]) -> dict[str, int]:
    parsed, errors = validate_rows(SubscriberIn, rows)
    codes = _municipality_ids(db, {p.home_municipality_code for p in parsed if p and p.home_municipality_code})
    default = _default_mid(db)
    keys: list[tuple[int, str] | None] = []
    for i, p in enumerate(parsed):
        if p is None:
            keys.append(None)
            continue
        mid = codes.get(p.home_municipality_code) if p.home_municipality_code else default
        if mid is None:
            errors.append(field_error(["rows", i, "home_municipality_code"], "Unknown municipality code {code}",
                                      code=p.home_municipality_code or ""))
        keys.append((mid, p.pseudonym) if mid else None)
    errors += _duplicates(keys, "pseudonym")
    _refuse(errors)
    existing = {(s.municipality_id, s.pseudonym): s for s in db.scalars(
        select(TdealSubscriber).where(TdealSubscriber.pseudonym.in_({p.pseudonym for p in parsed})))}
    new_rows, updated, now = [], 0, utcnow()
    for p, key in zip(parsed, keys, strict=True):
        values = {"age_band": p.age_band, "sex": p.sex, "marketing_opt_in": p.marketing_opt_in}
        found = existing.get(key)
        if found is not None:
            if any(getattr(found, k) != v for k, v in values.items()):
                _apply_dict(found, values)
                updated += 1
        else:
            new_rows.append({"municipality_id": key[0], "pseudonym": p.pseudonym, "created_at": now, **values})
    if new_rows:
        insert_rows(db, TdealSubscriber.__table__, new_rows)
    db.flush()
    result = {"received": len(parsed), "created": len(new_rows), "updated": updated,
              "unchanged": len(parsed) - len(new_rows) - updated}
    audit.record(db, action="import", object_type="tdeal_subscriber", object_id="batch",
                 municipality_id=default, after=result)
    return result


def import_events(db: Session, *, rows: list[Any]) -> dict[str, int]:
    """Store interaction events; a retried batch (same ``client_id``s) stores nothing twice."""
    parsed, errors = validate_rows(EventIn, rows)
    good = [p for p in parsed if p]
    subs = set(db.scalars(select(TdealSubscriber.id).where(
        TdealSubscriber.id.in_({p.subscriber_id for p in good} or {-1}))))
    products = {pid: (mid, muni) for pid, mid, muni in db.execute(
        select(TdealProduct.id, TdealProduct.merchant_id, TdealProduct.municipality_id)
        .where(TdealProduct.id.in_({p.product_id for p in good} or {-1}))).all()}
    coupons = set(db.scalars(select(TdealCoupon.id).where(
        TdealCoupon.id.in_({p.coupon_id for p in good if p.coupon_id} or {-1}))))
    keys: list[tuple[int, str] | None] = []
    for i, p in enumerate(parsed):
        if p is None:
            keys.append(None)
            continue
        if p.subscriber_id not in subs:
            errors.append(field_error(["rows", i, "subscriber_id"], "Unknown subscriber {id}", id=p.subscriber_id))
        if p.product_id not in products:
            errors.append(field_error(["rows", i, "product_id"], "Unknown product {id}", id=p.product_id))
        if p.coupon_id is not None and p.coupon_id not in coupons:
            errors.append(field_error(["rows", i, "coupon_id"], "Unknown coupon {id}", id=p.coupon_id))
        keys.append((products[p.product_id][1], p.client_id) if p.product_id in products else None)
    errors += _duplicates(keys, "client_id")
    _refuse(errors)
    out = [{"municipality_id": products[p.product_id][1], "merchant_id": products[p.product_id][0],
            "client_id": p.client_id, "subscriber_id": p.subscriber_id, "product_id": p.product_id,
            "kind": p.kind, "amount_krw": p.amount_krw, "coupon_id": p.coupon_id, "occurred_at": p.occurred_at}
           for p in parsed]
    seen = set(db.execute(select(TdealEvent.municipality_id, TdealEvent.client_id).where(
        among(db, TdealEvent.client_id, {r["client_id"] for r in out}))).all())
    fresh = [r for r in out if (r["municipality_id"], r["client_id"]) not in seen]
    if fresh:
        insert_rows(db, TdealEvent.__table__, fresh, conflict=["municipality_id", "client_id"])
        count_ingested(db, module="skt.tdeal", kind="events", n=len(fresh))
    created = len(fresh)
    result = {"received": len(out), "created": created, "updated": 0, "unchanged": len(out) - created}
    audit.record(db, action="import", object_type="tdeal_event", object_id="batch",
                 municipality_id=_default_mid(db), after=result)
    return result


IMPORTERS = {"merchants": import_merchants, "products": import_products, "subscribers": import_subscribers,
             "events": import_events}


# --- small figures for pages -----------------------------------------------------------------

def catalogue_counts(db: Session) -> dict[str, Any]:
    def count(model: Any, *where: Any) -> int:
        return db.scalar(select(func.count()).select_from(model).where(*where)) or 0

    by_category = db.execute(select(TdealMerchant.category, func.count()).group_by(TdealMerchant.category)
                             .order_by(func.count().desc())).all()
    return {"merchants": count(TdealMerchant), "small": count(TdealMerchant, TdealMerchant.is_small.is_(True)),
            "products": count(TdealProduct), "subscribers": count(TdealSubscriber),
            "opted_in": count(TdealSubscriber, TdealSubscriber.marketing_opt_in.is_(True)),
            "events": count(TdealEvent), "by_category": [{"category": c, "merchants": n} for c, n in by_category]}

