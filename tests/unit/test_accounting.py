"""Every request ends in exactly one outcome or is counted in flight (docs/scenario.md), also under failures."""

import pytest

from meshsim import load_scenario, simulate
from meshsim.metrics import EntityStats


def scenario():
    return load_scenario(
        {
            "name": "acct",
            "duration": "20s",
            "warmup": "2s",
            "services": {
                "front": {
                    "replicas": 2,
                    "concurrency": 2,
                    "queue_limit": 3,
                    "service_time": {"dist": "exponential", "mean": "20ms"},
                    "calls": ["back"],
                },
                "back": {
                    "replicas": 1,
                    "concurrency": 1,
                    "error_rate": 0.2,
                    "service_time": {"dist": "lognormal", "median": "30ms", "p99": "400ms"},
                },
            },
            "policies": {"back": {"timeout": "150ms", "retries": {"attempts": 2, "per_try_timeout": "60ms"}}},
            "workload": [{"name": "w", "entry": "front", "rate": 120, "client": {"timeout": "300ms", "retries": 1}}],
        }
    )


def test_invariant_holds_with_every_kind_of_failure():
    res = simulate(scenario(), 2)
    w = res.to_dict()["workloads"]["w"]
    assert w["requests"] == w["ok"] + sum(w["failed"].values()) + w["in_flight"]
    assert {"timeout", "overflow"} <= set(w["failed"]) or "error" in w["failed"]
    assert w["requests"] > 0 and w["in_flight"] >= 0


def test_check_catches_a_lost_request():
    res = simulate(scenario(), 1)
    rep = res.replications[0]
    rep.workloads["w"].requests += 1  # a request that vanished
    with pytest.raises(AssertionError, match="accounting broken"):
        rep.check_accounting()
    _ = EntityStats
