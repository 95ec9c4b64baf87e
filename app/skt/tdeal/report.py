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


def _window(db: Session, campaign: TdealCampaign, today: date | None) -> dict[str, Any]:
    """The report's period (campaign days so far, and as many days before), its UTC bounds and region."""
    today = today or today_seoul()
    end = min(campaign.end_date, today)
    if end < campaign.start_date:
        end = campaign.start_date
    days = (end - campaign.start_date).days + 1
    before_start = campaign.start_date - timedelta(days=days)
    return {"end": end, "days": days, "before_start": before_start, "t0": _start_of(before_start),
            "t1": _start_of(campaign.start_date), "t2": _start_of(end + timedelta(days=1)),
            "region": platform_service.descendant_ids(db, municipality_id=campaign.municipality_id)}


def _purchases(w: dict[str, Any]) -> list[Any]:
    """WHERE terms of the purchase events in the window and region (served by ix_tdeal_event_sales)."""
    return [TdealEvent.kind == "purchase", TdealEvent.occurred_at >= w["t0"], TdealEvent.occurred_at < w["t2"],
            TdealEvent.municipality_id.in_(w["region"])]


def _sales(db: Session, w: dict[str, Any]) -> dict[int, tuple[int, int, int]]:
    """merchant id -> (sales before, sales during, orders during) in won."""
    during = func.sum(case((TdealEvent.occurred_at >= w["t1"], TdealEvent.amount_krw), else_=0))
    before = func.sum(case((TdealEvent.occurred_at < w["t1"], TdealEvent.amount_krw), else_=0))
    orders = func.sum(case((TdealEvent.occurred_at >= w["t1"], 1), else_=0))
    return {mid: (int(b or 0), int(d or 0), int(n or 0)) for mid, b, d, n in db.execute(
        select(TdealEvent.merchant_id, before, during, orders).where(*_purchases(w))
        .group_by(TdealEvent.merchant_id)).all()}


def _coupons(db: Session, campaign: TdealCampaign) -> list[dict[str, Any]]:
    """Issued: coupons actually given to subscribers (not the quantity on offer); redeemed, the discount and
    the subscribers count live redemptions only (cancelled ones are refunds). Three queries in all."""
    coupons = db.scalars(select(TdealCoupon).where(TdealCoupon.campaign_id == campaign.id)
                         .order_by(TdealCoupon.id)).all()
    ids = [c.id for c in coupons]
    issued = dict(db.execute(select(TdealCouponIssue.coupon_id, func.count())
                             .where(TdealCouponIssue.coupon_id.in_(ids))
                             .group_by(TdealCouponIssue.coupon_id)).all()) if ids else {}
    redeemed = {cid: (n, d, s) for cid, n, d, s in db.execute(
        select(TdealRedemption.coupon_id, func.count(), func.coalesce(func.sum(TdealRedemption.discount_krw), 0),
               func.count(func.distinct(TdealRedemption.subscriber_id)))
        .where(TdealRedemption.coupon_id.in_(ids), TdealRedemption.cancelled_at.is_(None))
        .group_by(TdealRedemption.coupon_id)).all()} if ids else {}
    out = []
    for coupon in coupons:
        n_issued = int(issued.get(coupon.id, 0))
        n, discount, redeemers = redeemed.get(coupon.id, (0, 0, 0))
        out.append({"coupon_id": coupon.id, "code": coupon.code, "name": coupon.name,
                    "quantity": coupon.total_quantity, "issued": n_issued, "redeemed": int(n),
                    "rate": n / n_issued if n_issued else 0.0,
                    "discount_krw": int(discount), "subscribers": int(redeemers)})
    return out


def _totals(rows: list[dict[str, Any]], coupons: list[dict[str, Any]]) -> dict[str, int]:
    return {"participants": sum(1 for r in rows if r["participant"]),
            "others": sum(1 for r in rows if not r["participant"]),
            "during_krw": sum(r["during_krw"] for r in rows if r["participant"]),
            "before_krw": sum(r["before_krw"] for r in rows if r["participant"]),
            "issued": sum(c["issued"] for c in coupons), "redeemed": sum(c["redeemed"] for c in coupons),
            "discount_krw": sum(c["discount_krw"] for c in coupons)}


def _uplift(rows: list[dict[str, Any]], *, small_only: bool) -> dict[str, Any]:
    def changes(treated: bool) -> list[float]:
        return [r["change_krw"] for r in rows if r["participant"] == treated and (r["is_small"] or not small_only)]

    return did(changes(True), changes(False))


def campaign_summary(db: Session, *, campaign: TdealCampaign, today: date | None = None) -> dict[str, Any]:
    """The report's ``totals`` and ``uplift`` alone (the home dashboard's widget): the same sums, without the
    merchant names, the cities and the daily series."""
    w = _window(db, campaign, today)
    participants = service.participant_ids(db, campaign_id=campaign.id)
    sales = _sales(db, w)
    rows = []
    for mid, is_small in db.execute(select(TdealMerchant.id, TdealMerchant.is_small)
                                    .where(TdealMerchant.municipality_id.in_(w["region"]))).all():
        b, d, _n = sales.get(mid, (0, 0, 0))
        rows.append({"participant": mid in participants, "is_small": is_small, "before_krw": b, "during_krw": d,
                     "change_krw": d - b, "merchant_id": mid})
    rows.sort(key=lambda r: (-r["during_krw"], r["merchant_id"]))  # the report's order: the same float sums
    return {"totals": _totals(rows, _coupons(db, campaign)), "uplift": _uplift(rows, small_only=False)}


def campaign_report(db: Session, *, campaign: TdealCampaign, today: date | None = None) -> dict[str, Any]:
    w = _window(db, campaign, today)
    end, days, before_start = w["end"], w["days"], w["before_start"]
    participants = service.participant_ids(db, campaign_id=campaign.id)
    merchants = {m.id: m for m in db.scalars(select(TdealMerchant)
                                             .where(TdealMerchant.municipality_id.in_(w["region"])))}
    sales = _sales(db, w)
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

    by_city: dict[str, dict[str, Any]] = {}
    for r in rows:
        c = by_city.setdefault(r["municipality_code"], {"municipality": r["municipality"],
                                                        "code": r["municipality_code"], "merchants": 0,
                                                        "participants": 0, "before_krw": 0, "during_krw": 0})
        c["merchants"] += 1
        c["participants"] += int(r["participant"])
        c["before_krw"] += r["before_krw"]
        c["during_krw"] += r["during_krw"]
    coupons = _coupons(db, campaign)
    series_rows = db.execute(select(TdealEvent.merchant_id, TdealEvent.occurred_at, TdealEvent.amount_krw)
                             .where(*_purchases(w))).all()
    daily: dict[str, list[int]] = {}
    for mid, at, amount in series_rows:
        key = at.astimezone(SEOUL).date().isoformat()
        slot = daily.setdefault(key, [0, 0])
        slot[0 if mid in participants else 1] += amount
    series = [{"date": k, "participants_krw": v[0], "others_krw": v[1]} for k, v in sorted(daily.items())]
    return {"campaign_id": campaign.id, "name": campaign.name, "start_date": campaign.start_date.isoformat(),
            "end_date": campaign.end_date.isoformat(), "through_date": end.isoformat(), "days": days,
            "before_from": before_start.isoformat(), "totals": _totals(rows, coupons),
            "uplift": _uplift(rows, small_only=False), "uplift_small": _uplift(rows, small_only=True),
            "coupons": coupons, "by_city": sorted(by_city.values(), key=lambda c: -c["during_krw"]),
            "merchants": rows, "daily": series}
