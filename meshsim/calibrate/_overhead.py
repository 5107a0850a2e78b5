"""Per-call network and proxy overhead from client/server span pairs (seconds).

A caller's client span covers the whole exchange; the callee's server span only
the part inside the callee. The difference, the **hop overhead**, is what the
network and the sidecars add to one call. meshsim spends it in four draws per
call (caller's outbound proxy, request leg, callee's inbound proxy, response leg;
see ``meshsim.engine._exchange.Exchange``). Traces cannot tell those parts
apart, so the calibration writes the whole hop as two proxy traversals of one
fitted distribution (``mesh.proxy_overhead``) over a network that takes no time
where the traces already include it. Without this, every call of the twin would
be faster by the hop overhead: on Online Boutique that is half of the end-to-end
latency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import optimize, stats

from meshsim.calibrate._fit import short_duration

__all__ = [
    "MIN_HOP_SAMPLES",
    "HopOverhead",
    "fit_hop_overhead",
    "fit_one_way_latency",
    "hop_overhead_samples",
    "hop_overhead_table",
    "relation_of",
]

#: Client/server pairs needed before the overhead is fitted (fewer: left as a comment).
MIN_HOP_SAMPLES = 20
_CALLER_KINDS = ("client", "producer")
_Q = np.array([0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99])
_MC = 20_000  # quadrature pairs for the sum of two traversals
_LATTICE = 12_361  # ~0.618 x _MC and coprime with it


@dataclass(frozen=True)
class HopOverhead:
    """The fitted per-traversal overhead and the hop samples it rests on.

    Attributes:
        spec: scenario distribution of one traversal (``mesh.proxy_overhead``).
        n: client/server pairs used.
        hop_median_s, hop_p99_s: the observed whole-hop overhead.
        params: ``median_s`` and ``sigma`` of the lognormal traversal (or ``value_s``).
        dropped: pairs left out (a negative difference: clock rate or async work).
    """

    spec: Any
    n: int
    hop_median_s: float
    hop_p99_s: float
    params: dict[str, float] = field(default_factory=dict)
    dropped: int = 0

    def comment(self, what: str = "calls") -> str:
        return (
            f"half of the hop overhead (client span minus server span: median "
            f"{short_duration(self.hop_median_s)}, p99 {short_duration(self.hop_p99_s)}) over {self.n:,} {what}; "
            "two traversals per call"
        )


def relation_of(a: Any, b: Any) -> str | None:
    """How two ``cloud/region/zone`` paths relate.

    Returns:
        ``same_zone``, ``cross_zone``, ``cross_region`` or ``cross_cloud``; None when
        either is unknown or not a full zone path.
    """
    if not isinstance(a, str) or not isinstance(b, str):
        return None
    pa, pb = a.split("/"), b.split("/")
    if len(pa) != 3 or len(pb) != 3:
        return None
    if pa == pb:
        return "same_zone"
    if pa[:2] == pb[:2]:
        return "cross_zone"
    return "cross_region" if pa[0] == pb[0] else "cross_cloud"


def hop_overhead_samples(spans: pd.DataFrame) -> tuple[np.ndarray, int]:
    """Client-span minus server-span durations (s) for calls with exactly one attempt.

    A client span with several server children (retries, hedges) covers back-off
    and failed attempts too, so it is left out. Returns ``(samples, dropped)``
    where ``dropped`` counts negative differences (left out).
    """
    table, negative = hop_overhead_table(spans)
    return table["hop_s"].to_numpy(float), negative


def hop_overhead_table(spans: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Like :func:`hop_overhead_samples`, as a table with the ``relation`` of the two ends.

    ``relation`` comes from the spans' ``location`` column (caller's client span,
    callee's server span) and is None where either is unknown.
    """
    empty = pd.DataFrame({"hop_s": pd.Series(dtype=float), "relation": pd.Series(dtype=object)})
    need = {"trace_id", "span_id", "parent_id", "service", "kind", "duration_s"}
    if spans is None or len(spans) == 0 or not need <= set(spans.columns):
        return empty, 0
    cols = list(need) + (["location"] if "location" in spans.columns else [])
    df = spans[cols].reset_index(drop=True)
    keys = pd.Index(df["trace_id"].astype(str) + "/" + df["span_id"].astype(str))
    if not keys.is_unique:
        df = df.loc[~keys.duplicated()].reset_index(drop=True)
        keys = pd.Index(df["trace_id"].astype(str) + "/" + df["span_id"].astype(str))
    has_parent = df["parent_id"].notna().to_numpy()
    parent_key = df["trace_id"].astype(str) + "/" + df["parent_id"].astype(str)
    parent = np.where(has_parent, keys.get_indexer(pd.Index(parent_key)), -1)
    child = np.flatnonzero(parent >= 0)
    par = parent[child]
    kind = df["kind"].to_numpy(dtype=object)
    svc = df["service"].to_numpy(dtype=object)
    ok = np.isin(kind[par], _CALLER_KINDS) & (svc[par] != svc[child]) & (kind[child] != "client")
    child, par = child[ok], par[ok]
    if len(par) == 0:
        return empty, 0
    counts = np.bincount(par, minlength=len(df))
    single = counts[par] == 1
    child, par = child[single], par[single]
    dur = df["duration_s"].to_numpy(float)
    h = dur[par] - dur[child]
    loc = df["location"].to_numpy(dtype=object) if "location" in df.columns else np.full(len(df), None, object)
    rel = np.array([relation_of(a, b) for a, b in zip(loc[par], loc[child], strict=True)], dtype=object)
    keep = np.isfinite(h)
    h, rel = h[keep], rel[keep]
    negative = int((h < 0).sum())
    return pd.DataFrame({"hop_s": h[h >= 0], "relation": rel[h >= 0]}), negative


