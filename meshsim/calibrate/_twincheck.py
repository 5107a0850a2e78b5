"""The twin check: simulate a scenario at the load the traces show and compare with them.

:func:`twin_check` reads the traces, sets each workload's rate to what the root spans
show (the scenario's own rate profile keeps its shape, scaled), simulates, and compares
per entry point and per service the observed and predicted p50/p90/p99 (ms) and error
rate (:func:`~meshsim.calibrate.twin.compare_observed`).

Like for like: an observed entry latency is the root span's duration, which starts
when the request reaches the entry service. The prediction for an entry point is
therefore the entry service's own time to answer (queue, work and calls), not the
workload's end-to-end latency, which adds the client's network hop and retries.
Only when the entry service is also called by other services (so its server time
mixes both kinds of caller) is the workload latency used, and the row says so.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from meshsim._types import Progress
from meshsim.calibrate._graph import SpanAnalysis, analyse_spans
from meshsim.calibrate._traces import coerce_spans, read_traces
from meshsim.calibrate._twin import (
    SUMMARY_COLUMNS,
    TwinVerdict,
    compare_observed,
    observed_summary,
    verdict,
)
from meshsim.errors import MeshsimInputError
from meshsim.scenario import Scenario, load_scenario

__all__ = [
    "TwinCheck",
    "allow_sampling_error",
    "at_observed_load",
    "observed_load",
    "predicted_summary",
    "quantile_interval",
    "twin_check",
]


@dataclass
class TwinCheck:
    """What :func:`twin_check` found.

    Attributes:
        table: one row per (scope, name, metric): observed, predicted, relative error,
            allowed error, ``within_tolerance``, ``checked``, ``note`` (see COMPARE_COLUMNS).
        verdict: the overall verdict (``ok`` when every checked row is within tolerance).
        observed, predicted: the two summary tables (SUMMARY_COLUMNS, latencies in ms).
        load: one row per entry: ``scenario_rate``, ``observed_rate``, ``simulated_rate`` (per second),
            ``roots`` (root spans seen).
        warnings: sentences with counts (trace problems, services the scenario lacks...).
        tolerance: the relative tolerance used.
        scenario: the scenario as simulated (rates set to the observed load).
        results: the simulation results (:class:`meshsim.results.Results`).
    """

    table: pd.DataFrame
    verdict: TwinVerdict
    observed: pd.DataFrame
    predicted: pd.DataFrame
    load: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    tolerance: float = 0.1
    scenario: Scenario | None = None
    results: Any = None

    @property
    def ok(self) -> bool:
        return self.verdict.ok

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (NaN becomes None)."""

        def records(df: pd.DataFrame) -> list[dict[Hashable, Any]]:
            out = []
            for rec in df.to_dict(orient="records"):
                out.append({k: _plain(v) for k, v in rec.items()})
            return out

        v = self.verdict
        return {
            "verdict": {
                "ok": v.ok,
                "checked": v.checked,
                "failed": v.failed,
                "skipped": v.skipped,
                "worst": v.worst,
                "text": str(v),
            },
            "tolerance": self.tolerance,
            "scenario": self.scenario.name if self.scenario is not None else None,
            "replications": len(self.results.replications) if self.results is not None else 0,
            "load": records(self.load),
            "comparison": records(self.table),
            "warnings": list(self.warnings),
        }


def _plain(v: Any) -> Any:
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if not math.isfinite(float(v)) else float(v)
    return v


def observed_load(a: SpanAnalysis, sample_rate: float = 1.0) -> pd.DataFrame:
    """Arrival rate (per second) per entry service from the root spans' start times.

    ``(n - 1) / window`` over the root spans of each entry, divided by ``sample_rate``
    (the share of requests the traces kept). Columns: ``entry``, ``roots``, ``window_s``, ``rate``.
    """
    ent = a.entries[a.entries["is_root"] & ~a.entries["partial"]]
    rows = []
    for svc, g in ent.groupby("service", sort=True):
        n = len(g)
        window = float(g["start_s"].max() - g["start_s"].min()) if n else 0.0
        rate = (n - 1) / window / sample_rate if n >= 2 and window > 0 else math.nan
        rows.append({"entry": str(svc), "roots": n, "window_s": window, "rate": rate})
    return pd.DataFrame(rows, columns=["entry", "roots", "window_s", "rate"])


