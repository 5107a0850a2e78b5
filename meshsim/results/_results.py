"""Results of one or more replications: docs/results.md JSON, tidy DataFrames, confidence intervals."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from meshsim.metrics import CAUSES, Bin, EntityStats
from meshsim.results._replication import ReplicationResult, _by_layer, _client_retries_configured, _r, _rollout_summary
from meshsim.results._units import METRIC_UNITS, metric_with_unit
from meshsim.results._units import QUANTILES as _Q
from meshsim.scenario import SloSpec
from meshsim.stats import mean_ci

__all__ = ["Results"]


class Results:
    """All replications of one scenario run, and the views users read."""

    def __init__(self, scenario: Any, replications: list[ReplicationResult], meshsim_version: str) -> None:
        """Hold the replications in order, after checking each one's request accounting."""
        self.scenario = scenario
        self.replications = sorted(replications, key=lambda r: r.replication)
        self.meshsim_version = meshsim_version
        for r in self.replications:
            r.check_accounting()

    @property
    def partial(self) -> bool:
        """Whether a run was stopped before its end (Ctrl-C, SIGTERM): the numbers cover what ran."""
        return any(r.partial for r in self.replications)

    # ----- pooled views -----
    def _pooled(self, kind: str) -> dict[Any, EntityStats]:
        pooled: dict[Any, EntityStats] = {}
        for r in self.replications:
            for key, st in getattr(r, kind).items():
                p = pooled.setdefault(key, EntityStats())
                for f in (
                    "in_system_s",
                    "queued_s",
                    "requests",
                    "ok",
                    "attempts",
                    "received",
                    "retries",
                    "retries_decided",
                    "sdk_retries",
                    "sdk_retries_decided",
                    "user_retries",
                    "user_retries_decided",
                    "hedges",
                    "original",
                    "ejections",
                    "budget_refusals",
                    "wasted_s",
                    "busy_s",
                    "capacity_s",
                    "bytes_cross_zone",
                    "bytes_cross_region",
                    "bytes_cross_cloud",
                    "egress_usd",
                ):
                    setattr(p, f, getattr(p, f) + getattr(st, f))
                for c, n in st.failed.items():
                    p.failed[c] = p.failed.get(c, 0) + n
                p.latency.merge(st.latency)
                p.failed_latency.merge(st.failed_latency)
                p.queue_wait.merge(st.queue_wait)
                p.in_flight_age.merge(st.in_flight_age)
        return pooled

    def metrics_table(self) -> pd.DataFrame:
        """Tidy per-replication metrics: replication, scope, name, metric, unit, value.

        Each metric's name ends in its unit where it has one (``latency_p99_ms``,
        ``throughput_rps``, ``cost_per_million_usd``, ``wasted_work_s``); ratios such as
        ``error_rate`` are fractions in [0, 1]. ``unit`` repeats it (:data:`METRIC_UNITS`).
        """
        table = self.metrics_table_si()
        renamed = [metric_with_unit(m) for m in table["metric"]]
        table["metric"] = [n for n, _ in renamed]
        table["value"] = table["value"].to_numpy(dtype=float) * np.array([f for _, f in renamed], dtype=float)
        table.insert(4, "unit", [METRIC_UNITS.get(n, "") for n, _ in renamed])
        return table

    def metrics_table_si(self) -> pd.DataFrame:
        """The same rows in the package's internal units, under the SLO metric names.

        Columns replication, scope, name, metric, value; ``latency_p99`` in seconds,
        ``throughput`` per second. This is what :func:`meshsim.slo.evaluate_slos` reads.
        """
        rows = []
        for r in self.replications:
            for name in r.workloads:
                for m, v in r.workload_metrics(name).items():
                    rows.append((r.replication, "workload", name, m, v))
            for name in r.services:
                for m, v in r.service_metrics(name).items():
                    rows.append((r.replication, "service", name, m, v))
        return pd.DataFrame(rows, columns=["replication", "scope", "name", "metric", "value"])

    def slo_table(self, slos: Sequence[SloSpec]) -> pd.DataFrame:
        """:meth:`metrics_table_si` plus, per workload SLO, its value as users see it (metric ``slo:NAME``).

        The SLO judge reads the ``slo:NAME`` rows first (:meth:`ReplicationResult.user_view`):
        requests still in flight at the end count there (docs/results.md).
        """
        table = self.metrics_table_si()
        timeouts = {w.name: w.client.timeout for w in self.scenario.workload}
        rows = [
            (r.replication, "workload", spec.target, f"slo:{spec.name}", r.user_view(spec, timeouts.get(spec.target)))
            for spec in slos
            if spec.scope == "workload"
            for r in self.replications
            if spec.target in r.workloads
        ]
        if not rows:
            return table
        extra = pd.DataFrame(rows, columns=["replication", "scope", "name", "metric", "value"])
        return pd.concat([table, extra], ignore_index=True)

    def summary(self, confidence: float = 0.95) -> pd.DataFrame:
        """One row per (scope, name, metric): mean over replications and its interval.

        Columns scope, name, metric, unit, mean, ci_low, ci_high, replications; metric
        names and units as in :meth:`metrics_table` (``latency_p99_ms`` in ms).
        """
        table = self.metrics_table()
        rows = []
        for (scope, name, metric, unit), grp in table.groupby(["scope", "name", "metric", "unit"], sort=True):
            m, lo, hi = mean_ci(list(grp["value"]), confidence)
            rows.append((scope, name, metric, unit, m, lo, hi, len(grp)))
        return pd.DataFrame(
            rows, columns=["scope", "name", "metric", "unit", "mean", "ci_low", "ci_high", "replications"]
        )

    def timeseries(self) -> pd.DataFrame:
        """1 s bins pooled over replications: throughput, error rate, p50/p99, attempts, retries, causes.

        ``retries`` counts the mesh proxies' retries when they are decided (``retries_ended``:
        when they end); ``sdk_retries`` and ``user_retries`` the client layers' decisions.
        ``queue_length`` (services) is the mean number of attempts waiting for a worker in the bin.

        """
        merged: dict[tuple[str, str, int], Bin] = {}
        for r in self.replications:
            for key, b in r.bins.items():
                m = merged.get(key)
                if m is None:
                    m = merged[key] = Bin()
                m.completed += b.completed
                m.ok += b.ok
                m.attempts += b.attempts
                m.retries += b.retries
                m.retries_ended += b.retries_ended
                m.sdk_retries += b.sdk_retries
                m.user_retries += b.user_retries
                for c, n in b.failed.items():
                    m.failed[c] = m.failed.get(c, 0) + n
                m.latency.merge(b.latency)
                m.queued_s += b.queued_s
        n_rep = max(1, len(self.replications))
        warm = self.scenario.warmup
        bin_s = self.replications[0].extras.get("bin_s", 1.0) if self.replications else 1.0
        rows = []
        for (scope, name, idx), b in sorted(merged.items()):
            count = b.completed if scope == "workload" else b.attempts
            failed = sum(b.failed.values())
            row = {
                "scope": scope,
                "name": name,
                "t_s": warm + float(idx) * bin_s,
                "throughput_rps": count / n_rep / bin_s,
                "error_rate": failed / count if count else math.nan,
                "latency_p50_ms": b.latency.quantile(0.5) * 1e3,
                "latency_p99_ms": b.latency.quantile(0.99) * 1e3,
                "attempts": b.attempts / n_rep,
                "retries": b.retries / n_rep,
                "retries_ended": b.retries_ended / n_rep,
                "sdk_retries": b.sdk_retries / n_rep,
                "user_retries": b.user_retries / n_rep,
                "queue_length": b.queued_s / n_rep / bin_s if scope == "service" else math.nan,
            }
            for c in CAUSES:
                row[f"failed_{c}"] = b.failed.get(c, 0) / n_rep
            rows.append(row)
        cols = [
            "scope",
            "name",
            "t_s",
            "throughput_rps",
            "error_rate",
            "latency_p50_ms",
            "latency_p99_ms",
            "attempts",
            "retries",
            "retries_ended",
            "sdk_retries",
            "user_retries",
            "queue_length",
        ] + [f"failed_{c}" for c in CAUSES]
        return pd.DataFrame(rows, columns=cols)

    def edges(self) -> pd.DataFrame:
        """One row per caller -> callee edge: counts summed over replications.

        ``attempts_rps`` is attempts per second per replication and ``error_rate`` the
        share of attempts that failed (a fraction); bytes and ``egress_usd`` are sums.
        """
        measured = sum(r.measured_s for r in self.replications)
        rows = []
        for (src, dst), e in sorted(self._pooled("edges").items()):
            failed = sum(e.failed.values())
            rows.append(
                {
                    "from": src,
                    "to": dst,
                    "attempts": e.attempts,
                    "attempts_rps": e.attempts / measured if measured else math.nan,
                    "retries": e.retries,
                    "retries_decided": e.retries_decided,
                    "hedges": e.hedges,
                    "ok": e.ok,
                    "error_rate": failed / e.attempts if e.attempts else math.nan,
                    **{f"failed_{c}": e.failed.get(c, 0) for c in CAUSES},
                    "bytes_cross_zone": e.bytes_cross_zone,
                    "bytes_cross_region": e.bytes_cross_region,
                    "bytes_cross_cloud": e.bytes_cross_cloud,
                    "egress_usd": e.egress_usd,
                }
            )
        return pd.DataFrame(rows)

    def spans(self) -> pd.DataFrame:
        """Sampled per-request spans (when ``trace_sample`` > 0)."""
        rows = [dict(s, replication=r.replication) for r in self.replications for s in r.spans]
        return pd.DataFrame(rows)

    def events(self) -> pd.DataFrame:
        """Timeline events (ejections, faults, rollout steps)."""
        return pd.DataFrame([dict(e, replication=r.replication) for r in self.replications for e in r.events])

    # ----- docs/results.md -----
    def to_dict(self, confidence: float = 0.95) -> dict[str, Any]:
        """The results JSON object of docs/results.md."""
        reps = self.replications
        n = len(reps)
        out: dict[str, Any] = {
            "scenario": self.scenario.name,
            "seed": self.scenario.seed,
            "replications": n,
            "meshsim_version": self.meshsim_version,
            "partial": self.partial,
        }
        measured = sum(r.measured_s for r in reps)
        client_layers = _client_retries_configured(self.scenario)
        workloads: dict[str, dict[str, Any]] = {}
        for name, w in sorted(self._pooled("workloads").items()):
            done = w.ok + sum(w.failed.values())
            in_flight = sum(r.in_flight.get(name, 0) for r in reps)
            p99s = [r.workload_metrics(name)["latency_p99"] for r in reps if name in r.workloads]
            _, lo, hi = mean_ci(p99s, confidence)
            workloads[name] = {
                "requests": w.requests,
                "ok": w.ok,
                "failed": {c: w.failed[c] for c in sorted(w.failed)},
                "in_flight": in_flight,
                "error_rate": _r((done - w.ok) / done if done else math.nan),
                "throughput_rps": _r(done / measured if measured else math.nan),
                "latency_ms": {
                    "mean": _r(w.latency.mean() * 1e3),
                    **{k: _r(w.latency.quantile(q) * 1e3) for k, q in _Q.items()},
                },
                "latency_p99_ci_ms": [_r(lo * 1e3), _r(hi * 1e3)],
            }
            if client_layers:
                workloads[name]["retries"] = {"decided": w.user_retries_decided, "ended": w.user_retries}
        services: dict[str, dict[str, Any]] = {}
        for name, s in sorted(self._pooled("services").items()):
            services[name] = {
                "attempts": s.attempts,
                "received": s.received,
                "retries": s.retries,
                "hedges": s.hedges,
                "ok": s.ok,
                "failed": {c: s.failed[c] for c in sorted(s.failed)},
                "utilization": _r(s.busy_s / s.capacity_s if s.capacity_s else math.nan),
                "amplification": _r(s.attempts / s.original if s.original else math.nan),
                "ejections": s.ejections,
                "budget_refusals": s.budget_refusals,
                "wasted_work_s": _r(s.wasted_s),
                "latency_ms": {k: _r(s.latency.quantile(q) * 1e3) for k, q in _Q.items()},
                "queue_wait_ms": {"mean": _r(s.queue_wait.mean() * 1e3), "p99": _r(s.queue_wait.quantile(0.99) * 1e3)},
            }
            if client_layers:
                services[name]["retries_decided"] = s.retries_decided
                services[name]["retries_by_layer"] = _by_layer(s)
        edges: list[dict[str, Any]] = []
        total_usd = 0.0
        total_bytes = 0
        for (src, dst), e in sorted(self._pooled("edges").items()):
            nbytes = e.bytes_cross_zone + e.bytes_cross_region + e.bytes_cross_cloud
            total_usd += e.egress_usd
            total_bytes += nbytes
            edges.append(
                {
                    "from": src,
                    "to": dst,
                    "attempts": e.attempts,
                    "retries": e.retries,
                    "failed": {c: e.failed[c] for c in sorted(e.failed)},
                    "egress_gb": _r(nbytes / 1e9, 9),
                    "egress_usd": _r(e.egress_usd, 9),
                }
            )
        all_done = sum(w["ok"] + sum(w["failed"].values()) for w in workloads.values())
        out["workloads"] = workloads
        out["services"] = services
        out["edges"] = edges
        out["cost"] = {
            "egress_gb": _r(total_bytes / 1e9 / max(1, n), 9),
            "egress_usd": _r(total_usd / max(1, n), 9),
            "usd_per_million_requests": _r(total_usd / all_done * 1e6 if all_done else math.nan),
        }
        rollouts = [r.extras["rollout"] for r in reps if "rollout" in r.extras]
        if rollouts:
            out["rollout"] = _rollout_summary(rollouts, confidence)
        out["slos"] = [v for v in self.slo_verdicts(confidence)]
        return out

    def slo_verdicts(self, confidence: float = 0.95) -> list[dict[str, Any]]:
        """SLOs of the scenario evaluated over the replications (docs/results.md ``slos``).

        ``value``, ``limit`` and ``ci`` are in ``unit``: ``ms`` for latencies, as every
        latency of the results JSON; ``ratio``, ``1/s`` or ``USD`` otherwise.
        """
        if not self.scenario.slos:
            return []
        from meshsim.slo import evaluate_slos, verdicts_records

        verdicts = evaluate_slos(self.scenario.slos, self.slo_table(self.scenario.slos), confidence=confidence)
        records = verdicts_records(verdicts)
        for rec in records:
            if rec["unit"] == "s":
                rec["unit"] = "ms"
                for key in ("value", "limit"):
                    rec[key] = None if rec[key] is None else _r(float(rec[key]) * 1e3)  # type: ignore[arg-type]
                ci = rec["ci"]
                if isinstance(ci, list):
                    rec["ci"] = [None if x is None else _r(float(x) * 1e3) for x in ci]
        return records

    def to_json(self, confidence: float = 0.95) -> str:
        """docs/results.md JSON text; the same file and seed give byte-identical text."""
        return json.dumps(self.to_dict(confidence), indent=2, allow_nan=False)