def _lattice_normals() -> tuple[np.ndarray, np.ndarray]:
    """Standard-normal quadrature pairs: evenly spread like independent draws, but fixed.

    A rank-1 (Fibonacci) lattice pairs the quantiles, so the fit is deterministic and
    needs no random numbers at all.
    """
    z = stats.norm.ppf((np.arange(_MC) + 0.5) / _MC)
    return z, z[(np.arange(_MC) * _LATTICE) % _MC]


def _pair_sum(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Sum of two independent variables given as quadrature samples of equal length."""
    return np.sort(x)[np.arange(_MC)] + np.sort(y)[(np.arange(_MC) * _LATTICE) % _MC]


def _lognormal_for_sum(h: np.ndarray) -> tuple[float, float]:
    """(median s, sigma) of a lognormal X whose sum of two independent draws matches ``h``'s quantiles."""
    pos = h[h > 0]
    mean, var = float(pos.mean()), float(pos.var())
    # Moments first: E[X] = E[h]/2, Var[X] = Var[h]/2; then refine on the quantiles,
    # which outliers (a slow connection set-up) move far less than the variance.
    cv2 = max(2.0 * var / mean**2, 1e-6)
    sigma0 = math.sqrt(math.log1p(cv2))
    mu0 = math.log(mean / 2) - sigma0**2 / 2
    z, z2 = _lattice_normals()
    target = np.log(np.quantile(pos, _Q))

    def loss(theta: np.ndarray) -> float:
        mu, log_s = theta
        s = math.exp(log_s)
        total = np.exp(mu + s * z) + np.exp(mu + s * z2)
        return float(((np.log(np.quantile(total, _Q)) - target) ** 2).sum())

    start = np.array([mu0, math.log(max(sigma0, 1e-3))])
    res = optimize.minimize(loss, start, method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-8, "maxiter": 400})
    mu, log_s = res.x if res.fun <= loss(start) else start
    return math.exp(float(mu)), math.exp(float(log_s))


def fit_hop_overhead(samples_s: Any, dropped: int = 0) -> HopOverhead | None:
    """Fit one proxy traversal so that two of them reproduce the observed hop overhead.

    Returns None with fewer than :data:`MIN_HOP_SAMPLES` samples or a median of 0.
    A hop overhead that hardly varies (cv < 1%) becomes a constant of half its mean.
    """
    h = np.asarray(samples_s, float)
    h = h[np.isfinite(h) & (h >= 0)]
    if len(h) < MIN_HOP_SAMPLES or float(np.median(h)) <= 0:
        return None
    med, p99 = float(np.median(h)), float(np.quantile(h, 0.99))
    if float(h.std()) <= 0.01 * float(h.mean()):
        value = float(h.mean()) / 2
        return HopOverhead(short_duration(value, 4), len(h), med, p99, {"value_s": value}, dropped)
    median_x, sigma = _lognormal_for_sum(h)
    spec = {
        "dist": "lognormal",
        "median": short_duration(median_x),
        "p99": short_duration(median_x * math.exp(stats.norm.ppf(0.99) * sigma)),
    }
    return HopOverhead(spec, len(h), med, p99, {"median_s": median_x, "sigma": sigma}, dropped)


def _traversal_samples(hop: HopOverhead) -> np.ndarray:
    """Quadrature samples (s) of the sum of a call's two proxy traversals."""
    if "value_s" in hop.params:
        return np.full(_MC, 2 * hop.params["value_s"])
    z, z2 = _lattice_normals()
    m, sg = math.log(hop.params["median_s"]), hop.params["sigma"]
    return np.exp(m + sg * z) + np.exp(m + sg * z2)


def fit_one_way_latency(samples_s: Any, proxies: HopOverhead) -> tuple[Any, dict[str, float]] | None:
    """Fit a one-way network latency Y (seconds) to the hop overheads of one relation.

    Y is such that two proxy traversals plus two legs (X1 + X2 + Y1 + Y2) match the
    hop overheads of calls over one relation (e.g. across zones).

    ``proxies`` is the traversal fitted on same-zone calls. Returns ``(scenario value, params)``,
    ``("0ms", {})`` when these hops are no slower than the same-zone ones, or None with
    fewer than :data:`MIN_HOP_SAMPLES` samples.
    """
    h = np.asarray(samples_s, float)
    h = h[np.isfinite(h) & (h > 0)]
    if len(h) < MIN_HOP_SAMPLES:
        return None
    base = _traversal_samples(proxies)
    if float(np.median(h)) <= float(np.median(base)):
        return "0ms", {}
    target = np.log(np.quantile(h, _Q))
    z, z2 = _lattice_normals()

    def loss(theta: np.ndarray) -> float:
        mu, log_s = theta
        legs = np.exp(mu + math.exp(log_s) * z) + np.exp(mu + math.exp(log_s) * z2)
        return float(((np.log(np.quantile(_pair_sum(base, legs), _Q)) - target) ** 2).sum())

    gap = max(float(np.median(h) - np.median(base)) / 2, 1e-7)
    start = np.array([math.log(gap), math.log(0.5)])
    res = optimize.minimize(loss, start, method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-8, "maxiter": 400})
    mu, log_s = res.x if res.fun <= loss(start) else start
    median, sigma = math.exp(float(mu)), math.exp(float(log_s))
    spec = {
        "dist": "lognormal",
        "median": short_duration(median),
        "p99": short_duration(median * math.exp(stats.norm.ppf(0.99) * sigma)),
    }
    return spec, {"median_s": median, "sigma": sigma, "n": float(len(h))}
