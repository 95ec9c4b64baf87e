"""Campaign report: sales uplift of participating merchants against non-participants
(difference-in-differences with a 95% interval), coupon use, sales by merchant and by city."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.core.i18n import SEOUL, today_seoul
from app.platform import service as platform_service
from app.skt.tdeal import service
from app.skt.tdeal.models import (
    TdealCampaign,
    TdealCoupon,
    TdealCouponIssue,
    TdealEvent,
    TdealMerchant,
    TdealRedemption,
)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=SEOUL).astimezone(UTC)


def did(treated: list[float], control: list[float]) -> dict[str, Any]:
    """Difference in differences of per-merchant changes (during - before), with a Welch 95% interval."""
    def mean_var(xs: list[float]) -> tuple[float, float]:
        if not xs:
            return 0.0, 0.0
        m = sum(xs) / len(xs)
        v = sum((x - m) ** 2 for x in xs) / (len(xs) - 1) if len(xs) > 1 else 0.0
        return m, v

    mt, vt = mean_var(treated)
    mc, vc = mean_var(control)
    estimate = mt - mc
    if len(treated) < 2 or len(control) < 2:
        return {"estimate": round(estimate), "ci_low": None, "ci_high": None, "n_treated": len(treated),
                "n_control": len(control), "treated_change": round(mt), "control_change": round(mc)}
    se = math.sqrt(vt / len(treated) + vc / len(control))
    return {"estimate": round(estimate), "ci_low": round(estimate - 1.96 * se), "ci_high": round(estimate + 1.96 * se),
            "n_treated": len(treated), "n_control": len(control), "treated_change": round(mt),
            "control_change": round(mc)}


def campaign_report(db: Session, *, campaign: TdealCampaign, today: date | None = None) -> dict[str, Any]:
    today = today or today_seoul()
    end = min(campaign.end_date, today)
    if end < campaign.start_date:
        end = campaign.start_date
    days = (end - campaign.start_date).days + 1
    before_start = campaign.start_date - timedelta(days=days)
    t0, t1, t2 = _start_of(before_start), _start_of(campaign.start_date), _start_of(end + timedelta(days=1))
    region = platform_service.descendant_ids(db, municipality_id=campaign.municipality_id)
    participants = service.participant_ids(db, campaign_id=campaign.id)
    merchants = {m.id: m for m in db.scalars(select(TdealMerchant).where(TdealMerchant.municipality_id.in_(region)))}
    during = func.sum(case((TdealEvent.occurred_at >= t1, TdealEvent.amount_krw), else_=0))
    before = func.sum(case((TdealEvent.occurred_at < t1, TdealEvent.amount_krw), else_=0))
    orders = func.sum(case((TdealEvent.occurred_at >= t1, 1), else_=0))
    sales = {mid: (int(b or 0), int(d or 0), int(n or 0)) for mid, b, d, n in db.execute(
        select(TdealEvent.merchant_id, before, during, orders)
        .where(TdealEvent.kind == "purchase", TdealEvent.occurred_at >= t0, TdealEvent.occurred_at < t2,
               TdealEvent.municipality_id.in_(region))
        .group_by(TdealEvent.merchant_id)).all()}
    names = {m.id: m for m in platform_service.all_municipalities(db)}
    rows = []
    for mid, m in merchants.items():
        b, d, n = sales.get(mid, (0, 0, 0))
        city = names.get(m.municipality_id)
        rows.append({"merchant_id": mid, "name": m.name, "brn": m.brn, "category": m.category,
                     "is_small": m.is_small, "participant": mid in participants,
                     "municipality": city.name_ko if city else "", "municipality_code": city.code if city else "",
                     "before_krw": b, "during_krw": d, "orders": n, "change_krw": d - b})
    rows.sort(key=lambda r: (-r["during_krw"], r["merchant_id"]))

    def changes(small_only: bool, treated: bool) -> list[float]:
        return [r["change_krw"] for r in rows if r["participant"] == treated and (r["is_small"] or not small_only)]

    by_city: dict[str, dict[str, Any]] = {}
    for r in rows:
        c = by_city.setdefault(r["municipality_code"], {"municipality": r["municipality"],
                                                        "code": r["municipality_code"], "merchants": 0,
                                                        "participants": 0, "before_krw": 0, "during_krw": 0})
        c["merchants"] += 1
        c["participants"] += int(r["participant"])
        c["before_krw"] += r["before_krw"]
        c["during_krw"] += r["during_krw"]
    coupons = []
    stmt = select(TdealCoupon).where(TdealCoupon.campaign_id == campaign.id).order_by(TdealCoupon.id)
    for coupon in db.scalars(stmt):
        # Issued: coupons actually given to subscribers (not the quantity on offer); redeemed, the
        # discount and the subscribers count live redemptions only (cancelled ones are refunds).
        issued = db.scalar(select(func.count()).select_from(TdealCouponIssue)
                           .where(TdealCouponIssue.coupon_id == coupon.id)) or 0
        redeemed, discount, redeemers = db.execute(
            select(func.count(), func.coalesce(func.sum(TdealRedemption.discount_krw), 0),
                   func.count(func.distinct(TdealRedemption.subscriber_id)))
            .where(TdealRedemption.coupon_id == coupon.id, TdealRedemption.cancelled_at.is_(None))).one()
        coupons.append({"coupon_id": coupon.id, "code": coupon.code, "name": coupon.name,
                        "quantity": coupon.total_quantity, "issued": int(issued), "redeemed": int(redeemed),
                        "rate": redeemed / issued if issued else 0.0,
                        "discount_krw": int(discount), "subscribers": int(redeemers)})
    series_rows = db.execute(select(TdealEvent.merchant_id, TdealEvent.occurred_at, TdealEvent.amount_krw)
                             .where(TdealEvent.kind == "purchase", TdealEvent.occurred_at >= t0,
                                    TdealEvent.occurred_at < t2, TdealEvent.municipality_id.in_(region))).all()
    daily: dict[str, list[int]] = {}
    for mid, at, amount in series_rows:
        key = at.astimezone(SEOUL).date().isoformat()
        slot = daily.setdefault(key, [0, 0])
        slot[0 if mid in participants else 1] += amount
    series = [{"date": k, "participants_krw": v[0], "others_krw": v[1]} for k, v in sorted(daily.items())]
    totals = {"participants": sum(1 for r in rows if r["participant"]),
              "others": sum(1 for r in rows if not r["participant"]),
              "during_krw": sum(r["during_krw"] for r in rows if r["participant"]),
              "before_krw": sum(r["before_krw"] for r in rows if r["participant"]),
              "issued": sum(c["issued"] for c in coupons), "redeemed": sum(c["redeemed"] for c in coupons),
              "discount_krw": sum(c["discount_krw"] for c in coupons)}
    return {"campaign_id": campaign.id, "name": campaign.name, "start_date": campaign.start_date.isoformat(),
            "end_date": campaign.end_date.isoformat(), "through_date": end.isoformat(), "days": days,
            "before_from": before_start.isoformat(), "totals": totals,
            "uplift": did(changes(False, True), changes(False, False)),
            "uplift_small": did(changes(True, True), changes(True, False)),
            "coupons": coupons, "by_city": sorted(by_city.values(), key=lambda c: -c["during_krw"]),
            "merchants": rows, "daily": series}
