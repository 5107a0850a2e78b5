"""Cascade analysis: who depends on whom, each workload's critical path, and blast radius.

- :func:`dependency_graph`: the call graph (networkx) with hard and ``optional`` edges.
- :func:`dependents`: for each service, the workloads that depend on it, hard (a failure
  there fails the user's request) or optional (only through ``optional: true`` calls).
- :func:`critical_path`: the chain of calls that sets a workload's expected latency
  (sequential calls add up, a parallel group waits for its slowest member).
- :func:`blast_radius`: after a run, which services and workloads failed because of which
  fault, from the fault timeline and the per-bin failure counts, each explained as the
  fault's own target or a cascade along hard dependencies.

Pure functions of a scenario (and results): no state, no random numbers.
"""

from __future__ import annotations

import math
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from scipy import stats

from meshsim.scenario import CallSpec, Fault, Scenario

__all__ = [
    "blast_radius",
    "critical_path",
    "critical_paths",
    "dependency_graph",
    "dependents",
    "fault_targets",
    "fault_windows",
]

WORKLOAD = "workload:"


# ----- static structure -----
def _version_weights(scenario: Scenario, name: str) -> list[tuple[str | None, float]]:
    """(version, share of traffic) for each version of a service (``None`` when it has none)."""
    svc = scenario.services[name]
    if not svc.versions:
        return [(None, 1.0)]
    pol = scenario.policies.get(name)
    if pol is not None and pol.split:
        weights = {v: float(pol.split.get(v, 0.0)) for v in svc.versions}
    else:
        # no split: the service's endpoints are all versions' replicas, so traffic follows them
        weights = {}
        for v, ver in svc.versions.items():
            placement = ver.placement if ver.placement is not None else svc.placement
            n = (
                sum(placement.values())
                if placement
                else (ver.replicas if ver.replicas is not None else svc.replicas or 1)
            )
            weights[v] = float(n)
    total = sum(weights.values()) or 1.0
    return [(v, weights[v] / total) for v in svc.versions]


def _steps(scenario: Scenario, name: str) -> list[tuple[float, list[tuple[str, list[CallSpec]]]]]:
    """(version share, steps) where a step is ("seq"|"par", [calls])."""
    return [
        (share, [("par" if step.parallel else "seq", list(step.calls)) for step in scenario.call_steps(name, version)])
        for version, share in _version_weights(scenario, name)
    ]


def dependency_graph(scenario: Scenario) -> nx.DiGraph:
    """Caller -> callee graph of services, plus ``workload:NAME`` -> entry nodes.

    Edge attributes: ``optional`` (True when every call from caller to callee is optional),
    ``calls`` (expected calls per caller request, versions weighted by traffic share).
    Node attribute ``kind``: ``service`` or ``workload``.
    """
    g = nx.DiGraph()
    for name in scenario.services:
        g.add_node(name, kind="service")
    for name in scenario.services:
        for share, steps in _steps(scenario, name):
            for _, calls in steps:
                for c in calls:
                    n = share * c.probability * c.count
                    if g.has_edge(name, c.to):
                        e = g.edges[name, c.to]
                        e["optional"] = e["optional"] and c.optional
                        e["calls"] += n
                    else:
                        g.add_edge(name, c.to, optional=c.optional, calls=n)
    for w in scenario.workload:
        node = WORKLOAD + w.name
        g.add_node(node, kind="workload")
        g.add_edge(node, w.entry, optional=False, calls=1.0)
    return g


def _hard(g: nx.DiGraph) -> nx.DiGraph:
    return g.edge_subgraph([(a, b) for a, b, d in g.edges(data=True) if not d["optional"]]).copy()


def _expected_calls(g: nx.DiGraph, source: str) -> dict[str, float]:
    """Expected calls to each node per request entering at ``source`` (the graph is a DAG)."""
    out = {source: 1.0}
    for node in nx.topological_sort(g.subgraph(nx.descendants(g, source) | {source})):
        n = out.get(node, 0.0)
        for _, child, d in g.out_edges(node, data=True):
            out[child] = out.get(child, 0.0) + n * d["calls"]
    return out


def dependents(scenario: Scenario) -> pd.DataFrame:
    """One row per (service, workload) that reaches it.

    Columns: service, workload, dependency (``hard`` or ``optional``), calls_per_request
    (expected calls to the service per user request), path (a hard path when there is one,
    else the shortest path: entry -> ... -> service).
    """
    g = dependency_graph(scenario)
    hard = _hard(g)
    rows = []
    for w in scenario.workload:
        src = WORKLOAD + w.name
        calls = _expected_calls(g, src)
        for svc in scenario.services:
            if svc not in calls:
                continue
            is_hard = hard.has_node(src) and hard.has_node(svc) and nx.has_path(hard, src, svc)
            path = nx.shortest_path(hard if is_hard else g, src, svc)[1:]
            rows.append(
                {
                    "service": svc,
                    "workload": w.name,
                    "dependency": "hard" if is_hard else "optional",
                    "calls_per_request": calls[svc],
                    "path": " -> ".join(path),
                }
            )
    return pd.DataFrame(rows, columns=["service", "workload", "dependency", "calls_per_request", "path"])


