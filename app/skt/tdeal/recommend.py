"""Recommendations: implicit-feedback matrix factorisation (``implicit`` ALS), a segment-popularity
fallback, re-ranking for the active campaign with a cap per merchant, and an honest offline evaluation
on a time-based split beside a popularity baseline."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.errors import Conflict, InvalidInput
from app.core.i18n import today_seoul
from app.platform import audit
from app.platform import service as platform_service
from app.skt.tdeal import service
from app.skt.tdeal.models import TdealEvent, TdealModel, TdealProduct, TdealSubscriber

if TYPE_CHECKING:
    import numpy as np

WEIGHTS = {"view": 1.0, "click": 2.0, "purchase": 6.0, "redeem": 6.0}
RELEVANT = ("click", "purchase", "redeem")
K = 10
PER_MERCHANT_CAP = 2
CAMPAIGN_BOOST = 0.15
SEGMENT_TOP = 300
Progress = Callable[[float, str], None]


@dataclass
class Interactions:
    users: np.ndarray  # subscriber ids, one per event
    items: np.ndarray  # product ids
    weights: np.ndarray
    relevant: np.ndarray  # bool: click/purchase/redeem
    times: np.ndarray  # epoch seconds


def load_interactions(db: Session, *, municipality_ids: frozenset[int] | None) -> Interactions:
    import numpy as np
    stmt = select(TdealEvent.subscriber_id, TdealEvent.product_id, TdealEvent.kind, TdealEvent.occurred_at)
    if municipality_ids is not None:
        stmt = stmt.where(TdealEvent.municipality_id.in_(municipality_ids))
    rows = db.execute(stmt).all()
    users = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    items = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
    weights = np.fromiter((WEIGHTS[r[2]] for r in rows), dtype=np.float32, count=len(rows))
    relevant = np.fromiter((r[2] in RELEVANT for r in rows), dtype=bool, count=len(rows))
    times = np.fromiter((r[3].timestamp() for r in rows), dtype=np.float64, count=len(rows))
    return Interactions(users, items, weights, relevant, times)


def _subset(data: Interactions, mask: np.ndarray) -> Interactions:
    return Interactions(data.users[mask], data.items[mask], data.weights[mask], data.relevant[mask],
                        data.times[mask])


def _fit(data: Interactions, *, factors: int, iterations: int, regularization: float, seed: int,
         progress: Progress | None = None, share: tuple[float, float] = (0.0, 1.0)) -> dict[str, Any]:
    """Fit ALS on the interactions; returns id maps and factor matrices."""
    import numpy as np
    from implicit.cpu.als import AlternatingLeastSquares
    from scipy import sparse
    from threadpoolctl import threadpool_limits

    user_ids, u_idx = np.unique(data.users, return_inverse=True)
    item_ids, i_idx = np.unique(data.items, return_inverse=True)
    matrix = sparse.csr_matrix((data.weights, (u_idx, i_idx)), shape=(len(user_ids), len(item_ids)),
                               dtype=np.float32)
    matrix.sum_duplicates()
    matrix.data = 1.0 + np.log1p(matrix.data) * 4.0  # confidence grows slowly with repeated interest
    lo, hi = share

    def callback(iteration: int, _elapsed: float, _loss: float) -> None:
        if progress:
            progress(lo + (hi - lo) * (iteration + 1) / iterations, "training")

    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(factors=factors, iterations=iterations, regularization=regularization,
                                        random_state=seed, num_threads=1)
        model.fit(matrix, show_progress=False, callback=callback)
    return {"user_ids": user_ids, "item_ids": item_ids, "user_factors": np.asarray(model.user_factors),
            "item_factors": np.asarray(model.item_factors), "matrix": matrix}


# --- metrics ---------------------------------------------------------------------------------

def _metrics(ranked: dict[int, list[int]], truth: dict[int, set[int]], item_merchant: dict[int, int],
             n_merchants: int, k: int) -> dict[str, float]:
    import numpy as np
    precision = recall = ndcg = hits = 0.0
    shown_merchants: set[int] = set()
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    for user, relevant in truth.items():
        recs = ranked.get(user, [])[:k]
        gains = np.array([1.0 if r in relevant else 0.0 for r in recs] + [0.0] * (k - len(recs)))
        found = gains.sum()
        precision += found / k
        recall += found / len(relevant)
        ideal = discounts[:min(len(relevant), k)].sum()
        ndcg += float((gains * discounts).sum() / ideal)
        hits += 1.0 if found else 0.0
        shown_merchants.update(item_merchant.get(r, -1) for r in recs)
    n = max(len(truth), 1)
    shown_merchants.discard(-1)
    return {"precision_at_k": precision / n, "recall_at_k": recall / n, "ndcg_at_k": ndcg / n,
            "hit_rate": hits / n, "merchant_coverage": len(shown_merchants) / max(n_merchants, 1)}


def _cap(ranked: list[int], scores: list[float], item_merchant: dict[int, int], k: int, cap: int,
         boosted: set[int] | None = None) -> list[int]:
    """Greedy re-rank: campaign merchants' items get a boost, each merchant shows at most ``cap`` items."""
    if boosted:
        order = sorted(range(len(ranked)), key=lambda j: -(scores[j] + (CAMPAIGN_BOOST if
                                                           item_merchant.get(ranked[j]) in boosted else 0.0)))
        ranked = [ranked[j] for j in order]
    out, per = [], {}
    for item in ranked:
        m = item_merchant.get(item, -1)
        if per.get(m, 0) >= cap:
            continue
        per[m] = per.get(m, 0) + 1
        out.append(item)
        if len(out) == k:
            break
    return out


