"""Build a scenario (docs/scenario.md) from traces, Prometheus metrics and Kubernetes manifests.

Every value the calibration writes has an entry in ``CalibrationResult.provenance``
keyed by its dotted path in the scenario (``services.cart.service_time``,
``workload.0.rate``), saying where it came from, how many samples it rests on and,
for fitted distributions, which fit was chosen and its KS p-value. The same text
becomes the end-of-line comment in :meth:`CalibrationResult.to_yaml`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import networkx as nx
import numpy as np
import pandas as pd

from meshsim.calibrate._fit import short_duration
from meshsim.calibrate._graph import SpanAnalysis, analyse_spans, call_steps
from meshsim.calibrate._k8s import placements, read_manifests
from meshsim.calibrate._overhead import (
    MIN_HOP_SAMPLES,
    HopOverhead,
    fit_hop_overhead,
    fit_one_way_latency,
    hop_overhead_table,
)
from meshsim.calibrate._prometheus import MeshMetrics, canonical_name, read_prometheus
from meshsim.calibrate._sections import (
    MESH,
    Builder,
    break_cycles,
    concurrency,
    fmt_n,
    locations,
    merge_version_placement,
    metrics_calls,
    metrics_service,
    placement,
    service_order,
    trace_service,
    version_fields,
    version_splits,
    workloads_from,
)
from meshsim.calibrate._traces import coerce_spans, read_traces
from meshsim.errors import MeshsimInputError, write_output

__all__ = ["CalibrationResult", "calibrate"]


@dataclass
class CalibrationResult:
    """A calibrated scenario and the record of where each value came from.

    Attributes:
        scenario: plain dict in the scenario format (durations with units).
        provenance: dotted scenario path -> ``{source, n, comment, ...}``; fitted
            distributions add ``fit``, ``ks_p``, ``p_values`` and ``reason``.
        warnings: sentences (with counts) about data used with care or left out.
        analysis: requests, calls and the call graph found in the traces (None without traces).
        metrics: what the Prometheus files said (None without them).
    """

    scenario: dict[str, Any]
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    analysis: SpanAnalysis | None = None
    metrics: MeshMetrics | None = None
    header: list[str] = field(default_factory=list)

    @property
    def graph(self) -> nx.DiGraph:
        """The service call graph (edges from traces and, where traces miss them, metrics)."""
        g = nx.DiGraph()
        for name, svc in self.scenario["services"].items():
            g.add_node(name)
            for step in svc.get("calls", []):
                for call in step["parallel"] if isinstance(step, dict) and "parallel" in step else [step]:
                    g.add_edge(name, call if isinstance(call, str) else call["to"])
        return g

    def to_yaml(self, path: str | Path | None = None) -> str:
        """The scenario as a commented YAML file; written to ``path`` when given."""
        from meshsim.calibrate._writer import scenario_yaml

        text = scenario_yaml(self.scenario, self.provenance, self.header)
        if path is not None:
            write_output(path, text, what="scenario")
        return text


def _load_spans(trace_paths: Any, format: str | None, spans: pd.DataFrame | None) -> pd.DataFrame | None:
    if spans is not None:
        out = coerce_spans(spans)
        out.attrs["warnings"] = list(spans.attrs.get("warnings", []))
        return out
    items = [trace_paths] if isinstance(trace_paths, (str, Path)) else list(trace_paths or [])
    return read_traces(items, format) if items else None


def calibrate(
    trace_paths: str | Path | Iterable[str | Path] = (),
    format: str | None = None,
    metrics_path: str | Path | Iterable[str | Path] | None = None,
    manifests: str | Path | Iterable[str | Path] | None = None,
    *,
    spans: pd.DataFrame | None = None,
    name: str = "calibrated",
    seed: int = 1,
    sample_rate: float = 1.0,
    bin_s: float = 10.0,
    alpha: float = 0.01,
    max_samples: int = 200,
    metrics_window_s: float | None = None,
    min_version_samples: int = 50,
) -> CalibrationResult:
    """Calibrate a scenario from traces, Prometheus metrics and Kubernetes manifests.

    Args:
        trace_paths: OTLP/Jaeger/Zipkin JSON files or directories (see :func:`read_traces`).
        format: force one trace format instead of detecting it per file.
        metrics_path: Prometheus text exposition file(s), one per scrape.
        manifests: Kubernetes YAML files or directories (Deployments etc.).
        spans: an already normalised span table instead of ``trace_paths``.
        name: the scenario's ``name``.
        seed: the scenario's ``seed``.
        sample_rate: share of requests the traces kept (head sampling); rates are divided by it.
        bin_s: bin width in seconds for the arrival-rate profile.
        alpha: KS significance below which a fitted shape is rejected.
        max_samples: cap on empirical samples written per distribution.
        metrics_window_s: seconds a single scrape's counters cover (for rates).
        min_version_samples: requests a version needs to get its own fit.

    Raises:
        MeshsimInputError: unreadable inputs, or nothing to calibrate from.
    """
    if not 0 < sample_rate <= 1:
        raise MeshsimInputError(f"sample rate must be in (0, 1], got {sample_rate}", field="sample_rate")
    b = Builder()
    settings = {
        "alpha": alpha,
        "max_samples": max_samples,
        "sample_rate": sample_rate,
        "min_n": min_version_samples,
    }
    table = _load_spans(trace_paths, format, spans)
    metrics = read_prometheus(metrics_path, metrics_window_s) if metrics_path else None
    if table is None and metrics is None:
        raise MeshsimInputError("nothing to calibrate from: give trace files or a metrics file")
    analysis = analyse_spans(table) if table is not None and len(table) else None
    if table is not None:
        b.warnings += list(table.attrs.get("warnings", []))
    if analysis is not None:
        b.warnings += analysis.warnings
    graph = analysis.graph.copy() if analysis is not None else nx.DiGraph()
    traced = set(graph.nodes)
    if metrics is not None:
        metrics.rename({n: canonical_name(n, traced) for n in metrics.names()})
        b.warnings += metrics.warnings
    if metrics is not None:
        _add_metric_edges(graph, metrics, traced)
    dropped = break_cycles(graph, b)

    scenario: dict[str, Any] = {"name": name, "seed": seed}
    workloads, window, entry_services = workloads_from(analysis, metrics, sample_rate, bin_s, b)
    duration = max(10.0, math.ceil(window)) if window > 0 else 60.0
    warmup = float(min(60.0, max(5.0, round(0.1 * duration))))
    scenario["duration"] = short_duration(duration, 6)
    scenario["warmup"] = short_duration(warmup, 6)
    b.note(
        "duration",
        "traces" if window > 0 else "default",
        None,
        f"the traces cover {window:.0f}s" if window > 0 else "no time window in the inputs; 60s chosen",
    )
    b.note("warmup", "default", None, "profile steps below are shifted by this warm-up")

    mfest = read_manifests(manifests) if manifests else None
    if mfest is not None and len(mfest):
        mfest["service"] = [canonical_name(s, set(graph.nodes)) for s in mfest["service"]]
        idle = sorted(set(mfest["service"]) - set(graph.nodes))
        if idle:
            b.warnings.append(f"manifests name services with no traffic in the inputs, left out: {', '.join(idle)}")
    place = placements(mfest) if mfest is not None and len(mfest) else {}

    services = {
        svc: _service(svc, graph, traced, dropped, analysis, metrics, place, b, settings)
        for svc in service_order(graph, entry_services, graph.nodes)
    }
    locations(scenario, services, workloads, b)
    scenario["services"] = services
    if metrics is not None and metrics.mesh in MESH:
        proxy, defaults = MESH[metrics.mesh]
        scenario["mesh"] = {"proxy": proxy, "defaults": defaults}
        b.note("mesh", "metrics", None, f"the metrics are {metrics.mesh}'s; its defaults apply to unset policies")
    hop = _hop_overhead(scenario, table, b) if analysis is not None else None
    policies = version_splits(services, analysis, b)
    if policies:
        scenario["policies"] = policies
    for w in workloads:
        if "profile" in w:
            w["profile"] = [{"at": short_duration(warmup + st["at_s"], 6), "rate": st["rate"]} for st in w["profile"]]
    scenario["workload"] = workloads
    scenario = {k: scenario[k] for k in _KEY_ORDER if k in scenario}
    for i, w in enumerate(workloads):
        for key in [k for k in list(b.prov) if k.startswith(f"workload.{w['name']}.")]:
            b.prov[f"workload.{i}.{key.split('.', 2)[2]}"] = b.prov.pop(key)
    header = _header(table, metrics, mfest, analysis, sample_rate, hop)
    return CalibrationResult(scenario, b.prov, b.warnings, analysis, metrics, header)


_KEY_ORDER = (
    "name",
    "seed",
    "duration",
    "warmup",
    "locations",
    "network",
    "mesh",
    "services",
    "policies",
    "workload",
)


def _add_metric_edges(graph: nx.DiGraph, metrics: MeshMetrics, traced: set[str]) -> None:
    """Add calls that only the metrics show (one end untraced); traces win where both have them."""
    edges = metrics.edges()
    edges = edges[~edges["source"].astype(str).str.contains("ingress", case=False)]
    for e in edges.itertuples():
        if e.source in traced and e.destination in traced:
            continue
        caller_in = metrics.service_requests(str(e.source))["count"]
        if caller_in > 0:
            # ``e.count`` is the column: the field shadows tuple.count at run time, not for mypy.
            count = cast(float, e.count)
            graph.add_edge(e.source, e.destination, calls=int(count), per_request=count / caller_in, source="metrics")


def _service(
    svc: str,
    graph: nx.DiGraph,
    traced: set[str],
    dropped: set[tuple[str, str]],
    analysis: SpanAnalysis | None,
    metrics: MeshMetrics | None,
    place: dict[Any, Any],
    b: Builder,
    settings: dict[str, Any],
) -> dict[str, Any]:
    """All fields of one service: placement, service time, errors, sizes, concurrency, calls, versions."""
    p = f"services.{svc}"
    if analysis is not None and svc in traced:
        rows = analysis.entries[(analysis.entries["service"] == svc) & ~analysis.entries["partial"]]
        seen = "client spans of its callers" if (rows["observed_by"] == "client").all() else "the traces"
        b.note(p, "traces", len(rows), f"{len(rows):,} requests in {seen}")
    elif metrics is not None:
        n = metrics.service_requests(svc)["count"]
        b.note(p, "metrics", n, f"{fmt_n(n)} requests in the metrics; not in the traces")
    fields: dict[str, Any] = dict(placement(svc, analysis, place, b))
    if analysis is not None and svc in traced:
        fields.update(trace_service(svc, analysis, b, settings["alpha"], settings["max_samples"]))
    elif metrics is not None:
        fields.update(metrics_service(svc, metrics, graph.out_degree(svc) > 0, b))
    if "service_time" not in fields:
        b.warnings.append(f"{svc}: no latency data at all; its service time is set to 1ms")
        fields["service_time"] = "1ms"
        b.note(f"{p}.service_time", "default", 0, "no latency data for this service: a placeholder")
    fields["concurrency"] = concurrency(svc, analysis, fields, settings["sample_rate"], b)
    steps = call_steps(graph, svc, drop={v for u, v in dropped if u == svc}) if svc in traced else []
    steps += metrics_calls(svc, graph, traced, dropped, b)
    if steps:
        fields["calls"] = steps
        n_req = graph.nodes[svc].get("requests") if svc in traced else None
        text = (
            f"from {fmt_n(n_req)} requests: order, parallel groups and probabilities as observed"
            if n_req
            else "from request counters: order and parallelism unknown"
        )
        b.note(f"{p}.calls", "traces" if n_req else "metrics", n_req, text)
    if analysis is not None and svc in traced:
        versions = version_fields(svc, analysis, b, settings["alpha"], settings["max_samples"], settings["min_n"])
        versions = merge_version_placement(svc, versions, place)
        if versions:
            fields["versions"] = versions
            # Each version has its own fit: the service-level mixture would only be noise.
            for key in ("service_time", "error_rate"):
                if all(key in v for v in versions.values()):
                    fields.pop(key, None)
                    b.prov.pop(f"{p}.{key}", None)
    return fields


def _hop_overhead(scenario: dict[str, Any], table: pd.DataFrame | None, b: Builder) -> HopOverhead | None:
    """Write the per-call overhead the traces show as ``mesh.proxy_overhead`` and ``network``.

    Without locations in the spans, all of it becomes two proxy traversals per call on a
    network that adds nothing (see :mod:`.overhead`). With locations, the traversal is
    fitted on same-zone calls and each wider relation (cross-zone, ...) gets the one-way
    latency that makes up the difference.
    """
    hops, negative = hop_overhead_table(table) if table is not None else (None, 0)
    if negative:
        b.warnings.append(
            f"{negative:,} call(s) took less time in the caller's client span than in the callee's server span; "
            "left out of the network/proxy overhead"
        )
    if hops is None or hops.empty:
        return None
    same = hops.loc[hops["relation"] == "same_zone", "hop_s"]
    by_zone = len(same) >= MIN_HOP_SAMPLES
    hop = fit_hop_overhead(same if by_zone else hops["hop_s"], negative)
    if hop is None:
        return None
    mesh = scenario.setdefault("mesh", {})
    mesh["proxy_overhead"] = hop.spec
    b.note("mesh.proxy_overhead", "traces", hop.n, hop.comment("same-zone calls" if by_zone else "calls"))
    # The traces already hold the network time of every call: a network that adds
    # more would count it twice.
    tree = scenario.get("locations") or {}
    regions = [r for clouds in tree.values() for r in clouds.values()]
    network: dict[str, Any] = {"same_zone": "0ms"}
    b.note("network.same_zone", "traces", hop.n, "already in mesh.proxy_overhead, which is fitted from the calls")
    levels = (("cross_zone", sum(map(len, regions))), ("cross_region", len(regions)), ("cross_cloud", len(tree)))
    for key, count in levels:
        if count <= 1:
            continue
        rel = hops.loc[hops["relation"] == key, "hop_s"]
        fitted = fit_one_way_latency(rel, hop) if by_zone else None
        if fitted is None:
            network[key] = "0ms"
            b.note(f"network.{key}", "traces", hop.n, "already in mesh.proxy_overhead (calls not told apart by zone)")
            continue
        network[key] = fitted[0]
        where = key.replace("_", "-")
        b.note(
            f"network.{key}",
            "traces",
            len(rel),
            f"one way; with two proxy traversals it matches the hop overhead of {len(rel):,} {where} calls "
            f"(median {short_duration(float(rel.median()))})",
        )
    scenario["network"] = network
    return hop


def _header(
    table: pd.DataFrame | None,
    m: MeshMetrics | None,
    mfest: pd.DataFrame | None,
    a: SpanAnalysis | None,
    sample_rate: float,
    hop_fit: HopOverhead | None = None,
) -> list[str]:
    lines = ["Calibrated by `meshsim calibrate`. Comments say where each value came from."]
    if table is not None:
        files = table.attrs.get("formats", {})
        src = ", ".join(f"{Path(f).name} ({fmt})" for f, fmt in files.items()) or "a span table"
        lines.append(f"Traces: {len(table):,} spans from {src}; sample rate {sample_rate:g}.")
    if m is not None:
        lines.append(
            f"Metrics: {m.mesh or 'Prometheus'} exposition"
            + (f" over {m.window_s:.0f}s." if m.window_s == m.window_s else ".")
        )
    if mfest is not None:
        lines.append(f"Manifests: {len(mfest):,} workload(s).")
    if hop_fit is not None:
        lines.append(
            "Per call, client span minus server span (network + proxies): "
            f"median {short_duration(hop_fit.hop_median_s)}, p99 {short_duration(hop_fit.hop_p99_s)} "
            f"over {hop_fit.n:,} calls; "
            "written as two proxy traversals per call (mesh.proxy_overhead) on a network that adds nothing."
        )
    elif a is not None and a.calls["hop_overhead_s"].notna().sum() >= 20:
        hop = a.calls["hop_overhead_s"].dropna().clip(lower=0).to_numpy()
        lines.append(
            "Per call, client span minus server span (network + proxies): "
            f"median {short_duration(float(np.median(hop)))}, "
            f"p99 {short_duration(float(np.quantile(hop, 0.99)))} over {len(hop):,} calls; "
            "set network/mesh.proxy_overhead to match if needed."
        )
    lines.append("Concurrency and queue limits are not visible in traces: the defaults below are generous.")
    return lines
