"""Statistics over replications (one Student-t interval, paired differences) and exact MVA.

Every confidence interval meshsim prints (results, the SLO judge, what-ifs, sweeps,
validation tests) comes from :func:`mean_ci`, so they all agree on edge cases: NaN
values are dropped, one value has no interval, identical values have a zero-width one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np
from scipy import stats as _scipy_stats

__all__ = ["MvaResult", "mean_ci", "mva", "paired_p_value"]


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


class MvaResult(NamedTuple):
    """What exact MVA gives for a closed network at its population (seconds, per second)."""

    throughput_per_s: float  # X: requests completed per second
    response_s: float  # R: mean time from sending a request to its answer (think time excluded)
    station_response_s: tuple[float, ...]  # R_k: mean time per request at each station (all visits)
    station_queue: tuple[float, ...]  # Q_k: mean number of requests at each station


def mva(demands_s: Sequence[float], think_s: float, users: int) -> MvaResult:
    """Exact mean value analysis of a single-class closed product-form network.

    ``demands_s[k]`` is the service demand D_k = V_k S_k of a request at queueing station k
    (one server, FIFO with exponential work or processor sharing with any), ``think_s`` the
    mean think time Z (a delay station) and ``users`` the population N. The recursion of
    Reiser & Lavenberg (1980), as in Lazowska et al., *Quantitative System Performance*
    (1984), ch. 7: for n = 1..N, R_k(n) = D_k (1 + Q_k(n-1)), X(n) = n / (Z + sum R_k(n)),
    Q_k(n) = X(n) R_k(n).
    """
    if users < 0 or think_s < 0 or any(d < 0 for d in demands_s):
        raise ValueError("mva needs users >= 0, think_s >= 0 and demands >= 0")
    queue = [0.0] * len(demands_s)
    station = [0.0] * len(demands_s)
    throughput = 0.0
    for n in range(1, users + 1):
        station = [d * (1.0 + q) for d, q in zip(demands_s, queue, strict=True)]
        total = think_s + sum(station)
        throughput = n / total if total > 0 else math.inf
        queue = [throughput * r for r in station]
    return MvaResult(throughput, sum(station), tuple(station), tuple(queue))
