"""Time-series, per-service, cost, SLO and rollout charts: tidy DataFrame in, ``go.Figure`` out.

Every figure carries ``layout.meta = {"chart": <id>}`` so reports, the UI and tests can
tell charts apart without parsing titles.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from meshsim.viz._frames import CAUSES, causes_long, edge_cost_frame

__all__ = [
    "AMPLIFICATION_ALERT",
    "CAUSE_COLORS",
    "add_fault_windows",
    "cost_per_edge",
    "empty_figure",
    "errors_by_cause",
    "latency_over_time",
    "red_panels",
    "retries_amplification",
    "rollout_timeline",
    "slo_headline",
]

CAUSE_COLORS = {
    "error": "#d62728",
    "timeout": "#ff7f0e",
    "overflow": "#9467bd",
    "no_endpoint": "#8c564b",
    "connect_failure": "#e377c2",
    "rate_limited": "#bcbd22",
    "budget_exhausted": "#17becf",
}
AMPLIFICATION_ALERT = 1.2  # attempts per original attempt above which a bar turns red
PALETTE = ("#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")
_STATUS_COLORS = {"met": "#d8f0d8", "missed": "#f7d4d4", "inconclusive": "#fdf0c8"}


def _style(fig: go.Figure, chart: str, title: str, height: int = 380) -> go.Figure:
    """Shared look; the legend is always shown, even for one trace (it names what is drawn)."""
    fig.update_layout(
        title={"text": title, "x": 0.01},
        template="plotly_white",
        height=height,
        margin={"l": 60, "r": 20, "t": 60, "b": 50},
        meta={"chart": chart},
        legend={"orientation": "h", "y": -0.18},
        showlegend=True,
    )
    return fig


def empty_figure(chart: str, title: str, message: str) -> go.Figure:
    """A figure that says why there is nothing to draw (keeps the report's chart list fixed)."""
    fig = go.Figure()
    fig.add_annotation(
        text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font={"size": 14, "color": "#666"}
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    _style(fig, chart, title, height=220)
    fig.update_layout(showlegend=False)
    return fig


def add_fault_windows(fig: go.Figure, faults: pd.DataFrame | None) -> go.Figure:
    """Shade each fault's window (columns kind, target, start_s, end_s) on a time chart."""
    if faults is None or faults.empty:
        return fig
    for i, (_, f) in enumerate(faults.sort_values("start_s", kind="stable").iterrows()):
        label = f"{f['kind']} {f['target']}"
        # alternate label rows so neighbouring faults do not print over each other
        where = "top left" if i % 2 == 0 else "bottom left"
        if math.isnan(f["end_s"]) or f["end_s"] <= f["start_s"]:
            fig.add_vline(
                x=f["start_s"],
                line={"color": "#999", "dash": "dot"},
                annotation_position=where,
                annotation={"text": label, "font": {"size": 10}},
            )
        else:
            fig.add_vrect(
                x0=f["start_s"],
                x1=f["end_s"],
                fillcolor="#999",
                opacity=0.12,
                line_width=0,
                annotation={"text": label, "font": {"size": 10}},
                annotation_position=where,
            )
    return fig


def latency_over_time(
    ts: pd.DataFrame, slos: pd.DataFrame | None = None, faults: pd.DataFrame | None = None
) -> go.Figure:
    """p50 (dotted) and p99 (solid) latency per workload per 1 s bin, in ms, with latency SLO limits."""
    title = "Latency percentiles over time per workload"
    sub = ts[ts["scope"] == "workload"] if ts is not None and not ts.empty else pd.DataFrame()
    if sub.empty:
        return empty_figure("latency", title, "no completed requests to draw")
    fig = go.Figure()
    for i, (name, g) in enumerate(sub.groupby("name", sort=True)):
        color = PALETTE[i % len(PALETTE)]
        fig.add_trace(
            go.Scatter(
                x=g["t_s"],
                y=g["latency_p99_ms"],
                name=f"{name} p99",
                mode="lines",
                line={"color": color, "width": 2},
                legendgroup=name,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=g["t_s"],
                y=g["latency_p50_ms"],
                name=f"{name} p50",
                mode="lines",
                line={"color": color, "width": 1, "dash": "dot"},
                legendgroup=name,
            )
        )
    if slos is not None and not slos.empty:
        lat = slos[(slos["scope"] == "workload") & slos["metric"].astype(str).str.startswith("latency_")]
        for _, s in lat.iterrows():
            fig.add_hline(
                y=s["limit"] * 1e3,
                line={"color": "#d62728", "dash": "dash", "width": 1},
                annotation={"text": f"SLO {s['name']} ({s['limit_text']})", "font": {"size": 10}},
            )
    add_fault_windows(fig, faults)
    fig.update_xaxes(title="simulated time (s)")
    fig.update_yaxes(title="latency (ms)", rangemode="tozero")
    return _style(fig, "latency", title)


def errors_by_cause(ts: pd.DataFrame, faults: pd.DataFrame | None = None) -> go.Figure:
    """Failed end-user requests per second, stacked by cause (all workloads together)."""
    title = "Errors by cause over time (failed requests/s, all workloads)"
    long = causes_long(ts, "workload")
    if long.empty:
        fig = empty_figure("errors", title, "no failed requests")
        return add_fault_windows(fig, faults)
    per_t = long.groupby(["t_s", "cause"], as_index=False)["failed_per_s"].sum()
    fig = go.Figure()
    for cause in CAUSES:
        g = per_t[per_t["cause"] == cause]
        if not g.empty:
            fig.add_trace(
                go.Bar(x=g["t_s"], y=g["failed_per_s"], name=cause, marker_color=CAUSE_COLORS.get(cause, "#7f7f7f"))
            )
    fig.update_layout(barmode="stack", bargap=0.05)
    add_fault_windows(fig, faults)
    wl = ts[ts["scope"] == "workload"]["t_s"]
    # the whole run, not only the seconds that had failures
    fig.update_xaxes(title="simulated time (s)", range=[float(wl.min()) - 0.5, float(wl.max()) + 0.5])
    fig.update_yaxes(title="failed requests per second")
    return _style(fig, "errors", title)


def red_panels(
    ts: pd.DataFrame,
    entities: list[tuple[str, str]] | None = None,
    faults: pd.DataFrame | None = None,
    title: str | None = None,
) -> go.Figure:
    """Rate, Errors, Duration per workload and service, one row each (a Grafana mesh dashboard).

    ``ts`` is :meth:`Results.timeseries`; ``entities`` lists ``(scope, name)`` rows to draw
    (default: every workload, then every service by traffic). Rate is finished requests/s
    for a workload and attempts/s for a service; errors are the failed share in %;
    duration is p50 (dotted) and p99 (solid) in ms: end to end for a workload, the
    replicas' time to answer for a service.
    """
    title = title or "RED: rate, errors, duration per workload and service"
    if ts is None or ts.empty:
        return empty_figure("red", title, "no requests finished")
    if entities is None:
        traffic: pd.DataFrame = ts.groupby(["scope", "name"], sort=False, as_index=False)[["throughput_rps"]].sum()
        traffic = traffic.sort_values(["scope", "throughput_rps", "name"], ascending=[False, False, True])
        entities = [(str(s), str(n)) for s, n in zip(traffic["scope"], traffic["name"])]  # workloads first
    entities = [(s, n) for s, n in entities if ((ts["scope"] == s) & (ts["name"] == n)).any()]
    if not entities:
        return empty_figure("red", title, "nothing to draw for these services")
    height = 120 + 170 * len(entities)
    fig = make_subplots(
        rows=len(entities),
        cols=3,
        shared_xaxes=True,
        horizontal_spacing=0.07,
        vertical_spacing=70 / height,
        subplot_titles=[
            f"<b>{n}</b>{' (workload)' if s == 'workload' else ''}: {what}"
            for s, n in entities
            for what in ("rate (requests/s)", "errors (% failed)", "duration p50 / p99 (ms)")
        ],
    )
    for row, (scope, name) in enumerate(entities, start=1):
        g = ts[(ts["scope"] == scope) & (ts["name"] == name)].sort_values("t_s")
        first = row == 1
        traces = (
            (1, g["throughput_rps"], "rate", {"color": "#1f77b4", "width": 1.5}),
            (2, g["error_rate"] * 100, "errors", {"color": "#d62728", "width": 1.5}),
            (3, g["latency_p99_ms"], "p99", {"color": "#9467bd", "width": 1.8}),
            (3, g["latency_p50_ms"], "p50", {"color": "#9467bd", "width": 1, "dash": "dot"}),
        )
        for col, y, label, line in traces:
            fig.add_trace(
                go.Scatter(
                    x=g["t_s"],
                    y=y,
                    mode="lines",
                    name=label,
                    legendgroup=label,
                    showlegend=first,
                    line=line,
                    hovertemplate=f"{name} {label}: %{{y:,.3g}} at %{{x:.0f}} s<extra></extra>",
                ),
                row=row,
                col=col,
            )
    for col in (1, 2, 3):
        fig.update_yaxes(rangemode="tozero", col=col)
    fig.update_xaxes(title="simulated time (s)", row=len(entities))
    if faults is not None and not faults.empty:
        for _, f in faults.iterrows():
            end = f["end_s"] if not math.isnan(f["end_s"]) else None
            if end is not None and end > f["start_s"]:
                fig.add_vrect(
                    x0=f["start_s"], x1=end, fillcolor="#999", opacity=0.12, line_width=0, row="all", col="all"
                )
            else:
                fig.add_vline(x=f["start_s"], line={"color": "#999", "dash": "dot"}, row="all", col="all")
    _style(fig, "red", title, height=height)
    plot_px = height - 60 - 50
    fig.update_layout(
        legend={"orientation": "h", "y": 1 + 40 / plot_px, "yanchor": "bottom", "x": 1.0, "xanchor": "right"}
    )
    # panel titles read from the left edge of their panel, like a dashboard's
    n_titles = 3 * len(entities)
    for i, ann in enumerate(fig.layout.annotations[:n_titles]):
        axis = fig.layout["xaxis" if i == 0 else f"xaxis{i + 1}"]
        ann.update(font={"size": 11}, x=axis.domain[0], xanchor="left")
    return fig


def retries_amplification(services: pd.DataFrame) -> go.Figure:
    """Retries (left, stacked by layer when clients retry) and amplification (right), per service."""
    title = "Retries and amplification per service"
    if services is None or services.empty:
        return empty_figure("retries", title, "no services")
    df = services.sort_values(["amplification", "retries"], ascending=False, kind="stable")
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("retries sent to the service", "amplification (1 = no extra load)")
    )
    layers = [("retries", "mesh proxies", "#ff7f0e")]
    for column, who, color in (("sdk_retries", "callers' SDKs", "#9467bd"), ("user_retries", "end users", "#8c564b")):
        if column in df and df[column].sum() > 0:
            layers.append((column, who, color))
    for column, who, color in layers:
        fig.add_trace(
            go.Bar(
                x=df["service"],
                y=df[column],
                name="retries" if len(layers) == 1 else who,
                marker_color=color,
                customdata=df[["attempts"]],
                hovertemplate=f"%{{x}}: %{{y}} retries ({who}) of %{{customdata[0]}} attempts<extra></extra>",
            ),
            row=1,
            col=1,
        )
    high = df["amplification"].fillna(1.0) > AMPLIFICATION_ALERT
    for name, sub, color in (
        ("amplification", df[~high], "#1f77b4"),
        (f"amplification > {AMPLIFICATION_ALERT:g}x (retry storm risk)", df[high], "#d62728"),
    ):
        fig.add_trace(
            go.Bar(
                x=sub["service"],
                y=sub["amplification"],
                name=name,
                marker_color=color,
                hovertemplate="%{x}: %{y:.3f}x<extra></extra>",
            ),
            row=1,
            col=2,
        )
    fig.add_hline(y=1.0, line={"color": "#444", "dash": "dot", "width": 1}, row=1, col=2)
    fig.update_yaxes(title="retries", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title="attempts / original", rangemode="tozero", row=1, col=2)
    fig.update_xaxes(categoryorder="array", categoryarray=list(df["service"]), row=1, col=2)
    # retries stack by layer; the two amplification traces never share a service
    fig.update_layout(barmode="stack")
    return _style(fig, "retries", title)


def cost_per_edge(edges: pd.DataFrame, top: int = 15) -> go.Figure:
    """Egress dollars per caller -> callee edge, with the GB each boundary carried in the hover."""
    title = "Cross-boundary traffic cost per edge"
    long = edge_cost_frame(edges)
    if long.empty:
        return empty_figure("cost", title, "no traffic crossed a zone, region or cloud boundary")
    gb = long.pivot_table(index="edge", columns="boundary", values="gb", aggfunc="sum", fill_value=0.0)
    usd = long.groupby("edge")["egress_usd"].first()
    df = gb.assign(egress_usd=usd).sort_values("egress_usd", ascending=True).tail(top)
    boundaries = [c for c in ("cross zone", "cross region", "cross cloud") if c in df.columns]
    hover = ["<br>".join(f"{b}: {row[b]:.4f} GB" for b in boundaries) for _, row in df.iterrows()]
    fig = go.Figure(
        go.Bar(
            x=df["egress_usd"],
            y=df.index,
            orientation="h",
            marker_color="#2ca02c",
            customdata=hover,
            hovertemplate="%{y}: $%{x:.6f}<br>%{customdata}<extra></extra>",
            text=[f"${v:.4f}" for v in df["egress_usd"]],
            textposition="auto",
        )
    )
    total = float(usd.sum())
    fig.update_xaxes(title="egress cost (USD, all replications)")
    return _style(fig, "cost", f"{title} (total ${total:.4f})", height=max(300, 40 + 28 * len(df)))


def slo_headline(slos: pd.DataFrame) -> go.Figure:
    """A table of SLO verdicts: name, target, metric, value, limit, interval and status."""
    title = "SLO verdicts"
    if slos is None or slos.empty:
        return empty_figure("slo", title, "this scenario declares no SLOs")

    status = [str(s).upper() if s != "met" else "met" for s in slos["status"]]
    fills = [_STATUS_COLORS.get(str(s), "#eee") for s in slos["status"]]
    sign = ["≤" if d == "max" else "≥" for d in slos["direction"]]
    fig = go.Figure(
        go.Table(
            header={
                "values": ["SLO", "target", "metric", "value", "limit", "95% interval", "status"],
                "fill_color": "#e8e8e8",
                "align": "left",
            },
            cells={
                "values": [
                    list(slos["name"]),
                    list(slos["target"]),
                    list(slos["metric"]),
                    list(slos["value_text"]),
                    [f"{s} {t}" for s, t in zip(sign, slos["limit_text"])],
                    list(slos["ci_text"]),
                    status,
                ],
                "fill_color": [fills] * 7,
                "align": "left",
            },
        )
    )
    _style(fig, "slo", title, height=110 + 30 * len(slos))
    fig.update_layout(margin={"l": 20, "r": 20, "t": 50, "b": 10}, showlegend=False)
    return fig


def rollout_timeline(
    weights: pd.DataFrame, rollout: dict[str, Any] | None = None, checks: pd.DataFrame | None = None
) -> go.Figure:
    """The canary's traffic weight (percent) over simulated time (s).

    With the controller's checks (green passed, red failed) and the outcome when it happened.
    """
    title = "Rollout: canary weight over time"
    if weights is None or weights.empty:
        if rollout:
            title += f" ({rollout.get('outcome', 'no outcome')})"
        return empty_figure("rollout", title, "no weight timeline reported")
    fig = go.Figure(
        go.Scatter(
            x=weights["t_s"],
            y=weights["weight"],
            mode="lines+markers",
            line_shape="hv",
            name="canary weight",
            line={"color": "#1f77b4"},
            customdata=weights["note"],
            hovertemplate="t=%{x:.1f}s: %{y:.0f}% %{customdata}<extra></extra>",
        )
    )
    if checks is not None and not checks.empty:
        for passed, g in checks.groupby("passed"):
            fig.add_trace(
                go.Scatter(
                    x=g["t_s"],
                    y=g["weight"],
                    mode="markers",
                    name="check passed" if passed else "check failed",
                    marker={
                        "symbol": "circle" if passed else "x",
                        "size": 11,
                        "color": "#2ca02c" if passed else "#d62728",
                    },
                    customdata=list(zip(g["success_rate"], g["latency_p99_ms"])),
                    hovertemplate="check at %{x:.0f}s: success %{customdata[0]:.2%}, p99 %{customdata[1]:.1f} ms"
                    "<extra></extra>",
                )
            )
    if rollout and rollout.get("at_s") is not None:
        outcome = str(rollout.get("outcome", ""))
        color = "#2ca02c" if outcome == "promoted" else "#d62728"
        fig.add_vline(
            x=float(rollout["at_s"]),
            line={"color": color, "dash": "dash"},
            annotation={"text": f"{outcome} at {float(rollout['at_s']):.0f}s"},
        )
        failed = rollout.get("failed_requests")
        if failed is not None:
            title += f" — {outcome}, {failed} failed requests due to the canary"
    fig.update_xaxes(title="simulated time (s)")
    fig.update_yaxes(title="canary weight (%)", range=[0, 105])
    return _style(fig, "rollout", title)
