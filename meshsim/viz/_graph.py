"""The service graph, drawn the way Kiali draws one.

Callers left of callees (layered by call depth); each service a circle filled by its
utilization and outlined red by its error rate; under it one small square per location
where its replicas run (colour = location, in the legend; the number = replicas there).
Each call is an arrow whose width follows its traffic, labelled with requests per second,
the callee's p99 and the error rate. Labels sit on white so arrows never run through the
text, and a greedy pass slides each edge label along its arrow until it overlaps no node
and no other label. ``focus`` fades everything that does not touch one service
(click-to-focus in the UI and the HTML report).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from meshsim.viz._charts import _style, empty_figure

__all__ = ["GRAPH_FOCUS_JS", "GraphLayout", "edge_label_lines", "graph_layout", "graph_positions", "service_graph"]

_X_STEP = 1.0  # data units between call depths
_ROW = 1.0  # data units between services of one depth
_PX_PER_X = 180.0  # the layout assumes about this many pixels per depth (5 depths fit 1,000 px) ...
_PX_PER_ROW = 110.0  # ... and per row, and sizes the figure to match
_FONT_PX = 10
_CHAR_PX = 6.2  # average glyph width of a 10 px sans-serif font
_NODE_PX = 30
_FADED = 0.15
_PAD_X, _PAD_Y = 0.45, 0.75  # data units around the outermost nodes
_MARGIN = {"l": 20, "r": 130, "t": 60, "b": 70}  # px; the colour bar sits in the right margin
_MIN_PLOT_PX = (560, 260)  # a small graph still has room for its title, legend and colour bar


@dataclass(frozen=True)
class Box:
    """A label or node rectangle in data units (centre and half sizes)."""

    x: float
    y: float
    half_w: float
    half_h: float

    def overlaps(self, other: Box) -> bool:
        return abs(self.x - other.x) < self.half_w + other.half_w and abs(self.y - other.y) < self.half_h + other.half_h


@dataclass(frozen=True)
class GraphLayout:
    """Where everything goes (data units): node centres, label boxes, the axes' ranges; figure size (px)."""

    nodes: dict[str, tuple[float, float]]
    node_labels: dict[str, Box]
    edge_labels: dict[tuple[str, str], Box]
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    width_px: int
    height_px: int


# where along an arrow (0 = caller, 1 = callee) a label may sit, and how far off the line
# (in label heights): the middle first, then further out, then beside the arrow
_CANDIDATES = [
    (t, shift)
    for shift in (0.0, 0.6, -0.6, 1.2, -1.2)
    for t in sorted((0.1 + 0.04 * i for i in range(21)), key=lambda t: abs(t - 0.5))
]


def _text_box(x: float, y: float, lines: list[str]) -> Box:
    width_px = max(len(line) for line in lines) * _CHAR_PX + 8
    height_px = len(lines) * (_FONT_PX + 3) + 4
    return Box(x, y, width_px / 2 / _PX_PER_X, height_px / 2 / _PX_PER_ROW)


def _order_layers(nodes: pd.DataFrame, edges: pd.DataFrame) -> dict[int, list[str]]:
    """Ids per depth, ordered to keep arrows short (two barycentre sweeps, Sugiyama style)."""
    layers: dict[int, list[str]] = {}
    for _, n in nodes.sort_values(["depth", "kind", "service"], kind="stable").iterrows():
        layers.setdefault(int(n["depth"]), []).append(str(n["id"]))
    parents: dict[str, list[str]] = {}
    kids: dict[str, list[str]] = {}
    for _, e in edges.iterrows():
        parents.setdefault(str(e["to"]), []).append(str(e["from"]))
        kids.setdefault(str(e["from"]), []).append(str(e["to"]))
    depths = sorted(layers)
    for _ in range(2):
        for neighbours, order in ((parents, depths[1:]), (kids, depths[-2::-1])):
            for d in order:
                # centred rank of every node: the mean over a node's neighbours is its barycentre
                centred = {i: r - (len(layer) - 1) / 2 for layer in layers.values() for r, i in enumerate(layer)}
                layers[d] = sorted(
                    layers[d], key=functools.partial(_barycentre, neighbours=neighbours, centred=centred)
                )
    return layers


def _barycentre(node: str, neighbours: Mapping[str, list[str]], centred: Mapping[str, float]) -> float:
    ys = [centred[p] for p in neighbours.get(node, []) if p in centred]
    return sum(ys) / len(ys) if ys else 0.0