def evaluate(data: Interactions, *, item_merchant: dict[int, int], n_merchants: int, factors: int,
             iterations: int, regularization: float, seed: int = 7, test_share: float = 0.15, k: int = K,
             max_users: int = 3000, progress: Progress | None = None) -> dict[str, Any]:
    """Train on the earlier part of the history and score the later part (time-based split).

    Relevant items for a subscriber are the products they clicked, bought or redeemed after the cut-off;
    only subscribers with history before the cut-off are scored (new ones get the fallback anyway)."""
    import numpy as np
    if len(data.times) < 50:
        raise InvalidInput.field("events", "Too few interactions to train and evaluate a model ({n})",
                                 n=len(data.times))
    cutoff = float(np.quantile(data.times, 1.0 - test_share))
    train, test = _subset(data, data.times < cutoff), _subset(data, data.times >= cutoff)
    fitted = _fit(train, factors=factors, iterations=iterations, regularization=regularization, seed=seed,
                  progress=progress, share=(0.0, 0.45))
    user_pos = {int(u): i for i, u in enumerate(fitted["user_ids"])}
    item_ids = fitted["item_ids"]
    truth: dict[int, set[int]] = {}
    for u, i, rel in zip(test.users.tolist(), test.items.tolist(), test.relevant.tolist(), strict=True):
        if rel and u in user_pos:
            truth.setdefault(u, set()).add(i)
    rng = np.random.default_rng(seed)
    users = sorted(truth)
    if len(users) > max_users:
        users = sorted(rng.choice(users, size=max_users, replace=False).tolist())
        truth = {u: truth[u] for u in users}
    popularity = np.zeros(len(item_ids), dtype=np.float64)
    np.add.at(popularity, np.searchsorted(item_ids, train.items), train.weights)
    pop_order = np.argsort(-popularity)
    popular = item_ids[pop_order[: k * 10]].tolist()
    pop_scores = (popularity[pop_order[: k * 10]] / max(popularity.max(), 1e-9)).tolist()
    model_raw, model_capped = {}, {}
    uf, itf = fitted["user_factors"], fitted["item_factors"]
    for u in users:
        scores = itf @ uf[user_pos[u]]
        top = np.argpartition(-scores, min(k * 10, len(scores) - 1))[: k * 10]
        top = top[np.argsort(-scores[top])]
        ranked = item_ids[top].tolist()
        model_raw[u] = ranked[:k]
        norm = scores[top]
        span = float(norm.max() - norm.min()) or 1.0
        model_capped[u] = _cap(ranked, ((norm - norm.min()) / span).tolist(), item_merchant, k, PER_MERCHANT_CAP)
    if progress:
        progress(0.5, "evaluating")
    baseline = {u: popular[:k] for u in users}
    baseline_capped_list = _cap(popular, pop_scores, item_merchant, k, PER_MERCHANT_CAP)
    results = {
        "model": _metrics(model_raw, truth, item_merchant, n_merchants, k),
        "model_reranked": _metrics(model_capped, truth, item_merchant, n_merchants, k),
        "popularity": _metrics(baseline, truth, item_merchant, n_merchants, k),
        "popularity_reranked": _metrics({u: baseline_capped_list for u in users}, truth, item_merchant,
                                        n_merchants, k),
    }
    return {"k": k, "users_evaluated": len(users), "train_events": int(len(train.times)),
            "test_events": int(len(test.times)), "cutoff_epoch": cutoff, "results": results}


