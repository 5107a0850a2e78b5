"""meshsim.viz: figures draw the numbers the results hold, keyed by chart id, with no hidden state."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import meshsim
from meshsim import viz
from meshsim.metrics import CAUSES

# Two clouds (so the graph has two bands and traffic has a cost), a flaky service behind
# retries (so there are failures, retries and amplification), one SLO met and one missed.
SCENARIO = {
    "name": "viz-fixture",
    "seed": 3,
    "duration": "6s",
    "warmup": "1s",
    "locations": {"aws": {"us-east-1": ["a"]}, "gcp": {"us-central1": ["a"]}},
    "network": {
        "cross_cloud": "10ms",
        "links": [{"between": ["aws/us-east-1", "gcp/us-central1"], "egress_cost_per_gb": 0.09}],
    },
    "services": {
        "web": {
            "placement": {"aws/us-east-1/a": 2},
            "concurrency": 16,
            "service_time": "2ms",
            "calls": ["api", {"to": "cache", "probability": 0.0}],
            "response_size": "10KB",
        },
        "api": {
            "placement": {"gcp/us-central1/a": 2},
            "concurrency": 8,
            "error_rate": 0.3,
            "service_time": {"dist": "exponential", "mean": "3ms"},
            "calls": ["db"],
        },
        "db": {"placement": {"gcp/us-central1/a": 1}, "concurrency": 4, "service_time": "1ms"},
        "cache": {"placement": {"aws/us-east-1/a": 1}, "concurrency": 4, "service_time": "1ms"},
    },
    "policies": {"api": {"retries": {"attempts": 2, "retry_on": ["5xx"]}}},
    "workload": [
        {"name": "browse", "entry": "web", "origin": "aws/us-east-1", "rate": "100/s"},
        {"name": "batch", "entry": "api", "origin": "gcp/us-central1", "rate": "20/s"},
    ],
    "slos": [
        {"name": "browse-p99", "workload": "browse", "metric": "latency_p99", "max": "1s"},
        {"name": "api-errors", "service": "api", "metric": "error_rate", "max": "0.1%"},
    ],
}


@pytest.fixture(scope="module")
def results() -> meshsim.Results:
    return meshsim.simulate(SCENARIO, replications=2, executor="serial")


@pytest.fixture(scope="module")
def data(results: meshsim.Results) -> dict:
    return results.to_dict()


@pytest.fixture(scope="module")
def figs(results: meshsim.Results, data: dict) -> dict:
    return viz.figures(results, data)


def _trace(fig, name):
    hits = [t for t in fig.data if t.name == name]
    assert hits, f"no trace {name!r} in {[t.name for t in fig.data]}"
    return hits[0]


def test_figures_has_every_chart_keyed_by_its_id(figs):
    assert list(figs) == [c for c in viz.CHARTS if c != "rollout"]  # no rollout in this scenario
    assert "slo" not in figs  # SLO verdicts are a table next to the numbers, drawn once
    for chart, fig in figs.items():
        assert fig.layout.meta["chart"] == chart
        assert fig.layout.title.text


def test_latency_chart_draws_the_timeseries_p50_and_p99(results, figs):
    ts = results.timeseries()
    for name in ("browse", "batch"):
        rows = ts[(ts["scope"] == "workload") & (ts["name"] == name)]
        np.testing.assert_allclose(_trace(figs["latency"], f"{name} p99").y, rows["latency_p99_ms"])
        np.testing.assert_allclose(_trace(figs["latency"], f"{name} p50").y, rows["latency_p50_ms"])
        np.testing.assert_allclose(_trace(figs["latency"], f"{name} p99").x, rows["t_s"])
    # the latency SLO is drawn at its limit, in ms
    shapes = [s for s in figs["latency"].layout.shapes if s.y0 == s.y1]
    assert any(math.isclose(s.y0, 1000.0) for s in shapes)


def test_errors_chart_stacks_every_failed_request_by_cause(results, figs):
    ts = results.timeseries()
    wl = ts[ts["scope"] == "workload"]
    expected = sum(wl[f"failed_{c}"].sum() for c in CAUSES)
    assert expected > 0, "the fixture must produce failures"
    drawn = sum(float(np.sum(t.y)) for t in figs["errors"].data)
    assert drawn == pytest.approx(expected)
    assert {t.name for t in figs["errors"].data} <= set(CAUSES)
    assert figs["errors"].layout.barmode == "stack"


def test_retries_chart_matches_the_service_table(data, figs):
    fig = figs["retries"]
    retries = dict(zip(fig.data[0].x, fig.data[0].y))
    amplification = {x: y for t in fig.data[1:] for x, y in zip(t.x, t.y)}
    for name, s in data["services"].items():
        assert retries[name] == s["retries"]
        if s["amplification"] is not None:
            assert amplification[name] == pytest.approx(s["amplification"])
    assert amplification["api"] > 1.1  # retries on a flaky service add load
    # red bars mean something, and the legend says what
    red = next(t for t in fig.data if t.marker.color == "#d62728")
    assert "retry storm" in red.name and all(amplification[x] > viz.AMPLIFICATION_ALERT for x in red.x)


def test_every_chart_with_traces_shows_its_legend(figs):
    for chart in ("latency", "errors", "retries", "red", "graph"):
        assert figs[chart].layout.showlegend is True, chart
    # one failure cause is still named in the legend
    one_cause = viz.errors_by_cause(
        pd.DataFrame({"scope": ["workload"] * 2, "name": ["w", "w"], "t_s": [0.0, 1.0], "failed_timeout": [1.0, 2.0]})
    )
    assert [t.name for t in one_cause.data] == ["timeout"] and one_cause.layout.showlegend is True


def test_red_panels_draw_rate_errors_and_duration_per_entity(results, figs):
    ts = results.timeseries()
    fig = figs["red"]
    titles = [a.text for a in fig.layout.annotations]
    for name in ("browse", "batch", "web", "api", "db"):
        assert any(t.startswith(f"<b>{name}</b>") and "rate (requests/s)" in t for t in titles), name
    api = ts[(ts["scope"] == "service") & (ts["name"] == "api")]
    hover = [t for t in fig.data if t.hovertemplate and t.hovertemplate.startswith("api ")]
    rate, errors, p99 = (next(t for t in hover if f"api {k}:" in t.hovertemplate) for k in ("rate", "errors", "p99"))
    np.testing.assert_allclose(rate.y, api["throughput_rps"])
    np.testing.assert_allclose(errors.y, api["error_rate"] * 100)  # percent
    np.testing.assert_allclose(p99.y, api["latency_p99_ms"])
    assert {t.name for t in fig.data if t.showlegend} == {"rate", "errors", "p99", "p50"}
    # the focused view has one service only
    focused = viz.figures(results, focus="db")["red"]
    assert [a.text for a in focused.layout.annotations][0].startswith("<b>db</b>")


def test_service_graph_draws_every_replica_location_and_colours_by_utilization(results, data, figs):
    nodes, edges = viz.graph_frames(results.scenario, data)
    pos = viz.graph_positions(nodes, edges)
    # callers left of callees
    assert pos["workload:browse"][0] < pos["web"][0] < pos["api"][0] < pos["db"][0]
    fig = figs["graph"]
    services = _trace(fig, "services")
    util = dict(zip(services.customdata, services.marker.color))
    for name, s in data["services"].items():
        assert util[name] == pytest.approx(s["utilization"] or 0.0)
    outline = dict(zip(services.customdata, services.marker.line.color))
    assert outline["api"] == "#d62728" and outline["db"] != "#d62728"  # red outline where attempts fail
    # one square per (service, location), in a legend entry per location
    squares = {t.name: t for t in fig.data if str(t.name).startswith("replicas in ")}
    assert set(squares) == {"replicas in aws/us-east-1/a", "replicas in gcp/us-central1/a"}
    assert list(squares["replicas in gcp/us-central1/a"].customdata) == ["api", "db"]
    assert list(squares["replicas in gcp/us-central1/a"].text) == ["2", "1"]


def test_a_service_in_two_zones_gets_a_square_in_each():
    sc = meshsim.load_scenario(
        {
            "name": "spread",
            "locations": {"aws": {"us-east-1": ["a", "b"]}},
            "services": {
                "web": {"placement": {"aws/us-east-1/a": 2, "aws/us-east-1/b": 3}, "service_time": "1ms"},
                "db": {
                    "service_time": "1ms",
                    "versions": {
                        "v1": {"placement": {"aws/us-east-1/a": 1}},
                        "v2": {"placement": {"aws/us-east-1/b": 1}},
                    },
                },
            },
            "workload": [{"name": "w", "entry": "web", "rate": "10/s"}],
        }
    )
    loc = viz.location_frame(sc)
    assert sorted(map(tuple, loc.to_numpy().tolist())) == [
        ("db", "aws/us-east-1/a", 1),
        ("db", "aws/us-east-1/b", 1),
        ("web", "aws/us-east-1/a", 2),
        ("web", "aws/us-east-1/b", 3),
    ]


def test_edge_labels_carry_rate_p99_and_error_rate(results, data, figs):
    nodes, edges = viz.graph_frames(results.scenario, data)
    e = edges[(edges["from"] == "web") & (edges["to"] == "api")].iloc[0]
    api = data["services"]["api"]
    assert e["attempts_rps"] == pytest.approx(e["attempts"] / (2 * 6.0))  # 2 replications of 6 s
    assert e["latency_p99_ms"] == pytest.approx(api["latency_ms"]["p99"])
    texts = [a.text for a in figs["graph"].layout.annotations]
    label = "<br>".join(viz.edge_label_lines(e))
    assert label in texts and "/s" in label and "err" in label and "p99" in label and "ms" in label


def _all_boxes(lay):
    return [("node", k, b) for k, b in lay.node_labels.items()] + [("edge", k, b) for k, b in lay.edge_labels.items()]


@pytest.mark.parametrize(
    "model", ["online-boutique.yaml", "multicloud-retail.yaml", "bookinfo/scenario.yaml", "retry-storm.yaml"]
)
def test_graph_labels_do_not_overlap_each_other(model):
    """Every node and edge label box is clear of every other one (a full layout, no simulation needed)."""
    from pathlib import Path

    sc = meshsim.load_scenario(Path(__file__).resolve().parents[2] / "models" / model)
    # traffic on every written call, so every arrow has a full two-line label
    data = {
        "replications": 1,
        "services": {
            n: {"attempts": 1000, "utilization": 0.5, "failed": {}, "latency_ms": {"p99": 12.5}} for n in sc.services
        },
        "workloads": {w.name: {"requests": 1000, "error_rate": 0.0, "latency_ms": {"p99": 40.0}} for w in sc.workload},
        "edges": [
            {"from": a, "to": c.to, "attempts": 1000, "retries": 0, "failed": {"error": 3}}
            for a in sc.services
            for _, c in sc.written_calls(a)
        ],
    }
    nodes, edges = viz.graph_frames(sc, data)
    lay = viz.graph_layout(nodes, edges)
    boxes = _all_boxes(lay)
    clashes = [(a[:2], b[:2]) for i, a in enumerate(boxes) for b in boxes[i + 1 :] if a[2].overlaps(b[2])]
    assert clashes == []
    # and the figure is drawn at the size the layout assumed, so pixels match the boxes
    fig = viz.service_graph(nodes, edges)
    assert (fig.layout.width, fig.layout.height) == (lay.width_px, lay.height_px)


def test_graph_focus_fades_what_does_not_touch_the_service(results, data):
    nodes, edges = viz.graph_frames(results.scenario, data)
    fig = viz.service_graph(nodes, edges, viz.location_frame(results.scenario), focus="db")
    services = _trace(fig, "services")
    opacity = dict(zip(services.customdata, services.marker.opacity))
    assert opacity["db"] == 1.0 and opacity["api"] == 1.0  # db and its caller
    assert opacity["web"] < 0.5 and opacity["cache"] < 0.5
    assert fig.layout.meta["focus"] == "db" and "focus: db" in fig.layout.title.text
    arrows = {t.name: t.opacity for t in fig.data if " → " in str(t.name)}
    assert arrows["api → db"] > 0.5 and arrows["web → api"] < 0.5
    # the HTML report's script fades the same things: it reads who owns each label from the meta
    owners = fig.layout.meta["annotation_owners"]
    assert len(owners) == len(fig.layout.annotations)
    for owner, ann in zip(owners, fig.layout.annotations):
        lit = owner[0] in {"db", "api"} if len(owner) == 1 else "db" in owner
        assert (ann.opacity == 1.0) == lit, (owner, ann.opacity)


def test_graph_keeps_calls_that_carried_no_traffic(results, data):
    _, edges = viz.graph_frames(results.scenario, data)
    pairs = set(zip(edges["from"], edges["to"]))
    assert ("web", "cache") in pairs  # probability 0: never called, still part of the mesh
    assert ("workload:browse", "web") in pairs
    assert len(pairs) == len(edges), "an edge is drawn once"


def test_cost_chart_adds_up_to_the_edges_egress(results, figs):
    edges = results.edges()
    crossing = edges[(edges[["bytes_cross_zone", "bytes_cross_region", "bytes_cross_cloud"]].sum(axis=1)) > 0]
    bars = figs["cost"].data[0]
    assert float(np.sum(bars.x)) == pytest.approx(float(crossing["egress_usd"].sum()))
    assert float(crossing["egress_usd"].sum()) > 0
    assert "web → api" in list(bars.y)


def test_slo_table_shows_each_verdict_in_the_units_people_read(results, data):
    slos = viz.slo_frame(data, results.scenario)
    verdicts = {v["name"]: v["met"] for v in data["slos"]}
    assert verdicts == {"browse-p99": True, "api-errors": False}
    row = slos.set_index("name").loc["browse-p99"]
    assert row["value_text"].endswith(" ms") and row["limit_text"] == "1000.0 ms"
    low, high = row["ci_text"].strip("[]").split(", ")
    assert low.endswith(" ms") and high.endswith(" ms")  # the interval in ms too, not seconds
    assert float(low.removesuffix(" ms")) == pytest.approx(row["ci_low"] * 1e3, rel=1e-3)
    cells = viz.slo_headline(slos).data[0].cells.values
    for name, st in zip(cells[0], cells[6]):
        assert (st == "met") == verdicts[name]
    assert list(cells[5]) == list(slos["ci_text"])


def test_rollout_frame_reads_the_weight_timeline_or_the_events():
    rollout = {
        "outcome": "rolled_back",
        "at_s": 30.0,
        "failed_requests": 12,
        "weights": [{"t_s": 0.0, "weight": 0.0}, {"t_s": 10.0, "weight": 10.0}, {"t_s": 30.0, "weight": 0.0}],
        "checks": [{"t_s": 20.0, "weight": 10.0, "passed": False, "success_rate": 0.8, "latency_p99_ms": 5.0}],
    }
    w = viz.rollout_frame(rollout)
    assert list(w["weight"]) == [0.0, 10.0, 0.0] and list(w["t_s"]) == [0.0, 10.0, 30.0]
    events = pd.DataFrame(
        [
            {"t_s": 5.0, "kind": "rollout_weight", "weight": 25.0, "replication": 0},
            {"t_s": 9.0, "kind": "ejection", "weight": math.nan, "replication": 0},
            {"t_s": 5.0, "kind": "rollout_weight", "weight": 25.0, "replication": 1},
        ]
    )
    from_events = viz.rollout_frame({"outcome": "promoted"}, events)
    assert list(from_events["weight"]) == [25.0]  # one replication's timeline, no other events
    fig = viz.rollout_timeline(w, rollout, viz.rollout_checks_frame(rollout))
    assert fig.layout.meta["chart"] == "rollout"
    assert "rolled_back" in fig.layout.title.text and "12 failed" in fig.layout.title.text
    assert any(t.name == "check failed" for t in fig.data)
    assert any(s.x0 == 30.0 for s in fig.layout.shapes)


def test_empty_inputs_give_a_figure_that_says_why():
    empty_ts = pd.DataFrame(columns=["scope", "name", "t_s", "latency_p50_ms", "latency_p99_ms"])
    for fig in (
        viz.latency_over_time(empty_ts),
        viz.cost_per_edge(pd.DataFrame()),
        viz.slo_headline(pd.DataFrame()),
        viz.rollout_timeline(pd.DataFrame()),
    ):
        assert len(fig.data) == 0
        assert fig.layout.annotations and fig.layout.annotations[0].text


def test_comparison_frame_and_bars_read_the_paired_table():
    table = pd.DataFrame(
        [
            {
                "scope": "workload",
                "name": "browse",
                "metric": "latency_p99_ms",
                "unit": "ms",
                "base_mean": 100.0,
                "changed_mean": 120.0,
                "diff": 20.0,
                "diff_ci_low": 10.0,
                "diff_ci_high": 30.0,
                "rel_change": 0.2,
                "p_value": 0.01,
                "significant": True,
                "replications": 5,
            },
            {
                "scope": "workload",
                "name": "browse",
                "metric": "error_rate",
                "unit": "ratio",
                "base_mean": 0.01,
                "changed_mean": 0.0105,
                "diff": 0.0005,
                "diff_ci_low": -0.001,
                "diff_ci_high": 0.002,
                "rel_change": 0.05,
                "p_value": 0.6,
                "significant": False,
                "replications": 5,
            },
            {
                "scope": "workload",
                "name": "browse",
                "metric": "requests",
                "unit": "count",
                "base_mean": 10.0,
                "changed_mean": 10.0,
                "diff": 0.0,
                "diff_ci_low": 0.0,
                "diff_ci_high": 0.0,
                "rel_change": 0.0,
                "p_value": 1.0,
                "significant": False,
                "replications": 5,
            },
        ]
    )
    frame = viz.comparison_frame(table)
    assert list(frame["metric"]) == ["latency_p99_ms", "error_rate"]  # headline metrics only, in order
    p99 = frame.iloc[0]
    assert p99["baseline"] == "100.0 ms" and p99["what-if"] == "120.0 ms" and p99["change"] == "+20.00 ms"
    err = frame.iloc[1]
    assert err["baseline"] == "1.00%" and err["change"] == "+0.050 pp"  # a difference of percentages
    assert p99["change_pct"] == pytest.approx(20.0) and p99["significant"]
    bars = viz.compare_bars(table)
    assert list(bars.data[0].y) == pytest.approx([20.0, 5.0])
    assert list(bars.data[0].marker.opacity) == [1.0, 0.45]  # not significant: faded
    assert bars.data[0].error_y.array[0] == pytest.approx(10.0)


def test_figures_are_pure(results, data):
    a = {k: f.to_json() for k, f in viz.figures(results, data).items()}
    b = {k: f.to_json() for k, f in viz.figures(results).items()}
    assert a == b
    json.loads(a["graph"])  # serialisable as plain JSON
