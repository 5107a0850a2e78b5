"""Call graph and self time from small hand-built span tables (times in ms, written out below)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from meshsim.calibrate import analyse_spans, call_steps
from meshsim.calibrate._graph import interval_union
from meshsim.calibrate._traces import spans_frame


def _span(
    trace: str,
    sid: str,
    parent: str | None,
    service: str,
    start_ms: float,
    dur_ms: float,
    kind: str = "server",
    error: bool = False,
    peer: str | None = None,
) -> dict:
    return {
        "trace_id": trace,
        "span_id": sid,
        "parent_id": parent,
        "service": service,
        "name": f"{service} op",
        "start_s": start_ms / 1e3,
        "duration_s": dur_ms / 1e3,
        "kind": kind,
        "error": error,
        "peer_service": peer,
    }


def test_interval_union() -> None:
    g = pd.Series([1, 1, 1, 2, 2])
    s = pd.Series([0.0, 1.0, 5.0, 0.0, 3.0])
    e = pd.Series([2.0, 3.0, 6.0, 1.0, 4.0])
    u = interval_union(g, s, e)
    assert u[1] == pytest.approx(4.0)  # [0,3] u [5,6]
    assert u[2] == pytest.approx(2.0)


def test_self_time_subtracts_the_union_of_parallel_children() -> None:
    # api 0-100 ms; calls a 10-60 and b 20-50 in parallel, then c 70-90.
    # Sum of children = 50 + 30 + 20 = 100 ms (self time 0 if summed); union = 50 + 20 = 70.
    rows = [
        _span("t1", "1", None, "api", 0, 100),
        _span("t1", "2", "1", "a", 10, 50),
        _span("t1", "3", "1", "b", 20, 30),
        _span("t1", "4", "1", "c", 70, 20),
    ]
    a = analyse_spans(spans_frame(rows))
    api = a.entries[a.entries["service"] == "api"].iloc[0]
    assert api["self_s"] == pytest.approx(0.030)
    assert call_steps(a.graph, "api") == [{"parallel": ["a", "b"]}, "c"]
    assert a.warnings == []


def test_client_span_interval_is_the_call_and_skew_is_clamped() -> None:
    # The caller's client span (5-45 ms) is the call; the callee's clock runs 30 ms late,
    # so its server span (36-74) sticks out of the parent. Self time uses the client span.
    rows = [
        _span("t", "1", None, "api", 0, 50),
        _span("t", "2", "1", "api", 5, 40, kind="client"),
        _span("t", "3", "2", "db", 36, 38),
        # A second request whose only call outlives it: self time would be negative.
        _span("u", "1", None, "api", 0, 10),
        _span("u", "2", "1", "db", 2, 30),
    ]
    a = analyse_spans(spans_frame(rows))
    api = a.entries[a.entries["service"] == "api"].sort_values("trace_id")
    assert api["self_s"].tolist() == pytest.approx([0.010, 0.0])
    assert any("1 request(s) spent less time than their calls" in w for w in a.warnings)
    edge = a.graph.edges["api", "db"]
    assert edge["calls"] == 2 and edge["per_request"] == 1.0


def _fanout_traces(n: int, rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for i in range(n):
        t = f"{i:032x}"
        rows.append(_span(t, "1", None, "front", 0, 100, error=False))
        # two sequential calls to cache, always
        rows.append(_span(t, "2", "1", "cache", 1, 2))
        rows.append(_span(t, "3", "1", "cache", 4, 2))
        # three parallel calls to shard on every request
        for j in range(3):
            rows.append(_span(t, f"s{j}", "1", "shard", 10, 20 + j))
        # optional call on 30% of requests; its failures do not fail front
        if rng.random() < 0.3:
            rows.append(_span(t, "r", "1", "reco", 40, 10, error=bool(rng.random() < 0.5)))
    return spans_frame(rows)


def test_counts_parallel_repeats_probability_and_optional() -> None:
    a = analyse_spans(_fanout_traces(200, np.random.default_rng(3)))
    steps = call_steps(a.graph, "front")
    assert steps[0] == {"to": "cache", "count": 2}
    assert steps[1] == {"parallel": ["shard", "shard", "shard"]}
    reco = steps[2]
    assert reco["to"] == "reco" and reco["optional"] is True
    # 200 Bernoulli(0.3) draws: 4 standard errors is 0.13.
    assert abs(reco["probability"] - 0.3) < 4 * np.sqrt(0.3 * 0.7 / 200)
    assert a.graph.edges["front", "shard"]["self_parallel"]


def test_peer_service_without_its_own_spans_becomes_a_service() -> None:
    rows = [
        _span("t", "1", None, "cart", 0, 20),
        _span("t", "2", "1", "cart", 2, 3, kind="client", peer="redis"),
        _span("t", "3", "1", "cart", 8, 3, kind="client", peer="redis"),
    ]
    a = analyse_spans(spans_frame(rows))
    assert a.graph.edges["cart", "redis"]["calls"] == 2
    redis = a.entries[a.entries["service"] == "redis"]
    assert len(redis) == 2 and set(redis["observed_by"]) == {"client"}
    assert a.entries.loc[a.entries["service"] == "cart", "self_s"].iloc[0] == pytest.approx(0.014)
    assert call_steps(a.graph, "cart") == [{"to": "redis", "count": 2}]


def test_fractional_counts_keep_the_mean() -> None:
    rows = []
    for i, k in enumerate([1, 2, 2, 1]):  # 1.5 calls per request on average
        t = f"t{i}"
        rows.append(_span(t, "1", None, "a", 0, 50))
        rows += [_span(t, f"c{j}", "1", "b", 5 + 10 * j, 5) for j in range(k)]
    a = analyse_spans(spans_frame(rows))
    steps = call_steps(a.graph, "a")
    assert steps == ["b", {"to": "b", "probability": 0.5}]