# ----- critical path -----
def _mean_rtt_s(scenario: Scenario, net: Any, caller: str, callee: str) -> float:
    """Mean round trip between two services' replicas, weighted by replica counts (locality ignored)."""

    def zones(name: str) -> dict[str, float]:
        svc = scenario.services[name]
        out: dict[str, float] = {}
        for version, share in _version_weights(scenario, name):
            fields = svc.versions[version] if version is not None else svc
            placement = fields.placement if fields.placement is not None else svc.placement
            if not placement:
                placement = {(scenario.zones() or [""])[0]: 1}
            total = sum(placement.values()) or 1
            for z, n in placement.items():
                out[z] = out.get(z, 0.0) + share * n / total
        return out

    za, zb = zones(caller), zones(callee)
    total = 0.0
    for a, wa in za.items():
        for b, wb in zb.items():
            total += wa * wb * (net.latency_distribution(a, b).mean() + net.latency_distribution(b, a).mean())
    return total


def critical_path(scenario: Scenario, workload: str) -> pd.DataFrame:
    """The calls that set ``workload``'s expected latency, in call order (seconds inside, ms out).

    Each row is a service on the path: depth, service, step (``entry``, ``seq`` or
    ``parallel``), probability of the call, own_ms (mean service time), network_ms (mean
    round trip of the call), subtree_ms (expected time of the call including its own
    critical path), share (subtree_ms / the workload's total). Means only: queueing, proxy
    overhead and tails are left out, so compare shapes, not absolute values, with a run.
    """
    import numpy as _np

    from meshsim.topology import NetworkModel

    w = next((x for x in scenario.workload if x.name == workload), None)
    if w is None:
        raise KeyError(f"unknown workload '{workload}'")
    net = NetworkModel(scenario, _np.random.default_rng(0))  # only distribution means are read
    memo: dict[str, float] = {}

    def own(name: str) -> float:
        svc = scenario.services[name]
        total = 0.0
        for version, share in _version_weights(scenario, name):
            fields = svc.versions[version] if version is not None else svc
            st = fields.service_time if fields.service_time is not None else svc.service_time
            total += share * (st.build().mean() if st is not None else 0.0)
        return total

    def expected(name: str) -> float:
        if name in memo:
            return memo[name]
        t = own(name)
        for share, steps in _steps(scenario, name):
            for kind, calls in steps:
                times = [
                    c.probability * c.count * (expected(c.to) + _mean_rtt_s(scenario, net, name, c.to)) for c in calls
                ]
                t += share * (sum(times) if kind == "seq" else max(times))
        memo[name] = t
        return t

    rows: list[dict[str, Any]] = []

    def walk(name: str, depth: int, step: str, prob: float, rtt: float) -> None:
        rows.append(
            {
                "depth": depth,
                "service": name,
                "step": step,
                "probability": prob,
                "own_ms": own(name) * 1e3,
                "network_ms": rtt * 1e3,
                "subtree_ms": (expected(name) + rtt) * 1e3,
            }
        )
        share_steps = _steps(scenario, name)
        _, steps = max(share_steps, key=lambda x: x[0])  # the main version's calls
        for kind, calls in steps:
            if kind == "seq":
                for c in calls:
                    walk(c.to, depth + 1, "seq", c.probability, _mean_rtt_s(scenario, net, name, c.to))
            else:
                slowest = max(
                    calls, key=lambda c: c.probability * (expected(c.to) + _mean_rtt_s(scenario, net, name, c.to))
                )
                walk(
                    slowest.to, depth + 1, "parallel", slowest.probability, _mean_rtt_s(scenario, net, name, slowest.to)
                )

    origin_rtt = 0.0
    if w.origin is not None:
        entry = scenario.services[w.entry]
        placement = entry.placement or {}
        n = sum(placement.values()) or 1
        origin_rtt = sum(
            c / n * (net.latency_distribution(w.origin, z).mean() + net.latency_distribution(z, w.origin).mean())
            for z, c in placement.items()
        )
    walk(w.entry, 0, "entry", 1.0, origin_rtt)
    df = pd.DataFrame(rows, columns=["depth", "service", "step", "probability", "own_ms", "network_ms", "subtree_ms"])
    total = df["subtree_ms"].iloc[0] if len(df) else math.nan
    df["share"] = df["subtree_ms"] / total if total else math.nan
    return df


