"""`dxhub voicebot train`, `dxhub voicebot evaluate` and `dxhub voicebot simulate`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from app.core import commands
from app.kt.voicebot import classifier


def cmd_train(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    commands.progress(0.0, "training...")
    model = classifier.train()
    commands.progress(0.5, "saving...")
    path = classifier.save(model, Path(args.output) if args.output else None)
    commands.progress(1.0, "done")
    print(f"Trained on {model.trained_on} utterances (with variants) in {time.perf_counter() - started:.1f} s; "
          f"model written to {path} (set {classifier.MODEL_ENV} to use another path).")
    return 0


def format_evaluation(ev: classifier.Evaluation) -> str:
    short = {"bulky_waste": "bulky", "night_duty": "night", "illegal_parking": "parking",
             "local_tax_refund": "tax", "faq": "faq", "human_agent": "human", "out_of_scope": "other"}
    lines = [f"Held-out accuracy: {ev.accuracy:.1%} on {ev.test_size} utterances "
             f"({ev.test_lines} held-out lines with their spoken variants; trained on {ev.train_size} "
             f"from the other lines; {ev.seconds:.1f} s)", "",
             "Confusion matrix (rows: expected, columns: predicted)",
             "expected\\predicted " + " ".join(f"{short[k]:>8}" for k in ev.labels)]
    for label, row in zip(ev.labels, ev.confusion, strict=True):
        lines.append(f"{short[label]:<19}" + " ".join(f"{v:>8}" for v in row))
    if ev.errors:
        lines += ["", "Misclassified:"] + [f"  {t}  ({e} -> {p})" for t, e, p in ev.errors[:40]]
    return "\n".join(lines)


def cmd_evaluate(args: argparse.Namespace) -> int:
    ev = classifier.evaluate(test_share=args.test_share, seed=args.seed)
    print(format_evaluation(ev))
    if args.repeats > 1:
        # Other random splits: one split's figure alone says little on a few hundred utterances.
        scores = [ev.accuracy] + [classifier.evaluate(test_share=args.test_share, seed=args.seed + i).accuracy
                                  for i in range(1, args.repeats)]
        print(f"\nOver {len(scores)} splits: mean {sum(scores) / len(scores):.1%}, "
              f"min {min(scores):.1%}, max {max(scores):.1%}")
    return 0 if ev.accuracy >= args.min_accuracy else 1


def fee_table() -> list:
    """The demo's fee table (이천시 prices), which the simulated callers choose from."""
    from app.kt.voicebot import dialogue
    from app.kt.voicebot.demo import FEE_TABLE

    return [dialogue.FeeLine(name=n, size=s, aliases=tuple(x for x in a.split(",") if x), fee_krw=f)
            for n, s, a, f in FEE_TABLE]


def faq_tables() -> tuple:
    """The demo's FAQ tables (이천시, 거제시), each with 동 names it has no answer for, which the simulated
    FAQ callers ask."""
    from app.kt.voicebot.demo import AREAS, FAQ_AREAS, faq_lines

    return tuple((faq_lines(code), [a for a in AREAS[code] if a not in FAQ_AREAS[code] and a.endswith("동")])
                 for code in FAQ_AREAS)


def cmd_simulate(args: argparse.Namespace) -> int:
    from datetime import date

    from app.kt.voicebot import simulate

    model = classifier.get_model()
    seeds = range(args.seed, args.seed + args.dialogues)
    summary = simulate.simulate(seeds, fee_table=fee_table(), today=date.fromisoformat(args.today),
                                predict=model.predict, noise=args.noise, faq_tables=faq_tables())
    print(f"Seeds {seeds.start}-{seeds.stop - 1}: {summary.dialogues} dialogues ({summary.faq} asking the FAQ), "
          f"{summary.filed} filed, "
          f"{len(summary.unfaithful)} filed other than read back; filed exactly as the caller wanted: "
          f"{summary.accuracy:.1%}")
    for result in summary.misses[:args.show]:
        print(f"\n--- seed {result.seed}")
        for said, reply in result.transcript:
            print(f"  caller: {said}\n  bot:    {reply}")
    return 0 if not summary.unfaithful and summary.accuracy >= args.min_accuracy else 1


def add_cli(subparsers) -> None:
    voicebot = subparsers.add_parser("voicebot", help="A'Cen civil-complaint voicebot: intent classifier")
    sub = voicebot.add_subparsers(dest="voicebot_command", required=True)
    train = sub.add_parser("train", help="train the intent classifier on the package's utterances and save it")
    train.add_argument("--output", help=f"model file (default: ${classifier.MODEL_ENV} or "
                                        f"{classifier.DEFAULT_MODEL_PATH})")
    train.set_defaults(func=cmd_train)
    evaluate = sub.add_parser("evaluate", help="accuracy and confusion matrix on a held-out split")
    evaluate.add_argument("--test-share", type=float, default=0.25)
    evaluate.add_argument("--seed", type=int, default=2026)
    evaluate.add_argument("--repeats", type=int, default=1, help="also report the spread over this many splits")
    evaluate.add_argument("--min-accuracy", type=float, default=0.9, help="exit 1 below this accuracy")
    evaluate.set_defaults(func=cmd_evaluate)
    sim = sub.add_parser("simulate", help="seeded simulated callers: is every request filed as confirmed?")
    sim.add_argument("--seed", type=int, default=100000, help="first seed (the test's held-out set: 100000)")
    sim.add_argument("--dialogues", type=int, default=500)
    sim.add_argument("--today", default="2026-12-02", help="the date the calls are made (Seoul)")
    sim.add_argument("--noise", type=float, default=0.3, help="share of fillers and dropped spaces")
    sim.add_argument("--show", type=int, default=3, help="print this many dialogues not filed as wanted")
    sim.add_argument("--min-accuracy", type=float, default=0.9, help="exit 1 below this accuracy")
    sim.set_defaults(func=cmd_simulate)
