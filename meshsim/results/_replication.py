"""One replication's measurements, and the helpers the results JSON shares."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from meshsim.metrics import Bin, EntityStats, LogHistogram, Recorder
from meshsim.results._units import QUANTILES as _Q
from meshsim.scenario import LATENCY_METRICS, SloSpec
from meshsim.stats import mean_ci

__all__ = ["ReplicationResult"]


def _client_retries_configured(scenario: Any) -> bool:
    """Whether an end user or a calling service's SDK may retry (the results then split retries by layer)."""
    if any(w.client.max_retries > 0 for w in scenario.workload):
        return True
    return any(p.client is not None and p.client.max_retries > 0 for p in scenario.policies.values())


def _by_layer(s: EntityStats) -> dict[str, dict[str, int]]:
    """A service's retries by who made them, each counted when decided and when its attempt ended."""
    return {
        "mesh": {"decided": s.retries_decided, "ended": s.retries},
        "sdk": {"decided": s.sdk_retries_decided, "ended": s.sdk_retries},
        "user": {"decided": s.user_retries_decided, "ended": s.user_retries},
    }


def _r(x: float, digits: int = 6) -> float | None:
    if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))):
        return None
    return round(float(x), digits)


def _rollout_summary(rollouts: list[dict[str, Any]], confidence: float) -> dict[str, Any]:
    """The docs/results.md ``rollout`` object over replications.

    The most common outcome, its mean time (s), mean failed requests with an interval, and
    the first replication's timeline as an example.
    """
    outcomes: dict[str, int] = {}
    for r in rollouts:
        outcomes[r["outcome"]] = outcomes.get(r["outcome"], 0) + 1
    outcome = max(sorted(outcomes), key=lambda o: outcomes[o])
    times = [r["at_s"] for r in rollouts if r["outcome"] == outcome and r.get("at_s") is not None]
    failed = [float(r.get("failed_requests", 0)) for r in rollouts]
    m, lo, hi = mean_ci(failed, confidence)
    summary = dict(rollouts[0])
    summary.update(
        {
            "outcome": outcome,
            "at_s": _r(float(np.mean(times))) if times else None,
            "failed_requests": _r(m),
            "failed_requests_ci": [_r(lo), _r(hi)],
            "outcomes": {o: outcomes[o] for o in sorted(outcomes)},
            "replications": len(rollouts),
        }
    )
    return summary


