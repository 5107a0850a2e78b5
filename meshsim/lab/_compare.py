"""Predicted against measured: the prediction's scenario, the measured results, and the comparison rows.

The prediction is the scenario itself with three changes, each said in the report: the
network and the proxy overhead become the loopback latency and Traefik overhead measured by
the calibration run, and (unless turned off) each backend's measured timer overshoot is
added to its service time as a latency fault from time 0 (the scenario's own format).

A comparison row holds one metric of one workload or service, measured and predicted, with
the spread over live runs and over simulated replications, the tolerance and the verdict:

- latency mean and p50 within 10 %, p90 within 15 %, p99 within 20 % of the measured value;
- error rate within max(1 percentage point, 3 standard errors of the difference);
- attempts per request to a service within max(2 %, 3 standard errors);
- share of a service's served tries per version (or per replica, for a service without
  versions) within max(1 point, 3 standard errors).

A standard error is, for each side, the larger of the binomial one (rates and shares) and the
run-to-run one (standard deviation over runs / sqrt(runs)); attempts per request use the
run-to-run one alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from meshsim.lab._calibration import Calibration
from meshsim.lab._live import LiveReplication
from meshsim.lab._plan import LabPlan
from meshsim.metrics import LogHistogram
from meshsim.results import Results
from meshsim.scenario import DistSpec, Fault, Scenario

__all__ = [
    "LATENCY_TOLERANCE",
    "comparison_rows",
    "measured_results",
    "overshoot_by_group",
    "predicted_scenario",
    "predicted_shares",
    "share_groups",
]

#: Relative tolerance of each latency metric (measured value as the reference).
LATENCY_TOLERANCE = {"latency_mean_ms": 0.10, "latency_p50_ms": 0.10, "latency_p90_ms": 0.15, "latency_p99_ms": 0.20}
_QUANTILES = {"latency_p50_ms": 0.5, "latency_p90_ms": 0.9, "latency_p99_ms": 0.99}
_ERROR_FLOOR = 0.01
_TRIES_FLOOR = 0.02
_SHARE_FLOOR = 0.01
_MAX_CAL_SAMPLES = 400


def _ms_text(seconds: float) -> str:
    return f"{seconds * 1e3:.4f}ms"


def _empirical(samples_s: Sequence[float]) -> DistSpec:
    xs = sorted(samples_s)
    if len(xs) > _MAX_CAL_SAMPLES:
        idx = np.linspace(0, len(xs) - 1, _MAX_CAL_SAMPLES).round().astype(int)
        xs = [xs[i] for i in idx]
    return DistSpec.model_validate({"dist": "empirical", "samples": [_ms_text(x) for x in xs]})


def overshoot_by_group(plan: LabPlan, live: Sequence[LiveReplication]) -> dict[tuple[str, str | None], float]:
    """Mean timer overshoot per (service, version) over every live run, seconds (0 when none measured)."""
    sums: dict[tuple[str, str | None], list[float]] = {}
    for b in plan.backends:
        acc = sums.setdefault((b.service, b.version), [0.0, 0.0])
        for rep in live:
            st = rep.backends.get(b.name, {})
            acc[0] += float(st.get("overshoot_sum_s", 0.0))
            acc[1] += float(st.get("overshoot_n", 0))
    return {k: (s / n if n else 0.0) for k, (s, n) in sums.items()}


def predicted_scenario(
    plan: LabPlan, calibration: Calibration, overshoot: dict[tuple[str, str | None], float] | None
) -> Scenario:
    """The scenario the simulator runs for the prediction (loopback network, measured overhead, overshoot)."""
    sc = plan.scenario
    hop = _empirical(calibration.one_way_s)
    network = sc.network.model_copy(
        update={
            "same_zone": hop,
            "cross_zone": hop,
            "cross_region": hop,
            "cross_cloud": hop,
            "links": [],
            "use_region_table": False,
        }
    )
    mesh = sc.mesh.model_copy(update={"proxy_overhead": _empirical(calibration.overhead_s)})
    faults = list(sc.faults)
    for (service, version), over_s in sorted((overshoot or {}).items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        if over_s > 0:
            target = service if version is None else f"{service}/{version}"
            faults.append(
                Fault.model_validate({"at": "0s", "kind": "latency", "target": target, "add": _ms_text(over_s)})
            )
    return sc.model_copy(
        update={
            "network": network,
            "mesh": mesh,
            "faults": faults,
            "duration": plan.duration_s,
            "warmup": plan.warmup_s,
        }
    )


def share_groups(plan: LabPlan, service: str) -> dict[str, tuple[str, ...]]:
    """The groups whose share of ``service``'s served tries is compared, and their backends.

    Per version (``api/v2``) when the service has versions, else per replica (``api-0``) when
    it has several; nothing for a single replica, nor per replica when a crash may hit any of
    them (the lab and the simulator each pick the crashed replica at random).
    """
    mine = [b for b in plan.backends if b.service == service]
    versions = sorted({b.version for b in mine if b.version is not None})
    if len(versions) >= 2:
        return {f"{service}/{v}": tuple(b.name for b in mine if b.version == v) for v in versions}
    crashed = {name for f in plan.faults if f.kind == "crash" for name in f.backends}
    if not versions and len(mine) >= 2 and not crashed & {b.name for b in mine}:
        return {b.name: (b.name,) for b in mine}
    return {}


def predicted_shares(plan: LabPlan, results: Results) -> dict[str, list[dict[str, int]]]:
    """Served tries per share group (:func:`share_groups`) in each simulated replication, from the server spans.

    A span names its version, and its replica as ``<service>-<replica number>``.
    """
    spans = results.spans()
    by_rid = {b.replica_id: b.name for b in plan.backends}
    out: dict[str, list[dict[str, int]]] = {s: [] for s in plan.routes}
    for s in plan.routes:
        groups = share_groups(plan, s)
        for rep in (r.replication for r in results.replications):
            counts: dict[str, int] = {}
            if groups and not spans.empty:
                mine = spans[(spans["kind"] == "server") & (spans["service"] == s) & (spans["replication"] == rep)]
                for version, n in mine.groupby(mine["version"].fillna(""), sort=True).size().items():
                    if f"{s}/{version}" in groups:
                        counts[f"{s}/{version}"] = int(n)
                for instance, n in mine.groupby(mine["instance"].fillna(""), sort=True).size().items():
                    head, _, tail = str(instance).rpartition("-")
                    name = by_rid.get(int(tail)) if head == s and tail.isdigit() else None
                    if name in groups:
                        counts[name] = int(n)
            out[s].append(counts)
    return out


def _pooled_latency(live: Sequence[LiveReplication], workload: str) -> LogHistogram:
    h = LogHistogram()
    for rep in live:
        h.merge(rep.workloads[workload].latency)
    return h


def measured_results(plan: LabPlan, live: Sequence[LiveReplication], meshsim_version: str) -> dict[str, Any]:
    """The live runs in the shape of the results JSON (docs/results.md), with what a real Traefik shows."""
    from meshsim.stats import mean_ci

    n = len(live)
    measured_s = sum(r.measured_s for r in live)
    workloads: dict[str, Any] = {}
    for w in plan.workloads:
        tallies = [r.workloads[w.name] for r in live]
        requests = sum(t.requests for t in tallies)
        ok = sum(t.ok for t in tallies)
        failed: dict[str, int] = {}
        for t in tallies:
            for c, k in t.failed.items():
                failed[c] = failed.get(c, 0) + k
        done = ok + sum(failed.values())
        lat = _pooled_latency(live, w.name)
        p99s = [t.latency.quantile(0.99) for t in tallies if t.latency.count()]
        _, lo, hi = mean_ci(p99s)
        workloads[w.name] = {
            "requests": requests,
            "ok": ok,
            "failed": {c: failed[c] for c in sorted(failed)},
            "in_flight": requests - done,
            "error_rate": _r((done - ok) / done if done else math.nan),
            "throughput_rps": _r(done / measured_s if measured_s else math.nan),
            "latency_ms": {
                "mean": _r(lat.mean() * 1e3),
                "p50": _r(lat.quantile(0.5) * 1e3),
                "p90": _r(lat.quantile(0.9) * 1e3),
                "p99": _r(lat.quantile(0.99) * 1e3),
                "p999": _r(lat.quantile(0.999) * 1e3),
            },
            "latency_p99_ci_ms": [_r(lo * 1e3), _r(hi * 1e3)],
            "generator_late_ms": {
                "mean": _r(sum(t.late_sum_s for t in tallies) / max(1, sum(t.sent for t in tallies)) * 1e3),
                "max": _r(max((t.late_max_s for t in tallies), default=0.0) * 1e3),
            },
        }
    services: dict[str, Any] = {}
    for s in plan.routes:
        received = served = 0
        outcomes: dict[str, int] = {}
        for r in live:
            for b in plan.backends:
                if b.service != s:
                    continue
                st = r.backends.get(b.name, {})
                received += int(st.get("received", 0))
                served += int(st.get("served", 0))
                for k, v in st.get("outcomes", {}).items():
                    outcomes[k] = outcomes.get(k, 0) + int(v)
        services[s] = {
            "attempts": int(round(sum(r.attempts(s) for r in live))),
            "traefik_tries": int(round(sum(r.tries.get(s, 0.0) for r in live))),
            "proxy_rejections": sum(r.proxy_rejections.get(s, 0) for r in live),
            "received": received,
            "served": served,
            "ok": outcomes.get("ok", 0),
            "failed": {k: v for k, v in sorted(outcomes.items()) if k != "ok"},
        }
    backends: dict[str, Any] = {}
    for b in plan.backends:
        parts = [r.backends.get(b.name, {}) for r in live]
        on = sum(int(p.get("overshoot_n", 0)) for p in parts)
        osum = sum(float(p.get("overshoot_sum_s", 0.0)) for p in parts)
        backends[b.name] = {
            "service": b.service,
            "version": b.version,
            "received": sum(int(p.get("received", 0)) for p in parts),
            "served": sum(int(p.get("served", 0)) for p in parts),
            "timer_overshoot_ms": _r(osum / on * 1e3 if on else math.nan),
        }
    return {
        "scenario": plan.scenario.name,
        "seed": plan.scenario.seed,
        "replications": n,
        "meshsim_version": meshsim_version,
        "source": "lab: Traefik on loopback",
        "workloads": workloads,
        "services": services,
        "backends": backends,
        "events": [dict(e, replication=r.replication) for r in live for e in r.events],
    }


def _r(x: float, digits: int = 6) -> float | None:
    if x is None or math.isnan(x) or math.isinf(x):
        return None
    return round(float(x), digits)


def _sd(values: Sequence[float]) -> float:
    arr = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    return float(arr.std(ddof=1)) if arr.size >= 2 else 0.0


def _se_runs(values: Sequence[float]) -> float:
    k = len([v for v in values if not math.isnan(v)])
    return _sd(values) / math.sqrt(k) if k >= 2 else 0.0


def _row(
    workload: str,
    metric: str,
    target: str | None,
    measured: float,
    predicted: float,
    per_run_m: Sequence[float],
    per_rep_p: Sequence[float],
    tolerance: float,
    tolerance_text: str,
) -> dict[str, Any]:
    diff = predicted - measured
    ok = not (math.isnan(measured) or math.isnan(predicted)) and abs(diff) <= tolerance + 1e-12
    return {
        "workload": workload,
        "metric": metric,
        "target": target,
        "measured": _r(measured),
        "predicted": _r(predicted),
        "within": bool(ok),
        "difference": _r(diff),
        "tolerance": _r(tolerance),
        "tolerance_rule": tolerance_text,
        "measured_sd": _r(_sd(per_run_m)),
        "measured_range": [_r(min(per_run_m, default=math.nan)), _r(max(per_run_m, default=math.nan))],
        "predicted_sd": _r(_sd(per_rep_p)),
        "runs": len(per_run_m),
        "replications": len(per_rep_p),
    }


def _workload_rows(plan: LabPlan, live: Sequence[LiveReplication], predicted: Results) -> list[dict[str, Any]]:
    rows = []
    pdata = predicted.to_dict()
    for w in plan.workloads:
        tallies = [r.workloads[w.name] for r in live]
        lat = _pooled_latency(live, w.name)
        per_rep = [r.workload_metrics(w.name) for r in predicted.replications if w.name in r.workloads]
        pw = pdata["workloads"].get(w.name, {})
        plat = pw.get("latency_ms", {})
        for metric, rel in LATENCY_TOLERANCE.items():
            key = metric.removeprefix("latency_").removesuffix("_ms")
            if metric == "latency_mean_ms":
                m = lat.mean() * 1e3
                runs = [t.latency.mean() * 1e3 for t in tallies]
            else:
                m = lat.quantile(_QUANTILES[metric]) * 1e3
                runs = [t.latency.quantile(_QUANTILES[metric]) * 1e3 for t in tallies]
            p = float(plat.get(key) if plat.get(key) is not None else math.nan)
            reps = [x[f"latency_{key}"] * 1e3 for x in per_rep]
            rows.append(_row(w.name, metric, None, m, p, runs, reps, rel * m, f"{rel:.0%} of measured"))
        done = sum(t.completed for t in tallies)
        m_err = sum(sum(t.failed.values()) for t in tallies) / done if done else math.nan
        p_err = float(pw.get("error_rate") if pw.get("error_rate") is not None else math.nan)
        runs = [sum(t.failed.values()) / t.completed if t.completed else math.nan for t in tallies]
        reps = [x["error_rate"] for x in per_rep]
        p_done = int(pw.get("ok", 0)) + sum(pw.get("failed", {}).values())
        se_m = max(_binomial_se(m_err, done), _se_runs(runs))
        se_p = max(_binomial_se(p_err, p_done), _se_runs(reps))
        tol = max(_ERROR_FLOOR, 3 * math.hypot(se_m, se_p))
        rows.append(_row(w.name, "error_rate", None, m_err, p_err, runs, reps, tol, "max(1 pp, 3 SE)"))
    return rows


def _binomial_se(p: float, n: int) -> float:
    if n <= 0 or math.isnan(p):
        return 0.0
    return math.sqrt(max(p * (1 - p), 0.0) / n)


def _service_rows(
    plan: LabPlan,
    live: Sequence[LiveReplication],
    predicted: Results,
    shares: dict[str, list[dict[str, int]]],
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    scope = plan.workloads[0].name if len(plan.workloads) == 1 else "all"
    for s in plan.routes:
        runs = []
        total_a = total_r = 0.0
        for r in live:
            req = r.tries_requests  # the requests between the two readings of Traefik's counter
            a = r.attempts(s)
            total_a += a
            total_r += req
            runs.append(a / req if req else math.nan)
        m = total_a / total_r if total_r else math.nan
        reps = []
        p_a = p_r = 0.0
        for rep in predicted.replications:
            req = sum(w.requests for w in rep.workloads.values())
            a = float(rep.services[s].attempts) if s in rep.services else 0.0
            p_a += a
            p_r += req
            reps.append(a / req if req else math.nan)
        p = p_a / p_r if p_r else math.nan
        # attempts per request vary little from request to request: only the run-to-run spread counts
        se_m, se_p = _se_runs(runs), _se_runs(reps)
        tol = max(_TRIES_FLOOR * (m if not math.isnan(m) else 0.0), 3 * math.hypot(se_m, se_p))
        rows.append(_row(scope, "attempts_per_request", s, m, p, runs, reps, tol, "max(2%, 3 SE)"))
        groups = share_groups(plan, s)
        p_counts = shares.get(s, [])
        if not any(sum(c.values()) for c in p_counts):
            continue  # no sampled server span named a group: nothing to compare against
        for label, names in groups.items():
            m_runs, m_num, m_den = [], 0, 0
            for r in live:
                num = sum(int(r.backends[n]["served"]) for n in names)
                den = sum(int(r.backends[b.name]["served"]) for b in plan.backends if b.service == s)
                m_num, m_den = m_num + num, m_den + den
                m_runs.append(num / den if den else math.nan)
            p_runs, p_num, p_den = [], 0, 0
            for counts in p_counts:
                num = counts.get(label, 0)
                den = sum(counts.values())
                p_num, p_den = p_num + num, p_den + den
                p_runs.append(num / den if den else math.nan)
            ms = m_num / m_den if m_den else math.nan
            ps = p_num / p_den if p_den else math.nan
            se = math.hypot(
                max(_binomial_se(ms, m_den), _se_runs(m_runs)), max(_binomial_se(ps, p_den), _se_runs(p_runs))
            )
            tol = max(_SHARE_FLOOR, 3 * se)
            rows.append(_row(scope, "share_of_tries", label, ms, ps, m_runs, p_runs, tol, "max(1 pp, 3 SE)"))
    return rows


def comparison_rows(
    plan: LabPlan,
    live: Sequence[LiveReplication],
    predicted: Results,
    shares: dict[str, list[dict[str, int]]],
) -> list[dict[str, Any]]:
    """Every compared metric, measured against predicted, with spreads, tolerance and verdict."""
    return _workload_rows(plan, live, predicted) + _service_rows(plan, live, predicted, shares)
