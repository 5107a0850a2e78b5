"""Latency histograms and request counts from Prometheus text exposition (Istio, Linkerd).

Recognised series (names as the meshes export them):

- Istio: ``istio_request_duration_milliseconds_bucket`` and ``istio_requests_total``
  (labels ``reporter``, ``source_*``/``destination_*`` workload, app, canonical service,
  ``destination_service_name``, ``response_code``);
- Linkerd: ``response_latency_ms_bucket`` and ``request_total``/``response_total``
  (``direction``, ``deployment``, ``dst_deployment``, ``status_code``);
- any other ``*_requests_total`` counter with a ``service``/``app``/``job`` label
  (requests into that service, by ``code``/``status``).

Counters and buckets are cumulative since the process started. With one scrape,
histograms describe everything since then and rates need ``window_s``; with two
or more scrapes (several files, or samples carrying timestamps) the increase
between the first and the last is used and rates follow from the time between them.

Histograms are written in the scenario's Prometheus style: cumulative counts keyed by the
upper bound ``le`` with its unit (``{"5ms": 120, "10ms": 300, "+Inf": 310}``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pandas as pd
from prometheus_client.parser import text_string_to_metric_families

from meshsim.calibrate._fit import short_duration
from meshsim.errors import MeshsimInputError, read_input_text

__all__ = ["MeshMetrics", "read_prometheus", "parse_exposition", "histogram_spec", "histogram_quantile"]

_UNKNOWN = {"", "unknown", None}


def _pick(labels: dict[str, str], *keys: str) -> str | None:
    for k in keys:
        v = labels.get(k)
        if v not in _UNKNOWN:
            return v
    return None


def _istio(labels: dict[str, str]) -> dict[str, Any]:
    reporter = labels.get("reporter", "destination")
    return {
        "mesh": "istio",
        "reporter": "source" if reporter == "source" else "destination",
        "source": _pick(labels, "source_canonical_service", "source_app", "source_workload"),
        "destination": _pick(
            labels,
            "destination_canonical_service",
            "destination_service_name",
            "destination_app",
            "destination_workload",
        ),
        "code": labels.get("response_code"),
    }


def _linkerd(labels: dict[str, str]) -> dict[str, Any]:
    outbound = labels.get("direction") == "outbound"
    own = _pick(labels, "deployment", "statefulset", "daemonset")
    return {
        "mesh": "linkerd",
        "reporter": "source" if outbound else "destination",
        "source": own if outbound else None,
        "destination": _pick(labels, "dst_deployment", "dst_statefulset", "dst_service") if outbound else own,
        "code": labels.get("status_code"),
        "classification": labels.get("classification"),
    }


def _generic(labels: dict[str, str]) -> dict[str, Any] | None:
    dest = _pick(labels, "destination_service", "service", "app", "job")
    if dest is None:
        return None
    return {
        "mesh": "generic",
        "reporter": "destination",
        "source": None,
        "destination": dest,
        "code": _pick(labels, "code", "status", "status_code", "response_code"),
    }


def _classify(sample_name: str, labels: dict[str, str]) -> tuple[str, float, dict[str, Any]] | None:
    """Return (kind, unit in seconds, identity) for a recognised sample, else None."""
    if sample_name == "istio_request_duration_milliseconds_bucket":
        return "bucket", 1e-3, _istio(labels)
    if sample_name == "istio_request_duration_seconds_bucket":
        return "bucket", 1.0, _istio(labels)
    if sample_name == "response_latency_ms_bucket":
        return "bucket", 1e-3, _linkerd(labels)
    if sample_name == "istio_requests_total":
        return "requests", 1.0, _istio(labels)
    if sample_name == "request_total" and "direction" in labels:
        return "requests", 1.0, _linkerd(labels)
    if sample_name == "response_total" and "direction" in labels:
        return "responses", 1.0, _linkerd(labels)
    if sample_name.endswith("_requests_total"):
        ident = _generic(labels)
        return ("requests", 1.0, ident) if ident else None
    return None


def _bad_line(text: str) -> int | None:
    """Find the first line the parser refuses (the parser itself does not say)."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            list(text_string_to_metric_families(line + "\n"))
        except (ValueError, TypeError, IndexError):
            return number
    return None