@dataclass
class ReplicationResult:
    """Everything one replication measured (picklable, so any executor can return it)."""

    replication: int
    seed_entropy: int
    measured_s: float
    workloads: dict[str, EntityStats]
    services: dict[str, EntityStats]
    edges: dict[tuple[str, str], EntityStats]
    bins: dict[tuple[str, str, int], Bin]
    events: list[dict[str, Any]]
    spans: list[dict[str, Any]]
    in_flight: dict[str, int]
    extras: dict[str, Any] = field(default_factory=dict)
    partial: bool = False  # the run was stopped (Ctrl-C, SIGTERM) before its end: measured_s is what ran

    @classmethod
    def from_recorder(
        cls,
        rec: Recorder,
        replication: int,
        entropy: int,
        measured_s: float,
        spans: list[dict[str, Any]],
        extras: dict[str, Any] | None = None,
    ) -> ReplicationResult:
        """Freeze what ``rec`` measured in one replication (``measured_s``: the measured window, s)."""
        in_flight = {}
        for name, w in rec.workloads.items():
            done = w.ok + sum(w.failed.values())
            in_flight[name] = w.requests - done
        extras = dict(extras or {})
        extras["bin_s"] = rec.bin_s
        return cls(
            replication,
            entropy,
            measured_s,
            dict(rec.workloads),
            dict(rec.services),
            dict(rec.edges),
            rec.bins,
            rec.events,
            spans,
            in_flight,
            extras,
        )

    def check_accounting(self) -> None:
        """Every counted request ended in exactly one outcome or is in flight (docs/scenario.md)."""
        for name, w in self.workloads.items():
            total = w.ok + sum(w.failed.values()) + self.in_flight.get(name, 0)
            if total != w.requests or self.in_flight.get(name, 0) < 0:
                raise AssertionError(
                    f"accounting broken for workload {name}: {w.requests} requests but "
                    f"{w.ok} ok + {sum(w.failed.values())} failed + {self.in_flight.get(name, 0)} in flight"
                )

    # ----- per-replication metrics -----
    def workload_metrics(self, name: str) -> dict[str, float]:
        """Workload ``name``'s metrics in this replication.

        Latencies in seconds, error rate and availability as ratios (NaN when nothing
        completed), throughput per second, cost in USD per million completed requests.
        """
        w = self.workloads[name]
        done = w.ok + sum(w.failed.values())
        out = {f"latency_{k}": w.latency.quantile(q) for k, q in _Q.items()}
        out["latency_mean"] = w.latency.mean()
        out["error_rate"] = (done - w.ok) / done if done else math.nan
        out["availability"] = w.ok / done if done else math.nan
        out["throughput"] = done / self.measured_s
        out["requests"] = float(w.requests)
        out["user_retries"] = float(w.user_retries)
        out["user_retries_decided"] = float(w.user_retries_decided)
        cost = sum(e.egress_usd for e in self.edges.values())
        total_done = sum(x.ok + sum(x.failed.values()) for x in self.workloads.values())
        out["cost_per_million"] = cost / total_done * 1e6 if total_done else math.nan
        return out

    def _queue_length_p99(self, service: str) -> float:
        """99th percentile over the time bins of the service's mean queue length (attempts waiting)."""
        width = float(self.extras.get("bin_s", 1.0))
        n = max(1, math.ceil(self.measured_s / width - 1e-9))
        zero = Bin()
        lengths = [self.bins.get(("service", service, k), zero).queued_s / width for k in range(n)]
        return float(np.quantile(lengths, 0.99))

    def latency_under(self, workload: str, threshold_s: float) -> float:
        """Share of ``workload``'s requests answered successfully within ``threshold_s`` (the latency SLI).

        The denominator is the finished requests plus those still in flight at the end that
        are older than the threshold (misses); younger ones are left out. To the histogram's
        2% bucket. NaN when there is no request to count.
        """
        w = self.workloads[workload]
        ages = w.in_flight_age
        late = ages.n - ages.count_at_most(threshold_s)
        counted = w.ok + sum(w.failed.values()) + late
        # successful answers within the threshold: all of them, less the failed ones
        good = w.latency.count_at_most(threshold_s) - w.failed_latency.count_at_most(threshold_s)
        return good / counted if counted else math.nan

    def user_view(self, spec: SloSpec, client_timeout_s: float | None = None) -> float:
        """Workload SLO ``spec``'s value with the requests still in flight at the end counted as users see them.

        A request in flight older than the latency threshold (``latency_under``'s
        ``threshold``, a latency SLO's ``max``) is a miss, with its age as its latency; one
        older than ``timeout`` (default ``client_timeout_s``) counts as failed for
        ``error_rate`` and ``availability``. Younger ones are left out (they could still
        make it). Ages are compared to the histogram's 2% bucket. docs/results.md.
        """
        w = self.workloads[spec.target]
        ages = w.in_flight_age
        done = w.ok + sum(w.failed.values())
        metric = spec.metric
        if metric == "latency_under":
            assert spec.threshold is not None
            return self.latency_under(spec.target, spec.threshold)
        if metric in ("error_rate", "availability"):
            timeout = spec.timeout if spec.timeout is not None else client_timeout_s
            late = ages.n - ages.count_at_most(timeout) if timeout is not None else 0
            counted = done + late
            if not counted:
                return math.nan
            return (done - w.ok + late) / counted if metric == "error_rate" else w.ok / counted
        if metric in LATENCY_METRICS and spec.direction == "max":
            seen = LogHistogram(w.latency.gamma).merge(w.latency).merge(ages.above(spec.limit))
            return seen.mean() if metric == "latency_mean" else seen.quantile(_Q[metric.removeprefix("latency_")])
        return self.workload_metrics(spec.target)[metric]

    def service_metrics(self, name: str) -> dict[str, float]:
        """Service ``name``'s metrics in this replication, over attempts it received.

        Latencies and wasted work in seconds, ratios NaN when there were no attempts,
        throughput per second, cost in USD per million attempts.
        """
        s = self.services[name]
        out = {f"latency_{k}": s.latency.quantile(q) for k, q in _Q.items()}
        out["latency_mean"] = s.latency.mean()
        out["error_rate"] = (s.attempts - s.ok) / s.attempts if s.attempts else math.nan
        out["availability"] = s.ok / s.attempts if s.attempts else math.nan
        out["throughput"] = s.attempts / self.measured_s
        out["amplification"] = s.attempts / s.original if s.original else math.nan
        out["utilization"] = s.busy_s / s.capacity_s if s.capacity_s else math.nan
        out["attempts"] = float(s.attempts)
        out["retries"] = float(s.retries)
        out["retries_decided"] = float(s.retries_decided)
        out["sdk_retries"] = float(s.sdk_retries)
        out["sdk_retries_decided"] = float(s.sdk_retries_decided)
        out["user_retries"] = float(s.user_retries)
        out["user_retries_decided"] = float(s.user_retries_decided)
        out["queue_wait_mean"] = s.queue_wait.mean()
        out["waited_fraction"] = 1.0 - s.queue_wait.zero_fraction()
        out["mean_in_system"] = s.in_system_s / self.measured_s
        out["queue_length_mean"] = s.queued_s / self.measured_s
        out["queue_length_p99"] = self._queue_length_p99(name)
        out["ejections"] = float(s.ejections)
        out["hedges"] = float(s.hedges)
        out["budget_refusals"] = float(s.budget_refusals)
        out["wasted_work_s"] = s.wasted_s
        cost = sum(e.egress_usd for (_, to), e in self.edges.items() if to == name)
        out["cost_per_million"] = cost / s.attempts * 1e6 if s.attempts else math.nan
        return out
