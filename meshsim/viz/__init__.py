"""Plotly figures of meshsim results, shared by the HTML report, the what-if UI and the notebooks.

Builders take tidy DataFrames (the ``*_frame`` functions below) and return ``go.Figure``;
they keep no state and compute nothing beyond reshaping. :func:`figures` builds the
whole set for one :class:`~meshsim.results.Results`::

    figs = meshsim.viz.figures(results)      # {"graph": Figure, "red": Figure, ...}
    figs["latency"].show()
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from meshsim.viz._charts import (
    AMPLIFICATION_ALERT,
    CAUSE_COLORS,
    add_fault_windows,
    cost_per_edge,
    empty_figure,
    errors_by_cause,
    latency_over_time,
    red_panels,
    retries_amplification,
    rollout_timeline,
    slo_headline,
)
from meshsim.viz._compare import HEADLINE_METRICS, compare_bars, compare_latency, comparison_frame
from meshsim.viz._frames import (
    causes_long,
    edge_cost_frame,
    fault_frame,
    graph_frames,
    location_frame,
    rollout_checks_frame,
    rollout_frame,
    service_frame,
    slo_frame,
    workload_frame,
)
from meshsim.viz._graph import (
    GRAPH_FOCUS_JS,
    GraphLayout,
    edge_label_lines,
    graph_layout,
    graph_positions,
    service_graph,
)
from meshsim.viz._sweep import pick_entity, sweep_figure

__all__ = [
    "AMPLIFICATION_ALERT",
    "CAUSE_COLORS",
    "GraphLayout",
    "CHARTS",
    "GRAPH_FOCUS_JS",
    "HEADLINE_METRICS",
    "add_fault_windows",
    "causes_long",
    "compare_bars",
    "compare_latency",
    "comparison_frame",
    "cost_per_edge",
    "edge_cost_frame",
    "edge_label_lines",
    "empty_figure",
    "errors_by_cause",
    "fault_frame",
    "figures",
    "graph_frames",
    "graph_layout",
    "graph_positions",
    "latency_over_time",
    "location_frame",
    "pick_entity",
    "red_panels",
    "retries_amplification",
    "rollout_checks_frame",
    "rollout_frame",
    "rollout_timeline",
    "service_frame",
    "service_graph",
    "slo_frame",
    "slo_headline",
    "sweep_figure",
    "workload_frame",
]

#: Chart ids in the order reports and the UI show them (``rollout`` only when the run had one).
#: The SLO verdicts are a table beside the headline numbers, not a chart.
CHARTS = ("graph", "red", "latency", "errors", "retries", "rollout", "cost")


def figures(results: Any, data: dict[str, Any] | None = None, *, focus: str | None = None) -> dict[str, go.Figure]:
    """Every chart of one run, keyed by the ids in :data:`CHARTS`.

    ``data`` is ``results.to_dict()`` when the caller already has it (saves recomputing it);
    ``focus`` is a service (node id) the graph highlights and the RED panels show first.
    """
    data = data if data is not None else results.to_dict()
    scenario = results.scenario
    ts = results.timeseries()
    slos = slo_frame(data, scenario)
    faults = fault_frame(scenario)
    nodes, edges = graph_frames(scenario, data)
    entities = None
    if focus is not None and focus in set(nodes["id"]):
        kind, _, name = focus.rpartition(":")
        entities = [("workload" if kind else "service", name)]
    out = {
        "graph": service_graph(nodes, edges, location_frame(scenario), focus=focus),
        "red": red_panels(ts, entities, faults),
        "latency": latency_over_time(ts, slos, faults),
        "errors": errors_by_cause(ts, faults),
        "retries": retries_amplification(service_frame(data)),
    }
    if data.get("rollout") or getattr(scenario, "rollout", None) is not None:
        rollout = data.get("rollout")
        out["rollout"] = rollout_timeline(
            rollout_frame(rollout, results.events()), rollout, rollout_checks_frame(rollout)
        )
    out["cost"] = cost_per_edge(results.edges())
    return out
