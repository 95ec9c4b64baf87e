"""`make bench`: run every bench/bench_*.py and print each figure beside its floor from the same run."""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path


def main(selected: list[str]) -> int:
    names = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    if selected:
        names = [n for n in names if any(s in n for s in selected)]
    rows, failed = [], []
    for name in names:
        started = time.monotonic()
        try:
            results = importlib.import_module(f"bench.{name}").measure()
        except Exception as exc:  # one failing benchmark must not hide the others
            failed.append(f"{name}: {exc!r}")
            continue
        print(f"{name}: {time.monotonic() - started:.1f} s", file=sys.stderr)
        rows.extend(results)
    header = f"{'benchmark':<58} {'value':>12} {'unit':<8} {'floor':<34} {'floor value':>12} {'ratio':>8}"
    print(header)
    print("-" * len(header))
    for r in rows:
        ratio = r["value"] / r["floor_value"] if r["floor_value"] else float("nan")
        print(f"{r['name']:<58} {r['value']:>12.1f} {r['unit']:<8} {r['floor_name']:<34} "
              f"{r['floor_value']:>12.1f} {ratio:>8.2f}")
    for line in failed:
        print(f"FAILED {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
