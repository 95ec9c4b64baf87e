"""The program's effect: participants' change against comparable non-participants (difference in
differences with a 95% interval, standard errors clustered by merchant), per solution, and the adoption
funnel. Figures by group rest on at least ``k`` merchants (app.core.privacy)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from statistics import median
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.privacy import people_behind, safe_value, suppress_rows
from app.core.stats import did
from app.lguplus.merchants import service
from app.lguplus.merchants.models import SOLUTIONS, Application, MerchantStore, Outcome, Solution

METRICS = ("sales_krw", "orders", "reservations", "no_show_rate", "staff_hours")


def _month_index(d: date) -> int:
    return d.year * 12 + d.month - 1


def _index_month(i: int) -> str:
    return f"{i // 12:04d}-{i % 12 + 1:02d}"


def load_panel(db: Session) -> tuple[dict[int, str], dict[int, dict[str, int]], list[tuple]]:
    """Merchants' categories, installation months per merchant and solution, and every outcome row."""
    category = dict(db.execute(select(MerchantStore.id, MerchantStore.category)).all())
    installs: dict[int, dict[str, int]] = defaultdict(dict)
    for mid, code, installed in db.execute(
            select(Application.merchant_id, Solution.code, Application.installed_date)
            .join(Solution, Solution.id == Application.solution_id)
            .where(Application.installed_date.is_not(None))):
        m = _month_index(installed)
        installs[mid][code] = min(m, installs[mid].get(code, m))
    rows = db.execute(select(Outcome.merchant_id, Outcome.month_date, Outcome.sales_krw, Outcome.orders,
                             Outcome.reservations, Outcome.no_show_rate, Outcome.staff_hours)).all()
    return category, dict(installs), [tuple(r) for r in rows]


def _arrays(rows: list[tuple]) -> dict[str, Any]:
    """The outcome rows as numpy columns (None -> nan), built once per report."""
    import numpy as np
    if not rows:
        empty = np.zeros(0)
        return {"mid": empty.astype(int), "month": empty.astype(int), **{m: empty for m in METRICS}}
    cols = list(zip(*rows, strict=True))
    out: dict[str, Any] = {"mid": np.asarray(cols[0], dtype=int),
                           "month": np.asarray([_month_index(d) for d in cols[1]], dtype=int)}
    for i, metric in enumerate(METRICS):
        out[metric] = np.asarray([np.nan if v is None else float(v) for v in cols[2 + i]], dtype=float)
    return out


def effect(category: dict[int, str], installs: dict[int, dict[str, int]], panel: dict[str, Any], *,
           solution: str | None, metric: str) -> dict[str, Any]:
    """One difference in differences: merchants that installed ``solution`` (any, when None) against
    merchants of the same categories that installed nothing, with merchant and month fixed effects. A
    participant's months after its installation month are "post" (the installation month itself is left
    out); for the before/after means shown beside the estimate, a non-participant's "post" months are those
    after the participants' median installation month."""
    import numpy as np
    treated_at: dict[int, int] = {}
    for mid, by_code in installs.items():
        months = [m for c, m in by_code.items() if solution is None or c == solution]
        if months:
            treated_at[mid] = min(months)
    if not treated_at:
        return did([], [], [], [])
    cats = {category.get(mid) for mid in treated_at}
    pivot = int(median(treated_at.values()))
    mids, month, y = panel["mid"], panel["month"], panel[metric]
    uniq, inv = np.unique(mids, return_inverse=True)
    t_month = np.asarray([treated_at.get(int(u), -1) for u in uniq])[inv]
    comparable = np.asarray([int(u) not in installs and category.get(int(u)) in cats for u in uniq], dtype=bool)[inv]
    treated = t_month >= 0
    keep = ~np.isnan(y) & ((treated & (month != t_month)) | (comparable & (month != pivot)))
    post = np.where(treated, month > t_month, month > pivot)
    result = did(y[keep], treated[keep], post[keep], mids[keep], periods=month[keep])
    result["pivot_month"] = _index_month(pivot)
    return result


def _rounded(result: dict[str, Any], metric: str) -> dict[str, Any]:
    digits = 4 if metric == "no_show_rate" else (0 if metric in ("sales_krw",) else 2)

    def r(v: float | None) -> float | int | None:
        if v is None:
            return None
        return int(round(v)) if digits == 0 else round(v, digits)

    means = result["means"]
    base = means.get("treated_pre")
    return {"estimate": r(result["estimate"]), "ci_low": r(result["ci_low"]), "ci_high": r(result["ci_high"]),
            "p_value": round(result["p_value"], 4) if result["p_value"] is not None else None,
            "relative": (result["estimate"] / base) if result["estimate"] is not None and base else None,
            "treated_pre": r(means.get("treated_pre")), "treated_post": r(means.get("treated_post")),
            "control_pre": r(means.get("control_pre")), "control_post": r(means.get("control_post")),
            "n_treated": result["n_treated"], "n_control": result["n_control"], "n_obs": result["n_obs"]}


