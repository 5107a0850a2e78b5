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
    amplification = dict(zip(fig.data[1].x, fig.data[1].y))
    for name, s in data["services"].items():
        assert retries[name] == s["retries"]
        if s["amplification"] is not None:
            assert amplification[name] == pytest.approx(s["amplification"])
    assert amplification["api"] > 1.1  # retries on a flaky service add load


def test_service_graph_places_services_by_location_and_colours_by_utilization(results, data, figs):
    nodes, _ = viz.graph_frames(results.scenario, data)
    loc = dict(zip(nodes["id"], nodes["location"]))
    assert loc["web"] == "aws/us-east-1" and loc["api"] == loc["db"] == "gcp/us-central1"
    pos = viz.graph_positions(nodes)
    aws_x = [pos[n][0] for n in ("web", "cache", "workload:browse")]
    gcp_x = [pos[n][0] for n in ("api", "db")]
    assert max(aws_x) < min(gcp_x)  # one band per location, in the order of `locations`
    labels = {a.text for a in figs["graph"].layout.annotations}
    assert {"<b>aws/us-east-1</b>", "<b>gcp/us-central1</b>"} <= labels
    services = _trace(figs["graph"], "services")
    util = {n.split("<br>")[0]: c for n, c in zip(services.text, services.marker.color)}
    for name, s in data["services"].items():
        assert util[name] == pytest.approx(s["utilization"] or 0.0)
    # red outline where the service fails requests
    outline = dict(zip([t.split("<br>")[0] for t in services.text], services.marker.line.color))
    assert outline["api"] == "#d62728" and outline["db"] != "#d62728"


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


def test_slo_table_shows_each_verdict(data, figs):
    cells = figs["slo"].data[0].cells.values
    names, status = list(cells[0]), list(cells[6])
    verdicts = {v["name"]: v["met"] for v in data["slos"]}
    for name, st in zip(names, status):
        assert (st == "met") == verdicts[name]
    assert verdicts == {"browse-p99": True, "api-errors": False}


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
                "metric": "latency_p99",
                "unit": "s",
                "base_mean": 0.100,
                "changed_mean": 0.120,
                "diff": 0.020,
                "diff_ci_low": 0.010,
                "diff_ci_high": 0.030,
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
    assert list(frame["metric"]) == ["latency_p99", "error_rate"]  # headline metrics only, in order
    p99 = frame.iloc[0]
    assert p99["baseline"] == "100.00 ms" and p99["what-if"] == "120.00 ms" and p99["change"] == "+20.00 ms"
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
