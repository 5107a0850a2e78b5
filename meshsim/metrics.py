"""Streaming metrics: counters, time bins and the meters the engine records through.

Memory depends on the number of services, workloads and 1 s bins, never on the
number of requests: latencies and waits go into mergeable log-bucketed histograms
(:class:`LogHistogram`, within 1% of an observed value; ``meshsim._histograms``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from meshsim._histograms import BIN_GAMMA, MIN_VALUE_S, RELATIVE_ACCURACY, BufferedLogHistogram, LogHistogram

_BIN_K = 1.0 / math.log(BIN_GAMMA)  # what LogHistogram(BIN_GAMMA) multiplies log(value) by

__all__ = [
    "CAUSES",
    "RELATIVE_ACCURACY",
    "EdgeMeter",
    "LogHistogram",
    "Recorder",
    "ServiceMeter",
    "WorkloadMeter",
]


CAUSES = (
    "error",
    "timeout",
    "overflow",
    "no_endpoint",
    "connect_failure",
    "rate_limited",
    "budget_exhausted",
)


def _causes() -> dict[str, int]:
    return {}


@dataclass
class EntityStats:
    """Counters and a latency histogram for one workload, service or edge."""

    requests: int = 0
    ok: int = 0
    failed: dict[str, int] = field(default_factory=_causes)
    latency: LogHistogram = field(default_factory=BufferedLogHistogram)
    failed_latency: LogHistogram = field(default_factory=LogHistogram)  # failed requests only (usually few)
    queue_wait: LogHistogram = field(default_factory=BufferedLogHistogram)
    in_flight_age: LogHistogram = field(default_factory=LogHistogram)  # ages of requests in flight at the end
    in_system_s: float = 0.0
    queued_s: float = 0.0  # time attempts spent waiting for a worker, inside the measured window
    attempts: int = 0
    received: int = 0
    retries: int = 0  # attempts that were the mesh proxies' retries (counted when they end)
    retries_decided: int = 0  # the mesh proxies' retries, counted when decided
    sdk_retries: int = 0  # a calling service's SDK retries (tries that ended)
    sdk_retries_decided: int = 0
    user_retries: int = 0  # the end users' own retries (tries that ended)
    user_retries_decided: int = 0
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
    retries: int = 0  # the mesh proxies' retries decided in this bin
    retries_ended: int = 0  # the mesh proxies' retries that ended in this bin
    sdk_retries: int = 0  # SDK retries decided in this bin
    user_retries: int = 0  # end users' retries decided in this bin
    latency: LogHistogram = field(default_factory=lambda: LogHistogram(BIN_GAMMA))
    queued_s: float = 0.0  # waiting time of a service's attempts inside the bin (/ bin width: mean queue length)


class BinSeries:
    """The time bins of one entity (``scope``, ``name``), with the current bin at hand.

    Bins live in the recorder's ``bins`` dict; consecutive records usually fall in the same
    bin, so the last one is kept to skip the dict lookup.
    """

    __slots__ = ("_bins", "_scope", "_name", "_warmup_s", "_bin_s", "_idx", "_bin")

    def __init__(self, bins: dict[tuple[str, str, int], Bin], scope: str, name: str, warmup_s: float, bin_s: float):
        """Bins of ``bin_s`` seconds from ``warmup_s`` on, kept in ``bins``."""
        self._bins = bins
        self._scope = scope
        self._name = name
        self._warmup_s = warmup_s
        self._bin_s = bin_s
        self._idx = -1
        self._bin = Bin()

    def add_latencies(self, times_s: NDArray[np.float64], values_s: NDArray[np.float64]) -> None:
        """Add latencies ``values_s`` that ended at ``times_s`` to their bins' histograms."""
        idx = ((times_s - self._warmup_s) // self._bin_s).astype(np.int64)
        first, last = int(idx.min()), int(idx.max())
        if first == last:
            self.at(float(times_s[0])).latency.add_many(values_s)
            return
        # A quiet service's batch spans many bins with a few values each: bucket the whole
        # batch with numpy once, then count each bin's share in Python (numpy's cost per call
        # would otherwise grow with the number of services, not of requests).
        order = np.argsort(idx, kind="stable")
        bins_sorted = idx[order].tolist()
        values = values_s[order]
        positive = values > MIN_VALUE_S
        buckets = np.zeros(values.size, dtype=np.int64)
        buckets[positive] = np.ceil(np.log(values[positive]) * _BIN_K).astype(np.int64)
        values_list, buckets_list = values.tolist(), buckets.tolist()
        start = 0
        for end in range(1, len(bins_sorted) + 1):
            if end == len(bins_sorted) or bins_sorted[end] != bins_sorted[start]:
                self._get(bins_sorted[start]).latency.add_bucketed(values_list[start:end], buckets_list[start:end])
                start = end

    def add_waits(self, starts_s: NDArray[np.float64], ends_s: NDArray[np.float64]) -> None:
        """Spread the waits ``[starts_s, ends_s]`` (seconds, after warm-up) over the bins they overlap."""
        w, width = self._warmup_s, self._bin_s
        first = ((starts_s - w) // width).astype(np.int64)
        last = ((ends_s - w) // width).astype(np.int64)
        lo = int(first.min())
        size = int(last.max()) - lo + 1
        inside = first == last
        # a wait inside one bin adds its length there; one across bins adds its head to the
        # first bin, its tail to the last, and a whole bin to each bin between (rare)
        total = np.zeros(size)
        total += np.bincount(first[inside] - lo, weights=ends_s[inside] - starts_s[inside], minlength=size)
        across = ~inside
        if across.any():
            f, k = first[across], last[across]
            total += np.bincount(f - lo, weights=w + (f + 1) * width - starts_s[across], minlength=size)
            total += np.bincount(k - lo, weights=ends_s[across] - (w + k * width), minlength=size)
            for i, j in zip(f[k - f > 1].tolist(), k[k - f > 1].tolist(), strict=True):
                total[i + 1 - lo : j - lo] += width
        for j in np.flatnonzero(total).tolist():
            self._get(lo + j).queued_s += float(total[j])

    def _get(self, idx: int) -> Bin:
        key = (self._scope, self._name, idx)
        b = self._bins.get(key)
        if b is None:
            b = self._bins[key] = Bin()
        return b

    def at(self, t_s: float) -> Bin:
        """The bin that holds time ``t_s`` (created on first use)."""
        idx = int((t_s - self._warmup_s) // self._bin_s)
        if idx == self._idx:
            return self._bin
        b = self._get(idx)
        self._idx, self._bin = idx, b
        return b


class EdgeMeter:
    """What one caller's proxies record about their attempts to one service (after warm-up)."""

    __slots__ = ("service", "edge", "bins")

    def __init__(self, service: EntityStats, edge: EntityStats, bins: BinSeries) -> None:
        """Count into the service's and the edge's stats and the service's bins."""
        self.service = service
        self.edge = edge
        self.bins = bins

    def attempt(self, cause: str | None, retry: bool, hedge: bool, original: bool, now_s: float) -> None:
        """One attempt ended at ``now_s`` (cause None = ok)."""
        s = self.service
        e = self.edge
        s.attempts += 1
        e.attempts += 1
        bins = self.bins
        b = bins._bin if int((now_s - bins._warmup_s) // bins._bin_s) == bins._idx else bins.at(now_s)
        b.attempts += 1
        if retry:
            s.retries += 1
            e.retries += 1
            b.retries_ended += 1
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

    def retry_decided(self, now_s: float) -> None:
        """The caller's proxy decided at ``now_s`` to retry an attempt to this service."""
        self.service.retries_decided += 1
        self.edge.retries_decided += 1
        self.bins.at(now_s).retries += 1


class ServiceMeter:
    """What a service's replicas record about the attempts they served (after warm-up).

    The three times of each attempt wait in lists and are binned 2,048 at a time with numpy
    (:meth:`flush`; the recorder flushes before anything reads the results).
    """

    FLUSH = 2048
    __slots__ = ("stats", "bins", "warmup_s", "_arrived", "_started", "_ended")

    def __init__(self, stats: EntityStats, bins: BinSeries, warmup_s: float) -> None:
        """Count into the service's stats and bins; time in the replica counts from ``warmup_s``."""
        self.stats = stats
        self.bins = bins
        self.warmup_s = warmup_s
        self._arrived: list[float] = []
        self._started: list[float] = []
        self._ended: list[float] = []

    def served(self, arrived_s: float, started_s: float, ended_s: float) -> None:
        """A replica answered at ``ended_s`` an attempt that arrived at ``arrived_s``, got a worker at ``started_s``."""
        self._arrived.append(arrived_s)
        self._started.append(started_s)
        self._ended.append(ended_s)
        if len(self._ended) >= self.FLUSH:
            self.flush()

    def flush(self) -> None:
        """Fold the waiting records into the counters and histograms."""
        if not self._ended:
            return
        arrived = np.array(self._arrived)
        started = np.array(self._started)
        ended = np.array(self._ended)
        self._arrived, self._started, self._ended = [], [], []
        s = self.stats
        response = ended - arrived
        s.received += ended.size
        s.latency.add_many(response)
        s.queue_wait.add_many(started - arrived)
        # time in the replica, inside the measured window: L of Little's law
        s.in_system_s += math.fsum((ended - np.maximum(arrived, self.warmup_s)).tolist())
        self.bins.add_latencies(ended, response)
        # time waiting for a worker inside the window: the queue length's integral
        wait_from = np.maximum(arrived, self.warmup_s)
        waited = started > wait_from
        if waited.any():
            s.queued_s += math.fsum((started[waited] - wait_from[waited]).tolist())
            self.bins.add_waits(wait_from[waited], started[waited])


class WorkloadMeter:
    """What one workload records about its end-user requests (after warm-up)."""

    __slots__ = ("stats", "bins")

    def __init__(self, stats: EntityStats, bins: BinSeries) -> None:
        """Count into the workload's stats and bins."""
        self.stats = stats
        self.bins = bins

    def done(self, cause: str | None, latency_s: float, now_s: float) -> None:
        """A counted request ended at ``now_s`` after ``latency_s`` (cause None = ok)."""
        w = self.stats
        w.latency.add(latency_s)
        b = self.bins.at(now_s)
        b.completed += 1
        b.latency.add(latency_s)
        if cause is None:
            w.ok += 1
            b.ok += 1
        else:
            w.failed_latency.add(latency_s)
            w.fail(cause)
            b.failed[cause] = b.failed.get(cause, 0) + 1


class Recorder:
    """Collects everything one replication measures, after warm-up, in bounded memory.

    The engine records through meters (:meth:`edge`, :meth:`service`, :meth:`workload`),
    which hold their counters and current time bin, so a record costs a few additions.
    """

    def __init__(self, warmup_s: float, bin_s: float = 1.0) -> None:
        """Count from ``warmup_s`` on, with time-series bins ``bin_s`` wide (both in seconds)."""
        self.warmup_s = warmup_s
        self.bin_s = bin_s
        self.workloads: dict[str, EntityStats] = defaultdict(EntityStats)
        self.services: dict[str, EntityStats] = defaultdict(EntityStats)
        self.edges: dict[tuple[str, str], EntityStats] = defaultdict(EntityStats)
        self.bins: dict[tuple[str, str, int], Bin] = {}
        self.events: list[dict[str, Any]] = []
        self._service_bins: dict[str, BinSeries] = {}
        self._edge_meters: dict[tuple[str, str], EdgeMeter] = {}
        self._service_meters: dict[str, ServiceMeter] = {}
        self._workload_meters: dict[str, WorkloadMeter] = {}

    def _bins_of(self, scope: str, name: str) -> BinSeries:
        return BinSeries(self.bins, scope, name, self.warmup_s, self.bin_s)

    def _service_series(self, service: str) -> BinSeries:
        series = self._service_bins.get(service)
        if series is None:
            series = self._service_bins[service] = self._bins_of("service", service)
        return series

    def edge(self, caller: str, service: str) -> EdgeMeter:
        """The meter of attempts from ``caller`` to ``service``."""
        key = (caller, service)
        m = self._edge_meters.get(key)
        if m is None:
            m = self._edge_meters[key] = EdgeMeter(
                self.services[service], self.edges[key], self._service_series(service)
            )
        return m

    def service(self, service: str) -> ServiceMeter:
        """The meter of what ``service``'s replicas serve."""
        m = self._service_meters.get(service)
        if m is None:
            m = self._service_meters[service] = ServiceMeter(
                self.services[service], self._service_series(service), self.warmup_s
            )
        return m

    def workload(self, name: str) -> WorkloadMeter:
        """The meter of workload ``name``'s end-user requests."""
        m = self._workload_meters.get(name)
        if m is None:
            m = self._workload_meters[name] = WorkloadMeter(self.workloads[name], self._bins_of("workload", name))
        return m

    def client_retry(self, layer: str, service: str, workload: str | None, decided: bool, now_s: float) -> None:
        """A client retried a call to ``service``: decided at ``now_s`` (``decided``) or its try ended.

        ``layer`` is ``sdk`` (a calling service's SDK) or ``user`` (an end user, of ``workload``).
        Decisions go to the time bins of the service and, for end users, of the workload.
        """
        s = self.services[service]
        if layer == "user":
            if decided:
                s.user_retries_decided += 1
                self._service_series(service).at(now_s).user_retries += 1
                if workload is not None:
                    self.workloads[workload].user_retries_decided += 1
                    self.workload(workload).bins.at(now_s).user_retries += 1
            else:
                s.user_retries += 1
                if workload is not None:
                    self.workloads[workload].user_retries += 1
        elif decided:
            s.sdk_retries_decided += 1
            self._service_series(service).at(now_s).sdk_retries += 1
        else:
            s.sdk_retries += 1

    def workload_done(self, name: str, cause: str | None, latency_s: float, end_s: float) -> None:
        """A counted end-user request ended (cause None = ok)."""
        self.workload(name).done(cause, latency_s, end_s)

    def attempt_done(
        self, caller: str, service: str, cause: str | None, retry: bool, hedge: bool, original: bool, now_s: float
    ) -> None:
        """A caller's proxy finished one attempt to ``service`` (cause None = ok)."""
        self.edge(caller, service).attempt(cause, retry, hedge, original, now_s)

    def served(self, service: str, arrived_s: float, started_s: float, now_s: float) -> None:
        """A replica of ``service`` answered an attempt (arrived, got a worker, answered: seconds)."""
        self.service(service).served(arrived_s, started_s, now_s)

    def flush(self) -> None:
        """Fold every meter's waiting records into the counters (before the results are read)."""
        for meter in self._service_meters.values():
            meter.flush()

    def event(self, t_s: float, kind: str, **data: Any) -> None:
        """A timeline event (fault start, ejection, rollout step); kept few by design."""
        if len(self.events) < 10_000:
            self.events.append({"t_s": round(t_s, 6), "kind": kind, **data})

    def __getstate__(self) -> dict[str, Any]:
        """Pickle what was measured, without the meters (they are rebuilt on use)."""
        self.flush()
        state = dict(self.__dict__)
        for name in ("_service_bins", "_edge_meters", "_service_meters", "_workload_meters"):
            state[name] = {}
        return state
