"""``discipline: priority``: the waiting request of the highest class goes first, worked out by hand."""

from __future__ import annotations

from typing import Any

import pytest

import meshsim


def _scenario(discipline: str) -> dict[str, Any]:
    # every 100 ms one request of each workload arrives at once (in workload order); one worker,
    # 20 ms each: the first is served at once, the other two wait and go by class
    return {
        "name": "classes",
        "duration": "10s",
        "network": {"same_zone": "0ms"},
        "mesh": {"proxy": "none"},
        "services": {
            "front": {"replicas": 1, "concurrency": 100, "service_time": "0ms", "calls": ["s"]},
            "s": {"replicas": 1, "concurrency": 1, "discipline": discipline, "service_time": "20ms"},
        },
        "workload": [
            {"name": "first", "entry": "front", "rate": "10/s", "arrival": "constant"},
            {"name": "low", "entry": "front", "rate": "10/s", "arrival": "constant", "priority": -1},
            {"name": "high", "entry": "front", "rate": "10/s", "arrival": "constant", "priority": 5},
        ],
    }


def _means(discipline: str) -> dict[str, float]:
    res = meshsim.simulate(meshsim.load_scenario(_scenario(discipline)))
    return {name: w.latency.mean() for name, w in res.replications[0].workloads.items()}


def test_the_high_class_overtakes_the_queue_and_the_class_reaches_downstream_calls() -> None:
    """The class is the workload's, carried through the front to s: high waits 20 ms, low 40 ms."""
    got = _means("priority")
    assert got == {"first": pytest.approx(0.020), "high": pytest.approx(0.040), "low": pytest.approx(0.060)}
    fifo = _means("fifo")
    assert fifo == {"first": pytest.approx(0.020), "low": pytest.approx(0.040), "high": pytest.approx(0.060)}
