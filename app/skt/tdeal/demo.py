"""Demo data: a generated 경북세일페스타 on T deal with about 500 merchants across 경상북도's cities,
their products, subscribers and a year of interactions with real structure (segment tastes, home-city
preference, seasonality, a campaign uplift), so that a model has something to learn. Fixed seed."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.bulk import insert_rows
from app.core.i18n import SEOUL, today_seoul
from app.platform.models import Municipality
from app.skt.tdeal.models import (
    AGE_BANDS,
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

if TYPE_CHECKING:
    import numpy as np

PROVINCE = "4700000000"
CITY_WEIGHTS = {"4711000000": 0.34, "4719000000": 0.26, "4713000000": 0.22, "4717000000": 0.18}

# category: (merchant words, product names, price range in won, peak months)
CATEGORIES: dict[str, tuple[list[str], list[str], tuple[int, int], list[int]]] = {
    "과일": (["과수원", "농원", "청과"],
           ["부사 사과 5kg", "샤인머스캣 2kg", "복숭아 4.5kg", "참외 3kg", "감말랭이 1kg"],
           (18_000, 55_000), [8, 9, 10, 11]),
    "농산물": (["농산", "영농조합", "들녘"],
            ["햅쌀 10kg", "고춧가루 1kg", "잡곡 세트", "산나물 모음", "표고버섯 500g"],
            (12_000, 48_000), [9, 10, 11]),
    "수산물": (["수산", "어시장", "대게"],
            ["영덕 대게 2미", "구룡포 과메기 10미", "문어 숙회 1kg", "오징어 5미", "전복 1kg"],
            (25_000, 120_000), [11, 12, 1, 2]),
    "축산": (["한우", "정육", "축산"], ["한우 등심 600g", "한우 불고기 1kg", "한우 선물세트", "돼지 목살 1kg"],
           (25_000, 160_000), [1, 2, 9, 10]),
    "전통주": (["양조장", "주조", "술도가"], ["막걸리 6병", "안동소주 375ml", "과실주 세트", "약주 2병"],
            (12_000, 60_000), [1, 2, 9, 12]),
    "떡·한과": (["떡집", "한과", "방앗간"], ["경주 황남빵 20입", "찰보리빵 30입", "한과 세트", "떡 선물세트"],
             (15_000, 45_000), [1, 2, 9]),
    "가공식품": (["식품", "푸드", "장류"], ["된장 1kg", "고추장 1kg", "간장 세트", "참기름 350ml", "김부각"],
              (9_000, 35_000), [3, 4, 5, 6]),
    "공예품": (["공방", "도예", "공예"], ["하회탈 공예", "도자기 찻잔", "목공예 도마", "한지 조명"],
            (20_000, 90_000), [4, 5, 10, 12]),
    "카페·베이커리": (["카페", "베이커리", "로스터리"], ["원두 500g", "수제 쿠키 세트", "케이크 교환권", "드립백 20개"],
                 (8_000, 35_000), [3, 4, 5, 6, 7, 8]),
    "외식": (["식당", "밥상", "국밥"], ["한정식 2인 교환권", "물회 2인", "찜닭 2인", "국밥 4인 교환권"],
           (15_000, 60_000), [5, 6, 7, 8]),
}
PLACE_WORDS = ["청송", "영덕", "구룡포", "하회", "황리단길", "보문", "금오산", "죽도", "안동", "호미곶", "불국",
               "선산", "풍산", "기계", "흥해", "도산", "양동", "감포"]
AGE_WEIGHTS = [0.04, 0.18, 0.21, 0.2, 0.18, 0.12, 0.07]


def valid_brn(rng: np.random.Generator) -> str:
    from app.core.brn import brn_is_valid

    while True:
        head = f"{rng.integers(101, 999)}{rng.integers(10, 99)}{rng.integers(0, 10000):04d}"
        for check in range(10):
            if brn_is_valid(head + str(check)):
                return head + str(check)


def _at(day: date, seconds: int) -> datetime:
    return (datetime.combine(day, time(0), tzinfo=SEOUL) + timedelta(seconds=int(seconds))).astimezone(UTC)


def generate(session: Session, *, region_id: int, city_ids: dict[int, float], n_merchants: int = 600,
             n_participants: int = 500, n_subscribers: int = 4000, events_per_user: float = 24.0,
             days: int = 365, seed: int = 4700, today: date | None = None, campaign_name: str = "경북세일페스타",
             with_coupons: bool = True) -> dict[str, Any]:
    """Generate and bulk-insert the whole world; returns ids for tests."""
    import numpy as np
    rng = np.random.default_rng(seed)
    today = today or today_seoul()
    cities = list(city_ids)
    city_p = np.array([city_ids[c] for c in cities])
    city_p = city_p / city_p.sum()
    cats = list(CATEGORIES)
    n_dim = 8
    cat_vec = rng.normal(0, 1, (len(cats), n_dim))
    now = datetime.now(UTC)

    # merchants
    m_city = rng.choice(len(cities), size=n_merchants, p=city_p)
    m_cat = rng.integers(0, len(cats), size=n_merchants)
    used_brn: set[str] = set()
    merchant_rows = []
    for i in range(n_merchants):
        brn = valid_brn(rng)
        while brn in used_brn:
            brn = valid_brn(rng)
        used_brn.add(brn)
        words = CATEGORIES[cats[m_cat[i]]][0]
        name = f"{PLACE_WORDS[rng.integers(len(PLACE_WORDS))]} {words[rng.integers(len(words))]} {i + 1}호점"
        merchant_rows.append({"municipality_id": cities[m_city[i]], "brn": brn, "name": name,
                              "category": cats[m_cat[i]], "is_small": bool(rng.random() < 0.9), "created_at": now})
    insert_rows(session, TdealMerchant.__table__, merchant_rows)
    merchant_ids = list(session.scalars(select(TdealMerchant.id).where(
        TdealMerchant.brn.in_([r["brn"] for r in merchant_rows])).order_by(TdealMerchant.id)))
    brn_to_id = dict(session.execute(select(TdealMerchant.brn, TdealMerchant.id).where(
        TdealMerchant.id.in_(merchant_ids))).all())
    mid_of = np.array([brn_to_id[r["brn"]] for r in merchant_rows])

    # products: 4 per merchant, each with a taste vector near its category
    product_rows, p_merchant, p_vec, p_pop, p_cat = [], [], [], [], []
    for i in range(n_merchants):
        cat = cats[m_cat[i]]
        names, (lo, hi) = CATEGORIES[cat][1], CATEGORIES[cat][2]
        quality = rng.normal(0, 0.6)
        for j in range(4):
            price = int(rng.integers(lo // 100, hi // 100)) * 100
            product_rows.append({"municipality_id": merchant_rows[i]["municipality_id"], "merchant_id": int(mid_of[i]),
                                 "sku": f"P{i + 1:04d}-{j + 1}", "name": names[(j + i) % len(names)],
                                 "category": cat, "price_krw": price, "stock": int(rng.integers(0, 400)) + 5,
                                 "created_at": now})
            p_merchant.append(i)
            p_vec.append(cat_vec[m_cat[i]] + rng.normal(0, 0.8, n_dim))
            p_pop.append(quality + rng.normal(0, 0.4))
            p_cat.append(m_cat[i])
    insert_rows(session, TdealProduct.__table__, product_rows)
    product_ids = np.array(list(session.scalars(select(TdealProduct.id).where(
        TdealProduct.merchant_id.in_(mid_of.tolist())).order_by(TdealProduct.merchant_id, TdealProduct.sku))))
    p_vec_arr, p_pop_arr = np.array(p_vec), np.array(p_pop)
    p_merchant_arr, p_cat_arr = np.array(p_merchant), np.array(p_cat)
    p_price = np.array([r["price_krw"] for r in product_rows])
    p_city = m_city[p_merchant_arr]

    # subscribers: segment tastes (age band x sex) plus a personal taste
    seg_vec = rng.normal(0, 1.0, (len(AGE_BANDS), 2, n_dim))
    s_age = rng.choice(len(AGE_BANDS), size=n_subscribers, p=AGE_WEIGHTS)
    s_sex = rng.integers(0, 2, size=n_subscribers)
    s_city = rng.choice(len(cities), size=n_subscribers, p=city_p)
    s_vec = seg_vec[s_age, s_sex] * 0.6 + rng.normal(0, 1.0, (n_subscribers, n_dim))
    tag = f"{seed:x}"
    sub_rows = [{"municipality_id": cities[s_city[i]], "pseudonym": f"skt-{tag}-{i:06d}",
                 "age_band": AGE_BANDS[s_age[i]], "sex": "MF"[s_sex[i]],
                 "marketing_opt_in": bool(rng.random() < 0.85), "created_at": now} for i in range(n_subscribers)]
    insert_rows(session, TdealSubscriber.__table__, sub_rows)
    sub_ids = np.array(list(session.scalars(select(TdealSubscriber.id).where(
        TdealSubscriber.pseudonym.like(f"skt-{tag}-%")).order_by(TdealSubscriber.pseudonym))))

    # campaign over the last six weeks, two more to go
    start = today - timedelta(days=41)
    campaign = TdealCampaign(municipality_id=region_id, name=campaign_name, start_date=start,
                             end_date=today + timedelta(days=14),
                             description="경상북도 소상공인 특별 할인전: 티딜 AI 큐레이션 기획전과 특별 할인 쿠폰")
    session.add(campaign)
    session.flush()
    participant_idx = np.sort(rng.choice(n_merchants, size=min(n_participants, n_merchants), replace=False))
    is_participant = np.zeros(n_merchants, dtype=bool)
    is_participant[participant_idx] = True
    insert_rows(session, TdealCampaignMerchant.__table__, [
        {"campaign_id": campaign.id, "merchant_id": int(mid_of[i]),
         "municipality_id": merchant_rows[i]["municipality_id"], "joined_at": now} for i in participant_idx])

    # interactions: each subscriber picks products by taste, home city and popularity
    first_day = today - timedelta(days=days - 1)
    day_list = [first_day + timedelta(days=d) for d in range(days)]
    months = np.array([d.month for d in day_list])
    in_campaign = np.array([start <= d <= today for d in day_list])
    day_p = {}
    for c in range(len(cats)):
        season = np.where(np.isin(months, CATEGORIES[cats[c]][3]), 2.0, 1.0)
        for part in (False, True):
            w = season * np.where(in_campaign, 1.8 if part else 1.0, 1.0)
            day_p[(c, part)] = np.cumsum(w / w.sum())
    counts = np.maximum(1, rng.poisson(events_per_user * np.exp(rng.normal(0, 0.5, n_subscribers))))
    base = p_vec_arr @ s_vec.T  # products x subscribers
    events: list[dict[str, Any]] = []
    coupons: list[TdealCoupon] = []
    if with_coupons:
        valid_from = _at(start, 0)
        valid_until = _at(today + timedelta(days=15), 0)
        for code, name, kind, value, minimum, qty, cap in [
            ("GBFESTA20", "경북세일페스타 20% 할인", "percent", 20, 20_000, 3000, 1),
            ("GBFESTA5000", "경북세일페스타 5,000원 할인", "fixed", 5000, 30_000, 5000, 2),
            ("LOCAL10000", "우리 동네 소상공인 응원 10,000원", "fixed", 10_000, 50_000, 1500, 1),
        ]:
            coupon = TdealCoupon(municipality_id=region_id, campaign_id=campaign.id, code=code, name=name,
                                 discount_kind=kind, discount_value=value, max_discount_krw=15_000 if kind == "percent"
                                 else None, min_order_krw=minimum, total_quantity=qty, per_subscriber_limit=cap,
                                 valid_from_at=valid_from, valid_until_at=valid_until, issued_count=0,
                                 redeemed_count=0)
            session.add(coupon)
            coupons.append(coupon)
        session.flush()
    redemptions: list[dict[str, Any]] = []
    issues: list[dict[str, Any]] = []
    used: dict[tuple[int, int], int] = {}
    for s in range(n_subscribers):
        logits = 1.1 * base[:, s] + 0.9 * (p_city == s_city[s]) + p_pop_arr
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        # a subscriber keeps coming back to a small set of favourites
        favourites = rng.choice(len(probs), size=12, replace=False, p=probs)
        picks = favourites[rng.integers(0, len(favourites), size=int(counts[s]))]
        draws = rng.random((len(picks), 3))
        seconds = rng.integers(8 * 3600, 23 * 3600, size=len(picks))
        for n, p in enumerate(picks.tolist()):
            part = bool(is_participant[p_merchant_arr[p]])
            d = min(int(np.searchsorted(day_p[(p_cat_arr[p], part)], draws[n, 0])), days - 1)
            at = _at(day_list[d], int(seconds[n]))
            r = draws[n, 1]
            kind = "purchase" if r < 0.18 else ("click" if r < 0.5 else "view")
            amount = int(p_price[p]) * (1 if draws[n, 2] < 0.7 else 2) if kind == "purchase" else 0
            row = {"municipality_id": product_rows[p]["municipality_id"], "client_id": f"demo-{tag}-{len(events)}",
                   "subscriber_id": int(sub_ids[s]), "product_id": int(product_ids[p]),
                   "merchant_id": int(mid_of[p_merchant_arr[p]]), "kind": kind, "amount_krw": amount,
                   "coupon_id": None, "occurred_at": at}
            if kind == "purchase" and coupons and part and in_campaign[d] and rng.random() < 0.45:
                coupon = coupons[int(rng.integers(0, len(coupons)))]
                key = (coupon.id, int(sub_ids[s]))
                if (amount >= coupon.min_order_krw and used.get(key, 0) < coupon.per_subscriber_limit
                        and coupon.redeemed_count < coupon.total_quantity):
                    used[key] = used.get(key, 0) + 1
                    coupon.redeemed_count += 1
                    coupon.issued_count += 1
                    issues.append({"municipality_id": region_id, "coupon_id": coupon.id,
                                   "subscriber_id": int(sub_ids[s]), "client_id": f"demo-{tag}-i{len(issues)}",
                                   "at_checkout": True, "issued_at": at})
                    discount = (min(amount * coupon.discount_value // 100, coupon.max_discount_krw or amount)
                                if coupon.discount_kind == "percent" else coupon.discount_value)
                    row["coupon_id"] = coupon.id
                    redemptions.append({"municipality_id": region_id, "coupon_id": coupon.id,
                                        "subscriber_id": int(sub_ids[s]),
                                        "merchant_id": int(mid_of[p_merchant_arr[p]]),
                                        "issue_client_id": issues[-1]["client_id"],
                                        "order_ref": f"ORD-{tag}-{len(redemptions) + 1:06d}",
                                        "client_id": f"demo-{tag}-r{len(redemptions)}",
                                        "order_amount_krw": amount, "discount_krw": min(discount, amount),
                                        "redeemed_at": at})
            events.append(row)
    # Coupons downloaded to a wallet and not (yet) used: issued, not redeemed.
    for s in (range(n_subscribers) if coupons else ()):
        if rng.random() < 0.04:
            coupon = coupons[int(rng.integers(0, len(coupons)))]
            key = (coupon.id, int(sub_ids[s]))
            if used.get(key, 0) < coupon.per_subscriber_limit and coupon.issued_count < coupon.total_quantity:
                used[key] = used.get(key, 0) + 1
                coupon.issued_count += 1
                issues.append({"municipality_id": region_id, "coupon_id": coupon.id, "subscriber_id": int(sub_ids[s]),
                               "client_id": f"demo-{tag}-i{len(issues)}", "at_checkout": False,
                               "issued_at": coupon.valid_from_at})
    for start_row in range(0, len(events), 20_000):
        insert_rows(session, TdealEvent.__table__, events[start_row:start_row + 20_000])
    if issues:
        insert_rows(session, TdealCouponIssue.__table__, issues)
        issue_ids = dict(session.execute(select(TdealCouponIssue.client_id, TdealCouponIssue.id).where(
            TdealCouponIssue.coupon_id.in_([c.id for c in coupons]))).all())
        for row in redemptions:
            row["issue_id"] = issue_ids[row.pop("issue_client_id")]
    if redemptions:
        insert_rows(session, TdealRedemption.__table__, redemptions)
    session.flush()
    return {"campaign_id": campaign.id, "merchant_ids": mid_of.tolist(),
            "participant_ids": mid_of[is_participant].tolist(), "product_ids": product_ids.tolist(),
            "subscriber_ids": sub_ids.tolist(), "events": len(events), "coupon_ids": [c.id for c in coupons]}


def load_demo(session: Session) -> None:
    """경북세일페스타 for 경상북도 (4700000000) and its cities; skipped when those do not exist."""
    found = dict(session.execute(select(Municipality.code, Municipality.id).where(
        Municipality.code.in_([PROVINCE, *CITY_WEIGHTS]))).all())
    if PROVINCE not in found:
        return
    cities = {found[c]: w for c, w in CITY_WEIGHTS.items() if c in found} or {found[PROVINCE]: 1.0}
    generate(session, region_id=found[PROVINCE], city_ids=cities)
    from app.skt.tdeal import recommend

    recommend.train(session, municipality_id=found[PROVINCE])  # so the evaluation page has a model at once


def sample_data(session: Session, municipality_id: int) -> None:
    """A few of every kind of object in one municipality (the tenancy route walk uses them)."""
    generate(session, region_id=municipality_id, city_ids={municipality_id: 1.0}, n_merchants=6, n_participants=4,
             n_subscribers=12, events_per_user=10, days=120, seed=municipality_id + 11,
             campaign_name=f"샘플 기획전 {municipality_id}")
    from app.skt.tdeal import recommend

    recommend.train(session, municipality_id=municipality_id, factors=4, iterations=2)
