"""Queue length per service: the waits spread over the time bins they overlap (worked out by hand)."""

from __future__ import annotations

import pytest

import meshsim


def _pairs(work: str, rate: str, duration: str) -> meshsim.Results:
    # two workloads whose constant arrivals coincide, one worker: the second of each pair waits `work`
    return meshsim.simulate(
        meshsim.load_scenario(
            {
                "name": "pairs",
                "duration": duration,
                "network": {"same_zone": "0ms"},
                "mesh": {"proxy": "none"},
                "services": {"s": {"replicas": 1, "concurrency": 1, "service_time": work}},
                "workload": [
                    {"name": "a", "entry": "s", "rate": rate, "arrival": "constant"},
                    {"name": "b", "entry": "s", "rate": rate, "arrival": "constant"},
                ],
            }
        )
    )


def test_mean_queue_length_is_the_waiting_time_per_second() -> None:
    """A 15 ms wait every 40 ms: 0.375 waiting on average, in every whole second too."""
    res = _pairs("15ms", "25/s", "10s")
    metrics = res.replications[0].service_metrics("s")
    assert metrics["queue_length_mean"] == pytest.approx(0.375, rel=0.01)
    series = res.timeseries()
    per_second = series[(series.scope == "service") & (series.name == "s")]["queue_length"]
    assert per_second.to_numpy() == pytest.approx([0.375] * 10, rel=0.05)


def test_a_long_wait_is_split_over_the_bins_it_spans() -> None:
    """Pairs at 5 s, 10 s with 2.5 s of work: the second waits 5-7.5 s, i.e. 1, 1 and 0.5 in bins 5, 6, 7."""
    res = _pairs("2.5s", "0.2/s", "12s")
    series = res.timeseries()
    q = series[(series.scope == "service") & (series.name == "s")].set_index("t_s")["queue_length"]
    assert q[5.0] == pytest.approx(1.0) and q[6.0] == pytest.approx(1.0) and q[7.0] == pytest.approx(0.5)
    # the wait of the 10 s pair ends at 12.5 s, after the run: it is not recorded
    assert res.replications[0].service_metrics("s")["queue_length_mean"] == pytest.approx(2.5 / 12)
    assert res.replications[0].service_metrics("s")["queue_length_p99"] == pytest.approx(1.0)


def test_a_service_slo_on_the_queue_length() -> None:
    sc = meshsim.load_scenario(
        {
            "name": "q",
            "duration": "10s",
            "network": {"same_zone": "0ms"},
            "mesh": {"proxy": "none"},
            "services": {"s": {"replicas": 1, "concurrency": 1, "service_time": "15ms"}},
            "workload": [
                {"name": "a", "entry": "s", "rate": "25/s", "arrival": "constant"},
                {"name": "b", "entry": "s", "rate": "25/s", "arrival": "constant"},
            ],
            "slos": [{"name": "short-queue", "service": "s", "metric": "queue_length_mean", "max": 0.5}],
        }
    )
    verdict = meshsim.simulate(sc).to_dict()["slos"][0]
    assert verdict["value"] == pytest.approx(0.375, rel=0.01) and verdict["status"] == "met"
