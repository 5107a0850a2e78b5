"""A sweep's table as a figure: one panel per metric against a parameter, one line per value of another."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from meshsim.errors import MeshsimInputError
from meshsim.experiments import METRIC_UNITS, metric_column
from meshsim.stats import mean_ci

__all__ = ["pick_entity", "sweep_figure"]


def pick_entity(df: pd.DataFrame, scope: str, name: str | None) -> str:
    """The workload or service whose columns to draw: ``name``, or the first one in the table."""
    prefix = f"{scope}:"
    found = []
    for c in df.columns:
        if isinstance(c, str) and c.startswith(prefix):
            entity = c.split(":")[1]
            if entity not in found:
                found.append(entity)
    if name is None:
        if not found:
            raise MeshsimInputError(f"the table has no {scope} columns")
        return found[0]
    if name not in found:
        raise MeshsimInputError(f"no {scope} '{name}' in the sweep; there are: {', '.join(found)}")
    return name


def sweep_figure(
    df: pd.DataFrame,
    metrics: Sequence[str] = ("latency_p99", "error_rate"),
    *,
    x: str | None = None,
    color: str | None = None,
    workload: str | None = None,
    service: str | None = None,
    confidence: float = 0.95,
) -> go.Figure:
    """A plotly figure: one panel per metric against the first parameter, one line per value of the second.

    Points are means over replications with ``confidence`` intervals as error bars.
    ``metrics`` are names as in :meth:`Results.summary` (``latency_p99_ms``; ``latency_p99``
    works too). Latencies are drawn in ms and ratios in percent. ``service`` plots a service's metrics
    instead of a workload's (default: the first workload).
    """
    params = list(df.attrs.get("params") or [c for c in df.columns if "." in str(c) and ":" not in str(c)])
    if not params:
        raise MeshsimInputError("the table has no parameter columns")
    x = x or params[0]
    if color is None and len(params) > 1:
        color = next(p for p in params if p != x)
    scope, entity = (
        ("service", pick_entity(df, "service", service))
        if service
        else ("workload", pick_entity(df, "workload", workload))
    )
    fig = make_subplots(
        rows=1,
        cols=len(metrics),
        subplot_titles=[f"{entity}: {metric_column(scope, entity, m).rsplit(':', 1)[1]}" for m in metrics],
    )
    # (value of the color parameter, its rows); the value is any scalar the table holds
    groups: list[tuple[object, pd.DataFrame]] = [(None, df)] if color is None else list(df.groupby(color, sort=False))
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
    for col_i, metric in enumerate(metrics, start=1):
        column = metric_column(scope, entity, metric)
        if column not in df.columns:
            raise MeshsimInputError(f"no column {column} in the sweep table")
        unit = METRIC_UNITS.get(column.rsplit(":", 1)[1], "")
        scale, unit = (100.0, "%") if unit == "ratio" else (1.0, unit)
        for g_i, (value, grp) in enumerate(groups):
            xs, ys, err_hi, err_lo = [], [], [], []
            for xv, sub in grp.groupby(x, sort=False):
                m, lo, hi = mean_ci(list(sub[column].astype(float)), confidence)
                xs.append(xv)
                ys.append(m * scale)
                err_hi.append(0.0 if math.isnan(hi) else (hi - m) * scale)
                err_lo.append(0.0 if math.isnan(lo) else (m - lo) * scale)
            label = "all" if value is None else f"{color}={value}"
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="lines+markers",
                    name=label,
                    legendgroup=label,
                    showlegend=col_i == 1,
                    line={"color": palette[g_i % len(palette)]},
                    error_y={"type": "data", "array": err_hi, "arrayminus": err_lo, "visible": True},
                ),
                row=1,
                col=col_i,
            )
        label = column.rsplit(":", 1)[1]
        fig.update_yaxes(title_text=f"{label} ({unit})" if unit else label, row=1, col=col_i)
        fig.update_xaxes(title_text=x, row=1, col=col_i)
        if not all(isinstance(v, (int, float, np.number)) for v in df[x]):
            fig.update_xaxes(type="category", row=1, col=col_i)
    title = df.attrs.get("scenario", "sweep")
    fig.update_layout(
        title=f"{title}: sweep over {', '.join(params)} (mean, {confidence:.0%} CI)",
        template="plotly_white",
        height=420,
        width=max(520, 460 * len(metrics)),
    )
    return fig