# --- training and storage --------------------------------------------------------------------

def _segment_popularity(db: Session, data: Interactions) -> dict[str, list[int]]:
    """The most wanted products per (age band, sex) segment over the whole history."""
    import numpy as np
    segments = dict((sid, f"{age}|{sex}") for sid, age, sex in db.execute(
        select(TdealSubscriber.id, TdealSubscriber.age_band, TdealSubscriber.sex)
        .where(TdealSubscriber.id.in_(np.unique(data.users).tolist() or [-1]))).all())
    totals: dict[str, dict[int, float]] = {}
    for u, i, w in zip(data.users.tolist(), data.items.tolist(), data.weights.tolist(), strict=True):
        seg = totals.setdefault(segments.get(u, "?"), {})
        seg[i] = seg.get(i, 0.0) + w
    overall: dict[int, float] = {}
    for seg in totals.values():
        for i, w in seg.items():
            overall[i] = overall.get(i, 0.0) + w
    totals["*"] = overall
    return {s: [i for i, _w in sorted(v.items(), key=lambda x: -x[1])[:SEGMENT_TOP]] for s, v in totals.items()}


def pack(*, user_ids: np.ndarray, item_ids: np.ndarray, user_factors: np.ndarray, item_factors: np.ndarray,
         item_merchant: dict[int, int], segments: dict[str, list[int]]) -> bytes:
    """The stored form of a model: id maps, factors and the segment-popularity lists."""
    import numpy as np
    buffer = io.BytesIO()
    seg_keys = sorted(segments)
    np.savez(buffer, user_ids=user_ids, item_ids=item_ids, user_factors=user_factors.astype(np.float32),
             item_factors=item_factors.astype(np.float32),
             item_merchants=np.array([item_merchant.get(int(i), -1) for i in item_ids], dtype=np.int64),
             seg_keys=np.array(seg_keys), **{f"seg_{n}": np.array(segments[s], dtype=np.int64)
                                             for n, s in enumerate(seg_keys)})
    return buffer.getvalue()


