"""Latency and service-time distributions (docs/scenario.md, units) and fast buffered samplers.

All values are float seconds. A sampler draws from its own numpy Generator in
blocks, because one scalar numpy call costs about as much as a SimPy event.
"""

from __future__ import annotations

import itertools
import math
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

# numpy is imported where values are drawn or summed: parsing a scenario (``meshsim
# validate``) does not need it.

__all__ = ["Distribution", "Sampler", "constant", "uniform_sampler", "Z99"]

Z99 = NormalDist().inv_cdf(0.99)  # the standard normal's 99th percentile (scipy is not needed at start-up)
_FIRST_BLOCK = 64  # a stream's first block is small (a mesh of thousands of streams uses few of each) ...
_BLOCK = 4096  # ... and each next block twice the last, up to this

#: A source of draws: each call returns the next value (seconds, for latencies).
Sampler = Callable[[], float]


def _blocks(draw: Callable[[int], NDArray[np.float64]]) -> Iterator[array[float]]:
    import numpy as np

    size = _FIRST_BLOCK
    while True:
        # a compact array of doubles (8 bytes a value, a quarter of a list of floats): a mesh
        # of thousands of streams keeps its blocks small and close together in memory
        yield array("d", np.ascontiguousarray(draw(size), dtype=np.float64).tobytes())
        size = min(2 * size, _BLOCK)


def _block_sampler(draw: Callable[[int], NDArray[np.float64]]) -> Sampler:
    """Hand out ``draw``'s values one by one, drawing a block (64, 128, ... up to 4,096) when one runs out.

    A chained iterator's ``__next__`` runs in C: a draw costs a few tens of nanoseconds,
    a third of a Python method call. numpy's generators fill a block value by value, so
    the values do not depend on the block sizes.
    """
    return itertools.chain.from_iterable(_blocks(draw)).__next__


def uniform_sampler(rng: np.random.Generator) -> Sampler:
    """U(0,1) draws from ``rng`` in blocks, for Bernoulli decisions (errors, probabilities, faults)."""
    return _block_sampler(rng.random)