def _mean_rate(w: Any, start_s: float, end_s: float) -> float:
    """Time-averaged rate of a workload (its profile steps) over [start_s, end_s]."""
    steps = sorted(w.profile, key=lambda s: s.at)
    if w.rate is None:
        return 0.0  # a closed workload has no planned rate
    points = [(0.0, float(w.rate))] + [(float(s.at), float(s.rate)) for s in steps]
    total = 0.0
    for (at, rate), nxt in zip(points, points[1:] + [(math.inf, 0.0)], strict=True):
        lo, hi = max(at, start_s), min(nxt[0], end_s)
        if hi > lo:
            total += rate * (hi - lo)
    return total / (end_s - start_s) if end_s > start_s else float(w.rate)


def at_observed_load(
    scenario: Scenario, load: pd.DataFrame, warnings: list[str] | None = None
) -> tuple[Scenario, pd.DataFrame]:
    """The scenario with each entry's workloads scaled to the observed rate.

    Workloads on one entry keep their shares and their profile's shape. Entries with
    no usable rate in the traces keep the scenario's rate (with a warning). Returns
    the new scenario and a table ``entry, roots, scenario_rate, observed_rate, simulated_rate``.
    """
    warnings = warnings if warnings is not None else []
    start, end = float(scenario.warmup), float(scenario.warmup + scenario.duration)
    by_entry: dict[str, list[int]] = {}
    for i, w in enumerate(scenario.workload):
        by_entry.setdefault(w.entry, []).append(i)
    observed = {cast(str, r.entry): r for r in load.itertuples(index=False)}
    new = list(scenario.workload)
    rows = []
    for entry, idx in list(by_entry.items()):
        closed = [i for i in idx if scenario.workload[i].rate is None]
        if closed:
            warnings.append(
                f"entry {entry}: a closed workload (users) sets its own rate; "
                "simulated with the scenario's users, not scaled to the observed rate"
            )
            idx = [i for i in idx if i not in closed]
            if not idx:
                continue
        planned = sum(_mean_rate(scenario.workload[i], start, end) for i in idx)
        obs = observed.get(entry)
        rate = cast(float, obs.rate) if obs is not None else math.nan
        if not (rate > 0):
            seen = 0 if obs is None else cast(int, obs.roots)
            warnings.append(
                f"entry {entry}: {seen:,} root span(s) in the traces, too few for a rate; "
                "simulated at the scenario's rate"
            )
            factor = 1.0
        else:
            factor = rate / planned if planned > 0 else 1.0
        for i in idx:
            w = scenario.workload[i]
            new[i] = w.model_copy(
                update={
                    "rate": float(w.rate or 0.0) * factor,
                    "profile": [s.model_copy(update={"rate": float(s.rate) * factor}) for s in w.profile],
                }
            )
        rows.append(
            {
                "entry": entry,
                "roots": 0 if obs is None else int(cast(int, obs.roots)),
                "scenario_rate": planned,
                "observed_rate": rate,
                "simulated_rate": planned * factor,
            }
        )
    missing = sorted(set(observed) - set(by_entry))
    if missing:
        n = sum(int(cast(int, observed[m].roots)) for m in missing)
        warnings.append(
            f"{n:,} root span(s) enter at {', '.join(missing)}, which no workload of the scenario enters; "
            "that traffic is not simulated"
        )
    cols = ["entry", "roots", "scenario_rate", "observed_rate", "simulated_rate"]
    return scenario.model_copy(update={"workload": new}), pd.DataFrame(rows, columns=cols)


def quantile_interval(samples: np.ndarray, p: float, z: float) -> tuple[float, float]:
    """Distribution-free interval for the ``p`` quantile from order statistics.

    The number of samples below the true quantile is Binomial(n, p); its normal
    approximation +-``z`` standard deviations picks the order statistics that bound it.
    """
    x = np.sort(np.asarray(samples, float))
    n = len(x)
    if n == 0:
        return math.nan, math.nan
    half = z * math.sqrt(n * p * (1 - p))
    lo = int(max(0, math.floor(n * p - half) - 1))
    hi = int(min(n - 1, math.ceil(n * p + half)))
    return float(x[lo]), float(x[hi])


