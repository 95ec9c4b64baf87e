"""Statistics shared by modules: difference-in-differences with cluster-robust intervals."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


def _codes(values: Sequence[Any]) -> np.ndarray:
    """0..n-1 codes of the distinct values (ints, strings or dates)."""
    import numpy as np
    arr = np.asarray(values)
    if arr.dtype == object:
        arr = arr.astype(str)
    return np.unique(arr, return_inverse=True)[1].reshape(-1)


def did(y: Sequence[float], treated: Sequence[bool], post: Sequence[bool], groups: Sequence[Any], *,
        alpha: float = 0.05, unit_effects: bool = True, periods: Sequence[Any] | None = None) -> dict[str, Any]:
    """Difference in differences by OLS ``y ~ treated + post + treated:post``.

    With ``unit_effects`` each group (unit) gets its own intercept (the within estimator: every column is
    demeaned by group, which absorbs ``treated``), so differences in level between units do not widen the
    interval. With ``periods`` (and unit effects) each period gets its own effect too (two-way fixed
    effects), so seasons and trends shared by all units do not bias the estimate when units start treatment
    at different times; ``post`` then only matters through ``treated:post``. Standard errors are clustered
    by ``groups`` (e.g. the merchant, whose months are not
    independent).
    Returns the estimate (the interaction's coefficient), its interval at ``1 - alpha``, the p-value, the
    four cell means and the counts. With fewer than two groups on either side there is no interval.
    """
    import numpy as np
    import statsmodels.api as sm

    y_arr = np.asarray(y, dtype=float)
    t_arr = np.asarray(treated, dtype=float)
    p_arr = np.asarray(post, dtype=float)
    g_codes = _codes(groups)
    treated_groups = len(np.unique(g_codes[t_arr == 1])) if len(y_arr) else 0
    control_groups = len(np.unique(g_codes[t_arr == 0])) if len(y_arr) else 0

    def cell(t: int, p: int) -> float | None:
        mask = (t_arr == t) & (p_arr == p)
        return float(y_arr[mask].mean()) if mask.any() else None

    means = {"treated_pre": cell(1, 0), "treated_post": cell(1, 1), "control_pre": cell(0, 0),
             "control_post": cell(0, 1)}
    out: dict[str, Any] = {"estimate": None, "se": None, "ci_low": None, "ci_high": None, "p_value": None,
                           "n_obs": int(len(y_arr)), "n_treated": treated_groups, "n_control": control_groups,
                           "means": means}
    if None in means.values():
        return out
    raw = (means["treated_post"] - means["treated_pre"]) - (means["control_post"] - means["control_pre"])
    out["estimate"] = raw
    if treated_groups < 2 or control_groups < 2:
        return out
    if unit_effects:
        counts = np.bincount(g_codes)

        def within(col: np.ndarray) -> np.ndarray:
            return col - (np.bincount(g_codes, weights=col) / counts)[g_codes]

        y_w, d_w = within(y_arr), within(t_arr * p_arr)
        if periods is not None:
            # Frisch-Waugh-Lovell: take the period effects out of y and treated:post (normal equations on a
            # few dozen columns), then regress what is left; the coefficient is the two-way one.
            codes = _codes(periods)
            dummies = np.eye(codes.max() + 1)[codes][:, 1:]  # the first period is the reference
            if dummies.shape[1]:
                z = np.column_stack([within(dummies[:, c]) for c in range(dummies.shape[1])])
                both = np.column_stack([y_w, d_w])
                coef = np.linalg.lstsq(z.T @ z, z.T @ both, rcond=None)[0]
                y_w, d_w = (both - z @ coef).T
            x = d_w[:, None]
            j = 0
        else:
            x = np.column_stack([within(p_arr), d_w])
            j = 1
        fit = sm.OLS(y_w, x, hasconst=False).fit(cov_type="cluster", cov_kwds={"groups": g_codes})
    else:
        x = np.column_stack([np.ones_like(y_arr), t_arr, p_arr, t_arr * p_arr])
        fit = sm.OLS(y_arr, x).fit(cov_type="cluster", cov_kwds={"groups": g_codes})
        j = 3
    low, high = fit.conf_int(alpha=alpha)[j]
    se = float(fit.bse[j])
    out.update(estimate=float(fit.params[j]), se=se if math.isfinite(se) else None,
               ci_low=float(low) if math.isfinite(low) else None, ci_high=float(high) if math.isfinite(high) else None,
               p_value=float(fit.pvalues[j]) if math.isfinite(fit.pvalues[j]) else None)
    return out
