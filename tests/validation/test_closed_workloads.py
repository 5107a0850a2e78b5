"""Closed workloads (``users`` + ``think_time``) against exact MVA and the interactive response-time law.

MVA: Reiser & Lavenberg (1980); Lazowska et al. (1984) ch. 7 (``meshsim.stats.mva``,
docs/references.md). The network is product form: a FIFO station with exponential work
and a processor-sharing station with hyperexponential work (BCMP: PS is insensitive).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from meshsim.stats import mva

from .conftest import assert_matches, replicate, values

THINK_S = 0.5
FRONT_S = 0.020  # exponential, FIFO, one worker
BACK_S = 0.9 * 0.010 + 0.1 * 0.160  # 25 ms: hyperexponential, processor sharing on one core


def closed_scenario(users: int, duration_s: float = 200, seed: int = 2026, shared_back: bool = True) -> dict[str, Any]:
    back: dict[str, Any] = {
        "replicas": 1,
        "concurrency": 10_000,
        "discipline": "processor_sharing",
        "service_time": {
            "dist": "mixture",
            "components": [
                {"weight": 0.9, "dist": {"dist": "exponential", "mean": "10ms"}},
                {"weight": 0.1, "dist": {"dist": "exponential", "mean": "160ms"}},
            ],
        },
    }
    if not shared_back:  # FIFO with exponential work of the same mean: also product form
        back = {"replicas": 1, "concurrency": 1, "service_time": {"dist": "exponential", "mean": f"{BACK_S * 1000}ms"}}
    return {
        "name": "closed",
        "seed": seed,
        "duration": f"{duration_s}s",
        "warmup": "30s",
        "network": {"same_zone": "0ms"},
        "mesh": {"proxy": "none"},
        "services": {
            "front": {
                "replicas": 1,
                "concurrency": 1,
                "holds_worker_during_calls": False,  # the front's worker is free while the back works
                "service_time": {"dist": "exponential", "mean": f"{FRONT_S * 1000}ms"},
                "calls": ["back"],
            },
            "back": back,
        },
        "workload": [
            {"name": "w", "entry": "front", "users": users, "think_time": {"dist": "exponential", "mean": "500ms"}}
        ],
    }


def test_closed_network_matches_exact_mva():
    """N = 20, Z = 0.5 s, D = (20 ms, 25 ms): MVA gives X = 31.68/s and R = 131.3 ms."""
    theory = mva([FRONT_S, BACK_S], THINK_S, 20)
    assert abs(theory.throughput_per_s - 31.68) < 0.01 and abs(theory.response_s - 0.1313) < 1e-3
    t = replicate(closed_scenario(20), replications=10)
    assert_matches(values(t, "workload", "w", "throughput"), theory.throughput_per_s, what="MVA X")
    assert_matches(values(t, "workload", "w", "latency_mean"), theory.response_s, what="MVA R")
    assert_matches(values(t, "service", "back", "latency_mean"), theory.station_response_s[1], what="MVA R_back")


def test_interactive_response_time_law_and_self_limiting_under_overload():
    """N = 80 users against a 40/s bottleneck: R = N/X - Z (operational law); X levels off at
    1/D_max = 40/s while R grows, as MVA says (X = 39.99/s, R = 1.50 s)."""
    users = 80
    theory = mva([FRONT_S, BACK_S], THINK_S, users)
    t = replicate(closed_scenario(users, duration_s=400, shared_back=False), replications=8)
    x = values(t, "workload", "w", "throughput")
    r = values(t, "workload", "w", "latency_mean")
    # the law's X counts every answer in the window, also to requests sent during warm-up:
    # the front's throughput (its answers are the users' answers here: no network, no proxy)
    x_window = values(t, "service", "front", "throughput")
    assert_matches(r - (users / x_window - THINK_S), 0.0, what="R - (N/X - Z)")
    assert_matches(x, theory.throughput_per_s, what="MVA X at N=80")
    assert_matches(r, theory.response_s, what="MVA R at N=80")


def test_closed_population_model_recovers_where_open_arrivals_collapse():
    """models/closed-population.yaml: Brooker's collapse server under a doubled-load spike.

    A closed population self-limits: every replication is back to its pre-spike success rate
    10 s after the spike (models/metastable.yaml, the same server with open arrivals, stays
    collapsed: tests/validation/test_policies.py).
    """
    from pathlib import Path

    from meshsim import load_scenario, simulate

    model = Path(__file__).resolve().parents[2] / "models" / "closed-population.yaml"
    data = load_scenario(model).to_dict()
    data["duration"] = "50s"
    res = simulate(load_scenario(data), 4, executor="process")
    for r in res.replications:
        ok = np.zeros(50)
        for (scope, name, idx), b in r.bins.items():
            if scope == "workload" and name == "users" and 0 <= idx < 50:
                ok[idx] = b.ok
        before, after = ok[5:20].mean(), ok[35:50].mean()
        assert before > 30, f"replication {r.replication}: {before:.1f} ok/s before the spike"
        assert after >= 0.9 * before, f"replication {r.replication}: {after:.1f} ok/s after vs {before:.1f} before"
