"""Requests still in flight at the end: reported, and counted in workload SLOs as users see them."""

from __future__ import annotations

from typing import Any

import pytest

import meshsim
from meshsim.errors import MeshsimInputError


def _stuck(slos: list[dict[str, Any]]) -> dict[str, Any]:
    # arrivals at 1, 2, ..., 10 s; 100 ms of work until a degrade fault at 4.5 s makes it 10 s:
    # the requests of 1-4 s answer in 100 ms, the one of 5 s works to 15 s, 6-10 s wait behind it,
    # so at the end (10.5 s) six are in flight, aged 5.5, 4.5, 3.5, 2.5, 1.5 and 0.5 s
    return {
        "name": "stuck",
        "duration": "10.5s",
        "network": {"same_zone": "0ms"},
        "mesh": {"proxy": "none"},
        "services": {"s": {"replicas": 1, "concurrency": 1, "service_time": "100ms"}},
        "workload": [{"name": "w", "entry": "s", "rate": "1/s", "arrival": "constant"}],
        "faults": [{"kind": "degrade", "target": "s", "at": "4.5s", "factor": 100}],
        "slos": slos,
    }


def _verdicts(slos: list[dict[str, Any]]) -> dict[str, float]:
    res = meshsim.simulate(meshsim.load_scenario(_stuck(slos)))
    assert res.replications[0].in_flight == {"w": 6}
    assert res.to_dict()["workloads"]["w"]["in_flight"] == 6
    return {v["name"]: v["value"] for v in res.to_dict()["slos"]}


def test_in_flight_requests_older_than_the_threshold_are_misses() -> None:
    got = _verdicts(
        [
            {"name": "fast", "workload": "w", "metric": "latency_under", "threshold": "3s", "min": "99%"},
            {"name": "errors", "workload": "w", "metric": "error_rate", "timeout": "2s", "max": "1%"},
            {"name": "median", "workload": "w", "metric": "latency_p50", "max": "1s"},
            {"name": "plain", "workload": "w", "metric": "error_rate", "max": "1%"},
        ]
    )
    assert got["fast"] == pytest.approx(4 / 7)  # 4 answered in 100 ms; 3 in flight past 3 s
    assert got["errors"] == pytest.approx(4 / 8)  # 4 in flight past 2 s count as failed
    # 0.1 s x4, then the ages 1.5 ... 5.5 s (the JSON's slos give latencies in ms)
    assert got["median"] == pytest.approx(1500.0, rel=0.02)
    assert got["plain"] == 0.0  # no timeout (none given, no client timeout): in flight left out


def test_latency_under_counts_only_successful_answers() -> None:
    sc = _stuck([{"name": "fast", "workload": "w", "metric": "latency_under", "threshold": "3s", "min": "99%"}])
    sc["services"]["s"]["error_rate"] = 1.0  # fast, but failed: not good
    res = meshsim.simulate(meshsim.load_scenario(sc))
    assert res.to_dict()["slos"][0]["value"] == 0.0


@pytest.mark.parametrize(
    ("slo", "says"),
    [
        ({"metric": "latency_under", "min": "99%"}, "needs threshold"),
        ({"metric": "latency_p99", "threshold": "1s", "max": "1s"}, "only it takes one"),
        ({"metric": "latency_p99", "timeout": "1s", "max": "1s"}, "timeout belongs"),
        ({"metric": "latency_under", "threshold": "-1s", "min": "99%"}, "threshold"),
    ],
)
def test_bad_threshold_or_timeout_is_one_clear_error(slo: dict[str, Any], says: str) -> None:
    with pytest.raises(MeshsimInputError) as err:
        meshsim.load_scenario(_stuck([{"name": "x", "workload": "w", **slo}]))
    assert says in str(err.value)


def test_latency_under_any_threshold_from_the_python_api() -> None:
    res = meshsim.simulate(meshsim.load_scenario(_stuck([])))
    rep = res.replications[0]
    assert rep.latency_under("w", 3.0) == pytest.approx(4 / 7)
    assert rep.latency_under("w", 0.05) == pytest.approx(0.0)  # 100 ms answers, six in flight past 50 ms
    assert rep.latency_under("w", 10.0) == pytest.approx(1.0)  # every in-flight request is younger
