"""Closed workloads: users, think time, k6-style stages, load faults on users, and bad input."""

from __future__ import annotations

from typing import Any

import pytest

import meshsim
from meshsim.engine._population import user_counts
from meshsim.errors import MeshsimInputError


def _scenario(**workload: Any) -> dict[str, Any]:
    return {
        "name": "closed",
        "duration": "10s",
        "network": {"same_zone": "0ms"},
        "mesh": {"proxy": "none"},
        "services": {"s": {"replicas": 1, "concurrency": 100, "service_time": "0ms"}},
        "workload": [{"name": "w", "entry": "s", **workload}],
    }


def test_each_user_sends_one_request_per_think_time() -> None:
    """4 users, 1 s think, instant answers: each sends at 1, 2, ..., 9 s (the next would be at the end)."""
    res = meshsim.simulate(meshsim.load_scenario(_scenario(users=4, think_time="1s")))
    assert res.replications[0].workloads["w"].requests == 36


def test_a_slow_service_slows_a_closed_population_down() -> None:
    """One user, no think time, 100 ms answers: 10 requests a second, whatever the load would be open."""
    sc = _scenario(users=1)
    sc["services"]["s"]["service_time"] = "100ms"
    res = meshsim.simulate(meshsim.load_scenario(sc))
    assert res.replications[0].workloads["w"].requests in (100, 101)


def test_stages_ramp_users_linearly_and_load_faults_scale_them() -> None:
    sc = meshsim.load_scenario(
        {
            **_scenario(
                users=2,
                think_time="1s",
                stages=[
                    {"duration": "10s", "target": 5},
                    {"duration": "10s", "target": 5},
                    {"duration": "6s", "target": 2},
                ],
            ),
            "duration": "100s",
            "faults": [{"kind": "load", "at": "50s", "duration": "10s", "factor": 2}],
        }
    )
    assert user_counts(list(sc.faults), sc.workload[0], 100.0) == [
        (0.0, 2),
        (pytest.approx(10 / 3), 3),
        (pytest.approx(20 / 3), 4),
        (10.0, 5),
        (20.0, 4),  # down from 5 to 2 over 6 s: a user fewer every 2 s (rounded down)
        (22.0, 3),
        (24.0, 2),
        (50.0, 4),  # a load fault doubles the users
        (60.0, 2),
    ]


@pytest.mark.parametrize(
    ("workload", "says"),
    [
        ({"rate": "10/s", "users": 5}, "not both"),
        ({}, "either rate"),
        ({"rate": "10/s", "think_time": "1s"}, "closed workload"),
        ({"users": 5, "profile": [{"at": "1s", "rate": "5/s"}]}, "open workload"),
        ({"users": 5, "stages": [{"duration": "0s", "target": 3}]}, "above zero"),
    ],
)
def test_open_or_closed_is_one_clear_error(workload: dict[str, Any], says: str) -> None:
    with pytest.raises(MeshsimInputError) as err:
        meshsim.load_scenario(_scenario(**workload))
    assert says in str(err.value) and "workload" in str(err.value)