def train(db: Session, *, municipality_id: int, factors: int = 32, iterations: int = 15,
          regularization: float = 0.05, seed: int = 7, progress: Progress | None = None) -> TdealModel:
    """Evaluate on a time split, then fit on the whole history and store the model."""
    scope = platform_service.descendant_ids(db, municipality_id=municipality_id)
    data = load_interactions(db, municipality_ids=scope)
    products = db.execute(select(TdealProduct.id, TdealProduct.merchant_id)
                          .where(TdealProduct.municipality_id.in_(scope))).all()
    item_merchant = {pid: mid for pid, mid in products}
    n_merchants = len(set(item_merchant.values()))
    evaluation = evaluate(data, item_merchant=item_merchant, n_merchants=n_merchants, factors=factors,
                          iterations=iterations, regularization=regularization, seed=seed, progress=progress)
    fitted = _fit(data, factors=factors, iterations=iterations, regularization=regularization, seed=seed,
                  progress=progress, share=(0.5, 0.95))
    segments = _segment_popularity(db, data)
    blob = pack(user_ids=fitted["user_ids"], item_ids=fitted["item_ids"], user_factors=fitted["user_factors"],
                item_factors=fitted["item_factors"], item_merchant=item_merchant, segments=segments)
    model = TdealModel(municipality_id=municipality_id, algorithm="implicit.als",
                       params={"factors": factors, "iterations": iterations, "regularization": regularization,
                               "seed": seed, "confidence": "1 + 4*log1p(weight)", "weights": WEIGHTS},
                       metrics=evaluation, n_subscribers=len(fitted["user_ids"]),
                       n_products=len(fitted["item_ids"]), n_events=int(len(data.times)), blob=blob)
    db.add(model)
    db.flush()
    audit.record(db, action="train", object_type="tdeal_model", object_id=str(model.id),
                 municipality_id=municipality_id,
                 after={"ndcg_at_k": evaluation["results"]["model"]["ndcg_at_k"],
                        "baseline_ndcg_at_k": evaluation["results"]["popularity"]["ndcg_at_k"],
                        "events": model.n_events})
    if progress:
        progress(1.0, "stored")
    return model


def latest_model(db: Session) -> TdealModel | None:
    return db.scalar(select(TdealModel).order_by(TdealModel.trained_at.desc(), TdealModel.id.desc()).limit(1))


def list_models(db: Session, *, limit: int = 20) -> list[TdealModel]:
    return list(db.scalars(select(TdealModel).order_by(TdealModel.trained_at.desc(), TdealModel.id.desc())
                           .limit(limit)))


# --- serving ---------------------------------------------------------------------------------

@dataclass
class Loaded:
    user_pos: dict[int, int]
    item_ids: np.ndarray
    user_factors: np.ndarray
    item_factors: np.ndarray
    item_merchant: dict[int, int]
    segments: dict[str, list[int]]


_cache: dict[tuple[str, int, datetime], Loaded] = {}
_blas: Any = None  # a threadpoolctl controller, made once (finding the BLAS libraries takes milliseconds)


def _one_blas_thread() -> Any:
    """Score on one BLAS thread: a request's matrix-vector product is far too small to gain from threads,
    and on a busy server the threads wait for cores (medians of 15 ms instead of 0.1 ms were measured)."""
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController()
    return _blas.limit(limits=1, user_api="blas")
_cache_lock = threading.Lock()


def _load(db: Session, model_id: int, trained_at: datetime) -> Loaded:
    """The model's arrays, read from the database once per process (the blob is not read per request).
    Keyed by database, id and training time, so a database restored or recreated under the same process
    never serves another model's arrays under a reused id."""
    import numpy as np
    key = (db.get_bind().url.render_as_string(hide_password=True), model_id, trained_at)
    with _cache_lock:
        found = _cache.get(key)
        if found is not None:
            return found
    blob = db.scalar(select(TdealModel.blob).where(TdealModel.id == model_id))
    arrays = np.load(io.BytesIO(blob))
    keys = arrays["seg_keys"].tolist()
    loaded = Loaded(
        user_pos={int(u): i for i, u in enumerate(arrays["user_ids"].tolist())}, item_ids=arrays["item_ids"],
        user_factors=arrays["user_factors"], item_factors=arrays["item_factors"],
        item_merchant=dict(zip(arrays["item_ids"].tolist(), arrays["item_merchants"].tolist(), strict=True)),
        segments={k: arrays[f"seg_{n}"].tolist() for n, k in enumerate(keys)})
    with _cache_lock:
        if len(_cache) > 4:
            _cache.clear()
        _cache[key] = loaded
    return loaded


