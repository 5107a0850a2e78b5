"""Mergeable log-bucketed histograms of seconds (the metrics' latency and wait histograms).

Each value lands in a bucket of a geometric grid with ratio 1.02, so any quantile read
back is within 1% of an observed value, and memory grows with the log of the range seen,
never with the number of values. A microsecond or less counts as zero: without that floor
the grid would reach down to ever smaller values as more requests are seen, and grow with
their number.
"""

from __future__ import annotations

import math
from array import array
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["BIN_GAMMA", "GAMMA", "MIN_VALUE_S", "RELATIVE_ACCURACY", "BufferedLogHistogram", "LogHistogram"]

GAMMA = 1.02
RELATIVE_ACCURACY = (GAMMA - 1) / (GAMMA + 1)  # 0.0099: bound on a quantile's relative error
# per-second bins only feed charts: 2% buckets keep a long run's time series small
BIN_GAMMA = 1.04
MIN_VALUE_S = 1e-6  # the resolution: a latency of 1 µs or less is recorded as 0
_log = math.log
_ceil = math.ceil


class LogHistogram:
    """Counts of values (seconds) in buckets (gamma^(i-1), gamma^i]; mergeable; O(log range) memory.

    Counts live in a compact ``array`` (8 bytes a bucket) over the range of bucket
    indices seen so far, so a long run's per-second histograms stay small.
    """

    __slots__ = ("_arr", "_lo", "zero", "n", "total", "min", "max", "gamma", "_k")

    def __init__(self, gamma: float = GAMMA) -> None:
        """An empty histogram whose bucket bounds grow by the ratio ``gamma``."""
        self.gamma = gamma
        self._k = 1.0 / math.log(gamma)
        self._arr: array[int] = array("q")
        self._lo = 0
        self.zero = 0
        self.n = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf

    @property
    def counts(self) -> dict[int, int]:
        """Non-empty buckets as {bucket index: count}."""
        lo = self._lo
        return {lo + j: c for j, c in enumerate(self._arr) if c}

    def _bump(self, i: int, count: int) -> None:
        arr = self._arr
        if not arr:
            self._lo = i
            arr.append(count)
            return
        j = i - self._lo
        if j < 0:
            self._arr = arr = array("q", bytes(8 * -j)) + arr
            self._lo = i
            j = 0
        elif j >= len(arr):
            arr.extend(array("q", bytes(8 * (j - len(arr) + 1))))
        arr[j] += count

    def add(self, value_s: float) -> None:
        """Record one value in seconds."""
        self.n += 1
        self.total += value_s
        if value_s < self.min:
            self.min = value_s
        if value_s > self.max:
            self.max = value_s
        if value_s <= MIN_VALUE_S:
            self.zero += 1
            return
        j = _ceil(_log(value_s) * self._k) - self._lo
        arr = self._arr
        if 0 <= j < len(arr):
            arr[j] += 1
        else:
            self._bump(j + self._lo, 1)

    def add_many(self, values_s: NDArray[np.float64]) -> None:
        """Record many values in seconds at once (binned with numpy)."""
        if not values_s.size:
            return
        self.n += values_s.size
        self.total += math.fsum(values_s.tolist())
        self.min = min(self.min, float(values_s.min()))
        self.max = max(self.max, float(values_s.max()))
        positive = values_s[values_s > MIN_VALUE_S]
        self.zero += values_s.size - positive.size
        if positive.size:
            idx = np.ceil(np.log(positive) * self._k).astype(np.int64)
            lo = int(idx.min())
            counts = np.bincount(idx - lo)
            for j in np.flatnonzero(counts):
                self._bump(lo + int(j), int(counts[j]))

    def add_bucketed(self, values_s: list[float], buckets: list[int]) -> None:
        """Record values in seconds whose bucket indices :meth:`add_many` would compute, given.

        ``buckets[i]`` is ignored where ``values_s[i]`` is 1 µs or less (counted as zero).
        The result is the same as ``add_many`` of the same values.
        """
        if not values_s:
            return
        self.n += len(values_s)
        self.total += math.fsum(values_s)
        self.min = min(self.min, min(values_s))
        self.max = max(self.max, max(values_s))
        for value_s, i in zip(values_s, buckets, strict=True):
            if value_s <= MIN_VALUE_S:
                self.zero += 1
                continue
            j = i - self._lo
            arr = self._arr
            if arr and 0 <= j < len(arr):
                arr[j] += 1
            else:
                self._bump(i, 1)

    def merge(self, other: LogHistogram) -> LogHistogram:
        """Add ``other``'s counts into this histogram; returns self."""
        if other.gamma != self.gamma:
            raise ValueError("cannot merge histograms with different bucket widths")
        lo = other._lo
        for j, c in enumerate(other._arr):
            if c:
                self._bump(lo + j, c)
        self.zero += other.zero
        self.n += other.n
        self.total += other.total
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        return self

    def mean(self) -> float:
        """Exact mean in seconds (NaN when empty)."""
        return self.total / self.n if self.n else math.nan

    def count(self) -> int:
        """Number of values recorded."""
        return self.n

    def zero_fraction(self) -> float:
        """Share of values that were zero (NaN when empty): e.g. requests that did not queue."""
        return self.zero / self.n if self.n else math.nan

    def count_at_most(self, value_s: float) -> int:
        """Values at most ``value_s`` seconds, to the bucket: the bucket holding ``value_s`` counts in full."""
        if value_s < 0:
            return 0
        count = self.zero
        if value_s <= MIN_VALUE_S:
            return count
        top = _ceil(_log(value_s) * self._k) - self._lo
        for j, c in enumerate(self._arr):
            if j > top:
                break
            count += c
        return count

    def above(self, value_s: float) -> LogHistogram:
        """The values in buckets above the one holding ``value_s`` (the complement of :meth:`count_at_most`).

        Its sum and extremes come from the buckets' representative values, not the values.
        """
        out = LogHistogram(self.gamma)
        top = _ceil(_log(value_s) * self._k) if value_s > MIN_VALUE_S else None
        for i, c in self.counts.items():
            if c and (top is None or i > top):
                out._bump(i, c)
                out.n += c
                value = 2.0 * self.gamma**i / (self.gamma + 1.0)  # the bucket's representative value
                out.total += value * c
                out.min = min(out.min, value)
                out.max = max(out.max, value)
        return out  # zeros are never above a threshold

    def quantile(self, q: float) -> float:
        """The q-quantile in seconds, within 1% relative error (NaN when empty)."""
        if self.n == 0:
            return math.nan
        rank = q * (self.n - 1)
        if rank < self.zero:
            return 0.0
        seen = self.zero
        lo = self._lo
        for j, c in enumerate(self._arr):
            if not c:
                continue
            seen += c
            if seen > rank:
                # the bucket's representative value: 2 g^i / (g + 1) has relative
                # error <= (g - 1) / (g + 1) for any value in the bucket
                g = self.gamma
                value = 2.0 * g ** (lo + j) / (g + 1.0)
                return min(max(value, self.min), self.max)
        return self.max

    def __getstate__(self) -> dict[str, Any]:
        """Pickle state: bucket counts as bytes, first bucket, count, sum, min and max (seconds), gamma."""
        return {
            "arr": self._arr.tobytes(),
            "lo": self._lo,
            "zero": self.zero,
            "n": self.n,
            "total": self.total,
            "min": self.min,
            "max": self.max,
            "gamma": self.gamma,
        }

    def __setstate__(self, st: dict[str, Any]) -> None:
        """Restore from :meth:`__getstate__`."""
        self.gamma = st["gamma"]
        self._k = 1.0 / math.log(self.gamma)
        self._arr = array("q")
        self._arr.frombytes(st["arr"])
        self._lo, self.zero, self.n, self.total = st["lo"], st["zero"], st["n"], st["total"]
        self.min, self.max = st["min"], st["max"]