def parse_exposition(text: str, file: str = "<metrics>", scrape: int = 0) -> list[dict[str, Any]]:
    """Parse exposition text into rows of recognised samples (one dict per sample)."""
    try:
        families = list(text_string_to_metric_families(text))
    except (ValueError, TypeError, IndexError) as exc:
        raise MeshsimInputError(f"not Prometheus text exposition: {exc}", file=file, line=_bad_line(text)) from None
    rows = []
    for fam in families:
        for s in fam.samples:
            found = _classify(s.name, s.labels)
            if found is None:
                continue
            kind, unit, ident = found
            if ident.get("destination") is None:
                continue
            le = math.nan
            if kind == "bucket":
                try:
                    le = float(s.labels["le"]) * unit
                except (KeyError, ValueError):
                    continue
            rows.append(
                {
                    "kind": kind,
                    "metric": s.name,
                    **{k: ident.get(k) for k in ("mesh", "reporter", "source", "destination", "code")},
                    "classification": ident.get("classification"),
                    "le_s": le,
                    "value": float(s.value),
                    "timestamp_s": s.timestamp if s.timestamp is not None else math.nan,
                    "scrape": scrape,
                }
            )
    return rows


@dataclass
class MeshMetrics:
    """What a set of Prometheus scrapes says about services and edges.

    Attributes:
        buckets: ``mesh, reporter, source, destination, le_s, count`` (cumulative, summed
            over response codes; ``source`` is NaN for a service's inbound view).
        requests: ``mesh, reporter, source, destination, code, count, rate_per_s``.
        responses: Linkerd's ``response_total`` (``code``, ``classification``), which
            carries the status that its ``request_total`` lacks.
        window_s: time the counts cover (NaN when unknown).
        warnings: sentences with counts.
    """

    buckets: pd.DataFrame
    requests: pd.DataFrame
    responses: pd.DataFrame
    window_s: float = math.nan
    mesh: str | None = None
    warnings: list[str] = field(default_factory=list)

    def rename(self, mapping: dict[str, str]) -> None:
        """Rename services (e.g. workload ``reviews-v1`` to the traced name ``reviews``)."""
        for df in (self.buckets, self.requests):
            for col in ("source", "destination"):
                df[col] = df[col].map(lambda v: mapping.get(v, v) if isinstance(v, str) else v)

    def names(self) -> set[str]:
        """Every service named as a source or destination."""
        out: set[str] = set()
        for df in (self.buckets, self.requests):
            for col in ("source", "destination"):
                out |= {v for v in df[col].dropna().unique()}
        return out

    def service_histogram(self, service: str) -> list[tuple[float, float]]:
        """Cumulative ``(le_s, count)`` of requests served by ``service`` (server side view)."""
        b = self.buckets
        rows = b[(b["destination"] == service) & (b["reporter"] == "destination")]
        if rows.empty:
            rows = b[b["destination"] == service]
        return _merge_buckets(rows)

    def edge_histogram(self, source: str, destination: str) -> list[tuple[float, float]]:
        """Cumulative ``(le_s, count)`` of calls from ``source`` to ``destination`` (client view)."""
        b = self.buckets
        rows = b[(b["source"] == source) & (b["destination"] == destination)]
        if (rows["reporter"] == "source").any():
            rows = rows[rows["reporter"] == "source"]
        return _merge_buckets(rows)

    def _one_view(self, df: pd.DataFrame, prefer: str) -> pd.DataFrame:
        # Istio reports every request twice (client and server side): use one.
        if (df["reporter"] == prefer).any():
            return df[df["reporter"] == prefer]
        return df

    def service_requests(self, service: str) -> dict[str, float]:
        """Requests into ``service``: ``count``, ``errors`` (5xx), ``rate_per_s`` (NaN if unknown)."""
        r = self.requests
        rows = self._one_view(r[r["destination"] == service], "destination")
        coded = (
            rows
            if rows["code"].notna().any()
            else self._one_view(self.responses[self.responses["destination"] == service], "destination")
        )
        failed = coded["code"].fillna("").astype(str).str.startswith("5")
        if "classification" in coded:
            failed |= coded["classification"] == "failure"
        return {
            "count": float(rows["count"].sum()),
            "errors": float(coded.loc[failed, "count"].sum()),
            "rate_per_s": float(rows["rate_per_s"].sum()) if rows["rate_per_s"].notna().any() else math.nan,
        }

    def edges(self) -> pd.DataFrame:
        """Calls per edge: ``source, destination, count, rate_per_s`` (sources known only)."""
        r = self.requests.dropna(subset=["source"])
        if r.empty:
            return pd.DataFrame(columns=["source", "destination", "count", "rate_per_s"])
        parts = [self._one_view(g, "source") for _, g in r.groupby(["source", "destination"])]
        r = pd.concat(parts)
        return r.groupby(["source", "destination"], as_index=False)[["count", "rate_per_s"]].sum(min_count=1)

    def external_requests(self) -> pd.DataFrame:
        """Requests from outside the mesh per destination: ``destination, count, rate_per_s``.

        Inbound requests minus the calls other (non-ingress) services made to it,
        so it works whether or not the inbound series name their source.
        """
        rows = []
        edges = self.edges()
        internal = edges[~edges["source"].astype(str).str.contains("ingress", case=False)]
        for dest in sorted(self.requests["destination"].dropna().unique()):
            inbound = self.service_requests(dest)
            inner = internal[internal["destination"] == dest]
            count = inbound["count"] - float(inner["count"].sum())
            if count > 0.01 * inbound["count"] and count > 0:
                share = count / inbound["count"]
                rows.append({"destination": dest, "count": count, "rate_per_s": inbound["rate_per_s"] * share})
        return pd.DataFrame(rows, columns=["destination", "count", "rate_per_s"])