def allow_sampling_error(table: pd.DataFrame, a: SpanAnalysis, confidence: float = 0.99) -> pd.DataFrame:
    """Let each checked percentile also pass inside the observed value's confidence interval.

    Traces are samples: a p99 over 2,000 spans rests on 20 of them and moves by
    more than 10% from one sample to the next. A prediction inside that interval
    cannot be called wrong. The intervals are Bonferroni-corrected over the
    percentile checks, so ``confidence`` holds for the whole table. Adds ``ci_low``
    and ``ci_high`` (ms); ``allowed`` becomes the larger of the tolerance and the
    distance from the observed value to the interval's end on the predicted side.
    """
    out = table.copy()
    out["ci_low"] = math.nan
    out["ci_high"] = math.nan
    lat = out["metric"].isin(["p50_ms", "p90_ms", "p99_ms"]) & out["checked"]
    k = int(lat.sum())
    if k == 0 or not 0 < confidence < 1:
        return out
    from scipy import stats

    z = float(stats.norm.isf((1 - confidence) / 2 / k))
    ent = a.entries[~a.entries["partial"]]
    samples = {("service", str(s)): g["duration_s"].to_numpy(float) * 1e3 for s, g in ent.groupby("service")}
    samples.update(
        {("entry", str(s)): g["duration_s"].to_numpy(float) * 1e3 for s, g in ent[ent["is_root"]].groupby("service")}
    )
    q = {"p50_ms": 0.5, "p90_ms": 0.9, "p99_ms": 0.99}
    for i in out.index[lat]:
        r = out.loc[i]
        x = samples.get((r["scope"], r["name"]))
        if x is None or len(x) == 0:
            continue
        lo, hi = quantile_interval(x, q[r["metric"]], z)
        side = (hi - r["observed"]) if r["predicted"] > r["observed"] else (r["observed"] - lo)
        allowed = max(float(r["allowed"]), float(side))
        out.loc[i, ["ci_low", "ci_high", "allowed"]] = [lo, hi, allowed]
        out.loc[i, "within_tolerance"] = bool(r["abs_error"] <= allowed)
    return out


def _called_services(scenario: Scenario) -> set[str]:
    called: set[str] = set()
    for name in scenario.services:
        called.update(call.to for _, call in scenario.written_calls(name))
    return called