def _node_label_lines(n: Any) -> list[str]:
    """Name and either utilization (a service) or request rate (a workload); ``n`` is a node row."""
    if n["kind"] == "workload":
        return [f"{n['service']}", _rate_text(n["attempts_rps"])]
    util = "" if math.isnan(n["utilization"]) else f"{n['utilization']:.0%} busy"
    return [str(n["service"]), util or " "]


def _rate_text(rps: float) -> str:
    if math.isnan(rps):
        return "-"
    return f"{rps:,.0f}/s" if rps >= 10 else f"{rps:,.2g}/s"


def _pct_text(ratio: float) -> str:
    if math.isnan(ratio):
        return "-"
    return f"{ratio * 100:.1f}%" if ratio >= 0.001 or ratio == 0 else f"{ratio * 100:.2f}%"


def _ms_text(ms: float) -> str:
    if math.isnan(ms):
        return "-"
    return f"{ms:,.0f} ms" if ms >= 10 else f"{ms:.1f} ms"


def edge_label_lines(e: pd.Series) -> list[str]:
    """The two lines on an arrow: ``"300/s · 0.1% err"`` and ``"p99 12 ms"``."""
    if not e["attempts"]:
        return ["no traffic"]
    return [
        f"{_rate_text(e['attempts_rps'])} · {_pct_text(e['error_rate'])} err",
        f"p99 {_ms_text(e['latency_p99_ms'])}",
    ]


def graph_layout(nodes: pd.DataFrame, edges: pd.DataFrame) -> GraphLayout:
    """Place nodes by call depth and every label where it overlaps nothing else.

    Edge labels try points along their arrow (middle first, then beside it) and keep the
    first whose box overlaps no node, node label or earlier edge label. When some label
    finds no free place, the rows are spread further apart and the labels placed again.
    """
    layers = _order_layers(nodes, edges)
    lay, crowded = _place(nodes, edges, layers, 1.0)
    for spread in (1.3, 1.6, 2.0):
        if not crowded:
            break
        lay, crowded = _place(nodes, edges, layers, spread)
    return lay


def _place(
    nodes: pd.DataFrame, edges: pd.DataFrame, layers: dict[int, list[str]], spread: float
) -> tuple[GraphLayout, int]:
    """A layout with rows ``spread`` x apart, and how many labels overlap something."""
    pos: dict[str, tuple[float, float]] = {}
    for d, ids in layers.items():
        offset = (len(ids) - 1) / 2
        for r, i in enumerate(ids):
            pos[i] = (d * _X_STEP, (offset - r) * _ROW * spread)
    by_id = nodes.set_index("id")
    node_box = Box(0, 0, (_NODE_PX / 2 + 2) / _PX_PER_X, (_NODE_PX / 2 + 16) / _PX_PER_ROW)  # circle and squares
    taken: list[Box] = []
    node_labels: dict[str, Box] = {}
    for i, (x, y) in pos.items():
        taken.append(Box(x, y - 8 / _PX_PER_ROW, node_box.half_w, node_box.half_h))
        lines = _node_label_lines(by_id.loc[i])
        box = _text_box(x, 0.0, lines)
        box = Box(x, y + (_NODE_PX / 2 + 2) / _PX_PER_ROW + box.half_h, box.half_w, box.half_h)
        node_labels[i] = box
        taken.append(box)
    edge_labels: dict[tuple[str, str], Box] = {}
    crowded = 0
    ordered = edges.sort_values("attempts", ascending=False, kind="stable")  # busiest arrows choose first
    for _, e in ordered.iterrows():
        a, b = str(e["from"]), str(e["to"])
        if a not in pos or b not in pos:
            continue
        (x0, y0), (x1, y1) = pos[a], pos[b]
        lines = edge_label_lines(e)
        best: tuple[int, Box] | None = None
        for t, shift in _CANDIDATES:
            box = _text_box(x0 + t * (x1 - x0), y0 + t * (y1 - y0), lines)
            box = Box(box.x, box.y + shift * 2 * box.half_h, box.half_w, box.half_h)
            hits = sum(box.overlaps(o) for o in taken)
            if best is None or hits < best[0]:
                best = (hits, box)
            if hits == 0:
                break
        assert best is not None
        crowded += best[0] > 0
        edge_labels[(a, b)] = best[1]
        taken.append(best[1])
    # axes ranges that keep _PX_PER_X / _PX_PER_ROW, with room for a small graph's title and colour bar
    xs, ys = [p[0] for p in pos.values()], [p[1] for p in pos.values()]
    span_x, span_y = max(xs) - min(xs), max(ys) - min(ys)
    pad_x = max(_PAD_X, (_MIN_PLOT_PX[0] / _PX_PER_X - span_x) / 2)
    pad_y = max(_PAD_Y, (_MIN_PLOT_PX[1] / _PX_PER_ROW - span_y) / 2)
    x_range = (min(xs) - pad_x, max(xs) + pad_x)
    y_range = (min(ys) - pad_y, max(ys) + pad_y)
    width = int(_PX_PER_X * (span_x + 2 * pad_x) + _MARGIN["l"] + _MARGIN["r"])
    height = int(_PX_PER_ROW * (span_y + 2 * pad_y) + _MARGIN["t"] + _MARGIN["b"])
    return GraphLayout(pos, node_labels, edge_labels, x_range, y_range, width, height), crowded


