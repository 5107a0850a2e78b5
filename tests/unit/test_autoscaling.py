"""Horizontal pod autoscaling: the HPA rule, rate limits, stabilization, start-up, and recovery."""

from __future__ import annotations

import copy

import pandas as pd
import pytest

import meshsim
from meshsim.engine._autoscaling import hpa_recommendation


def test_hpa_rule_is_ceil_of_usage_over_target() -> None:
    # Kubernetes: desired = ceil(current x utilization / target)
    assert hpa_recommendation(current=2, usage=2 * 0.9, ready=2, starting=0, target=0.6, tolerance=0.1) == 3
    assert hpa_recommendation(current=4, usage=4 * 0.2, ready=4, starting=0, target=0.5, tolerance=0.1) == 2
    assert hpa_recommendation(current=10, usage=10 * 0.999, ready=10, starting=0, target=0.5, tolerance=0.1) == 20


def test_hpa_tolerance_leaves_small_deviations_alone() -> None:
    assert hpa_recommendation(current=5, usage=5 * 0.65, ready=5, starting=0, target=0.6, tolerance=0.1) == 5
    assert hpa_recommendation(current=5, usage=5 * 0.55, ready=5, starting=0, target=0.6, tolerance=0.1) == 5
    assert hpa_recommendation(current=5, usage=5 * 0.67, ready=5, starting=0, target=0.6, tolerance=0.1) == 6


def test_hpa_counts_starting_replicas_as_idle_for_a_scale_up() -> None:
    # 2 ready at 90% plus 2 starting: 1.8 / (4 x 0.6) = 0.75, no further scale-up
    assert hpa_recommendation(current=4, usage=1.8, ready=2, starting=2, target=0.6, tolerance=0.1) == 4
    # 2 ready at 100% plus 1 starting: 2 / (3 x 0.5) = 1.33 > 1.1: ceil(2 / 0.5) = 4
    assert hpa_recommendation(current=3, usage=2.0, ready=2, starting=1, target=0.5, tolerance=0.1) == 4
    assert hpa_recommendation(current=3, usage=0.0, ready=0, starting=3, target=0.5, tolerance=0.1) == 3


def test_hpa_never_reverses_direction_because_of_replicas_without_metrics() -> None:
    # 4 replicas, 2 of them down: the 2 ready ones at 90 % ask for ceil(1.8 / 0.6) = 3 < 4,
    # a scale-down from an overload; the HPA keeps 4
    assert hpa_recommendation(current=4, usage=1.8, ready=2, starting=0, target=0.6, tolerance=0.1) == 4


def _scenario(**over: object) -> dict:
    sc: dict = {
        "name": "hpa",
        "seed": 21,
        "duration": "180s",
        "warmup": "10s",
        "locations": {"aws": {"us-east-1": ["a", "b"]}},
        "network": {"same_zone": "0ms", "cross_zone": "0ms"},
        "mesh": {"proxy": "none"},
        "services": {
            "api": {
                "placement": {"aws/us-east-1/a": 1, "aws/us-east-1/b": 1},
                "concurrency": 4,
                "service_time": {"dist": "exponential", "mean": "50ms"},
                "autoscaling": {
                    "target_utilization": 0.6,
                    "min_replicas": 2,
                    "max_replicas": 8,
                    "startup_delay": "10s",
                },
            }
        },
        "workload": [{"name": "w", "entry": "api", "origin": "aws/us-east-1/a", "rate": "80/s"}],
        # x3 from 40 s: 240/s against 2 x 4 / 50 ms = 160/s of capacity
        "faults": [{"at": "40s", "kind": "load", "factor": 3}],
    }
    sc.update(over)
    return sc


def _scale_events(res: meshsim.Results) -> pd.DataFrame:
    ev = res.events()
    return ev[ev.kind == "scale"].sort_values("t_s")


def _p99(res: meshsim.Results, lo: float, hi: float) -> float:
    ts = res.timeseries()
    w = ts[(ts.scope == "workload") & (ts.t_s >= lo) & (ts.t_s < hi)]
    return float(w["latency_p99_ms"].median())


def test_autoscaler_adds_replicas_under_a_load_fault_and_p99_recovers() -> None:
    sc = _scenario()
    res = meshsim.simulate(sc, executor="serial")
    scale = _scale_events(res)
    # syncs every 15 s: at 45 s the period is two-thirds overloaded (utilization ~0.67, within
    # tolerance of 0.6 or just above it); by 60 s it is saturated
    assert len(scale) and scale.iloc[0]["t_s"] in (45.0, 60.0)
    assert scale.iloc[0]["replicas_from"] == 2 and scale.iloc[0]["replicas_to"] >= 4
    assert int(scale.iloc[-1]["replicas_to"]) >= 5  # 240/s x 50 ms = 12 busy workers: 5 x 4 at 60%
    ready = res.events()
    assert (ready.kind == "replica_ready").sum() >= 3
    before = _p99(res, 20, 40)
    late = _p99(res, 150, 190)

    fixed = copy.deepcopy(sc)
    del fixed["services"]["api"]["autoscaling"]
    stuck = meshsim.simulate(fixed, executor="serial")
    late_fixed = _p99(stuck, 150, 190)
    assert late < 2.5 * before, (before, late)
    assert late_fixed > 20 * before, (before, late_fixed)  # without the HPA the queue only grows


def test_scale_down_waits_for_the_stabilization_window() -> None:
    # load x3 for 40 s, then back: replicas come down only 300 s after the last high recommendation
    sc = _scenario(
        duration="460s",
        faults=[{"at": "40s", "duration": "40s", "kind": "load", "factor": 3}],
        workload=[{"name": "w", "entry": "api", "origin": "aws/us-east-1/a", "rate": "40/s"}],
    )
    res = meshsim.simulate(sc, executor="serial")
    scale = _scale_events(res)
    ups = scale[scale.replicas_to > scale.replicas_from]
    downs = scale[scale.replicas_to < scale.replicas_from]
    assert len(ups) and len(downs)
    last_up = ups["t_s"].max()
    # the load ends at 80 s; the high recommendations stay in the 300 s window until >= 380 s
    assert downs["t_s"].min() >= 375.0
    assert downs["t_s"].min() > last_up + 290
    assert int(scale.iloc[-1]["replicas_to"]) == 2  # back to min_replicas


def test_min_replicas_hold_from_the_start() -> None:
    sc = _scenario(duration="30s", faults=[])
    sc["services"]["api"]["placement"] = {"aws/us-east-1/a": 1}
    sc["services"]["api"]["autoscaling"]["min_replicas"] = 3
    res = meshsim.simulate(sc, executor="serial")
    scale = _scale_events(res)
    assert scale.iloc[0]["t_s"] == 0.0 and scale.iloc[0]["replicas_to"] == 3
    # utilization counts the three replicas' capacity from the start
    util = res.to_dict()["services"]["api"]["utilization"]
    assert util == pytest.approx(80 * 0.05 / 12, rel=0.15)


def test_new_replicas_take_traffic_only_after_start_up() -> None:
    sc = _scenario(duration="80s")
    res = meshsim.simulate(sc, executor="serial")
    ev = res.events()
    scale_t = ev[ev.kind == "scale"]["t_s"].min()
    ready_t = ev[ev.kind == "replica_ready"]["t_s"].min()
    assert ready_t == pytest.approx(scale_t + 10.0)
    added = ev[ev.kind == "endpoint_added"]
    assert len(added) and added["t_s"].min() == pytest.approx(ready_t)
