"""REST API of T deal under /api/v1/skt/tdeal."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from app.core.deps import SessionDep
from app.core.jobs import job_out, queue_for
from app.core.pagination import Page, PageDep
from app.core.schemas import Id, JobOut
from app.platform.auth import OptionalPrincipal
from app.skt.tdeal import duties, recommend, report, service
from app.skt.tdeal.deps import (
    BATCH_DOC,
    BatchRows,
    CampaignDep,
    CouponDep,
    MerchantDep,
    ProductDep,
    SubscriberDep,
)
from app.skt.tdeal.models import TdealCoupon, TdealCouponIssue, TdealRedemption
from app.skt.tdeal.schemas import (
    BatchResult,
    CampaignIn,
    CampaignMerchantsIn,
    CampaignOut,
    CampaignUpdate,
    CouponIn,
    CouponOut,
    EventOut,
    IssueIn,
    IssueOut,
    MerchantIn,
    MerchantOut,
    MerchantUpdate,
    ModelOut,
    ProductIn,
    ProductOut,
    ProductUpdate,
    RecommendationsOut,
    RedeemIn,
    RedemptionCancelIn,
    RedemptionOut,
    SubscriberIn,
    SubscriberOut,
    SubscriberUpdate,
    TrainIn,
)

router = APIRouter()
Text = Annotated[str | None, Query(max_length=100)]


def _page(items: list[Any], total: int, page: Any) -> Page:
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


def coupon_out(c: TdealCoupon) -> CouponOut:
    return CouponOut.model_validate({**{k: getattr(c, k) for k in CouponOut.model_fields if k != "remaining"},
                                     "remaining": c.total_quantity - c.redeemed_count})


def redemption_out(r: TdealRedemption) -> RedemptionOut:
    return RedemptionOut(id=r.id, coupon_id=r.coupon_id, subscriber_id=r.subscriber_id, merchant_id=r.merchant_id,
                         order_ref=r.order_ref, order_amount_krw=r.order_amount_krw, discount_krw=r.discount_krw,
                         pay_krw=r.order_amount_krw - r.discount_krw, redeemed_at=r.redeemed_at, client_id=r.client_id,
                         status="cancelled" if r.cancelled_at else "redeemed", cancelled_at=r.cancelled_at,
                         cancelled_by=r.cancelled_by, cancel_reason=r.cancel_reason)


def issue_out(i: TdealCouponIssue) -> IssueOut:
    return IssueOut(id=i.id, coupon_id=i.coupon_id, subscriber_id=i.subscriber_id, issued_at=i.issued_at,
                    client_id=i.client_id, at_checkout=i.at_checkout)


# --- merchants -------------------------------------------------------------------------------

@router.get("/merchants", response_model=Page[MerchantOut], tags=["tdeal"])
def list_merchants(db: SessionDep, page: PageDep, q: Text = None,
                   category: Annotated[str | None, Query(max_length=40)] = None, small: bool | None = None):
    items, total = service.list_merchants(db, page=page, q=q, category=category, small=small)
    return _page([MerchantOut.model_validate(m) for m in items], total, page)


@router.post("/merchants", status_code=201, response_model=MerchantOut, tags=["tdeal"])
def create_merchant(data: MerchantIn, db: SessionDep):
    return MerchantOut.model_validate(service.create_merchant(db, data=data))


@router.post("/merchants/batch", response_model=BatchResult, tags=["tdeal"], openapi_extra=BATCH_DOC)
def import_merchants(rows: BatchRows, db: SessionDep):
    """Create or update merchants by business registration number; a bad row refuses the whole batch."""
    return service.import_merchants(db, rows=rows)


@router.get("/merchants/{merchant_id}", response_model=MerchantOut, tags=["tdeal"])
def get_merchant(merchant: MerchantDep):
    return MerchantOut.model_validate(merchant)


@router.patch("/merchants/{merchant_id}", response_model=MerchantOut, tags=["tdeal"])
def update_merchant(merchant: MerchantDep, data: MerchantUpdate, db: SessionDep):
    return MerchantOut.model_validate(service.update_merchant(db, merchant=merchant, data=data))


# --- products --------------------------------------------------------------------------------

@router.get("/products", response_model=Page[ProductOut], tags=["tdeal"])
def list_products(db: SessionDep, page: PageDep, merchant_id: Id | None = None,
                  category: Annotated[str | None, Query(max_length=40)] = None, q: Text = None):
    items, total = service.list_products(db, page=page, merchant_id=merchant_id, category=category, q=q)
    return _page([ProductOut.model_validate(p) for p in items], total, page)


@router.post("/products", status_code=201, response_model=ProductOut, tags=["tdeal"])
def create_product(data: ProductIn, db: SessionDep):
    return ProductOut.model_validate(service.create_product(db, data=data))


@router.post("/products/batch", response_model=BatchResult, tags=["tdeal"], openapi_extra=BATCH_DOC)
def import_products(rows: BatchRows, db: SessionDep):
    """Create or update products by (merchant, SKU); a bad row refuses the whole batch."""
    return service.import_products(db, rows=rows)


@router.get("/products/{product_id}", response_model=ProductOut, tags=["tdeal"])
def get_product(product: ProductDep):
    return ProductOut.model_validate(product)


@router.patch("/products/{product_id}", response_model=ProductOut, tags=["tdeal"])
def update_product(product: ProductDep, data: ProductUpdate, db: SessionDep):
    return ProductOut.model_validate(service.update_product(db, product=product, data=data))


# --- campaigns -------------------------------------------------------------------------------

def _campaign_out(c: Any, count: int) -> CampaignOut:
    return CampaignOut(id=c.id, name=c.name, start_date=c.start_date, end_date=c.end_date,
                       description=c.description, municipality_id=c.municipality_id, merchant_count=count)


@router.get("/campaigns", response_model=Page[CampaignOut], tags=["tdeal"])
def list_campaigns(db: SessionDep, page: PageDep, active_on: date | None = None):
    items, total = service.list_campaigns(db, page=page, active_on=active_on)
    counts = service.merchant_counts(db, campaign_ids=[c.id for c in items])
    return _page([_campaign_out(c, counts.get(c.id, 0)) for c in items], total, page)


@router.post("/campaigns", status_code=201, response_model=CampaignOut, tags=["tdeal"])
def create_campaign(data: CampaignIn, db: SessionDep):
    campaign = service.create_campaign(db, data=data)
    return _campaign_out(campaign, len(set(data.merchant_ids)))


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut, tags=["tdeal"])
def get_campaign(campaign: CampaignDep, db: SessionDep):
    return _campaign_out(campaign, service.merchant_counts(db, campaign_ids=[campaign.id]).get(campaign.id, 0))


@router.patch("/campaigns/{campaign_id}", response_model=CampaignOut, tags=["tdeal"])
def update_campaign(campaign: CampaignDep, data: CampaignUpdate, db: SessionDep):
    """Change name, period and description; ``merchant_ids``, when given, replaces the participants."""
    service.update_campaign(db, campaign=campaign, data=data)
    return _campaign_out(campaign, service.merchant_counts(db, campaign_ids=[campaign.id]).get(campaign.id, 0))


@router.post("/campaigns/{campaign_id}/merchants", response_model=CampaignOut, tags=["tdeal"])
def add_campaign_merchants(campaign: CampaignDep, data: CampaignMerchantsIn, db: SessionDep):
    """Add participating merchants (of the campaign's region); repeating one is harmless."""
    service.add_participants(db, campaign=campaign, merchant_ids=data.merchant_ids)
    return _campaign_out(campaign, service.merchant_counts(db, campaign_ids=[campaign.id]).get(campaign.id, 0))


@router.get("/campaigns/{campaign_id}/report", tags=["tdeal"])
def campaign_report(campaign: CampaignDep, db: SessionDep, today: date | None = None) -> dict[str, Any]:
    """Sales of participants during the campaign vs the same length before, against non-participants
    (difference in differences, 95% interval), coupon use, sales by merchant and city."""
    return report.campaign_report(db, campaign=campaign, today=today)


# --- coupons ---------------------------------------------------------------------------------

@router.get("/coupons", response_model=Page[CouponOut], tags=["tdeal"])
def list_coupons(db: SessionDep, page: PageDep, campaign_id: Id | None = None):
    items, total = service.list_coupons(db, page=page, campaign_id=campaign_id)
    return _page([coupon_out(c) for c in items], total, page)


@router.post("/coupons", status_code=201, response_model=CouponOut, tags=["tdeal"])
def create_coupon(data: CouponIn, db: SessionDep):
    return coupon_out(service.create_coupon(db, data=data))


@router.get("/coupons/{coupon_id}", response_model=CouponOut, tags=["tdeal"])
def get_coupon(coupon: CouponDep):
    return coupon_out(coupon)


@router.post("/coupons/{coupon_id}/issues", status_code=201, response_model=IssueOut, tags=["tdeal"],
             responses={409: {"description": "sold out, limit reached, expired or not yet valid"}})
def issue_coupon(coupon_id: Id, data: IssueIn, db: SessionDep, response: Response):
    """Issue the coupon to a subscriber (into the wallet). A retry with the same ``client_id`` answers the
    first issue again (200)."""
    issued, created = service.issue(db, coupon_id=coupon_id, data=data)
    return _first_or_again(response, created, issue_out(issued))


def _first_or_again(response: Response, created: bool, body):
    """A retried write (the same ``client_id``) answers what the first one made, with 200 instead of 201."""
    if not created:
        response.status_code = 200
    return body


@router.get("/coupons/{coupon_id}/issues", response_model=Page[IssueOut], tags=["tdeal"])
def list_issues(coupon: CouponDep, db: SessionDep, page: PageDep):
    items, total = service.list_issues(db, coupon=coupon, page=page)
    return _page([issue_out(i) for i in items], total, page)


@router.post("/coupons/{coupon_id}/redeem", status_code=201, response_model=RedemptionOut, tags=["tdeal"],
             responses={409: {"description": "sold out, limit reached, expired or not yet valid"},
                        422: {"description": "below the minimum order, unknown or non-participating merchant"}})
def redeem_coupon(coupon_id: Id, data: RedeemIn, db: SessionDep, _: OptionalPrincipal, response: Response):
    """Redeem a coupon for one order; safe under concurrent requests. A retry with the same ``client_id``
    answers the first redemption again (200)."""
    redemption, created = service.redeem(db, coupon_id=coupon_id, data=data)
    return _first_or_again(response, created, redemption_out(redemption))


@router.get("/coupons/{coupon_id}/redemptions", response_model=Page[RedemptionOut], tags=["tdeal"])
def list_redemptions(coupon: CouponDep, db: SessionDep, page: PageDep):
    items, total = service.list_redemptions(db, coupon=coupon, page=page)
    return _page([redemption_out(r) for r in items], total, page)


@router.post("/redemptions/{redemption_id}/cancel", response_model=RedemptionOut, tags=["tdeal"],
             responses={409: {"description": "already cancelled"}})
def cancel_redemption(redemption_id: Id, data: RedemptionCancelIn, db: SessionDep):
    """Cancel a redemption (the order was refunded): the subscriber may use the coupon again and the
    coupon's stock grows by one. Audited; the redemption stays, marked cancelled."""
    return redemption_out(service.cancel_redemption(db, redemption_id=redemption_id, data=data))


# --- subscribers -----------------------------------------------------------------------------

@router.get("/subscribers", response_model=Page[SubscriberOut], tags=["tdeal"])
def list_subscribers(db: SessionDep, page: PageDep, age_band: Annotated[str | None, Query(max_length=8)] = None,
                     opted_in: bool | None = None):
    items, total = service.list_subscribers(db, page=page, age_band=age_band, opted_in=opted_in)
    return _page([SubscriberOut.model_validate(s) for s in items], total, page)


@router.post("/subscribers", status_code=201, response_model=SubscriberOut, tags=["tdeal"])
def create_subscriber(data: SubscriberIn, db: SessionDep):
    return SubscriberOut.model_validate(service.create_subscriber(db, data=data))


@router.post("/subscribers/batch", response_model=BatchResult, tags=["tdeal"], openapi_extra=BATCH_DOC)
def import_subscribers(rows: BatchRows, db: SessionDep):
    return service.import_subscribers(db, rows=rows)


@router.get("/subscribers/{subscriber_id}", response_model=SubscriberOut, tags=["tdeal"])
def get_subscriber(subscriber: SubscriberDep):
    return SubscriberOut.model_validate(subscriber)


@router.patch("/subscribers/{subscriber_id}", response_model=SubscriberOut, tags=["tdeal"])
def update_subscriber(subscriber: SubscriberDep, data: SubscriberUpdate, db: SessionDep):
    return SubscriberOut.model_validate(service.update_subscriber(db, subscriber=subscriber, data=data))


# --- events ----------------------------------------------------------------------------------

@router.get("/events", response_model=Page[EventOut], tags=["tdeal"])
def list_events(db: SessionDep, page: PageDep, subscriber_id: Id | None = None,
                product_id: Id | None = None,
                kind: Annotated[str | None, Query(pattern="^(view|click|purchase|redeem)$")] = None):
    items, total = service.list_events(db, page=page, subscriber_id=subscriber_id, product_id=product_id, kind=kind)
    return _page([EventOut.model_validate(e) for e in items], total, page)


@router.post("/events", response_model=BatchResult, tags=["tdeal"], openapi_extra=BATCH_DOC)
def import_events(rows: BatchRows, db: SessionDep):
    """Store interaction events (JSON array or CSV); idempotent by ``client_id``: a retried batch stores
    nothing twice. A bad row refuses the whole batch with every bad row named."""
    return service.import_events(db, rows=rows)


# --- recommendations -------------------------------------------------------------------------

@router.get("/recommendations", response_model=RecommendationsOut, tags=["tdeal"])
def recommendations(db: SessionDep, subscriber_id: Id,
                    k: Annotated[int, Query(ge=1, le=50)] = 10,
                    campaign_id: Id | None = None):
    """Products for an opted-in subscriber: the trained model, or segment popularity for a new subscriber;
    re-ranked to favour the campaign's merchants with at most two items per merchant."""
    return recommend.recommend(db, subscriber_id=subscriber_id, k=k, campaign_id=campaign_id)


@router.get("/models", response_model=list[ModelOut], tags=["tdeal"])
def list_models(db: SessionDep):
    return [ModelOut.model_validate(m) for m in recommend.list_models(db)]


@router.post("/models", status_code=202, response_model=JobOut, tags=["tdeal"],
             responses={202: {"description": "Training queued; follow it at the `Location` URL"}})
def train_model(data: TrainIn, db: SessionDep, request: Request, response: Response):
    """Queue a training on the interactions of a municipality (and those under it): `dxhub worker` evaluates
    it on a time split and stores the model. Answers the job; its `result.model_id` names the model."""
    mid = service.target_municipality_id(db, code=data.municipality_code)
    job = duties.submit_training(db, queue=queue_for(request.app.state.settings), municipality_id=mid,
                                 params=data.model_dump())
    response.headers["Location"] = str(request.url_for("tdeal_training_job", job_id=job.id))
    return job_out(job)


@router.get("/models/training/{job_id}", name="tdeal_training_job", response_model=JobOut, tags=["tdeal"])
def training_job(job_id: Id, db: SessionDep):
    """A training job: its status and progress (`fraction`), and when it succeeded `result.model_id`."""
    return job_out(duties.get_training(db, job_id=job_id))