def _merge_buckets(rows: pd.DataFrame) -> list[tuple[float, float]]:
    if rows.empty:
        return []
    merged = rows.groupby("le_s")["count"].sum().sort_index()
    return [(float(cast(float, le)), float(c)) for le, c in merged.items()]


def _increase(obs: pd.DataFrame, window_s: float | None) -> tuple[pd.DataFrame, float, int]:
    """Per series: increase between the first and last observation, and the time between."""
    obs = obs.copy()
    key_cols = [
        "kind",
        "metric",
        "mesh",
        "reporter",
        "source",
        "destination",
        "code",
        "classification",
        "le_s",
    ]
    obs["order"] = obs["timestamp_s"].fillna(obs["scrape"].astype(float))
    obs = obs.sort_values("order", kind="mergesort")
    g = obs.groupby(key_cols, dropna=False, sort=False)
    first, last = g.first(), g.last()
    n_obs = g.size()
    resets = int(((last["value"] < first["value"]) & (n_obs > 1)).sum())
    count = (last["value"] - first["value"]).where(n_obs > 1, last["value"])
    count = count.where(count >= 0, last["value"])  # a counter reset: count since the restart
    has_ts = obs["timestamp_s"].notna().any()
    span = float(obs["timestamp_s"].max() - obs["timestamp_s"].min()) if has_ts and (n_obs > 1).any() else math.nan
    if not (span > 0):
        span = float(window_s) if window_s else math.nan
    out = first.drop(columns=["value", "timestamp_s", "scrape", "order"]).assign(count=count)
    return out.reset_index(), span, resets


