"""Twin check, the parts that need no simulator: observed summaries, comparison, verdict.

Summary tables (observed and predicted) share :data:`SUMMARY_COLUMNS`: one row per
entry point (``scope == "entry"``, named by its entry service) and per service
(``scope == "service"``), with latency percentiles in milliseconds and the share of
requests that failed. Entry latency is the root span's duration (what the client
saw); service latency is the duration of its entry spans (time to answer a call).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from meshsim.calibrate._graph import SpanAnalysis, analyse_spans

__all__ = [
    "SUMMARY_COLUMNS",
    "COMPARE_COLUMNS",
    "observed_summary",
    "predicted_from_results",
    "compare_observed",
    "verdict",
    "TwinVerdict",
]

SUMMARY_COLUMNS = ("scope", "name", "count", "p50_ms", "p90_ms", "p99_ms", "error_rate")
COMPARE_COLUMNS = (
    "scope",
    "name",
    "metric",
    "observed",
    "predicted",
    "abs_error",
    "rel_error",
    "allowed",
    "within_tolerance",
    "checked",
    "note",
)
_QUANTILES = {"p50_ms": 0.50, "p90_ms": 0.90, "p99_ms": 0.99}
#: A percentile is checked only when at least this many observations lie beyond it.
MIN_TAIL = 5


def _row(scope: str, name: object, dur_s: pd.Series, err: pd.Series) -> dict[str, Any]:
    ms = dur_s.to_numpy(float) * 1e3
    q = np.quantile(ms, [0.5, 0.9, 0.99]) if len(ms) else [math.nan] * 3
    return {
        "scope": scope,
        "name": str(name),
        "count": int(len(ms)),
        "p50_ms": float(q[0]),
        "p90_ms": float(q[1]),
        "p99_ms": float(q[2]),
        "error_rate": float(err.mean()) if len(err) else math.nan,
    }


def observed_summary(spans: pd.DataFrame | SpanAnalysis) -> pd.DataFrame:
    """Per entry point and per service: count, p50/p90/p99 (ms) and error rate from spans."""
    a = spans if isinstance(spans, SpanAnalysis) else analyse_spans(spans)
    ent = a.entries[~a.entries["partial"]]
    rows = [_row("entry", s, g["duration_s"], g["error"]) for s, g in ent[ent["is_root"]].groupby("service")]
    rows += [_row("service", s, g["duration_s"], g["error"]) for s, g in ent.groupby("service")]
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def predicted_from_results(results: dict[str, Any], scenario: dict[str, Any] | None = None) -> pd.DataFrame:
    """Turn a ``meshsim run --json`` result (docs/results.md) into a summary table.

    Workloads become ``entry`` rows named by their entry service (taken from
    ``scenario["workload"]`` when given, else the workload's name). Several workloads
    on one entry are merged: counts and error rates add up by requests, and
    percentiles are request-weighted means (an approximation, said in the note).
    """
    entry_of = {w["name"]: w["entry"] for w in (scenario or {}).get("workload", [])}
    rows: list[dict[str, Any]] = []
    for wname, w in (results.get("workloads") or {}).items():
        lat = w.get("latency_ms") or {}
        rows.append(
            {
                "scope": "entry",
                "name": entry_of.get(wname, wname),
                "count": int(w.get("requests", 0)),
                "p50_ms": lat.get("p50", math.nan),
                "p90_ms": lat.get("p90", math.nan),
                "p99_ms": lat.get("p99", math.nan),
                "error_rate": w.get("error_rate", math.nan),
            }
        )
    for sname, s in (results.get("services") or {}).items():
        lat = s.get("latency_ms") or {}
        attempts = int(s.get("attempts", 0))
        failed = sum((s.get("failed") or {}).values())
        rows.append(
            {
                "scope": "service",
                "name": sname,
                "count": attempts,
                "p50_ms": lat.get("p50", math.nan),
                "p90_ms": lat.get("p90", math.nan),
                "p99_ms": lat.get("p99", math.nan),
                "error_rate": failed / attempts if attempts else math.nan,
            }
        )
    df = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    if df.duplicated(["scope", "name"]).any():

        def merge(g: pd.DataFrame) -> pd.Series:
            w = g["count"].clip(lower=1)
            out = {c: float(np.average(g[c], weights=w)) for c in ("p50_ms", "p90_ms", "p99_ms", "error_rate")}
            return pd.Series({"count": int(g["count"].sum()), **out})

        # pandas-stubs: DataFrameGroupBy.apply lacks the include_groups keyword.
        df = df.groupby(["scope", "name"], as_index=False, sort=False).apply(merge, include_groups=False)  # type: ignore[call-overload]
        df = df[list(SUMMARY_COLUMNS)]
    return df.astype({"count": int})


def compare_observed(observed: pd.DataFrame, predicted: pd.DataFrame, tolerance: float = 0.1) -> pd.DataFrame:
    """Observed vs predicted, one row per (scope, name, metric), with the relative error.

    Latency percentiles pass when ``|predicted - observed| <= tolerance * observed``.
    A percentile is only checked when at least 5 observations lie beyond it (p99
    needs 500 requests), since a rarer tail is noise. Error rates pass within the
    tolerance *or* within 3 binomial standard errors of the observed rate (with at
    least one request's worth, 1/n, of variance), so 0 observed errors against a
    predicted 0.1% is not a failure on 300 requests.
    """
    keys = ["scope", "name"]
    merged = observed.merge(predicted, on=keys, how="outer", suffixes=("_obs", "_pred"))
    rows: list[dict[str, Any]] = []
    for r in merged.itertuples(index=False):
        # pandas-stubs: itertuples rows lack the namedtuple methods such as _asdict.
        d: dict[str, Any] = r._asdict()  # type: ignore[operator, misc]
        n = d.get("count_obs")
        n = int(n) if n == n and n is not None else 0
        for metric in ("p50_ms", "p90_ms", "p99_ms", "error_rate"):
            obs, pred = d[f"{metric}_obs"], d[f"{metric}_pred"]
            obs = float(obs) if obs is not None else math.nan
            pred = float(pred) if pred is not None else math.nan
            abs_err = abs(pred - obs)
            rel = abs_err / obs if obs > 0 else (0.0 if abs_err == 0 else math.inf)
            note = ""
            if metric == "error_rate":
                p = obs if obs == obs else 0.0
                se = math.sqrt(max(p * (1 - p), 1.0 / max(n, 1)) / max(n, 1))
                allowed = max(tolerance * p, 3 * se)
            else:
                allowed = tolerance * obs
                if n * (1 - _QUANTILES[metric]) < MIN_TAIL:
                    note = f"too few observations ({n}) for {metric[:3]}"
            if obs != obs:
                note = "not observed"
            elif pred != pred:
                note = note or "not predicted"
            checked = not note
            rows.append(
                {
                    "scope": d["scope"],
                    "name": d["name"],
                    "metric": metric,
                    "observed": obs,
                    "predicted": pred,
                    "abs_error": abs_err,
                    "rel_error": rel if obs == obs and pred == pred else math.nan,
                    "allowed": allowed,
                    "within_tolerance": bool(checked and abs_err <= allowed),
                    "checked": checked,
                    "note": note,
                }
            )
    return pd.DataFrame(rows, columns=list(COMPARE_COLUMNS))


@dataclass(frozen=True)
class TwinVerdict:
    """Overall result of a twin check."""

    ok: bool
    checked: int
    failed: int
    skipped: int
    worst: str

    def __str__(self) -> str:
        if not self.checked:
            return "twin check: nothing to compare (too few observations)"
        head = "twin matches" if self.ok else "twin does NOT match"
        tail = f"; worst: {self.worst}" if self.worst else ""
        passed = self.checked - self.failed
        return (
            f"{head}: {passed}/{self.checked} checks within the tolerance or the traces' sampling error "
            f"({self.skipped} skipped){tail}"
        )


def verdict(df: pd.DataFrame) -> TwinVerdict:
    """Summarise a :func:`compare_observed` table: ok when every checked row is within tolerance."""
    checked = df[df["checked"]]
    failed = checked[~checked["within_tolerance"]]
    worst = ""
    pool = failed if len(failed) else checked
    if len(pool):
        ratio = (pool["abs_error"] / pool["allowed"].where(pool["allowed"] > 0, np.nan)).fillna(np.inf)
        # A single row label (the table's integer index) selects one row: a Series.
        r = cast(pd.Series, pool.loc[cast(int, ratio.idxmax())])
        rel = f"{100 * r['rel_error']:.1f}%" if math.isfinite(r["rel_error"]) else "n/a"

        def show(x: float) -> str:  # error rates in %, percentiles in ms
            return f"{100 * x:.3g}%" if r["metric"] == "error_rate" else f"{x:.4g} ms"

        worst = (
            f"{r['scope']} {r['name']} {r['metric']}: observed {show(r['observed'])}, predicted {show(r['predicted'])}"
        )
        worst += "" if r["metric"] == "error_rate" else f" ({rel})"
    return TwinVerdict(
        len(failed) == 0 and len(checked) > 0, len(checked), len(failed), int((~df["checked"]).sum()), worst
    )
