"""Fit service-time distributions and arrival-rate profiles; render them in scenario syntax.

All inputs are float seconds. Fitted distributions come back as scenario values (docs/scenario.md)
values whose durations carry units (``{dist: lognormal, median: 4.2ms, p99: 31ms}``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

__all__ = [
    "FitResult",
    "fit_duration",
    "RateProfile",
    "rate_profile",
    "short_duration",
    "short_size",
    "empirical_spec",
]

Z99 = float(stats.norm.ppf(0.99))
#: KS tests on at most this many points: with more, the test rejects every
#: parametric shape for deviations far below what a simulation could notice.
KS_MAX_N = 2000
MIN_FIT_N = 8


def short_duration(seconds: float, digits: int = 3) -> str:
    """Render seconds as a duration with a unit and ``digits`` significant digits ("4.21ms")."""
    s = float(seconds)
    if not math.isfinite(s) or s <= 0:
        return "0ms"
    s = float(f"{s:.{digits}g}")  # round first, so 0.9999ms becomes 1ms, not 1000us
    if s >= 1:
        unit, value = "s", s
    elif s >= 1e-3:
        unit, value = "ms", s * 1e3
    else:
        unit, value = "us", s * 1e6
    if value >= 10**digits:
        return f"{value:.0f}{unit}"
    text = f"{value:.{digits}g}"
    if "e" in text:  # :g switches to exponent form near 10**digits
        text = f"{value:.0f}"
    return f"{text}{unit}"


def short_size(n_bytes: float) -> Any:
    """Render a byte count as scenario size: a plain int below 1 KB, else ``"2.05KB"`` / ``"1.2MB"``."""
    b = float(n_bytes)
    if b < 1000:
        return int(round(b))
    for unit, f in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if b >= f:
            return f"{b / f:.3g}{unit}"
    return int(round(b))


def empirical_spec(samples_s: np.ndarray, max_samples: int = 200) -> dict[str, Any]:
    """The scenario value ``{dist: empirical, samples: [...]}`` from at most ``max_samples`` evenly spaced quantiles."""
    x = np.sort(np.asarray(samples_s, float))
    if len(x) > max_samples:
        x = np.quantile(x, (np.arange(max_samples) + 0.5) / max_samples)
    return {"dist": "empirical", "samples": [short_duration(v, 4) for v in x]}


@dataclass(frozen=True)
class FitResult:
    """One fitted duration distribution and why it was chosen.

    Attributes:
        dist: ``lognormal``, ``gamma``, ``exponential``, ``empirical``, ``constant`` or ``none``.
        spec: the scenario value to write (a string for a constant, else a mapping).
        n: samples the fit rests on.
        ks_p: KS p-value of the chosen fit (NaN for empirical and constant).
        p_values: KS p-value of every candidate tried.
        params: fitted parameters in seconds (``median``/``sigma``, ``mean``/``cv``).
        reason: one sentence on why this distribution was chosen.
    """

    dist: str
    spec: Any
    n: int
    ks_p: float = math.nan
    p_values: dict[str, float] = field(default_factory=dict)
    params: dict[str, float] = field(default_factory=dict)
    reason: str = ""

    def comment(self, what: str) -> str:
        """Short provenance text, e.g. ``lognormal fit (KS p=0.41) to 1,203 spans of cart``."""
        if self.dist in ("lognormal", "gamma", "exponential"):
            return f"{self.dist} fit (KS p={self.ks_p:.2g}) to {self.n:,} {what}"
        if self.dist == "empirical":
            return f"empirical: {self.reason}; {self.n:,} {what}"
        if self.dist == "constant":
            return f"constant: all {self.n:,} {what} are equal"
        return self.reason


def _ks(x: np.ndarray, cdf: Any) -> float:
    return float(stats.kstest(x, cdf).pvalue)


def _candidates(pos: np.ndarray) -> dict[str, tuple[Any, dict[str, float]]]:
    """Maximum-likelihood fits with location 0; a fit that fails numerically is left out."""
    out: dict[str, tuple[Any, dict[str, float]]] = {}
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # Nearly constant samples make the optimisers warn; such fits are then dropped.
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            s, _, scale = stats.lognorm.fit(pos, floc=0)
            if math.isfinite(s) and s > 0 and scale > 0:
                out["lognormal"] = (stats.lognorm(s, scale=scale), {"median": scale, "sigma": s})
        except (ValueError, RuntimeError, FloatingPointError):
            pass
        try:
            a, _, g_scale = stats.gamma.fit(pos, floc=0)
            if math.isfinite(a) and a > 0 and g_scale > 0:
                params = {"mean": a * g_scale, "cv": 1 / math.sqrt(a), "shape": a}
                out["gamma"] = (stats.gamma(a, scale=g_scale), params)
        except (ValueError, RuntimeError, FloatingPointError):
            pass
    mean = float(pos.mean())
    out["exponential"] = (stats.expon(scale=mean), {"mean": mean})
    return out


def fit_duration(samples_s: Any, alpha: float = 0.01, max_samples: int = 200) -> FitResult:
    """Fit lognormal, gamma and exponential (location fixed at 0) and pick one by KS test.

    The candidate with the highest KS p-value wins, unless none reaches ``alpha``
    (then the samples are kept as an empirical distribution). Exponential is
    preferred to gamma when it passes and gamma's extra shape parameter does not
    improve the likelihood significantly (likelihood-ratio test at 5%), because the
    simpler model then says the same. p-values use parameters estimated from the
    same data, so they are optimistic (Lilliefors); they are used to reject shapes,
    not to prove one. The KS test runs on at most :data:`KS_MAX_N` points taken at
    even steps through the samples in their original order.
    """
    x = np.asarray(samples_s, float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return FitResult("none", None, 0, reason="no samples")
    # Equal to the microsecond (Jaeger's and Zipkin's resolution): a constant.
    if np.ptp(x) <= max(1e-6, 1e-6 * abs(float(np.median(x)))):
        return FitResult("constant", short_duration(float(x[0]), 4), n, params={"value": float(x[0])})
    zeros = int((x <= 0).sum())
    if n < MIN_FIT_N:
        return FitResult("empirical", empirical_spec(x, max_samples), n, reason=f"too few samples ({n}) to test a fit")
    if zeros > 0.05 * n:
        return FitResult(
            "empirical",
            empirical_spec(x, max_samples),
            n,
            reason=f"{zeros:,} of the samples are 0, which no candidate shape allows",
        )
    pos = x[x > 0]
    test = pos if len(pos) <= KS_MAX_N else pos[np.linspace(0, len(pos) - 1, KS_MAX_N).astype(int)]
    cands = _candidates(pos)
    p_values = {k: _ks(test, d.cdf) for k, (d, _) in cands.items()}
    passing = {k: p for k, p in p_values.items() if p >= alpha}
    summary = ", ".join(f"{k} {p:.2g}" for k, p in p_values.items())
    if not passing:
        return FitResult(
            "empirical",
            empirical_spec(x, max_samples),
            n,
            p_values=p_values,
            reason=f"no shape fits (KS p < {alpha:g}: {summary})",
        )
    best = max(passing, key=lambda k: passing[k])
    reason = f"highest KS p-value among {summary}"
    if best == "gamma" and "exponential" in passing:
        lr = 2 * (cands["gamma"][0].logpdf(pos).sum() - cands["exponential"][0].logpdf(pos).sum())
        if lr < stats.chi2.ppf(0.95, 1):
            best = "exponential"
            reason = f"exponential passes KS and gamma's shape adds nothing significant (LR={lr:.2f}); {summary}"
    params = {k: float(v) for k, v in cands[best][1].items()}
    if zeros:
        reason += f"; {zeros:,} zero value(s) left out of the fit"
    return FitResult(best, _spec(best, params), n, ks_p=p_values[best], p_values=p_values, params=params, reason=reason)


def _spec(dist: str, p: dict[str, float]) -> dict[str, Any]:
    if dist == "lognormal":
        p99 = p["median"] * math.exp(Z99 * p["sigma"])
        return {"dist": "lognormal", "median": short_duration(p["median"]), "p99": short_duration(p99)}
    if dist == "gamma":
        return {"dist": "gamma", "mean": short_duration(p["mean"]), "cv": round(p["cv"], 3)}
    return {"dist": "exponential", "mean": short_duration(p["mean"])}


# --------------------------------------------------------------------------- arrivals


@dataclass(frozen=True)
class RateProfile:
    """Arrival rate (per second) of one entry point, and its changes over time.

    ``steps`` holds ``(at_s, rate)`` pairs with ``at_s`` measured from the first
    arrival; ``rate`` is the rate before the first step. ``cv`` is the coefficient
    of variation of the gaps between arrivals (1 for Poisson, 0 for a metronome).
    """

    rate: float
    steps: list[tuple[float, float]]
    n: int
    window_s: float
    bin_s: float
    cv: float
    z: list[float] = field(default_factory=list)


def _best_split(c: np.ndarray, e: np.ndarray, i: int, j: int, min_bins: int) -> tuple[int, float]:
    best_k, best_z = -1, 0.0
    for k in range(i + min_bins, j - min_bins + 1):
        c1, e1 = c[i:k].sum(), e[i:k].sum()
        c2, e2 = c[k:j].sum(), e[k:j].sum()
        pooled = (c1 + c2) / (e1 + e2)
        if pooled <= 0:
            continue
        # Poisson counts: under "no change" the two rates differ by sqrt(r/e1 + r/e2).
        z = abs(c1 / e1 - c2 / e2) / math.sqrt(pooled / e1 + pooled / e2)
        if z > best_z:
            best_k, best_z = k, z
    return best_k, best_z


def rate_profile(
    times_s: Any,
    bin_s: float = 10.0,
    z: float = 3.0,
    min_change: float = 0.1,
    min_bins: int = 2,
) -> RateProfile:
    """Estimate an entry point's arrival rate and the times where it really changes.

    Arrivals are counted per ``bin_s`` and the series is cut by binary segmentation:
    the best cut of a segment is kept when the rates on either side differ by more
    than ``z`` standard errors (Poisson, pooled rate) after a Bonferroni correction
    for the number of cuts tried, and by at least ``min_change`` (10%) of the lower
    rate, so that a large sample does not turn noise-sized changes into steps.
    """
    t = np.sort(np.asarray(times_s, float))
    t = t[np.isfinite(t)]
    n = len(t)
    if n == 0:
        return RateProfile(0.0, [], 0, 0.0, bin_s, math.nan)
    window = float(t[-1] - t[0])
    gaps = np.diff(t)
    cv = float(gaps.std() / gaps.mean()) if len(gaps) > 1 and gaps.mean() > 0 else math.nan
    if n < 2 or window <= 0:
        return RateProfile(float(n), [], n, window, bin_s, cv)
    # n-1 gaps span the window: (n-1)/window is the usual estimate when the
    # observation starts and ends at an arrival.
    overall = (n - 1) / window
    nb = max(1, int(math.ceil(window / bin_s)))
    edges = t[0] + bin_s * np.arange(nb + 1)
    counts = np.histogram(t, bins=edges)[0].astype(float)
    exposure = np.full(nb, float(bin_s))
    exposure[-1] = max(window - bin_s * (nb - 1), 1e-9)
    cuts: list[int] = []
    zs: list[float] = []
    todo = [(0, nb)]
    while todo:
        i, j = todo.pop()
        if j - i < 2 * min_bins:
            continue
        k, zk = _best_split(counts, exposure, i, j, min_bins)
        if k < 0:
            continue
        tries = j - i - 2 * min_bins + 1
        crit = max(z, float(stats.norm.isf(stats.norm.sf(z) / max(tries, 1))))
        r1 = counts[i:k].sum() / exposure[i:k].sum()
        r2 = counts[k:j].sum() / exposure[k:j].sum()
        if zk > crit and abs(r1 - r2) >= min_change * max(min(r1, r2), 1e-12):
            cuts.append(k)
            zs.append(zk)
            todo += [(i, k), (k, j)]
    if not cuts:
        return RateProfile(overall, [], n, window, bin_s, cv)
    order = np.argsort(cuts)
    bounds = [0] + [cuts[o] for o in order] + [nb]
    rates = [counts[a:b].sum() / exposure[a:b].sum() for a, b in zip(bounds, bounds[1:])]
    steps = [(float(bin_s * b), float(r)) for b, r in zip(bounds[1:-1], rates[1:], strict=True)]
    return RateProfile(float(rates[0]), steps, n, window, bin_s, cv, [float(zs[o]) for o in order])
