"""Baseline versus what-if: the differences table people read and the charts that show what moved.

Input is the paired table of :func:`meshsim.experiments.paired_table` (also ``Comparison.table``):
scope, name, metric, unit, base_mean, changed_mean, diff, diff_ci_low, diff_ci_high,
rel_change, p_value, significant, replications; metric names carry their unit
(``latency_p99_ms`` in ms) and ``unit`` names it.
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from meshsim.results import format_metric
from meshsim.viz._charts import PALETTE, _style, empty_figure

__all__ = ["HEADLINE_METRICS", "compare_bars", "compare_latency", "comparison_frame"]

#: Metrics shown in the what-if table and bars, in order (names as in ``Results.summary()``).
HEADLINE_METRICS = (
    "latency_p50_ms",
    "latency_p99_ms",
    "latency_mean_ms",
    "error_rate",
    "throughput_rps",
    "amplification",
    "utilization",
    "cost_per_million_usd",
)


def _display(unit: str, x: float, signed: bool = False) -> str:
    return format_metric(x, unit, signed)


def comparison_frame(table: pd.DataFrame, metrics: tuple[str, ...] = HEADLINE_METRICS) -> pd.DataFrame:
    """The headline rows of a paired table, as text.

    Columns: scope, name, metric, baseline, what-if, change, change_pct, interval (of the
    difference), significant.
    """
    cols = ["scope", "name", "metric", "baseline", "what-if", "change", "change_pct", "interval", "significant"]
    if table is None or table.empty:
        return pd.DataFrame(columns=cols)
    sub = table[table["metric"].isin(metrics)].copy()
    order = {m: i for i, m in enumerate(metrics)}
    sub["_s"] = sub["scope"].map({"workload": 0, "service": 1}).fillna(2)
    sub["_m"] = sub["metric"].map(order)
    sub = sub.sort_values(["_s", "name", "_m"], kind="stable")
    rows = []
    for _, r in sub.iterrows():
        unit = str(r.get("unit", ""))
        lo, hi = r["diff_ci_low"], r["diff_ci_high"]
        rows.append(
            {
                "scope": r["scope"],
                "name": r["name"],
                "metric": r["metric"],
                "baseline": _display(unit, r["base_mean"]),
                "what-if": _display(unit, r["changed_mean"]),
                "change": _display(unit, r["diff"], signed=True),
                "change_pct": r["rel_change"] * 100 if not math.isnan(r["rel_change"]) else math.nan,
                "interval": "-" if math.isnan(lo) else f"[{_display(unit, lo, True)}, {_display(unit, hi, True)}]",
                "significant": bool(r["significant"]),
            }
        )
    return pd.DataFrame(rows, columns=cols)


def compare_latency(ts_base: pd.DataFrame, ts_whatif: pd.DataFrame) -> go.Figure:
    """p99 latency per workload over time: baseline dashed grey, what-if in colour (ms)."""
    title = "p99 latency over time: baseline (dashed) vs what-if"
    if ts_whatif is None or ts_whatif.empty:
        return empty_figure("compare_latency", title, "no what-if run yet")
    fig = go.Figure()
    for i, (name, g) in enumerate(ts_whatif[ts_whatif["scope"] == "workload"].groupby("name", sort=True)):
        color = PALETTE[i % len(PALETTE)]
        if ts_base is not None and not ts_base.empty:
            gb = ts_base[(ts_base["scope"] == "workload") & (ts_base["name"] == name)]
            fig.add_trace(
                go.Scatter(
                    x=gb["t_s"],
                    y=gb["latency_p99_ms"],
                    name=f"{name} baseline",
                    mode="lines",
                    line={"color": "#888", "dash": "dash", "width": 1.5},
                )
            )
        fig.add_trace(
            go.Scatter(
                x=g["t_s"],
                y=g["latency_p99_ms"],
                name=f"{name} what-if",
                mode="lines",
                line={"color": color, "width": 2},
            )
        )
    fig.update_xaxes(title="simulated time (s)")
    fig.update_yaxes(title="p99 latency (ms)", rangemode="tozero")
    return _style(fig, "compare_latency", title)


def compare_bars(
    table: pd.DataFrame, scope: str = "workload", metrics: tuple[str, ...] = HEADLINE_METRICS
) -> go.Figure:
    """Relative change (%) of each headline metric per workload (or service).

    Error bars are the interval of the difference; faded bars are not significant.
    """
    title = f"What-if vs baseline: change per {scope} metric (%)"
    sub = pd.DataFrame()
    if table is not None and not table.empty:
        sub = table[(table["scope"] == scope) & table["metric"].isin(metrics) & table["rel_change"].notna()]
    if sub.empty:
        return empty_figure("compare_bars", title, "no differences to show")
    fig = go.Figure()
    for i, (name, g) in enumerate(sub.groupby("name", sort=True)):
        base = g["base_mean"].abs().where(g["base_mean"] != 0)
        up = ((g["diff_ci_high"] - g["diff"]) / base * 100).fillna(0.0)
        down = ((g["diff"] - g["diff_ci_low"]) / base * 100).fillna(0.0)
        fig.add_trace(
            go.Bar(
                x=g["metric"],
                y=g["rel_change"] * 100,
                name=str(name),
                marker_color=PALETTE[i % len(PALETTE)],
                marker_opacity=[1.0 if s else 0.45 for s in g["significant"]],
                error_y={"type": "data", "array": list(up), "arrayminus": list(down), "visible": True},
                customdata=[
                    (_display(u, b), _display(u, c), "yes" if s else "no")
                    for u, b, c, s in zip(g["unit"], g["base_mean"], g["changed_mean"], g["significant"])
                ],
                hovertemplate="%{x}: %{y:+.1f}%<br>baseline %{customdata[0]}<br>what-if %{customdata[1]}"
                "<br>significant: %{customdata[2]}<extra>" + str(name) + "</extra>",
            )
        )
    fig.add_hline(y=0, line={"color": "#444", "width": 1})
    fig.update_layout(barmode="group")
    present = set(sub["metric"])
    fig.update_xaxes(categoryorder="array", categoryarray=[m for m in metrics if m in present])
    fig.update_yaxes(title="change (%)")
    return _style(fig, "compare_bars", title)
