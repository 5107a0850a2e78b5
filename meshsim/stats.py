"""Statistics over replications: one Student-t interval and paired differences.

Every confidence interval meshsim prints (results, the SLO judge, what-ifs, sweeps,
validation tests) comes from :func:`mean_ci`, so they all agree on edge cases: NaN
values are dropped, one value has no interval, identical values have a zero-width one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from scipy import stats as _scipy_stats

__all__ = ["mean_ci", "paired_p_value"]


def mean_ci(values: Iterable[float] | np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided Student-t interval ``(mean, low, high)`` over replication values.

    NaN values are dropped. With no values all three are NaN; with one value the bounds
    are NaN. Identical values give a zero-width interval (scipy's ``t.interval`` would
    give NaN for a zero scale, but a deterministic metric is a legitimate certainty).
    """
    arr = np.asarray(values, dtype=float).ravel()
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(arr.mean())
    if arr.size < 2:
        return mean, math.nan, math.nan
    sem = float(arr.std(ddof=1)) / math.sqrt(arr.size)
    if sem == 0.0:
        return mean, mean, mean
    half = sem * float(_scipy_stats.t.ppf((1 + confidence) / 2, arr.size - 1))
    return mean, mean - half, mean + half


def paired_p_value(differences: np.ndarray) -> float:
    """Two-sided p-value of a paired t-test that the mean difference is zero (NaN under 2 pairs)."""
    diffs = np.asarray(differences, dtype=float)
    if diffs.size < 2:
        return math.nan
    # identical differences (up to rounding) have no spread: the t statistic is undefined and
    # scipy warns of catastrophic cancellation, so decide on the mean alone
    if float(diffs.std(ddof=1)) <= 1e-12 * max(1.0, float(np.abs(diffs).max())):
        return 1.0 if float(diffs.mean()) == 0.0 else 0.0
    return float(_scipy_stats.ttest_1samp(diffs, 0.0).pvalue)