def graph_positions(nodes: pd.DataFrame, edges: pd.DataFrame | None = None) -> dict[str, tuple[float, float]]:
    """x, y of every node id: x by call depth (callers left), y ordered to keep arrows short."""
    return graph_layout(nodes, edges if edges is not None else pd.DataFrame(columns=["from", "to", "attempts"])).nodes


def _trim(a: tuple[float, float], b: tuple[float, float]) -> tuple[tuple[float, float], tuple[float, float]]:
    """The segment from node ``a`` to node ``b`` cut back so it starts and ends at their rims."""
    dx, dy = (b[0] - a[0]) * _PX_PER_X, (b[1] - a[1]) * _PX_PER_ROW
    length = math.hypot(dx, dy)
    if length <= _NODE_PX:
        return a, b
    cut0, cut1 = (_NODE_PX / 2 + 2) / length, (_NODE_PX / 2 + 5) / length
    return (
        (a[0] + cut0 * (b[0] - a[0]), a[1] + cut0 * (b[1] - a[1])),
        (b[0] - cut1 * (b[0] - a[0]), b[1] - cut1 * (b[1] - a[1])),
    )


def _edge_color(err: float) -> str:
    if math.isnan(err) or err < 0.001:
        return "#7b8794"
    if err < 0.05:
        return "#ff7f0e"
    return "#d62728"


def _neighbours(edges: pd.DataFrame, focus: str) -> set[str]:
    out = {focus}
    for a, b in zip(edges["from"], edges["to"]):
        if a == focus:
            out.add(str(b))
        if b == focus:
            out.add(str(a))
    return out


_NO_LOCATION = "local/local/local"  # where replicas run when a scenario declares no locations
# no red, orange or grey: those mean errors and idle arrows here
_LOCATION_PALETTE = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#e377c2", "#bcbd22", "#393b79")


def _location_colors(locations: Iterable[str]) -> dict[str, str]:
    return {loc: _LOCATION_PALETTE[i % len(_LOCATION_PALETTE)] for i, loc in enumerate(sorted(set(locations)))}


