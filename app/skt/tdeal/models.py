"""Tables of T deal: merchants, products, campaigns, coupons, subscribers, interactions, models."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, TenantScoped, utcnow

EVENT_KINDS = ("view", "click", "purchase", "redeem")
AGE_BANDS = ("10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70+")
SEXES = ("M", "F")
DISCOUNT_KINDS = ("fixed", "percent")


class TdealMerchant(TenantScoped, Base):
    """A store selling on T deal; the municipality is where it trades."""

    __tablename__ = "tdeal_merchant"

    id: Mapped[int] = mapped_column(primary_key=True)
    brn: Mapped[str] = mapped_column(String(10))  # business registration number, 10 digits
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(40), index=True)
    is_small: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("municipality_id", "brn"),)


class TdealProduct(TenantScoped, Base):
    __tablename__ = "tdeal_product"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("tdeal_merchant.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(40), index=True)
    price_krw: Mapped[int] = mapped_column(BigInteger)
    stock: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    merchant: Mapped[TdealMerchant] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("merchant_id", "sku"),
        CheckConstraint("price_krw >= 0", name="price_nonnegative"),
        CheckConstraint("stock >= 0", name="stock_nonnegative"),
    )


class TdealCampaign(TenantScoped, Base):
    """A promotion such as 경북세일페스타; its municipality is the region it runs in."""

    __tablename__ = "tdeal_campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("municipality_id", "name"),
        CheckConstraint("end_date >= start_date", name="dates"),
    )


class TdealCampaignMerchant(TenantScoped, Base):
    """A merchant taking part in a campaign (municipality: the merchant's)."""

    __tablename__ = "tdeal_campaign_merchant"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("tdeal_campaign.id", ondelete="CASCADE"), index=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("tdeal_merchant.id", ondelete="CASCADE"), index=True)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("campaign_id", "merchant_id"),)


class TdealCoupon(TenantScoped, Base):
    __tablename__ = "tdeal_coupon"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("tdeal_campaign.id", ondelete="RESTRICT"),
                                                    index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    discount_kind: Mapped[str] = mapped_column(String(10))
    discount_value: Mapped[int] = mapped_column(Integer)  # won, or percent
    max_discount_krw: Mapped[int | None] = mapped_column(BigInteger)
    min_order_krw: Mapped[int] = mapped_column(BigInteger, default=0)
    total_quantity: Mapped[int] = mapped_column(Integer)
    per_subscriber_limit: Mapped[int] = mapped_column(Integer, default=1)
    valid_from_at: Mapped[datetime] = mapped_column()
    valid_until_at: Mapped[datetime] = mapped_column()
    issued_count: Mapped[int] = mapped_column(Integer, default=0)  # TdealCouponIssue rows
    redeemed_count: Mapped[int] = mapped_column(Integer, default=0)  # redemptions not cancelled
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("municipality_id", "code"),
        CheckConstraint("discount_kind IN ('fixed', 'percent')", name="discount_kind"),
        CheckConstraint("discount_value > 0", name="discount_positive"),
        CheckConstraint("total_quantity >= 0", name="quantity_nonnegative"),
        CheckConstraint("per_subscriber_limit >= 1", name="limit_positive"),
        CheckConstraint("redeemed_count >= 0 AND redeemed_count <= total_quantity", name="redeemed_within"),
        CheckConstraint("issued_count >= 0 AND issued_count <= total_quantity", name="issued_within"),
        CheckConstraint("valid_until_at > valid_from_at", name="validity"),
    )


class TdealSubscriber(TenantScoped, Base):
    """A pseudonymous SKT subscriber; the municipality is the home municipality."""

    __tablename__ = "tdeal_subscriber"

    id: Mapped[int] = mapped_column(primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(64))
    age_band: Mapped[str] = mapped_column(String(8))
    sex: Mapped[str] = mapped_column(String(1))
    marketing_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("municipality_id", "pseudonym"),)


