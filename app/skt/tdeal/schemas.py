"""Request and response bodies of T deal."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints, field_validator, model_validator

from app.core.brn import brn_is_valid, format_brn, normalise_brn  # noqa: F401 - re-exported
from app.core.schemas import Id, InputModel, MunicipalityCode, OutputModel, ShortText, UpdateModel, UtcDateTime

AgeBand = Literal["10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70+"]
Sex = Literal["M", "F"]
EventKind = Literal["view", "click", "purchase", "redeem"]
Category = Annotated[str, StringConstraints(min_length=1, max_length=40)]
Brn = Annotated[str, StringConstraints(pattern=r"^\d{3}-?\d{2}-?\d{5}$")]
ClientId = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9._:\-]+$")]
Won = Annotated[int, Field(ge=0, le=10_000_000_000)]
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)


def in_range(value: date) -> None:
    if not EARLIEST <= value <= LATEST:
        raise ValueError("Dates must lie between 2000 and 2100")


# --- merchants -------------------------------------------------------------------------------

class MerchantIn(InputModel):
    db_table = "tdeal_merchant"
    brn: Brn
    name: ShortText
    category: Category
    is_small: bool = True
    municipality_code: MunicipalityCode | None = None

    @field_validator("brn")
    @classmethod
    def _brn(cls, v: str) -> str:
        return normalise_brn(v)


class MerchantUpdate(UpdateModel):
    db_table = "tdeal_merchant"
    name: ShortText | None = None
    category: Category | None = None
    is_small: bool | None = None


class MerchantOut(OutputModel):
    id: int
    brn: str
    name: str
    category: str
    is_small: bool
    municipality_id: int


# --- products --------------------------------------------------------------------------------

class ProductIn(InputModel):
    db_table = "tdeal_product"
    merchant_id: Id | None = None
    merchant_brn: Brn | None = None
    sku: Annotated[str, StringConstraints(min_length=1, max_length=60)]
    name: ShortText
    category: Category
    price_krw: Won
    stock: Annotated[int, Field(ge=0, le=10_000_000)] = 0

    @field_validator("merchant_brn")
    @classmethod
    def _brn(cls, v: str | None) -> str | None:
        return normalise_brn(v) if v else v

    @model_validator(mode="after")
    def _one_merchant(self) -> ProductIn:
        if (self.merchant_id is None) == (self.merchant_brn is None):
            raise ValueError("Give exactly one of merchant_id and merchant_brn")
        return self


class ProductUpdate(UpdateModel):
    db_table = "tdeal_product"
    name: ShortText | None = None
    category: Category | None = None
    price_krw: Won | None = None
    stock: Annotated[int, Field(ge=0, le=10_000_000)] | None = None


class ProductOut(OutputModel):
    id: int
    merchant_id: int
    sku: str
    name: str
    category: str
    price_krw: int
    stock: int
    municipality_id: int


# --- campaigns -------------------------------------------------------------------------------

class CampaignIn(InputModel):
    db_table = "tdeal_campaign"
    name: ShortText
    start_date: date
    end_date: date
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    municipality_code: MunicipalityCode | None = None
    merchant_ids: list[Id] = Field(default_factory=list, max_length=5000)

    @model_validator(mode="after")
    def _dates(self) -> CampaignIn:
        in_range(self.start_date)
        in_range(self.end_date)
        if self.end_date < self.start_date:
            raise ValueError("end_date must not be before start_date")
        return self


class CampaignUpdate(UpdateModel):
    """A campaign's name, period, description and (when given) its whole list of participants."""

    db_table = "tdeal_campaign"

    name: ShortText
    start_date: date
    end_date: date
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    merchant_ids: list[Id] | None = Field(default=None, max_length=5000)

    @model_validator(mode="after")
    def _dates(self) -> CampaignUpdate:
        in_range(self.start_date)
        in_range(self.end_date)
        if self.end_date < self.start_date:
            raise ValueError("end_date must not be before start_date")
        return self


class CampaignMerchantsIn(InputModel):
    db_table = None
    merchant_ids: list[Id] = Field(min_length=1, max_length=5000)


class CampaignOut(OutputModel):
    id: int
    name: str
    start_date: date
    end_date: date
    description: str
    municipality_id: int
    merchant_count: int = 0


# --- coupons ---------------------------------------------------------------------------------

DiscountKind = Literal["fixed", "percent"]
DiscountValue = Annotated[int, Field(ge=1, le=100_000_000)]
Quantity = Annotated[int, Field(ge=0, le=10_000_000)]
PerSubscriber = Annotated[int, Field(ge=1, le=1000)]