def service_graph(
    nodes: pd.DataFrame,
    edges: pd.DataFrame,
    locations: pd.DataFrame | None = None,
    *,
    focus: str | None = None,
    title: str | None = None,
) -> go.Figure:
    """Draw the graph of :func:`meshsim.viz.graph_frames` (and :func:`location_frame`).

    Node fill = utilization, red outline = error rate, squares = replicas per location;
    arrow width ~ traffic, colour = error rate, label = rate, error rate, callee p99.
    ``focus`` (a node id) fades what does not touch that node. Node points carry their id
    in ``customdata`` so a click can pick the focus.
    """
    title = title or "Service graph (fill: utilization; red outline: errors)"
    if nodes is None or nodes.empty:
        return empty_figure("graph", title, "no services")
    lay = graph_layout(nodes, edges)
    pos = lay.nodes
    keep = _neighbours(edges, focus) if focus in pos else set(pos)
    if focus in pos:
        title = f"{title} (focus: {focus}; click it again to clear)"
    fig = go.Figure()
    max_rps = max(1e-9, float(edges["attempts_rps"].max()) if not edges.empty else 1.0)
    hover_x, hover_y, hover_text = [], [], []
    label_annotations = []
    edge_pairs: list[tuple[str, str]] = []
    for _, e in edges.iterrows():
        a, b = str(e["from"]), str(e["to"])
        if a not in pos or b not in pos:
            continue
        on = a in keep and b in keep and (focus not in pos or focus in (a, b))
        rps = 0.0 if math.isnan(e["attempts_rps"]) else float(e["attempts_rps"])
        (x0, y0), (x1, y1) = _trim(pos[a], pos[b])
        color = _edge_color(float(e["error_rate"]))
        width = 1 + 5 * math.sqrt(rps / max_rps)
        # a line trace (drawn under the nodes) ending in an arrow marker that points along it
        fig.add_trace(
            go.Scatter(
                x=[x0, x1],
                y=[y0, y1],
                mode="lines+markers",
                line={"color": color, "width": width},
                marker={"symbol": ["circle", "arrow"], "size": [0, 8 + 1.5 * width], "angleref": "previous"},
                opacity=0.85 if on else _FADED,
                hoverinfo="skip",
                showlegend=False,
                name=f"{a} → {b}",
            )
        )
        box = lay.edge_labels[(a, b)]
        edge_pairs.append((a, b))
        label_annotations.append(
            {
                "x": box.x,
                "y": box.y,
                "text": "<br>".join(edge_label_lines(e)),
                "showarrow": False,
                "font": {"size": _FONT_PX - 1, "color": "#333"},
                "bgcolor": "rgba(255,255,255,0.92)",
                "borderpad": 1,
                "opacity": 1.0 if on else _FADED,
            }
        )
        err = e["error_rate"]
        hover_x.append(box.x)
        hover_y.append(box.y)
        hover_text.append(
            f"<b>{a} → {b}</b><br>{_rate_text(e['attempts_rps'])} attempts ({int(e['attempts']):,} in all)"
            f"<br>retries {int(e['retries']):,}<br>failed {int(e['failed']):,}"
            + ("" if math.isnan(err) else f" ({_pct_text(err)})")
            + f"<br>p99 at {b}: {_ms_text(e['latency_p99_ms'])} (its replicas' time to answer, all callers)"
        )
    fig.add_trace(
        go.Scatter(
            x=hover_x,
            y=hover_y,
            mode="markers",
            marker={"size": 18, "color": "rgba(0,0,0,0)"},
            hovertext=hover_text,
            hoverinfo="text",
            showlegend=False,
            name="calls",
        )
    )

    svc = nodes[nodes["kind"] == "service"].fillna({"utilization": 0.0, "error_rate": 0.0})
    opac = [1.0 if i in keep else _FADED for i in svc["id"]]
    fig.add_trace(
        go.Scatter(
            x=[pos[i][0] for i in svc["id"]],
            y=[pos[i][1] for i in svc["id"]],
            mode="markers",
            customdata=list(svc["id"]),
            hovertext=[
                f"<b>{r['service']}</b><br>replicas: {r['zones']}<br>utilization {r['utilization']:.1%}"
                f"<br>{_rate_text(r['attempts_rps'])} attempts, error rate {_pct_text(r['error_rate'])}"
                f"<br>p99 {_ms_text(r['latency_p99_ms'])}<br><i>click to focus</i>"
                for _, r in svc.iterrows()
            ],
            hoverinfo="text",
            name="services",
            showlegend=False,
            marker={
                "size": _NODE_PX,
                "color": list(svc["utilization"]),
                "cmin": 0.0,
                "cmax": 1.0,
                "colorscale": "RdYlGn_r",
                "opacity": opac,
                "colorbar": {"title": {"text": "utilization"}, "tickformat": ".0%", "len": 0.6, "y": 0.65, "x": 1.02},
                "line": {
                    "color": ["#d62728" if e >= 0.001 else "#444" for e in svc["error_rate"]],
                    "width": [2 + min(6.0, 150 * e) for e in svc["error_rate"]],
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
                mode="markers",
                customdata=list(wl["id"]),
                marker={
                    "symbol": "diamond",
                    "size": 22,
                    "color": "#9aa5b1",
                    "opacity": [1.0 if i in keep else _FADED for i in wl["id"]],
                },
                hovertext=[
                    f"<b>workload {r['service']}</b><br>{r['zones']}<br>{_rate_text(r['attempts_rps'])} requests"
                    f"<br>error rate {_pct_text(r['error_rate'])}<br>p99 end to end {_ms_text(r['latency_p99_ms'])}"
                    for _, r in wl.iterrows()
                ],
                hoverinfo="text",
                name="workloads (clients)",
                showlegend=True,
            )
        )
    if locations is not None and not locations.empty:
        colors = _location_colors(locations["location"])
        sq_px = 13.0
        for loc in sorted(colors):
            sub = locations[(locations["location"] == loc) & locations["service"].isin(list(pos))]
            xs, ys, text, hover, op, ids = [], [], [], [], [], []
            for _, r in sub.iterrows():
                places = list(locations[locations["service"] == r["service"]]["location"])
                k, n = places.index(loc), len(places)
                x, y = pos[str(r["service"])]
                xs.append(x + (k - (n - 1) / 2) * (sq_px + 2) / _PX_PER_X)
                ys.append(y - (_NODE_PX / 2 + 9) / _PX_PER_ROW)
                text.append(str(int(r["replicas"])))
                hover.append(f"{r['service']}: {int(r['replicas'])} replica(s) in {loc}")
                op.append(1.0 if r["service"] in keep else _FADED)
                ids.append(str(r["service"]))
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    customdata=ids,
                    mode="markers+text",
                    text=text,
                    textposition="middle center",
                    textfont={"size": 8, "color": "white"},
                    marker={"symbol": "square", "size": sq_px, "color": colors[loc], "opacity": op},
                    hovertext=hover,
                    hoverinfo="text",
                    name="replicas (no locations in the file)" if loc == _NO_LOCATION else f"replicas in {loc}",
                    showlegend=True,
                )
            )
    by_id = nodes.set_index("id")
    owners: list[list[str]] = [[i] for i in lay.node_labels] + [list(pair) for pair in edge_pairs]
    for i, box in lay.node_labels.items():
        lines = _node_label_lines(by_id.loc[i])
        fig.add_annotation(
            x=box.x,
            y=box.y,
            text=f"<b>{lines[0]}</b><br>{lines[1]}",
            showarrow=False,
            font={"size": _FONT_PX, "color": "#222"},
            bgcolor="rgba(255,255,255,0.92)",
            borderpad=1,
            opacity=1.0 if i in keep else _FADED,
        )
    for ann in label_annotations:
        fig.add_annotation(**ann)
    fig.update_xaxes(visible=False, range=list(lay.x_range), fixedrange=True)
    fig.update_yaxes(visible=False, range=list(lay.y_range), fixedrange=True)
    _style(fig, "graph", title, height=lay.height_px)
    fig.update_layout(
        width=lay.width_px,
        margin=_MARGIN,
        legend={"orientation": "h", "y": -0.02, "yanchor": "top"},
        clickmode="event+select",
        dragmode=False,
        # what GRAPH_FOCUS_JS needs to fade and restore the same things in a browser
        meta={
            "chart": "graph",
            "focus": focus if focus in pos else None,
            "edges": [[str(a), str(b)] for a, b in zip(edges["from"], edges["to"])],
            "annotation_owners": owners,
            "faded": _FADED,
        },
    )
    return fig