def predicted_summary(results: Any, scenario: Scenario) -> pd.DataFrame:
    """Summary table (SUMMARY_COLUMNS) of a simulation, shaped like :func:`observed_summary`.

    Service rows: the time replicas took to answer each attempt (queue, work and calls)
    and the share of attempts that failed, pooled over replications. Entry rows: the
    entry service's row (what a root span measures), or the workload's end-to-end
    latency when other services call the entry service too.
    """
    data = results.to_dict()
    services = data.get("services") or {}
    called = _called_services(scenario)
    rows: list[dict[str, Any]] = []
    for name, s in services.items():
        lat = s.get("latency_ms") or {}
        attempts = int(s.get("attempts", 0))
        failed = sum((s.get("failed") or {}).values())
        rows.append(
            {
                "scope": "service",
                "name": name,
                "count": attempts,
                "p50_ms": lat.get("p50", math.nan),
                "p90_ms": lat.get("p90", math.nan),
                "p99_ms": lat.get("p99", math.nan),
                "error_rate": failed / attempts if attempts else math.nan,
                "basis": "server",
            }
        )
    by_name = {r["name"]: r for r in rows}
    entries: dict[str, list[dict[str, Any]]] = {}
    for w in scenario.workload:
        wd = (data.get("workloads") or {}).get(w.name)
        if wd is not None:
            entries.setdefault(w.entry, []).append(wd)
    for entry, wds in entries.items():
        if entry not in called and entry in by_name:
            rows.append(dict(by_name[entry], scope="entry"))
            continue
        n = np.array([max(int(wd.get("requests", 0)), 1) for wd in wds], float)

        def avg(key: str, wds: list[dict[str, Any]] = wds, n: np.ndarray = n) -> float:
            vals = np.array([(wd.get("latency_ms") or {}).get(key, math.nan) for wd in wds], float)
            return float(np.average(vals, weights=n))

        err = np.array([wd.get("error_rate", math.nan) for wd in wds], float)
        rows.append(
            {
                "scope": "entry",
                "name": entry,
                "count": int(n.sum()),
                "p50_ms": avg("p50"),
                "p90_ms": avg("p90"),
                "p99_ms": avg("p99"),
                "error_rate": float(np.average(err, weights=n)),
                "basis": "workload",
            }
        )
    df = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS) + ["basis"])
    for c in ("p50_ms", "p90_ms", "p99_ms", "error_rate"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    return df


def twin_check(
    scenario: Scenario | str | Path | dict[str, Any],
    trace_paths: str | Path | Iterable[str | Path] = (),
    format: str | None = None,
    *,
    spans: pd.DataFrame | None = None,
    tolerance: float = 0.1,
    replications: int = 1,
    sample_rate: float = 1.0,
    duration_s: float | None = None,
    confidence: float = 0.99,
    workers: int | None = None,
    executor: str = "auto",
    force: bool = False,
    progress: Progress | None = None,
) -> TwinCheck:
    """Simulate ``scenario`` at the load the traces show and compare it with them.

    Args:
        scenario: a Scenario, a scenario file, or a mapping.
        trace_paths: OTLP/Jaeger/Zipkin JSON files or directories (see :func:`read_traces`).
        format: force one trace format instead of detecting it per file.
        spans: an already normalised span table instead of ``trace_paths``.
        tolerance: allowed relative error of each percentile (0.1 = 10%).
        replications: independent simulation runs pooled for the prediction.
        sample_rate: share of requests the traces kept (head sampling); rates are divided by it.
        duration_s: simulated seconds after warm-up (default: the scenario's duration).
        confidence: family-wise confidence of the observed percentiles' intervals
            (see :func:`allow_sampling_error`); 0 turns the allowance off.
        workers: worker processes or Dask workers, as for :func:`meshsim.simulate`.
        executor: ``auto``, ``serial``, ``process``, ``dask-local`` or a Dask scheduler address,
            as for :func:`meshsim.simulate`.
        force: run even past the size limit, as for :func:`meshsim.simulate`.
        progress: called with (replications done, total), as for :func:`meshsim.simulate`.

    Raises:
        MeshsimInputError: unreadable scenario or traces, or a bad option value.
    """
    # runners -> engine is heavy: loaded only to simulate
    from meshsim.experiments import simulate

    if not (tolerance > 0 and math.isfinite(tolerance)):
        raise MeshsimInputError(f"must be above 0, e.g. 0.1 for 10%, got {tolerance}", field="tolerance")
    if not 0 < sample_rate <= 1:
        raise MeshsimInputError(f"must be in (0, 1], got {sample_rate}", field="sample_rate")
    if not 0 <= confidence < 1:
        raise MeshsimInputError(f"must be in [0, 1), e.g. 0.99, got {confidence}", field="confidence")
    if duration_s is not None and not duration_s > 0:
        raise MeshsimInputError(f"must be above 0 seconds, got {duration_s}", field="duration")
    sc = (
        scenario
        if isinstance(scenario, Scenario)
        else load_scenario(scenario if isinstance(scenario, (dict, Path)) else Path(str(scenario)))
    )
    if spans is not None:
        table = coerce_spans(spans)
        table.attrs["warnings"] = list(spans.attrs.get("warnings", []))
    else:
        items = [trace_paths] if isinstance(trace_paths, (str, Path)) else list(trace_paths or [])
        if not items:
            raise MeshsimInputError("no trace files given")
        table = read_traces(items, format)
    if table.empty:
        raise MeshsimInputError("no spans to compare with")
    warnings = list(table.attrs.get("warnings", []))
    a = analyse_spans(table)
    warnings += a.warnings
    observed = observed_summary(a)
    if not (observed["scope"] == "entry").any():
        raise MeshsimInputError("no root spans in the traces: cannot tell the entry points or the load")
    if not set(observed["name"]) & (set(sc.services) | {w.entry for w in sc.workload}):
        raise MeshsimInputError(
            f"the traces and the scenario {sc.name!r} share no service (traces: "
            f"{', '.join(sorted(set(observed['name']))[:8])}); is this the right scenario?",
            file=sc.source_file,
        )
    sim_sc, load = at_observed_load(sc, observed_load(a, sample_rate), warnings)
    if duration_s is not None:
        sim_sc = sim_sc.model_copy(update={"duration": float(duration_s)})
    unknown = sorted(set(observed.loc[observed["scope"] == "service", "name"]) - set(sc.services))
    if unknown:
        n = int(observed.loc[(observed["scope"] == "service") & observed["name"].isin(unknown), "count"].sum())
        warnings.append(
            f"{n:,} request(s) in the traces went to service(s) the scenario lacks: {', '.join(unknown)}; not compared"
        )
    results = simulate(sim_sc, replications, workers=workers, executor=executor, force=force, progress=progress)
    predicted = predicted_summary(results, sim_sc)
    table_cmp = compare_observed(observed, predicted[list(SUMMARY_COLUMNS)], tolerance)
    table_cmp = allow_sampling_error(table_cmp, a, confidence)
    workload_based = set(predicted.loc[(predicted["scope"] == "entry") & (predicted["basis"] == "workload"), "name"])
    if workload_based:
        at = (table_cmp["scope"] == "entry") & table_cmp["name"].isin(workload_based) & (table_cmp["note"] == "")
        table_cmp.loc[at, "note"] = "predicted: end-to-end workload latency (the entry is also called inside)"
    return TwinCheck(table_cmp, verdict(table_cmp), observed, predicted, load, warnings, tolerance, sim_sc, results)
