"""Streaming metrics: mergeable log-bucketed histograms and counters.

Memory depends on the number of services, workloads and 1 s bins, never on the
number of requests: each latency lands in a bucket of a geometric grid with
ratio 1.02, so any quantile read back is within 1% of an observed value.
"""

from __future__ import annotations

import math
from array import array
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["LogHistogram", "Recorder", "CAUSES", "RELATIVE_ACCURACY"]

GAMMA = 1.02
RELATIVE_ACCURACY = (GAMMA - 1) / (GAMMA + 1)  # 0.0099: bound on a quantile's relative error
# per-second bins only feed charts: 2% buckets keep a long run's time series small
BIN_GAMMA = 1.04
_MIN_VALUE_S = 1e-9
_log = math.log
_ceil = math.ceil

CAUSES = (
    "error",
    "timeout",
    "overflow",
    "no_endpoint",
    "connect_failure",
    "rate_limited",
    "budget_exhausted",
)


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
        if value_s <= _MIN_VALUE_S:
            self.zero += 1
            return
        j = _ceil(_log(value_s) * self._k) - self._lo
        arr = self._arr
        if 0 <= j < len(arr):
            arr[j] += 1
        else:
            self._bump(j + self._lo, 1)

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
        values = np.asarray(buf, dtype=float)
        self._buf = []
        self.n += values.size
        self.total += math.fsum(buf)
        self.min = min(self.min, float(values.min()))
        self.max = max(self.max, float(values.max()))
        positive = values[values > _MIN_VALUE_S]
        self.zero += values.size - positive.size
        if positive.size:
            idx = np.ceil(np.log(positive) * self._k).astype(np.int64)
            lo = int(idx.min())
            counts = np.bincount(idx - lo)
            for j in np.flatnonzero(counts):
                self._bump(lo + int(j), int(counts[j]))

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


def _causes() -> dict[str, int]:
    return {}


@dataclass
class EntityStats:
    """Counters and a latency histogram for one workload, service or edge."""

    requests: int = 0
    ok: int = 0
    failed: dict[str, int] = field(default_factory=_causes)
    latency: LogHistogram = field(default_factory=BufferedLogHistogram)
    queue_wait: LogHistogram = field(default_factory=BufferedLogHistogram)
    in_system_s: float = 0.0
    attempts: int = 0
    received: int = 0
    retries: int = 0
    hedges: int = 0
    original: int = 0
    ejections: int = 0
    budget_refusals: int = 0
    wasted_s: float = 0.0
    busy_s: float = 0.0
    capacity_s: float = 0.0
    bytes_cross_zone: int = 0
    bytes_cross_region: int = 0
    bytes_cross_cloud: int = 0
    egress_usd: float = 0.0

    def fail(self, cause: str) -> None:
        self.failed[cause] = self.failed.get(cause, 0) + 1


@dataclass
class Bin:
    """One second of one entity: counts and a latency histogram."""

    completed: int = 0
    ok: int = 0
    failed: dict[str, int] = field(default_factory=_causes)
    attempts: int = 0
    retries: int = 0
    latency: LogHistogram = field(default_factory=lambda: LogHistogram(BIN_GAMMA))


class Recorder:
    """Collects everything one replication measures, after warm-up, in bounded memory."""

    def __init__(self, warmup_s: float, bin_s: float = 1.0) -> None:
        """Count from ``warmup_s`` on, with time-series bins ``bin_s`` wide (both in seconds)."""
        self.warmup_s = warmup_s
        self.bin_s = bin_s
        self.workloads: dict[str, EntityStats] = defaultdict(EntityStats)
        self.services: dict[str, EntityStats] = defaultdict(EntityStats)
        self.edges: dict[tuple[str, str], EntityStats] = defaultdict(EntityStats)
        self.bins: dict[tuple[str, str, int], Bin] = {}
        self.events: list[dict[str, Any]] = []

    def _bin(self, scope: str, name: str, t_s: float) -> Bin:
        key = (scope, name, int((t_s - self.warmup_s) // self.bin_s))
        b = self.bins.get(key)
        if b is None:
            b = self.bins[key] = Bin()
        return b

    def workload_done(self, name: str, cause: str | None, latency_s: float, end_s: float) -> None:
        """A counted end-user request ended (cause None = ok)."""
        w = self.workloads[name]
        w.latency.add(latency_s)
        b = self._bin("workload", name, end_s)
        b.completed += 1
        b.latency.add(latency_s)
        if cause is None:
            w.ok += 1
            b.ok += 1
        else:
            w.fail(cause)
            b.failed[cause] = b.failed.get(cause, 0) + 1

    def attempt_done(
        self, caller: str, service: str, cause: str | None, retry: bool, hedge: bool, original: bool, now_s: float
    ) -> None:
        """A caller's proxy finished one attempt to ``service`` (cause None = ok)."""
        s = self.services[service]
        e = self.edges[(caller, service)]
        s.attempts += 1
        e.attempts += 1
        b = self._bin("service", service, now_s)
        b.attempts += 1
        if retry:
            s.retries += 1
            e.retries += 1
            b.retries += 1
        if hedge:
            s.hedges += 1
            e.hedges += 1
        if original:
            s.original += 1
            e.original += 1
        if cause is None:
            s.ok += 1
            e.ok += 1
            b.ok += 1
        else:
            s.fail(cause)
            e.fail(cause)
            b.failed[cause] = b.failed.get(cause, 0) + 1

    def served(self, service: str, response_s: float, wait_s: float, now_s: float) -> None:
        """A replica of ``service`` answered an attempt after ``response_s`` s, ``wait_s`` of it queued."""
        s = self.services[service]
        s.received += 1
        s.latency.add(response_s)
        s.queue_wait.add(wait_s)
        self._bin("service", service, now_s).latency.add(response_s)

    def event(self, t_s: float, kind: str, **data: Any) -> None:
        """A timeline event (fault start, ejection, rollout step); kept few by design."""
        if len(self.events) < 10_000:
            self.events.append({"t_s": round(t_s, 6), "kind": kind, **data})