def critical_paths(scenario: Scenario) -> pd.DataFrame:
    """:func:`critical_path` of every workload, with a ``workload`` column."""
    frames = [critical_path(scenario, w.name).assign(workload=w.name) for w in scenario.workload]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# ----- faults -----
def _placed(scenario: Scenario) -> dict[str, set[str]]:
    """Service -> the zones its replicas are placed in."""
    out: dict[str, set[str]] = {}
    for name, svc in scenario.services.items():
        zones: set[str] = set(svc.placement or {})
        for ver in svc.versions.values():
            zones |= set(ver.placement or {})
        if not zones:
            zones = set(scenario.zones()[:1])
        out[name] = zones
    return out


def _under(loc: str, prefix: str) -> bool:
    return loc == prefix or loc.startswith(prefix + "/")


def fault_targets(scenario: Scenario, fault: Fault) -> set[str]:
    """The services a fault hits directly."""
    services = scenario.services
    placed = _placed(scenario)
    if fault.kind == "load":
        entries = {w.entry for w in scenario.workload if fault.target in (None, w.name)}
        g = dependency_graph(scenario)
        hit = set(entries)
        for e in entries:
            hit |= {n for n in nx.descendants(g, e) if n in services}
        return hit
    if fault.between is not None:
        # a link fault hits the callees of calls that cross it (the caller on one side, the
        # callee on the other); a workload's origin counts as a caller
        x, y = fault.between

        def across(za: set[str], zb: set[str]) -> bool:
            return any((_under(a, x) and _under(b, y)) or (_under(a, y) and _under(b, x)) for a in za for b in zb)

        g = dependency_graph(scenario)
        hit = set()
        for a, b in g.edges():
            za = (
                {w.origin for w in scenario.workload if WORKLOAD + w.name == a and w.origin}
                if a.startswith(WORKLOAD)
                else placed[a]
            )
            if za and across(za, placed[b]):
                hit.add(b)
        return hit
    target = fault.target or ""
    if target in services:
        return {target}
    svc, _, ver = target.partition("/")
    if svc in services and ver in services[svc].versions:
        return {svc}
    return {s for s, zones in placed.items() if any(_under(z, target) for z in zones)}


def fault_windows(scenario: Scenario, settle_s: float = 5.0) -> pd.DataFrame:
    """The fault timeline, clipped to the measured time (seconds).

    Columns: fault, kind, target, start_s, end_s (the fault's own end, or the end of the
    run), window_end_s (end + ``settle_s``, for recovery: ejections, queues).
    """
    end_run = scenario.warmup + scenario.duration
    rows = []
    for i, f in enumerate(scenario.faults):
        length = f.length_s()
        end = min(end_run, f.at + length) if length is not None else end_run
        label = " <-> ".join(f.between) if f.between else (f.target or "*")
        rows.append(
            {
                "fault": i,
                "kind": f.kind,
                "target": label,
                "start_s": f.at,
                "end_s": end,
                "window_end_s": min(end_run, end + settle_s),
            }
        )
    return pd.DataFrame(rows, columns=["fault", "kind", "target", "start_s", "end_s", "window_end_s"])


def _bin_counts(results: Any) -> pd.DataFrame:
    """Per-bin counts summed over replications: scope, name, t_s, total, failed, causes."""
    acc: dict[tuple[str, str, int], list[Any]] = {}
    bin_s = 1.0
    for r in results.replications:
        bin_s = r.extras.get("bin_s", bin_s)
        for (scope, name, idx), b in r.bins.items():
            row = acc.get((scope, name, idx))
            if row is None:
                row = acc[(scope, name, idx)] = [0, 0, {}]
            row[0] += b.completed if scope == "workload" else b.attempts
            row[1] += sum(b.failed.values())
            for c, n in b.failed.items():
                row[2][c] = row[2].get(c, 0) + n
    warm = results.scenario.warmup
    rows = [
        {
            "scope": s,
            "name": n,
            "t_s": warm + idx * bin_s,
            "bin_s": bin_s,
            "total": v[0],
            "failed": v[1],
            "causes": v[2],
        }
        for (s, n, idx), v in sorted(acc.items())
    ]
    return pd.DataFrame(rows, columns=["scope", "name", "t_s", "bin_s", "total", "failed", "causes"])


