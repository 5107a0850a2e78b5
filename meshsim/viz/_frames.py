"""Reshape results into the tidy DataFrames the chart builders draw.

Nothing here simulates or estimates: each function renames, filters, joins or
melts numbers that :class:`~meshsim.results.Results` already computed.
Times are seconds (``t_s``) unless a column says ``_ms``; ratios are in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from meshsim.metrics import CAUSES
from meshsim.scenario import METRIC_KIND
from meshsim.slo import format_value

__all__ = [
    "CAUSES",
    "causes_long",
    "edge_cost_frame",
    "fault_frame",
    "graph_frames",
    "location_frame",
    "rollout_checks_frame",
    "rollout_frame",
    "service_frame",
    "slo_frame",
    "workload_frame",
]


def _num(x: Any) -> float:
    """None (JSON null) -> NaN, so columns stay numeric."""
    return math.nan if x is None else float(x)


def workload_frame(data: dict[str, Any]) -> pd.DataFrame:
    """One row per workload from a docs/results.md dict: requests, ok, failures, error rate, rps, latency (ms)."""
    rows = []
    for name, w in data.get("workloads", {}).items():
        lat = w.get("latency_ms", {})
        ci = w.get("latency_p99_ci_ms") or [None, None]
        rows.append(
            {
                "workload": name,
                "requests": w.get("requests", 0),
                "ok": w.get("ok", 0),
                "failed": sum((w.get("failed") or {}).values()),
                "in_flight": w.get("in_flight", 0),
                "error_rate": _num(w.get("error_rate")),
                "throughput_rps": _num(w.get("throughput_rps")),
                "latency_mean_ms": _num(lat.get("mean")),
                "latency_p50_ms": _num(lat.get("p50")),
                "latency_p90_ms": _num(lat.get("p90")),
                "latency_p99_ms": _num(lat.get("p99")),
                "latency_p999_ms": _num(lat.get("p999")),
                "latency_p99_ci_low_ms": _num(ci[0]),
                "latency_p99_ci_high_ms": _num(ci[1]),
            }
        )
    cols = [
        "workload",
        "requests",
        "ok",
        "failed",
        "in_flight",
        "error_rate",
        "throughput_rps",
        "latency_mean_ms",
        "latency_p50_ms",
        "latency_p90_ms",
        "latency_p99_ms",
        "latency_p999_ms",
        "latency_p99_ci_low_ms",
        "latency_p99_ci_high_ms",
    ]
    return pd.DataFrame(rows, columns=cols)


def service_frame(data: dict[str, Any]) -> pd.DataFrame:
    """One row per service from a docs/results.md dict: attempts, retries, amplification, utilization, errors.

    ``retries`` are the mesh proxies'; ``sdk_retries`` and ``user_retries`` the callers' SDKs'
    and the end users' (tries that ended; 0 when the results have no ``retries_by_layer``).
    """
    rows = []
    for name, s in data.get("services", {}).items():
        failed = sum((s.get("failed") or {}).values())
        attempts = s.get("attempts", 0)
        lat = s.get("latency_ms", {})
        layers = s.get("retries_by_layer") or {}
        rows.append(
            {
                "service": name,
                "attempts": attempts,
                "retries": s.get("retries", 0),
                "sdk_retries": (layers.get("sdk") or {}).get("ended", 0),
                "user_retries": (layers.get("user") or {}).get("ended", 0),
                "ok": s.get("ok", 0),
                "failed": failed,
                "error_rate": failed / attempts if attempts else math.nan,
                "amplification": _num(s.get("amplification")),
                "utilization": _num(s.get("utilization")),
                "ejections": s.get("ejections", 0),
                "budget_refusals": s.get("budget_refusals", 0),
                "wasted_work_s": _num(s.get("wasted_work_s")),
                "latency_p50_ms": _num(lat.get("p50")),
                "latency_p99_ms": _num(lat.get("p99")),
            }
        )
    cols = [
        "service",
        "attempts",
        "retries",
        "sdk_retries",
        "user_retries",
        "ok",
        "failed",
        "error_rate",
        "amplification",
        "utilization",
        "ejections",
        "budget_refusals",
        "wasted_work_s",
        "latency_p50_ms",
        "latency_p99_ms",
    ]
    return pd.DataFrame(rows, columns=cols)


def slo_frame(data: dict[str, Any], scenario: Any = None) -> pd.DataFrame:
    """SLO verdicts joined with their specs.

    Columns: name, scope, target, metric, direction, value, limit, met, status, ci_low,
    ci_high (in the metric's internal unit: seconds for latencies), and value_text,
    limit_text, ci_text as people read them (ms, %).
    """
    specs = {s.name: s for s in (getattr(scenario, "slos", None) or [])}
    rows = []
    for v in data.get("slos", []):
        spec = specs.get(v["name"])
        metric = spec.metric if spec is not None else str(v.get("metric", ""))
        # the JSON holds latencies in ms (unit "ms"); the frame keeps the metric's internal unit
        scale = 1e-3 if v.get("unit") == "ms" else 1.0
        ci = [None if x is None else x * scale for x in (v.get("ci") or [None, None])]
        value, limit = _num(v.get("value")) * scale, _num(v.get("limit")) * scale
        rows.append(
            {
                "name": v["name"],
                "scope": spec.scope if spec is not None else str(v.get("scope", "")),
                "target": spec.target if spec is not None else str(v.get("target", "")),
                "metric": metric,
                "direction": spec.direction if spec is not None else str(v.get("direction", "max")),
                "value": value,
                "limit": limit,
                "met": bool(v.get("met")),
                "status": v.get("status") or ("met" if v.get("met") else "missed"),
                "ci_low": _num(ci[0]),
                "ci_high": _num(ci[1]),
                "value_text": _slo_text(metric, value),
                "limit_text": _slo_text(metric, limit),
                "ci_text": "-" if ci[0] is None else f"[{_slo_text(metric, ci[0])}, {_slo_text(metric, ci[1])}]",
            }
        )
    cols = [
        "name",
        "scope",
        "target",
        "metric",
        "direction",
        "value",
        "limit",
        "met",
        "status",
        "ci_low",
        "ci_high",
        "value_text",
        "limit_text",
        "ci_text",
    ]
    return pd.DataFrame(rows, columns=cols)


def _slo_text(metric: str, value: float | None) -> str:
    """An SLO value in the unit people read (ms, %, /s), however the JSON holds it."""
    x = _num(value)
    return format_value(metric, x) if metric in METRIC_KIND else f"{x:g}"


def edge_cost_frame(edges: pd.DataFrame) -> pd.DataFrame:
    """Edges that moved bytes across a boundary, long form: edge, boundary, gb, egress_usd (edge total)."""
    cols = ["edge", "boundary", "gb", "egress_usd"]
    if edges is None or edges.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for _, e in edges.iterrows():
        label = f"{e['from']} → {e['to']}"
        for b in ("zone", "region", "cloud"):
            nbytes = float(e.get(f"bytes_cross_{b}", 0) or 0)
            if nbytes > 0:
                rows.append(
                    {
                        "edge": label,
                        "boundary": f"cross {b}",
                        "gb": nbytes / 1e9,
                        "egress_usd": float(e.get("egress_usd", 0) or 0),
                    }
                )
    return pd.DataFrame(rows, columns=cols)


def causes_long(ts: pd.DataFrame, scope: str = "workload") -> pd.DataFrame:
    """Failures per second by cause, long form: name, t_s, cause, failed_per_s (rows with zero dropped)."""
    cols = ["name", "t_s", "cause", "failed_per_s"]
    if ts is None or ts.empty:
        return pd.DataFrame(columns=cols)
    sub = ts[ts["scope"] == scope]
    value_cols = [f"failed_{c}" for c in CAUSES if f"failed_{c}" in sub.columns]
    long = sub.melt(id_vars=["name", "t_s"], value_vars=value_cols, var_name="cause", value_name="failed_per_s")
    long["cause"] = long["cause"].str.removeprefix("failed_")
    return long[long["failed_per_s"] > 0][cols].reset_index(drop=True)


def fault_frame(scenario: Any) -> pd.DataFrame:
    """The scenario's faults as windows: kind, target, start_s, end_s (NaN when it has no duration)."""
    rows = []
    for f in getattr(scenario, "faults", None) or []:
        target = f.target if f.target is not None else " <-> ".join(f.between or [])
        rows.append(
            {
                "kind": f.kind,
                "target": target or "all",
                "start_s": float(f.at),
                "end_s": float(f.at + f.duration) if f.duration is not None else math.nan,
            }
        )
    return pd.DataFrame(rows, columns=["kind", "target", "start_s", "end_s"])


# ----- service graph -----


def _replicas_by_zone(scenario: Any, name: str) -> dict[str, int]:
    """Replicas of service ``name`` per zone, every version counted (docs/scenario.md placement rules)."""
    svc = scenario.services[name]
    first = scenario.zones()[0] if scenario.zones() else "local/local/local"  # docs/scenario.md

    def of(fields: Any, inherit: Any) -> dict[str, int]:
        if fields.placement:
            return dict(fields.placement)
        if fields.replicas is not None:
            return {first: int(fields.replicas)}
        return of(inherit, None) if inherit is not None else {first: 1}

    parts = [of(v, svc) for v in svc.versions.values()] or [of(svc, None)]
    out: dict[str, int] = {}
    for part in parts:
        for zone, n in part.items():
            if n > 0:
                out[zone] = out.get(zone, 0) + n
    return out


def location_frame(scenario: Any) -> pd.DataFrame:
    """Where every service runs, long form: service, location (``cloud/region/zone``), replicas."""
    rows = [
        {"service": name, "location": zone, "replicas": n}
        for name in scenario.services
        for zone, n in _replicas_by_zone(scenario, name).items()
    ]
    return pd.DataFrame(rows, columns=["service", "location", "replicas"])


def _call_depths(scenario: Any, children: Mapping[str, set[str]]) -> dict[str, int]:
    """Longest chain of calls from any workload's entry (the call graph is a DAG); entries are 1."""
    depth: dict[str, int] = {}
    frontier = [(w.entry, 1) for w in scenario.workload]
    while frontier:
        name, d = frontier.pop()
        if depth.get(name, -1) >= d:
            continue
        depth[name] = d
        frontier.extend((c, d + 1) for c in children.get(name, ()))
    return depth


def graph_frames(scenario: Any, data: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Nodes and edges of the service graph, ready to draw.

    nodes: id (service name, or ``workload:<name>``), service (label), kind
    (service|workload), depth (calls from an entry; workloads 0), replicas, zones (text),
    utilization, error_rate, attempts, attempts_rps, latency_p99_ms.
    edges: from, to (node ids), attempts, attempts_rps (per replication), retries, failed,
    error_rate, latency_p99_ms (the callee's time to answer, all callers).
    Rates are per second of one replication; ratios are fractions.
    """
    services = scenario.services
    reps = max(1, int(data.get("replications") or 1))
    per_s = 1.0 / (reps * float(scenario.duration)) if scenario.duration else math.nan
    stats = service_frame(data).set_index("service") if data.get("services") else pd.DataFrame()
    children: dict[str, set[str]] = {name: set() for name in services}
    for name in services:
        children[name].update(call.to for _, call in scenario.written_calls(name) if call.to in children)
    depth = _call_depths(scenario, children)

    rows = []
    for name in services:
        per_zone = _replicas_by_zone(scenario, name)
        st = stats.loc[name] if name in stats.index else None
        attempts = float(st["attempts"]) if st is not None else math.nan
        rows.append(
            {
                "id": name,
                "service": name,
                "kind": "service",
                "depth": depth.get(name, 1),
                "replicas": sum(per_zone.values()),
                "zones": ", ".join(f"{z}: {n}" for z, n in per_zone.items()),
                "utilization": float(st["utilization"]) if st is not None else math.nan,
                "error_rate": float(st["error_rate"]) if st is not None else math.nan,
                "attempts": attempts,
                "attempts_rps": attempts * per_s,
                "latency_p99_ms": float(st["latency_p99_ms"]) if st is not None else math.nan,
            }
        )
    for w in scenario.workload:
        wd = data.get("workloads", {}).get(w.name, {})
        requests = float(wd.get("requests", math.nan))
        rows.append(
            {
                "id": f"workload:{w.name}",
                "service": w.name,
                "kind": "workload",
                "depth": 0,
                "replicas": 0,
                "zones": f"origin {w.origin or '-'}",
                "utilization": math.nan,
                "error_rate": _num(wd.get("error_rate")),
                "attempts": requests,
                "attempts_rps": requests * per_s,
                "latency_p99_ms": _num((wd.get("latency_ms") or {}).get("p99")),
            }
        )
    nodes = pd.DataFrame(rows)
    p99 = dict(zip(nodes["id"], nodes["latency_p99_ms"]))

    erows = []

    def edge(src: str, dst: str, attempts: int, retries: int, failed: int) -> None:
        erows.append(
            {
                "from": src,
                "to": dst,
                "attempts": attempts,
                "attempts_rps": attempts * per_s,
                "retries": retries,
                "failed": failed,
                "error_rate": failed / attempts if attempts else math.nan,
                "latency_p99_ms": p99.get(dst, math.nan) if attempts else math.nan,
            }
        )

    for e in data.get("edges", []):
        edge(
            e["from"],
            e["to"],
            int(e.get("attempts", 0)),
            int(e.get("retries", 0)),
            sum((e.get("failed") or {}).values()),
        )
    seen = {(r["from"], r["to"]) for r in erows}
    for w in scenario.workload:
        if (f"workload:{w.name}", w.entry) not in seen:  # else the engine already reports the client's edge
            wd = data.get("workloads", {}).get(w.name, {})
            edge(f"workload:{w.name}", w.entry, int(wd.get("requests", 0)), 0, sum((wd.get("failed") or {}).values()))
    # edges in the scenario that carried no traffic still belong in the picture
    for src, dsts in children.items():
        for dst in sorted(dsts):
            if (src, dst) not in seen:
                edge(src, dst, 0, 0, 0)
    cols = ["from", "to", "attempts", "attempts_rps", "retries", "failed", "error_rate", "latency_p99_ms"]
    return nodes, pd.DataFrame(erows, columns=cols)


# ----- rollout -----

_TIME_KEYS = ("t_s", "at_s", "time_s", "t")
_WEIGHT_KEYS = ("weight", "canary_weight", "weight_pct", "canary_percent", "percent")


def _pick(d: Mapping[Any, Any], keys: tuple[str, ...]) -> Any:
    for k in keys:
        if k in d and d[k] is not None:
            return d[k]
    return None


def rollout_frame(rollout: dict[str, Any] | None, events: pd.DataFrame | None = None) -> pd.DataFrame:
    """The canary's weight over time: t_s, weight (percent), note.

    Reads the weight timeline of docs/results.md ``rollout`` (a list of ``{t_s, weight}`` under
    ``timeline``, ``weights`` or ``steps``), else rollout events of the events table.
    """
    cols = ["t_s", "weight", "note"]
    rows: list[dict[str, Any]] = []
    if rollout:
        for key in ("timeline", "weights", "weight_timeline", "steps"):
            items = rollout.get(key)
            if isinstance(items, list) and items and isinstance(items[0], dict):
                for it in items:
                    t, w = _pick(it, _TIME_KEYS), _pick(it, _WEIGHT_KEYS)
                    if t is not None and w is not None:
                        note = str(it.get("event") or it.get("kind") or it.get("note") or "")
                        rows.append({"t_s": float(t), "weight": float(w), "note": note})
                if rows:
                    break
    if not rows and events is not None and not events.empty and "kind" in events.columns:
        ev = events[events["kind"].astype(str).str.startswith(("rollout", "canary"))]
        if "replication" in ev.columns and not ev.empty:
            ev = ev[ev["replication"] == ev["replication"].min()]
        for _, e in ev.iterrows():
            d = {k: v for k, v in e.items() if not (isinstance(v, float) and math.isnan(v))}
            t, w = _pick(d, _TIME_KEYS), _pick(d, _WEIGHT_KEYS)
            if t is not None and w is not None:
                rows.append({"t_s": float(t), "weight": float(w), "note": str(d.get("kind", ""))})
    return pd.DataFrame(rows, columns=cols).sort_values("t_s", kind="stable").reset_index(drop=True)


def rollout_checks_frame(rollout: dict[str, Any] | None) -> pd.DataFrame:
    """The controller's checks of docs/results.md ``rollout.checks``.

    Columns: t_s, weight, passed, success_rate, latency_p99_ms (NaN where a check reported
    no value).
    """
    cols = ["t_s", "weight", "passed", "success_rate", "latency_p99_ms"]
    rows = []
    for c in (rollout or {}).get("checks") or []:
        if isinstance(c, dict) and c.get("t_s") is not None:
            rows.append(
                {
                    "t_s": float(c["t_s"]),
                    "weight": _num(c.get("weight")),
                    "passed": bool(c.get("passed")),
                    "success_rate": _num(c.get("success_rate")),
                    "latency_p99_ms": _num(c.get("latency_p99_ms")),
                }
            )
    return pd.DataFrame(rows, columns=cols)
