"""The service graph: services placed by location, coloured by utilization, outlined by error rate."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from meshsim.viz._charts import _style, empty_figure

__all__ = ["graph_positions", "service_graph"]

_X_STEP = 1.6  # between call depths inside a band
_BAND_GAP = 2.6  # between location bands
_ROW_HEIGHT = 1.0


def graph_positions(nodes: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """x, y per node id: one band per location column, layered by call depth inside each band.

    Within a band, each call depth present gets its own sub-column (left to right) and its
    services are spread vertically, alternating slightly so straight edges miss other nodes.
    """
    return _layout(nodes)[0]


def _layout(nodes: pd.DataFrame) -> tuple[dict[str, tuple[float, float]], list[tuple[str, float, float]]]:
    pos: dict[str, tuple[float, float]] = {}
    bands: list[tuple[str, float, float]] = []
    x0 = 0.0
    for col in sorted(nodes["column"].unique()):
        sub = nodes[nodes["column"] == col]
        depths = sorted(sub["depth"].unique())
        for di, depth in enumerate(depths):
            layer = sub[sub["depth"] == depth].sort_values("service", kind="stable")
            offset = (len(layer) - 1) / 2
            for row, (_, n) in enumerate(layer.iterrows()):
                stagger = _X_STEP * 0.18 * (row % 2)
                pos[n["id"]] = (x0 + di * _X_STEP + stagger, (offset - row) * _ROW_HEIGHT)
        width = (len(depths) - 1) * _X_STEP
        bands.append((str(sub["location"].iloc[0]), x0 - 0.6, x0 + width + 0.6))
        x0 += width + _BAND_GAP
    return pos, bands


def _edge_color(err: float) -> str:
    if math.isnan(err) or err < 0.001:
        return "#9aa5b1"
    if err < 0.05:
        return "#ff7f0e"
    return "#d62728"


def service_graph(nodes: pd.DataFrame, edges: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Draw services (fill = utilization, outline = error rate) and calls (width ~ attempts, colour = errors).

    ``nodes`` and ``edges`` are the two frames of :func:`meshsim.viz.frames.graph_frames`.
    """
    title = title or "Service graph (fill: utilization, red outline: error rate)"
    if nodes is None or nodes.empty:
        return empty_figure("graph", title, "no services")
    pos, bands = _layout(nodes)
    fig = go.Figure()
    max_attempts = max(1.0, float(edges["attempts"].max()) if not edges.empty else 1.0)
    mid_x, mid_y, mid_text = [], [], []
    for _, e in edges.iterrows():
        if e["from"] not in pos or e["to"] not in pos:
            continue
        (x0, y0), (x1, y1) = pos[e["from"]], pos[e["to"]]
        width = 1 + 5 * math.sqrt(max(0.0, float(e["attempts"])) / max_attempts)
        # an arrow annotation draws the call direction; standoff keeps the head outside the node
        fig.add_annotation(
            x=x1,
            y=y1,
            ax=x0,
            ay=y0,
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            showarrow=True,
            arrowhead=2,
            arrowsize=0.8,
            arrowwidth=width,
            standoff=14,
            startstandoff=14,
            arrowcolor=_edge_color(float(e["error_rate"])),
            opacity=0.8,
            text="",
        )
        mid_x.append((x0 + x1) / 2)
        mid_y.append((y0 + y1) / 2)
        err = e["error_rate"]
        mid_text.append(
            f"{e['from']} → {e['to']}<br>attempts {int(e['attempts']):,}"
            f"<br>retries {int(e['retries']):,}<br>failed {int(e['failed']):,}"
            + ("" if math.isnan(err) else f" ({err:.2%})")
        )
    fig.add_trace(
        go.Scatter(
            x=mid_x,
            y=mid_y,
            mode="markers",
            marker={"size": 6, "color": "rgba(0,0,0,0)"},
            hovertext=mid_text,
            hoverinfo="text",
            showlegend=False,
            name="calls",
        )
    )

    svc = nodes[nodes["kind"] == "service"]
    util = svc["utilization"].fillna(0.0)
    err = svc["error_rate"].fillna(0.0)
    labels = [
        f"{n}<br>{u:.0%} busy" + (f", {e:.1%} err" if e >= 0.0005 else "") for n, u, e in zip(svc["service"], util, err)
    ]
    hover = [
        f"<b>{r['service']}</b><br>{r['zones']}<br>utilization {r['utilization']:.1%}"
        f"<br>error rate {r['error_rate']:.3%}<br>attempts {r['attempts']:,.0f}"
        for _, r in svc.fillna({"utilization": 0.0, "error_rate": 0.0, "attempts": 0.0}).iterrows()
    ]
    fig.add_trace(
        go.Scatter(
            x=[pos[i][0] for i in svc["id"]],
            y=[pos[i][1] for i in svc["id"]],
            mode="markers+text",
            text=labels,
            textposition="bottom center",
            textfont={"size": 10},
            hovertext=hover,
            hoverinfo="text",
            name="services",
            showlegend=False,
            marker={
                "size": 30,
                "color": util,
                "cmin": 0.0,
                "cmax": 1.0,
                "colorscale": "RdYlGn_r",
                "colorbar": {"title": {"text": "utilization"}, "tickformat": ".0%", "len": 0.8},
                "line": {
                    "color": ["#d62728" if e >= 0.001 else "#444" for e in err],
                    "width": [2 + min(8.0, 200 * e) for e in err],
                },
            },
        )
    )
    wl = nodes[nodes["kind"] == "workload"]
    if not wl.empty:
        fig.add_trace(
            go.Scatter(
                x=[pos[i][0] for i in wl["id"]],
                y=[pos[i][1] for i in wl["id"]],
                mode="markers+text",
                text=wl["service"],
                textposition="top center",
                marker={"symbol": "diamond", "size": 18, "color": "#bbbbbb"},
                hovertext=[f"workload {n}<br>{z}" for n, z in zip(wl["service"], wl["zones"])],
                hoverinfo="text",
                name="workloads",
                showlegend=False,
            )
        )

    if len(bands) > 1:
        # one labelled band per location
        ys = [p[1] for p in pos.values()]
        for loc, left, right in bands:
            fig.add_shape(
                type="rect",
                x0=left,
                x1=right,
                y0=min(ys) - 0.8,
                y1=max(ys) + 0.6,
                fillcolor="#f2f5fa",
                line={"color": "#d0d7e2"},
                layer="below",
            )
            fig.add_annotation(
                x=(left + right) / 2, y=max(ys) + 0.9, text=f"<b>{loc}</b>", showarrow=False, yref="y", xref="x"
            )
    else:
        title += f" — {nodes['location'].iloc[0]}"
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    n_rows = int(nodes.groupby(["column", "depth"]).size().max())
    return _style(fig, "graph", title, height=max(380, 140 + 90 * n_rows))