def _live_segment_popularity(db: Session, subscriber: TdealSubscriber, limit: int) -> list[int]:
    """Without any model: the segment's most bought products (bounded scan of recent purchases)."""
    from sqlalchemy import func

    stmt = (select(TdealEvent.product_id, func.count()).join(TdealSubscriber,
                                                            TdealSubscriber.id == TdealEvent.subscriber_id)
            .where(TdealEvent.kind.in_(RELEVANT), TdealSubscriber.age_band == subscriber.age_band,
                   TdealSubscriber.sex == subscriber.sex)
            .group_by(TdealEvent.product_id).order_by(func.count().desc(), TdealEvent.product_id).limit(limit))
    return [pid for pid, _n in db.execute(stmt).all()]


def recommend(db: Session, *, subscriber_id: int, k: int = K, campaign_id: int | None = None,
              today: date | None = None, cap: int = PER_MERCHANT_CAP) -> dict[str, Any]:
    import numpy as np
    subscriber = service.get_subscriber(db, subscriber_id=subscriber_id)
    if not subscriber.marketing_opt_in:
        raise Conflict("Subscriber {id} has not opted in to marketing; no recommendations are made",
                       id=subscriber_id)
    campaign = (service.get_campaign(db, campaign_id=campaign_id) if campaign_id
                else service.active_campaign(db, today=today or today_seoul()))
    boosted = service.participant_ids(db, campaign_id=campaign.id) if campaign else set()
    newest = db.execute(select(TdealModel.id, TdealModel.trained_at)
                        .order_by(TdealModel.trained_at.desc(), TdealModel.id.desc()).limit(1)).first()
    model_id = newest[0] if newest else None
    pool = k * 8
    loaded = _load(db, newest[0], newest[1]) if newest else None
    if loaded is not None and subscriber.id in loaded.user_pos:
        source, reason = "model", "similar_subscribers"
        with _one_blas_thread():
            scores = loaded.item_factors @ loaded.user_factors[loaded.user_pos[subscriber.id]]
        n = min(pool, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top])]
        ranked = loaded.item_ids[top].tolist()
        raw = scores[top]
        span = float(raw.max() - raw.min()) or 1.0
        norm = ((raw - raw.min()) / span).tolist()
    else:
        source, reason = "segment_popularity", "popular_in_segment"
        if loaded is not None:
            ranked = (loaded.segments.get(f"{subscriber.age_band}|{subscriber.sex}")
                      or loaded.segments.get("*", []))[:pool]
        else:
            ranked = _live_segment_popularity(db, subscriber, pool)
        norm = [1.0 - j / max(len(ranked), 1) for j in range(len(ranked))]
    # Only products the caller can see and that are in stock; merchants come from the catalogue.
    live = {pid: mid for pid, mid in db.execute(select(TdealProduct.id, TdealProduct.merchant_id).where(
        TdealProduct.id.in_(ranked or [-1]), TdealProduct.stock > 0)).all()}
    keep = [j for j, pid in enumerate(ranked) if pid in live]
    ranked, norm = [ranked[j] for j in keep], [norm[j] for j in keep]
    chosen = _cap(ranked, norm, live, k, cap, boosted)
    score_of = dict(zip(ranked, norm, strict=True))
    items = []
    for pid in chosen:
        in_campaign = live[pid] in boosted
        score = score_of[pid] + (CAMPAIGN_BOOST if in_campaign else 0.0)
        items.append({"product_id": pid, "merchant_id": live[pid], "score": round(score, 4),
                      "reason": f"{reason}+campaign" if in_campaign else reason})
    return {"subscriber_id": subscriber.id, "model_id": model_id if source == "model" else None,
            "source": source, "campaign_id": campaign.id if campaign else None, "items": items}
