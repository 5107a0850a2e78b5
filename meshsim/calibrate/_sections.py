"""Builders for each part of a calibrated scenario, with their provenance notes.

Used by :func:`meshsim.calibrate.calibrate`; every value written goes through
:class:`Builder` so that it carries where it came from and how many samples it rests on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, cast

import networkx as nx
import pandas as pd

from meshsim.calibrate._fit import FitResult, fit_duration, rate_profile, short_duration, short_size
from meshsim.calibrate._graph import SpanAnalysis
from meshsim.calibrate._prometheus import MeshMetrics, histogram_quantile, histogram_spec
from meshsim.errors import MeshsimInputError

#: Concurrency written when the traces cannot show it: this many times the
#: requests in flight on average (Little's law), and at least the floor below.
CONCURRENCY_HEADROOM = 10
CONCURRENCY_FLOOR = 64
MESH = {"istio": ("envoy", "istio"), "linkerd": ("linkerd2-proxy", "linkerd")}


def fmt_n(n: float) -> str:
    return f"{int(round(n)):,}"


class Builder:
    """Collects scenario values and their provenance as the calibration goes."""

    def __init__(self) -> None:
        self.prov: dict[str, dict[str, Any]] = {}
        self.warnings: list[str] = []

    def note(self, path: str, source: str, n: float | None, comment: str, **extra: Any) -> None:
        self.prov[path] = {
            "source": source,
            "n": None if n is None else int(round(n)),
            "comment": comment,
            **extra,
        }

    def fitted(self, path: str, fit: FitResult, what: str) -> Any:
        self.note(
            path,
            "traces",
            fit.n,
            fit.comment(what),
            fit=fit.dist,
            ks_p=None if math.isnan(fit.ks_p) else round(fit.ks_p, 4),
            p_values={k: round(v, 4) for k, v in fit.p_values.items()},
            reason=fit.reason,
            params=fit.params,
        )
        return fit.spec


def _ratio(x: float) -> float:
    """Round a ratio to 4 significant digits for the file."""
    return 0.0 if x == 0 else float(f"{x:.4g}")


def service_order(graph: nx.DiGraph, entries: list[str], names: Iterable[str]) -> list[str]:
    """Entry services first, then callees breadth-first in the order they are called."""
    order: list[str] = []
    queue = [e for e in entries if e in graph]
    while queue:
        n = queue.pop(0)
        if n in order:
            continue
        order.append(n)
        queue += sorted(graph.successors(n), key=lambda c: (graph.edges[n, c].get("median_offset_s", 1e9), c))
    return order + sorted(n for n in names if n not in order)


def break_cycles(graph: nx.DiGraph, b: Builder) -> set[tuple[str, str]]:
    """Drop the weakest edge of each call cycle (the scenario's call graph must be acyclic)."""
    g = graph.copy()
    dropped: set[tuple[str, str]] = set()
    while True:
        try:
            cycle = nx.find_cycle(g)
        except nx.NetworkXNoCycle:
            return dropped
        weakest = min(cycle, key=lambda e: g.edges[e[0], e[1]].get("calls", 0))
        g.remove_edge(*weakest[:2])
        dropped.add((weakest[0], weakest[1]))
        b.warnings.append(
            f"the calls form a cycle ({' -> '.join(e[0] for e in cycle)} -> {cycle[0][0]}); "
            f"left out the rarest call, {weakest[0]} -> {weakest[1]}"
        )


def trace_service(name: str, a: SpanAnalysis, b: Builder, alpha: float, max_samples: int) -> dict[str, Any]:
    """service_time, error_rate and sizes of one traced service."""
    rows = a.entries[(a.entries["service"] == name) & ~a.entries["partial"]]
    if rows.empty:
        b.warnings.append(f"{name}: only partial requests in the traces; no service time or error rate")
        return {}
    by_client = rows["observed_by"].iloc[0] == "client"
    what = f"client spans calling {name} (not traced itself; includes the network)" if by_client else f"spans of {name}"
    out: dict[str, Any] = {}
    p = f"services.{name}"
    out["service_time"] = b.fitted(
        f"{p}.service_time", fit_duration(rows["self_s"].to_numpy(), alpha, max_samples), what
    )
    n, own, failed = len(rows), int(rows["own_error"].sum()), int(rows["error"].sum())
    out["error_rate"] = _ratio(own / n)
    blamed = f"; {failed - own:,} more failed because a call failed" if failed > own else ""
    b.note(f"{p}.error_rate", "traces", n, f"{own:,} of {n:,} requests failed by themselves{blamed}")
    for col, key in (("request_bytes", "request_size"), ("response_bytes", "response_size")):
        sizes = rows[col].dropna()
        if len(sizes):
            out[key] = short_size(float(sizes.mean()))
            b.note(f"{p}.{key}", "traces", len(sizes), f"mean of {len(sizes):,} span(s) with a size attribute")
    return out


def version_fields(
    name: str, a: SpanAnalysis, b: Builder, alpha: float, max_samples: int, min_n: int
) -> dict[str, Any]:
    rows = a.entries[(a.entries["service"] == name) & a.entries["version"].notna() & ~a.entries["partial"]]
    counts = rows["version"].value_counts()
    if len(counts) < 2:
        return {}
    versions: dict[str, Any] = {}
    for version, n in sorted(counts.items()):
        vrows = rows[rows["version"] == version]
        path = f"services.{name}.versions.{version}"
        fields: dict[str, Any] = {}
        if n >= min_n:
            fit = fit_duration(vrows["self_s"].to_numpy(), alpha, max_samples)
            fields["service_time"] = b.fitted(f"{path}.service_time", fit, f"spans of {name} {version}")
            own = int(vrows["own_error"].sum())
            fields["error_rate"] = _ratio(own / n)
            b.note(f"{path}.error_rate", "traces", n, f"{own:,} of {n:,} {version} requests failed by themselves")
        else:
            b.note(
                path,
                "traces",
                n,
                f"{n:,} requests: too few to fit {version} apart (< {min_n}); uses the service's values",
            )
        versions[str(version)] = fields
    return versions


def metrics_service(name: str, m: MeshMetrics, has_calls: bool, b: Builder) -> dict[str, Any]:
    out: dict[str, Any] = {}
    p = f"services.{name}"
    hist = m.service_histogram(name)
    if hist and hist[-1][1] > 0:
        n = hist[-1][1]
        out["service_time"] = histogram_spec(hist)
        extra = "; includes the time of its own calls, so an upper bound" if has_calls else ""
        b.note(
            f"{p}.service_time",
            "metrics",
            n,
            f"{m.mesh or 'Prometheus'} histogram of {fmt_n(n)} requests into {name} "
            f"(p50 {short_duration(histogram_quantile(0.5, hist))}){extra}",
            fit="histogram",
        )
        if has_calls:
            b.warnings.append(f"{name}: no traces; its service time is its whole response time from metrics")
    req = m.service_requests(name)
    if req["count"] > 0:
        out["error_rate"] = _ratio(req["errors"] / req["count"])
        b.note(
            f"{p}.error_rate",
            "metrics",
            req["count"],
            f"{fmt_n(req['errors'])} 5xx of {fmt_n(req['count'])} requests (metrics)",
        )
    return out


def workloads_from(
    a: SpanAnalysis | None, m: MeshMetrics | None, sample_rate: float, bin_s: float, b: Builder
) -> tuple[list[dict[str, Any]], float, list[str]]:
    """Workload entries from root spans (or external requests in metrics); returns (workloads, window_s, entries)."""
    out: list[dict[str, Any]] = []
    window = 0.0
    ext = m.external_requests() if m is not None else pd.DataFrame(columns=["destination", "count", "rate_per_s"])
    if a is not None:
        ent = a.entries
        roots = ent[ent["is_root"]]
        called = {v for _, v in a.graph.edges}
        orphan_only = ent[
            ent["orphan"] & ~ent["partial"] & ~ent["service"].isin(called) & ~ent["service"].isin(roots["service"])
        ]
        if len(orphan_only):
            where = ", ".join(sorted(orphan_only["service"].unique()))
            b.warnings.append(
                f"{len(orphan_only):,} partial-trace request(s) at {where} have no known caller; used as arrivals there"
            )
        arrivals = pd.concat([roots, orphan_only])
        if len(arrivals):
            window = float(arrivals["start_s"].max() - arrivals["start_s"].min())
        for svc, rows in arrivals.groupby("service", sort=True):
            prof = rate_profile(rows["start_s"].to_numpy(), bin_s=bin_s)
            rate = prof.rate / sample_rate
            scale = 1.0 / sample_rate
            source = f"{prof.n:,} root spans over {prof.window_s:.0f}s"
            if sample_rate < 1:
                source += f", divided by the sample rate {sample_rate:g}"
            m_rate = ext.loc[ext["destination"] == svc, "rate_per_s"]
            if len(m_rate) and m_rate.notna().all() and prof.window_s > 0:
                overall = (prof.n - 1) / prof.window_s
                scale = float(m_rate.sum()) / overall
                rate = prof.rate * scale
                source = (
                    f"metrics rate {float(m_rate.sum()):.4g}/s (traces are sampled), shaped by {prof.n:,} root spans"
                )
            w: dict[str, Any] = {"name": str(svc), "entry": str(svc), "rate": f"{rate:.4g}/s"}
            b.note(f"workload.{svc}.rate", "traces", prof.n, source)
            if sample_rate == 1 and prof.n >= 50 and prof.cv < 0.3 and not prof.steps:
                w["arrival"] = "constant"
                b.note(
                    f"workload.{svc}.arrival",
                    "traces",
                    prof.n,
                    f"gaps between arrivals vary little (cv {prof.cv:.2f})",
                )
            if prof.steps:
                w["profile"] = [{"at_s": at, "rate": f"{r * scale:.4g}/s"} for at, r in prof.steps]
                b.note(
                    f"workload.{svc}.profile",
                    "traces",
                    prof.n,
                    f"rate changes beyond {3} standard errors in {bin_s:g}s bins (z = "
                    + ", ".join(f"{z:.1f}" for z in prof.z)
                    + ")",
                )
            out.append(w)
    if not out and m is not None:
        for row in ext.itertuples():
            # ``row.count`` is the column: the field shadows tuple.count at run time, not for mypy.
            count = cast(float, row.count)
            if not (cast(float, row.rate_per_s) > 0):
                raise MeshsimInputError(
                    "the metrics give no request rate: pass two scrapes with timestamps, or the time "
                    "the counters cover (metrics window)",
                    field="metrics",
                )
            out.append({"name": row.destination, "entry": row.destination, "rate": f"{row.rate_per_s:.4g}/s"})
            b.note(
                f"workload.{row.destination}.rate",
                "metrics",
                count,
                f"{fmt_n(count)} requests from outside the mesh",
            )
        window = m.window_s if m.window_s == m.window_s else 0.0
    if not out:
        raise MeshsimInputError(
            "no entry point found: no root spans in the traces and no external requests in the metrics"
        )
    return out, window, [w["entry"] for w in out]


def placement(svc: str, a: SpanAnalysis | None, place: dict[Any, Any], b: Builder) -> dict[str, Any]:
    p = f"services.{svc}"
    keys = [k for k in place if k[0] == svc]
    if keys:
        if len(keys) > 1:
            return {}  # one workload per version: written under versions
        value = place[keys[0]]
        field_name = "placement" if isinstance(value, dict) else "replicas"
        b.note(f"{p}.{field_name}", "manifests", None, "from the Kubernetes manifests")
        return {field_name: value}
    if a is not None:
        rows = a.entries[a.entries["service"] == svc]
        located = rows.dropna(subset=["location", "instance"])
        if len(located) and located["location"].str.count("/").eq(2).all():
            pl = located.groupby("location")["instance"].nunique().to_dict()
            b.note(f"{p}.placement", "traces", len(located), "distinct instances per zone in the span resources")
            return {"placement": {k: int(v) for k, v in sorted(pl.items())}}
        if rows["instance"].notna().any():
            n = int(rows["instance"].nunique())
            b.note(
                f"{p}.replicas",
                "traces",
                int(rows["instance"].notna().sum()),
                f"{n} distinct instance(s) in the spans",
            )
            return {"replicas": n}
    b.note(
        f"{p}.replicas",
        "default",
        None,
        "replicas unknown: 1 assumed (give Kubernetes manifests to set them)",
    )
    return {"replicas": 1}


def merge_version_placement(svc: str, versions: dict[str, Any], place: dict[Any, Any]) -> dict[str, Any]:
    keys = [k for k in place if k[0] == svc]
    if len(keys) < 2:
        return versions
    out = {v: dict(f) for v, f in versions.items()}
    for _, version in keys:
        value = place[(svc, version)]
        out.setdefault(str(version) if version is not None else "unversioned", {})[
            "placement" if isinstance(value, dict) else "replicas"
        ] = value
    return out


def concurrency(svc: str, a: SpanAnalysis | None, fields: dict[str, Any], sample_rate: float, b: Builder) -> int:
    replicas = fields.get("replicas") or sum((fields.get("placement") or {}).values()) or 1
    in_flight = math.nan
    if a is not None and svc in set(a.entries["service"]):
        rows = a.entries[(a.entries["service"] == svc) & ~a.entries["partial"]]
        span = float(rows["end_s"].max() - rows["start_s"].min()) if len(rows) else 0.0
        if span > 0:
            in_flight = len(rows) / sample_rate / span * float(rows["duration_s"].mean())  # Little's law
    value = CONCURRENCY_FLOOR
    if in_flight == in_flight:
        value = max(CONCURRENCY_FLOOR, int(math.ceil(CONCURRENCY_HEADROOM * in_flight / replicas)))
    text = (
        f"generous default: {CONCURRENCY_HEADROOM}x the {in_flight:.2g} requests in flight on average "
        "(Little's law); traces do not show limits"
        if in_flight == in_flight
        else "not in the inputs: a generous default"
    )
    b.note(f"services.{svc}.concurrency", "default", None, text)
    return value


def metrics_calls(svc: str, graph: nx.DiGraph, traced: set[str], dropped: set[Any], b: Builder) -> list[Any]:
    steps: list[Any] = []
    for callee in sorted(graph.successors(svc)):
        e = graph.edges[svc, callee]
        if e.get("source") != "metrics" or (svc, callee) in dropped:
            continue
        k = float(e["per_request"])
        if k >= 0.995:
            whole = int(round(k)) if abs(k - round(k)) < 0.05 else int(k)
            steps.append(callee if whole <= 1 else {"to": callee, "count": whole})
        else:
            steps.append({"to": callee, "probability": round(k, 4)})
        b.warnings.append(f"{svc} -> {callee}: only in metrics ({e['calls']:,} calls, {k:.3g} per request of {svc})")
    return steps


def locations(scenario: dict[str, Any], services: dict[str, Any], workloads: list[dict[str, Any]], b: Builder) -> None:
    zones: list[str] = []
    for fields in services.values():
        for f in [fields] + list((fields.get("versions") or {}).values()):
            zones += [z for z in (f.get("placement") or {}) if z not in zones]
    if not zones:
        return
    tree: dict[str, dict[str, list[str]]] = {}
    for z in sorted(zones):
        cloud, region, zone = z.split("/")
        tree.setdefault(cloud, {}).setdefault(region, []).append(zone)
    scenario["locations"] = tree
    # Services without placement need one when there are several zones: put them in the first.
    for name, fields in services.items():
        if "replicas" in fields and len(zones) > 1:
            fields["placement"] = {sorted(zones)[0]: fields.pop("replicas")}
            note = b.prov.pop(f"services.{name}.replicas", {})
            b.note(
                f"services.{name}.placement",
                note.get("source", "default"),
                note.get("n"),
                f"{note.get('comment', 'replicas')}; zone unknown, put in the first zone",
            )
    for w in workloads:
        placed = services[w["entry"]].get("placement") or {}
        if placed:
            w["origin"] = "/".join(next(iter(placed)).split("/")[:2])


def version_splits(services: dict[str, Any], a: SpanAnalysis | None, b: Builder) -> dict[str, Any]:
    if a is None:
        return {}
    out: dict[str, Any] = {}
    for svc, fields in services.items():
        versions = fields.get("versions")
        if not versions:
            continue
        rows = a.entries[(a.entries["service"] == svc) & a.entries["version"].notna()]
        share = rows["version"].value_counts(normalize=True)
        split = {v: round(100 * float(share.get(v, 0.0)), 1) for v in versions}
        if sum(split.values()) > 0:
            out[svc] = {"split": split}
            b.note(
                f"policies.{svc}.split",
                "traces",
                len(rows),
                f"observed share of {len(rows):,} requests per version",
            )
    return out