def blast_radius(
    results: Any, settle_s: float = 5.0, alpha: float = 1e-3, min_failures: int = 3, all_rows: bool = False
) -> pd.DataFrame:
    """Which services and workloads failed because of which fault.

    For each fault, the bins from its start to ``settle_s`` after its end are compared with
    the bins outside every fault window (the baseline). A service or workload is affected
    when its failures there are more than the baseline rate explains (one-sided binomial
    test at ``alpha``, at least ``min_failures`` failures). Its role is ``target`` (the fault
    hits it directly), ``cascade`` (it has a hard dependency path to a target; ``via`` shows
    it), or ``unexplained``. When fault windows overlap, the counts cannot be told apart:
    ``overlaps`` names the other faults, and an entity only an overlapping fault explains is
    left to that fault's rows (``other_fault`` with ``all_rows``). Counts are summed over
    replications.

    Columns: fault, kind, target, start_s, end_s, scope, name, role, via, total, failed,
    error_rate, baseline_error_rate, excess_failures, top_cause, p_value, affected, overlaps.
    """
    scenario = results.scenario
    windows = fault_windows(scenario, settle_s)
    cols = [
        "fault",
        "kind",
        "target",
        "start_s",
        "end_s",
        "scope",
        "name",
        "role",
        "via",
        "total",
        "failed",
        "error_rate",
        "baseline_error_rate",
        "excess_failures",
        "top_cause",
        "p_value",
        "affected",
        "overlaps",
    ]
    bins = _bin_counts(results)
    if windows.empty or bins.empty:
        return pd.DataFrame(columns=cols)
    t = bins["t_s"].to_numpy()
    end_t = t + bins["bin_s"].to_numpy()
    in_any = np.zeros(len(bins), dtype=bool)
    masks = {}
    for _, wrow in windows.iterrows():
        # a bin belongs to a window when the two overlap
        m = (end_t > wrow["start_s"]) & (t < wrow["window_end_s"])
        masks[int(wrow["fault"])] = m
        in_any |= m
    g = dependency_graph(scenario)
    hard = _hard(g)
    base = bins[~in_any].groupby(["scope", "name"])[["total", "failed"]].sum()
    targets_of = {
        int(w["fault"]): fault_targets(scenario, scenario.faults[int(w["fault"])]) for _, w in windows.iterrows()
    }
    spans = {int(w["fault"]): (w["start_s"], w["window_end_s"]) for _, w in windows.iterrows()}
    rows = []
    for _, wrow in windows.iterrows():
        i = int(wrow["fault"])
        fault = scenario.faults[i]
        targets = targets_of[i]
        others = [j for j, (s0, s1) in spans.items() if j != i and s0 < wrow["window_end_s"] and s1 > wrow["start_s"]]
        sub = bins[masks[i]]
        for (scope, name), grp in sub.groupby(["scope", "name"], sort=True):
            total = int(grp["total"].sum())
            failed = int(grp["failed"].sum())
            causes: dict[str, int] = {}
            for c in grp["causes"]:
                for k, v in c.items():
                    causes[k] = causes.get(k, 0) + v
            if (scope, name) in base.index:
                bt, bf = base.loc[(scope, name)]
                p0 = bf / bt if bt else 0.0
            else:
                p0 = 0.0
            p_value = float(stats.binom.sf(failed - 1, total, max(p0, 1e-9))) if total and failed else 1.0
            affected = failed >= min_failures and p_value < alpha
            node = WORKLOAD + name if scope == "workload" else name
            role, via = _explain(node, targets, hard)
            if role == "unexplained":
                # an overlapping fault may explain it: that fault's rows list it
                for j in others:
                    r2, v2 = _explain(node, targets_of[j], hard)
                    if r2 != "unexplained":
                        role, via = "other_fault", f"fault {j}: " + (v2 or r2)
                        break
            if not all_rows and (not affected or role == "other_fault"):
                continue
            rows.append(
                {
                    "fault": i,
                    "kind": fault.kind,
                    "target": wrow["target"],
                    "start_s": wrow["start_s"],
                    "end_s": wrow["end_s"],
                    "scope": scope,
                    "name": name,
                    "role": role if affected else "unaffected",
                    "via": via,
                    "total": total,
                    "failed": failed,
                    "error_rate": failed / total if total else math.nan,
                    "baseline_error_rate": p0,
                    "excess_failures": failed - p0 * total,
                    "top_cause": max(causes, key=lambda k: causes[k]) if causes else None,
                    "p_value": p_value,
                    "affected": affected,
                    "overlaps": ",".join(map(str, others)),
                }
            )
    return pd.DataFrame(rows, columns=cols)


def _explain(node: str, targets: set[str], hard: nx.DiGraph) -> tuple[str, str]:
    if node in targets:
        return "target", ""
    best: list[str] | None = None
    if hard.has_node(node):
        for tgt in sorted(targets):
            if hard.has_node(tgt) and nx.has_path(hard, node, tgt):
                p = nx.shortest_path(hard, node, tgt)
                if best is None or len(p) < len(best):
                    best = p
    if best is None:
        return "unexplained", ""
    return "cascade", " -> ".join(x.removeprefix(WORKLOAD) for x in best)