class CouponIn(InputModel):
    db_table = "tdeal_coupon"
    campaign_id: Id | None = None
    code: Annotated[str, StringConstraints(min_length=2, max_length=40, pattern=r"^[A-Za-z0-9_\-]+$")]
    name: ShortText
    discount_kind: DiscountKind
    discount_value: DiscountValue
    max_discount_krw: Won | None = None
    min_order_krw: Won = 0
    total_quantity: Quantity
    per_subscriber_limit: PerSubscriber = 1
    valid_from_at: AwareDatetime
    valid_until_at: AwareDatetime
    municipality_code: MunicipalityCode | None = None

    @model_validator(mode="after")
    def _rules(self) -> CouponIn:
        in_range(self.valid_from_at.date())
        in_range(self.valid_until_at.date())
        if self.valid_until_at <= self.valid_from_at:
            raise ValueError("valid_until_at must be after valid_from_at")
        if self.discount_kind == "percent" and self.discount_value > 100:
            raise ValueError("A percent discount is at most 100")
        return self


class CouponOut(OutputModel):
    id: int
    campaign_id: int | None
    code: str
    name: str
    discount_kind: str
    discount_value: int
    max_discount_krw: int | None
    min_order_krw: int
    total_quantity: int
    per_subscriber_limit: int
    valid_from_at: UtcDateTime
    valid_until_at: UtcDateTime
    issued_count: int = Field(description="Coupons issued to subscribers (at most total_quantity)")
    redeemed_count: int
    remaining: int
    municipality_id: int


OrderRef = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9._:/#\-]+$")]


class IssueIn(InputModel):
    db_table = "tdeal_coupon_issue"
    subscriber_id: Id
    client_id: ClientId | None = Field(None, description="Your id for the issue: a retry with the same id "
                                                         "issues nothing new")


class IssueOut(OutputModel):
    id: int
    coupon_id: int
    subscriber_id: int
    issued_at: UtcDateTime
    client_id: str | None
    at_checkout: bool = Field(description="Issued by a redemption, no wallet coupon being there")


class RedeemIn(InputModel):
    db_table = "tdeal_redemption"
    subscriber_id: Id
    merchant_id: Id = Field(description="The merchant where the order was placed (a participant of the "
                                        "coupon's campaign)")
    order_ref: OrderRef | None = Field(None, description="The merchant's reference of the order")
    order_amount: Won
    client_id: ClientId | None = None


class RedemptionCancelIn(InputModel):
    db_table = "tdeal_redemption"
    cancel_reason: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="Why the redemption is cancelled (order refunded, entered by mistake, ...)")


class RedemptionOut(OutputModel):
    id: int
    coupon_id: int
    subscriber_id: int
    merchant_id: int | None
    order_ref: str | None
    order_amount_krw: int
    discount_krw: int
    pay_krw: int
    redeemed_at: UtcDateTime
    client_id: str | None
    status: Literal["redeemed", "cancelled"]
    cancelled_at: UtcDateTime | None
    cancelled_by: str | None
    cancel_reason: str | None


# --- subscribers -----------------------------------------------------------------------------

class SubscriberIn(InputModel):
    db_table = "tdeal_subscriber"
    pseudonym: Annotated[str, StringConstraints(min_length=4, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]
    age_band: AgeBand
    sex: Sex
    home_municipality_code: MunicipalityCode | None = None
    marketing_opt_in: bool = False


class SubscriberUpdate(UpdateModel):
    db_table = "tdeal_subscriber"
    age_band: AgeBand | None = None
    sex: Sex | None = None
    marketing_opt_in: bool | None = None


class SubscriberOut(OutputModel):
    id: int
    pseudonym: str
    age_band: str
    sex: str
    marketing_opt_in: bool
    municipality_id: int


# --- events ----------------------------------------------------------------------------------

class EventIn(InputModel):
    db_table = "tdeal_event"
    client_id: ClientId
    subscriber_id: Id
    product_id: Id
    kind: EventKind
    amount_krw: Won = 0
    coupon_id: Id | None = None
    occurred_at: AwareDatetime

    @model_validator(mode="after")
    def _amount(self) -> EventIn:
        in_range(self.occurred_at.date())
        if self.kind == "purchase" and self.amount_krw <= 0:
            raise ValueError("A purchase needs a positive amount_krw")
        return self


class EventOut(OutputModel):
    id: int
    client_id: str
    subscriber_id: int
    product_id: int
    merchant_id: int
    kind: str
    amount_krw: int
    coupon_id: int | None
    occurred_at: UtcDateTime


class BatchResult(OutputModel):
    received: int
    created: int
    updated: int = 0
    unchanged: int = 0


# --- recommendations -------------------------------------------------------------------------

class RecommendationOut(OutputModel):
    product_id: int
    merchant_id: int
    score: float
    reason: str


class RecommendationsOut(OutputModel):
    subscriber_id: int
    model_id: int | None
    source: Literal["model", "segment_popularity"]
    campaign_id: int | None
    items: list[RecommendationOut]


class TrainIn(InputModel):
    db_table = None
    municipality_code: MunicipalityCode | None = None
    factors: int = Field(default=32, ge=2, le=256)
    iterations: int = Field(default=15, ge=1, le=100)
    regularization: float = Field(default=0.05, ge=0, le=10)


class ModelOut(OutputModel):
    id: int
    algorithm: str
    params: dict
    metrics: dict
    n_subscribers: int
    n_products: int
    n_events: int
    trained_at: UtcDateTime
    municipality_id: int