@dataclass(frozen=True)
class Distribution:
    """A parsed distribution. ``kind`` is one of the scenario's ``dist`` names or ``constant``.

    Parameters are in seconds (``params``); ``components`` holds a mixture's parts.
    """

    kind: str
    params: tuple[tuple[str, float], ...] = ()
    samples: tuple[float, ...] = ()
    buckets: tuple[tuple[float, float], ...] = ()  # (upper bound s, cumulative count)
    components: tuple[tuple[float, Distribution], ...] = ()
    label: str = field(default="", compare=False)

    def p(self, name: str) -> float:
        """Return the named parameter."""
        return dict(self.params)[name]

    # ----- moments (used by validation, the UI and capacity hints) -----
    def mean(self) -> float:
        """Mean in seconds."""
        import numpy as np

        k = self.kind
        if k == "constant":
            return self.p("value")
        if k in ("exponential", "gamma"):
            return self.p("mean")
        if k == "lognormal":
            return math.exp(self.p("mu") + self.p("sigma") ** 2 / 2)
        if k == "uniform":
            return (self.p("low") + self.p("high")) / 2
        if k == "pareto":
            a, xm = self.p("alpha"), self.p("scale")
            return math.inf if a <= 1 else a * xm / (a - 1)
        if k == "empirical":
            return float(np.mean(self.samples))
        if k == "histogram":
            return float(np.dot(*self._bucket_mids_weights()))
        if k == "mixture":
            return sum(w * d.mean() for w, d in self.components)
        raise ValueError(k)

    def second_moment(self) -> float:
        """E[X^2] in seconds squared (Pollaczek-Khinchine needs it)."""
        import numpy as np

        k = self.kind
        if k == "constant":
            return self.p("value") ** 2
        if k == "exponential":
            return 2 * self.p("mean") ** 2
        if k == "gamma":
            m, cv = self.p("mean"), self.p("cv")
            return m * m * (1 + cv * cv)
        if k == "lognormal":
            return math.exp(2 * self.p("mu") + 2 * self.p("sigma") ** 2)
        if k == "uniform":
            lo, hi = self.p("low"), self.p("high")
            return (lo * lo + lo * hi + hi * hi) / 3
        if k == "pareto":
            a, xm = self.p("alpha"), self.p("scale")
            return math.inf if a <= 2 else a * xm * xm / (a - 2)
        if k == "empirical":
            return float(np.mean(np.square(self.samples)))
        if k == "histogram":
            mids, w = self._bucket_mids_weights()
            return float(np.dot(np.square(mids), w))
        if k == "mixture":
            return sum(w * d.second_moment() for w, d in self.components)
        raise ValueError(k)

    def _bucket_mids_weights(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        lows, highs, weights = self._bucket_table()
        return (lows + highs) / 2, weights

    def _bucket_table(self) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        import numpy as np

        uppers = np.array([b for b, _ in self.buckets])
        cum = np.array([c for _, c in self.buckets], dtype=float)
        counts = np.diff(np.concatenate([[0.0], cum]))
        lows = np.concatenate([[0.0], uppers[:-1]])
        highs = uppers.copy()
        # The +Inf bucket has no upper bound; assume it spans [last, 2 x last]
        # (documented in docs/scenario.md: prefer fine buckets for tail work).
        if np.isinf(highs[-1]):
            last = lows[-1] if lows[-1] > 0 else 1e-3
            highs[-1] = 2 * last
        total = counts.sum()
        return lows, highs, counts / total

    # ----- sampling -----
    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` values in seconds."""
        import numpy as np

        k = self.kind
        if k == "constant":
            return np.full(n, self.p("value"))
        if k == "exponential":
            return rng.exponential(self.p("mean"), n)
        if k == "lognormal":
            return rng.lognormal(self.p("mu"), self.p("sigma"), n)
        if k == "gamma":
            m, cv = self.p("mean"), self.p("cv")
            shape = 1.0 / (cv * cv)
            return rng.gamma(shape, m / shape, n)
        if k == "uniform":
            return rng.uniform(self.p("low"), self.p("high"), n)
        if k == "pareto":
            return (rng.pareto(self.p("alpha"), n) + 1.0) * self.p("scale")
        if k == "empirical":
            return rng.choice(np.asarray(self.samples), n)
        if k == "histogram":
            lows, highs, w = self._bucket_table()
            idx = rng.choice(len(w), n, p=w)
            return lows[idx] + rng.random(n) * (highs[idx] - lows[idx])
        if k == "mixture":
            weights = np.array([w for w, _ in self.components])
            idx = rng.choice(len(weights), n, p=weights / weights.sum())
            out = np.empty(n)
            for i, (_, d) in enumerate(self.components):
                mask = idx == i
                cnt = int(mask.sum())
                if cnt:
                    out[mask] = d.draw(rng, cnt)
            return out
        raise ValueError(k)

    def sampler(self, rng: np.random.Generator) -> Sampler:
        """Return a callable that yields one value per call from ``rng`` (drawn in blocks)."""
        if self.kind == "constant":
            return itertools.repeat(self.p("value")).__next__
        return _block_sampler(lambda n: self.draw(rng, n))

    @property
    def is_zero(self) -> bool:
        """True for the constant 0 (lets the engine skip a no-op SimPy event)."""
        return self.kind == "constant" and self.p("value") == 0.0


def constant(value_s: float) -> Distribution:
    """A point mass at ``value_s`` seconds."""
    return Distribution("constant", (("value", float(value_s)),))


def lognormal_from_quantiles(median_s: float, p99_s: float) -> tuple[float, float]:
    """Return (mu, sigma) of the lognormal with the given median and p99."""
    mu = math.log(median_s)
    sigma = (math.log(p99_s) - mu) / Z99
    return mu, sigma


def lognormal_from_mean_cv(mean_s: float, cv: float) -> tuple[float, float]:
    """Return (mu, sigma) of the lognormal with the given mean and coefficient of variation."""
    sigma2 = math.log(1 + cv * cv)
    return math.log(mean_s) - sigma2 / 2, math.sqrt(sigma2)
