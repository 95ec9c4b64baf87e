"""`dxhub tdeal ...`: train and evaluate the recommendation model."""

from __future__ import annotations

import argparse
from typing import Any

from app.core import commands

METRICS = ("precision_at_k", "recall_at_k", "ndcg_at_k", "hit_rate", "merchant_coverage")
LABELS = {"model": "ALS model", "model_reranked": "ALS, max 2/merchant", "popularity": "popularity baseline",
          "popularity_reranked": "popularity, max 2/merchant"}


def print_metrics(metrics: dict[str, Any]) -> None:
    k = metrics.get("k", 10)
    print(f"time-based split: {metrics['train_events']} training / {metrics['test_events']} later interactions, "
          f"{metrics['users_evaluated']} subscribers scored")
    header = ["variant", f"precision@{k}", f"recall@{k}", f"NDCG@{k}", f"hit@{k}", "merchant coverage"]
    print("  ".join(f"{h:>26}" if i == 0 else f"{h:>17}" for i, h in enumerate(header)))
    for variant, label in LABELS.items():
        res = metrics["results"].get(variant)
        if res:
            print(f"{label:>26}" + "".join(f"  {res[m]:>17.4f}" for m in METRICS))
    model, base = metrics["results"]["model"]["ndcg_at_k"], metrics["results"]["popularity"]["ndcg_at_k"]
    verdict = "beats" if model > base else "does NOT beat"
    print(f"The model {verdict} the popularity baseline on NDCG@{k}: {model:.4f} vs {base:.4f}")


def _cmd_train(args: argparse.Namespace) -> int:
    from app.platform import service as platform_service
    from app.skt.tdeal import recommend

    with commands.system_session() as session:
        muni = platform_service.resolve_municipality(session, code=args.municipality)
        model = recommend.train(session, municipality_id=muni.id, factors=args.factors,
                                iterations=args.iterations, regularization=args.regularization,
                                progress=None if args.quiet else commands.progress)
        print(f"Stored model #{model.id} for {muni.name_ko} ({model.n_events} interactions).")
        print_metrics(model.metrics)
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from app.platform import service as platform_service
    from app.skt.tdeal import recommend
    from app.skt.tdeal.models import TdealProduct

    with commands.system_session(write=False) as session:
        muni = platform_service.resolve_municipality(session, code=args.municipality)
        scope = platform_service.descendant_ids(session, municipality_id=muni.id)
        data = recommend.load_interactions(session, municipality_ids=scope)
        item_merchant = dict(session.execute(select(TdealProduct.id, TdealProduct.merchant_id)
                                             .where(TdealProduct.municipality_id.in_(scope))).all())
        metrics = recommend.evaluate(data, item_merchant=item_merchant,
                                     n_merchants=len(set(item_merchant.values())), factors=args.factors,
                                     iterations=args.iterations, regularization=args.regularization,
                                     progress=None if args.quiet else commands.progress)
        if not args.quiet:
            commands.progress(1.0, "done")
        print_metrics(metrics)
    return 0


def add_cli(subparsers: Any) -> None:
    tdeal = subparsers.add_parser("tdeal", help="T deal: train and evaluate the recommendation model")
    sub = tdeal.add_subparsers(dest="tdeal_command", required=True)
    for name, func, text in [("train", _cmd_train, "evaluate on a time split, then train on everything and store"),
                             ("evaluate", _cmd_evaluate, "print precision/recall/NDCG@10 and merchant coverage "
                                                         "beside the popularity baseline")]:
        p = sub.add_parser(name, help=text)
        p.add_argument("--municipality", default="4700000000", help="10-digit code of the scope (default 경상북도)")
        p.add_argument("--factors", type=int, default=32)
        p.add_argument("--iterations", type=int, default=15)
        p.add_argument("--regularization", type=float, default=0.05)
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        p.set_defaults(func=func)