class BufferedLogHistogram(LogHistogram):
    """A :class:`LogHistogram` that bins values 1024 at a time with numpy.

    Values wait in a short list until then: the same buckets and results, at a fraction
    of the per-value cost.
    """

    __slots__ = ("_buf",)
    FLUSH = 1024

    def __init__(self, gamma: float = GAMMA) -> None:
        super().__init__(gamma)
        self._buf: list[float] = []

    def add(self, value_s: float) -> None:
        """Record one value in seconds (binned on the next flush)."""
        buf = self._buf
        buf.append(value_s)
        if len(buf) >= self.FLUSH:
            self._flush()

    def _flush(self) -> None:
        buf = self._buf
        if not buf:
            return
        self._buf = []
        super().add_many(np.asarray(buf, dtype=float))

    def add_many(self, values_s: NDArray[np.float64]) -> None:
        """Record many values in seconds at once."""
        self._flush()
        super().add_many(values_s)

    def merge(self, other: LogHistogram) -> LogHistogram:
        self._flush()
        if isinstance(other, BufferedLogHistogram):
            other._flush()
        return super().merge(other)

    def mean(self) -> float:
        self._flush()
        return super().mean()

    def quantile(self, q: float) -> float:
        self._flush()
        return super().quantile(q)

    def count(self) -> int:
        self._flush()
        return self.n

    def zero_fraction(self) -> float:
        self._flush()
        return super().zero_fraction()

    def count_at_most(self, value_s: float) -> int:
        self._flush()
        return super().count_at_most(value_s)

    def above(self, value_s: float) -> LogHistogram:
        self._flush()
        return super().above(value_s)

    @property
    def counts(self) -> dict[int, int]:
        self._flush()
        return super().counts

    def __getstate__(self) -> dict[str, Any]:
        self._flush()
        return super().__getstate__()

    def __setstate__(self, st: dict[str, Any]) -> None:
        super().__setstate__(st)
        self._buf = []