def monthly_series(category: dict[int, str], installs: dict[int, dict[str, int]], rows: list[tuple]
                   ) -> list[dict[str, Any]]:
    """Average monthly sales of participants and of non-participants, by month."""
    sums: dict[int, list[float]] = defaultdict(lambda: [0.0, 0, 0.0, 0])
    for row in rows:
        slot = sums[_month_index(row[1])]
        if row[0] in installs:
            slot[0] += row[2]
            slot[1] += 1
        else:
            slot[2] += row[2]
            slot[3] += 1
    out = []
    for m in sorted(sums):
        s = sums[m]
        out.append({"month": _index_month(m), "participants": int(s[1]), "others": int(s[3]),
                    "participants_avg_krw": int(s[0] / s[1]) if s[1] else None,
                    "others_avg_krw": int(s[2] / s[3]) if s[3] else None})
    return out


def by_dong(db: Session, panel: dict[str, Any], installs: dict[int, dict[str, int]], *, k: int
            ) -> list[dict[str, Any]]:
    """Average monthly sales over the last three months with figures, per 행정동 and participation. A cell of
    fewer than ``k`` merchants is hidden, and so is its partner in the same 행정동 (whose total is shown)."""
    dong = {mid: (code, name) for mid, code, name in db.execute(
        select(MerchantStore.id, MerchantStore.dong_code, MerchantStore.dong_name))}
    if not len(panel["month"]):
        return []
    recent = panel["month"] >= panel["month"].max() - 2
    sums: dict[tuple, list[float]] = defaultdict(lambda: [0.0, 0])
    merchants: dict[tuple, set[int]] = defaultdict(set)
    for mid, sales in zip(panel["mid"][recent].tolist(), panel["sales_krw"][recent].tolist(), strict=True):
        if mid not in dong:
            continue
        key = (*dong[mid], mid in installs)
        sums[key][0] += sales
        sums[key][1] += 1
        merchants[key].add(mid)
    rows = [{"dong_code": code, "dong_name": name, "participant": part, "merchants": len(merchants[(code, name, part)]),
             "avg_sales_krw": int(sums[(code, name, part)][0] / sums[(code, name, part)][1])}
            for code, name, part in sorted(sums)]
    for code, name in {(r["dong_code"], r["dong_name"]) for r in rows}:  # both cells of every 행정동
        for part in (True, False):
            if (code, name, part) not in sums:
                rows.append({"dong_code": code, "dong_name": name, "participant": part, "merchants": 0,
                             "avg_sales_krw": None})
    rows.sort(key=lambda r: (r["dong_name"], not r["participant"]))
    totals = defaultdict(int)
    for r in rows:
        totals[r["dong_code"]] += r["merchants"]
    rows = suppress_rows(rows, k=k, people_key="merchants", value_keys=("avg_sales_krw",),
                         dims=("dong_code", "participant"), margins=[("dong_code",)])
    hidden = defaultdict(int)
    for r in rows:
        hidden[r["dong_code"]] += r["suppressed"]
    for r in rows:
        # one hidden cell beside an empty one: the 행정동's total would give it away, so it is hidden too
        r["dong_merchants"] = None if hidden[r["dong_code"]] == 1 else totals[r["dong_code"]]
    return rows


def effect_report(db: Session, *, k: int = 5, year: int | None = None, as_of: date | None = None
                  ) -> dict[str, Any]:
    category, installs, rows = load_panel(db)
    panel = _arrays(rows)
    names = {code: spec[0] for code, spec in SOLUTIONS.items()}
    overall = {metric: _rounded(effect(category, installs, panel, solution=None, metric=metric), metric)
               for metric in METRICS}
    per_solution = []
    for code in SOLUTIONS:
        res = _rounded(effect(category, installs, panel, solution=code, metric="sales_krw"), "sales_krw")
        per_solution.append({"solution": code, "solution_name": names[code], **res})
    value_keys = ("estimate", "ci_low", "ci_high", "p_value", "relative", "treated_pre", "treated_post",
                  "control_pre", "control_post")
    for row in per_solution:  # an estimate rests on its participants and on its comparison merchants
        row["merchants"] = people_behind(row["n_treated"], row["n_control"])
    per_solution = suppress_rows(per_solution, k=k, people_key="merchants",
                                 value_keys=(*value_keys, "n_treated", "n_control"), dims=("solution",))
    for row in per_solution:
        del row["merchants"]
    for metric, res in overall.items():
        if res["n_treated"] < k or res["n_control"] < k:
            overall[metric] = {**res, **dict.fromkeys(value_keys), "suppressed": True}
        else:
            res["suppressed"] = False
    funnel = service.funnel(db, year=year)
    by_solution = suppress_rows(service.funnel_by_solution(db, year=year), k=k, people_key="count",
                                value_keys=(), dims=("solution", "state"), margins=[("solution",), ("state",)])
    series = [{**s, "participants_avg_krw": safe_value(s["participants"], s["participants_avg_krw"], k=k),
               "others_avg_krw": safe_value(s["others"], s["others_avg_krw"], k=k)}
              for s in monthly_series(category, installs, rows)]
    return {"k": k, "overall": overall, "per_solution": per_solution, "funnel": funnel,
            "funnel_by_solution": by_solution, "monthly": series, "by_dong": by_dong(db, panel, installs, k=k),
            "participants": service.installed_merchants(db, as_of=as_of), "as_of": as_of,
            "merchants": len(category)}