#: Click-to-focus for a graph in a plain HTML page (plotly's ``post_script``; ``{plot_id}`` is
#: the div). It fades what :func:`service_graph` fades for ``focus``; a second click clears.
GRAPH_FOCUS_JS = """
(function () {
  var gd = document.getElementById('{plot_id}');
  if (!gd || !gd.on) { return; }
  var focus = null;
  gd.on('plotly_click', function (ev) {
    var id = ev.points.length ? ev.points[0].customdata : null;
    if (typeof id !== 'string') { return; }
    var meta = gd.layout.meta, faded = meta.faded;
    focus = focus === id ? null : id;
    var keep = {};
    if (focus) {
      keep[focus] = 1;
      meta.edges.forEach(function (e) {
        if (e[0] === focus) { keep[e[1]] = 1; }
        if (e[1] === focus) { keep[e[0]] = 1; }
      });
    }
    function on(n) { return !focus || keep[n] === 1; }
    function edgeOn(a, b) { return !focus || a === focus || b === focus; }
    gd.data.forEach(function (t, i) {
      if (t.name && t.name.indexOf(' \u2192 ') > 0) {
        var ab = t.name.split(' \u2192 ');
        Plotly.restyle(gd, {opacity: edgeOn(ab[0], ab[1]) ? 0.85 : faded}, [i]);
      } else if (Array.isArray(t.customdata)) {
        var ops = t.customdata.map(function (c) { return on(c) ? 1 : faded; });
        Plotly.restyle(gd, {'marker.opacity': [ops]}, [i]);
      }
    });
    var upd = {};
    meta.annotation_owners.forEach(function (o, i) {
      var lit = o.length === 1 ? on(o[0]) : edgeOn(o[0], o[1]);
      upd['annotations[' + i + '].opacity'] = lit ? 1 : faded;
    });
    Plotly.relayout(gd, upd);
  });
})();
"""