class TdealCouponIssue(TenantScoped, Base):
    """One coupon issued to a subscriber (downloaded to the wallet, or issued at checkout when redeemed
    without one). What the campaign report counts as "issued"; at most ``total_quantity`` per coupon and
    ``per_subscriber_limit`` per subscriber. A redemption uses one issued coupon; cancelling the
    redemption gives a wallet coupon back to the subscriber and takes a checkout one back to the stock."""

    __tablename__ = "tdeal_coupon_issue"

    id: Mapped[int] = mapped_column(primary_key=True)
    coupon_id: Mapped[int] = mapped_column(ForeignKey("tdeal_coupon.id", ondelete="CASCADE"), index=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("tdeal_subscriber.id", ondelete="CASCADE"),
                                               index=True)
    client_id: Mapped[str | None] = mapped_column(String(80))
    # Issued at checkout by the redemption that used it (no wallet coupon was there): cancelling that
    # redemption takes the issue back as well, so the quantity is free for anyone again.
    at_checkout: Mapped[bool] = mapped_column(Boolean, default=False)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("coupon_id", "client_id"),)


class TdealRedemption(TenantScoped, Base):
    """A coupon used on one order at one merchant; cancelled (never deleted) when the order is refunded."""

    __tablename__ = "tdeal_redemption"

    id: Mapped[int] = mapped_column(primary_key=True)
    coupon_id: Mapped[int] = mapped_column(ForeignKey("tdeal_coupon.id", ondelete="CASCADE"), index=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("tdeal_subscriber.id", ondelete="CASCADE"),
                                               index=True)
    # Null only on redemptions recorded before merchants were named.
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("tdeal_merchant.id", ondelete="RESTRICT"),
                                                    index=True)
    issue_id: Mapped[int | None] = mapped_column(ForeignKey("tdeal_coupon_issue.id", ondelete="SET NULL"))
    order_ref: Mapped[str | None] = mapped_column(String(80))
    client_id: Mapped[str | None] = mapped_column(String(80))
    order_amount_krw: Mapped[int] = mapped_column(BigInteger)
    discount_krw: Mapped[int] = mapped_column(BigInteger)
    redeemed_at: Mapped[datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column()
    cancelled_by: Mapped[str | None] = mapped_column(String(120))
    cancel_reason: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (UniqueConstraint("coupon_id", "client_id"),)


class TdealEvent(TenantScoped, Base):
    """One interaction of a subscriber with a product (municipality: the merchant's)."""

    __tablename__ = "tdeal_event"
    __audit__ = False

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(80))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("tdeal_subscriber.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("tdeal_product.id", ondelete="CASCADE"), index=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("tdeal_merchant.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    amount_krw: Mapped[int] = mapped_column(BigInteger, default=0)
    coupon_id: Mapped[int | None] = mapped_column(ForeignKey("tdeal_coupon.id", ondelete="SET NULL"))
    occurred_at: Mapped[datetime] = mapped_column()

    __table_args__ = (
        UniqueConstraint("municipality_id", "client_id"),
        CheckConstraint("kind IN ('view', 'click', 'purchase', 'redeem')", name="kind"),
        CheckConstraint("amount_krw >= 0", name="amount_nonnegative"),
        Index("ix_tdeal_event_subscriber_occurred", "subscriber_id", "occurred_at"),
        Index("ix_tdeal_event_merchant_occurred", "merchant_id", "occurred_at"),
        # Covers the sales sums of the campaign report and the home widget (purchases in a window).
        Index("ix_tdeal_event_sales", "kind", "occurred_at", "municipality_id", "merchant_id", "amount_krw"),
    )


class TdealModel(TenantScoped, Base):
    """A trained recommendation model with its offline evaluation (municipality: the scope trained on)."""

    __tablename__ = "tdeal_model"
    __audit__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    n_subscribers: Mapped[int] = mapped_column(Integer)
    n_products: Mapped[int] = mapped_column(Integer)
    n_events: Mapped[int] = mapped_column(Integer)
    blob: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)  # read only when serving
    trained_at: Mapped[datetime] = mapped_column(default=utcnow)