def read_prometheus(paths: str | Path | Iterable[str | Path], window_s: float | None = None) -> MeshMetrics:
    """Read one or more Prometheus text exposition files (each file one scrape).

    Args:
        paths: exposition files, in scrape order.
        window_s: seconds the counters cover, for a single scrape without timestamps
            (e.g. the time since the proxies started); with several scrapes the
            time between them is used and this is only a fallback.

    Raises:
        MeshsimInputError: a file is missing, empty, not exposition text, or holds
            none of the recognised series.
    """
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    rows: list[dict[str, Any]] = []
    for i, p in enumerate(map(Path, items)):
        text = read_input_text(p, what="metrics file")
        if not text.strip():
            raise MeshsimInputError("empty metrics file: expected Prometheus text exposition", file=str(p))
        got = parse_exposition(text, str(p), scrape=i)
        if not got:
            raise MeshsimInputError(
                "no Istio (istio_request_duration_milliseconds, istio_requests_total) or Linkerd "
                "(response_latency_ms, request_total) series in this file",
                file=str(p),
            )
        rows.extend(got)
    obs = pd.DataFrame(rows)
    counted, span, resets = _increase(obs, window_s)
    warnings = []
    if resets:
        warnings.append(f"{resets:,} counter(s) went down between scrapes (a restart); counted from the restart")
    buckets = counted[counted["kind"] == "bucket"]
    # as_index=False gives DataFrames below; the stubs type every SeriesGroupBy.sum as a Series.
    buckets = cast(
        pd.DataFrame,
        buckets.groupby(["mesh", "reporter", "source", "destination", "le_s"], dropna=False, as_index=False)[
            "count"
        ].sum(),
    )
    keys = ["mesh", "reporter", "source", "destination", "code"]
    req = counted[counted["kind"] == "requests"]
    req = cast(pd.DataFrame, req.groupby(keys, dropna=False, as_index=False)["count"].sum())
    resp = counted[counted["kind"] == "responses"]
    resp = cast(pd.DataFrame, resp.groupby(keys + ["classification"], dropna=False, as_index=False)["count"].sum())
    if req.empty and not resp.empty:
        req = cast(pd.DataFrame, resp.groupby(keys, dropna=False, as_index=False)["count"].sum())
    req["rate_per_s"] = req["count"] / span if span > 0 else math.nan
    if not (span > 0) and not req.empty:
        warnings.append(
            "request rates need two scrapes with timestamps, or the time the counters cover (window_s); "
            "only call ratios were taken from the counters"
        )
    meshes = sorted(set(obs["mesh"]) - {"generic"})
    return MeshMetrics(buckets, req, resp, span, meshes[0] if len(meshes) == 1 else None, warnings)


def histogram_spec(buckets: list[tuple[float, float]]) -> dict[str, Any]:
    """The scenario value ``{dist: histogram, buckets: {le: count}}`` (cumulative, keys with units).

    Leading empty buckets are cut to the last one (it is the next bucket's lower
    bound) and buckets after the first full one are cut, +Inf included.
    """
    rows = sorted((le, c) for le, c in buckets if c == c)
    if not rows or rows[-1][1] <= 0:
        raise ValueError("a histogram needs at least one observation")
    total = rows[-1][1]
    first = max([i for i, (_, c) in enumerate(rows) if c <= 0] or [0])
    last = next(i for i, (_, c) in enumerate(rows) if c >= total)
    out: dict[str, int] = {}
    for le, c in rows[first : last + 1]:
        key = "+Inf" if math.isinf(le) else short_duration(le, 6)
        out[key] = int(round(c))
    return {"dist": "histogram", "buckets": out}


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """PromQL ``histogram_quantile``: linear interpolation inside the bucket (seconds).

    A rank in the +Inf bucket returns the highest finite bound, as PromQL does.
    """
    rows = sorted(buckets)
    if not rows or rows[-1][1] <= 0:
        return math.nan
    rank = q * rows[-1][1]
    prev_le, prev_c = 0.0, 0.0
    for le, c in rows:
        if c >= rank:
            if math.isinf(le):
                return prev_le
            if c == prev_c:
                return le
            return prev_le + (le - prev_le) * (rank - prev_c) / (c - prev_c)
        prev_le, prev_c = le, c
    return prev_le


_VERSION_SUFFIX = re.compile(r"^(.*)-v\d+$")


def canonical_name(name: str, known: set[str]) -> str:
    """Map a workload or deployment name onto a known service name where the match is clear.

    ``reviews-v1`` -> ``reviews`` and ``cart.default`` -> ``cart`` when those are known.
    """
    if name in known:
        return name
    for candidate in (name.split(".")[0], _VERSION_SUFFIX.sub(r"\1", name)):
        if candidate in known:
            return candidate
    return name
