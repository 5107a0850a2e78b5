"""Faults on the timeline: latency, errors, degrade, outage, crash, partition, and discovery."""

from __future__ import annotations

import copy
import math

import pandas as pd
import pytest
from scipy import stats

import meshsim
from meshsim.errors import MeshsimInputError


def _base(**over: object) -> dict:
    sc: dict = {
        "name": "faults",
        "seed": 9,
        "duration": "40s",
        "warmup": "0s",
        "locations": {"aws": {"us-east-1": ["a", "b"]}},
        "network": {"same_zone": "0ms", "cross_zone": "0ms"},
        "mesh": {"proxy": "none", "discovery_delay": "5s", "connect_timeout": "700ms"},
        "services": {
            "api": {
                "placement": {"aws/us-east-1/a": 2, "aws/us-east-1/b": 2},
                "concurrency": 64,
                "service_time": "10ms",
            }
        },
        "policies": {"api": {"load_balancer": "round_robin"}},
        "workload": [{"name": "w", "entry": "api", "origin": "aws/us-east-1/a", "rate": "50/s", "arrival": "constant"}],
    }
    sc.update(over)
    return sc


def _workload_bins(res: meshsim.Results) -> pd.DataFrame:
    ts = res.timeseries()
    w = ts[ts.scope == "workload"].copy()
    w["completed"] = w["throughput_rps"]  # 1 s bins, one replication
    w["failed"] = w[[c for c in w.columns if c.startswith("failed_")]].sum(axis=1)
    return w


def _events(res: meshsim.Results, kind: str) -> pd.DataFrame:
    ev = res.events()
    return ev[ev.kind == kind] if len(ev) else ev


def test_latency_fault_on_a_service_adds_to_its_service_time() -> None:
    sc = _base(faults=[{"at": "0s", "kind": "latency", "target": "api", "add": "50ms"}])
    mean = meshsim.simulate(sc, executor="serial").to_dict()["workloads"]["w"]["latency_ms"]["mean"]
    assert mean == pytest.approx(60.0, rel=1e-6)


def test_latency_fault_has_a_start_and_an_end() -> None:
    sc = _base(faults=[{"at": "10s", "duration": "10s", "kind": "latency", "target": "api", "add": "50ms"}])
    res = meshsim.simulate(sc, executor="serial")
    w = _workload_bins(res).set_index("t_s")
    # per-second bins keep p50 within 5% (bucket width 1.1)
    assert w.loc[5.0, "latency_p50_ms"] == pytest.approx(10.0, rel=0.05)
    assert w.loc[15.0, "latency_p50_ms"] == pytest.approx(60.0, rel=0.05)
    assert w.loc[25.0, "latency_p50_ms"] == pytest.approx(10.0, rel=0.05)
    starts, ends = _events(res, "fault_start"), _events(res, "fault_end")
    assert list(starts.t_s) == [10.0] and list(ends.t_s) == [20.0]


def test_latency_fault_into_a_location_and_on_a_link() -> None:
    # a location target delays calls into its replicas; a link fault the exchanges between two places
    sc = _base(
        services={"api": {"placement": {"aws/us-east-1/b": 2}, "concurrency": 64, "service_time": "10ms"}},
        faults=[
            {"at": "0s", "kind": "latency", "target": "aws/us-east-1/b", "add": "30ms"},
            {"at": "0s", "kind": "latency", "between": ["aws/us-east-1/a", "aws/us-east-1/b"], "add": "5ms"},
        ],
    )
    mean = meshsim.simulate(sc, executor="serial").to_dict()["workloads"]["w"]["latency_ms"]["mean"]
    assert mean == pytest.approx(45.0, rel=1e-6)


def test_degrade_multiplies_service_time() -> None:
    sc = _base(faults=[{"at": "0s", "kind": "degrade", "target": "api", "factor": 3}])
    mean = meshsim.simulate(sc, executor="serial").to_dict()["workloads"]["w"]["latency_ms"]["mean"]
    assert mean == pytest.approx(30.0, rel=1e-6)


def test_errors_fault_on_one_version_only() -> None:
    sc = _base(
        services={
            "api": {
                "placement": {"aws/us-east-1/a": 2},
                "concurrency": 64,
                "service_time": "10ms",
                "versions": {"v1": {}, "v2": {}},
            }
        },
        policies={"api": {"split": {"v1": 50, "v2": 50}}},
        duration="60s",
        faults=[{"at": "0s", "kind": "errors", "target": "api/v2", "rate": 0.4}],
    )
    d = meshsim.simulate(sc, executor="serial").to_dict()["workloads"]["w"]
    n = d["requests"] - d["in_flight"]
    # half the requests go to v2 and 40% of those fail: 20%; a 99.9% binomial interval
    lo, hi = stats.binom.interval(0.999, n, 0.2)
    assert lo <= d["failed"]["error"] <= hi


def test_errors_fault_combines_with_the_services_own_rate() -> None:
    sc = _base(
        services={
            "api": {"placement": {"aws/us-east-1/a": 2}, "concurrency": 64, "service_time": "10ms", "error_rate": 0.1}
        },
        duration="60s",
        faults=[{"at": "0s", "kind": "errors", "target": "api", "rate": 0.5}],
    )
    d = meshsim.simulate(sc, executor="serial").to_dict()["workloads"]["w"]
    n = d["requests"] - d["in_flight"]
    lo, hi = stats.binom.interval(0.999, n, 1 - 0.9 * 0.5)  # independent failures: 1 - (1-0.1)(1-0.5)
    assert lo <= d["failed"]["error"] <= hi


def test_partition_makes_attempts_wait_for_the_connect_timeout() -> None:
    # every call crosses the cut: each fails with connect_failure after exactly the connect timeout
    sc = _base(
        services={"api": {"placement": {"aws/us-east-1/b": 2}, "concurrency": 64, "service_time": "10ms"}},
        faults=[{"at": "0s", "kind": "partition", "between": ["aws/us-east-1/a", "aws/us-east-1/b"]}],
    )
    d = meshsim.simulate(sc, executor="serial").to_dict()["workloads"]["w"]
    assert d["ok"] == 0 and set(d["failed"]) == {"connect_failure"}
    assert d["latency_ms"]["mean"] == pytest.approx(700.0, rel=1e-9)


def test_partition_ends_and_traffic_flows_again() -> None:
    sc = _base(
        services={"api": {"placement": {"aws/us-east-1/b": 2}, "concurrency": 64, "service_time": "10ms"}},
        faults=[
            {"at": "10s", "duration": "10s", "kind": "partition", "between": ["aws/us-east-1/a", "aws/us-east-1/b"]}
        ],
    )
    w = _workload_bins(meshsim.simulate(sc, executor="serial")).set_index("t_s")
    assert w.loc[5.0, "failed"] == 0 and w.loc[15.0, "error_rate"] == 1.0 and w.loc[25.0, "failed"] == 0
    # a partition does not remove endpoints: the control plane still sees both sides
    assert w.loc[19.0, "failed_connect_failure"] > 0


def test_outage_black_holes_a_zone_until_discovery_removes_it() -> None:
    # round robin over 2 live + 2 dead replicas, no retries: half the requests wait the connect
    # timeout and fail until discovery (5 s) drops the dead ones; then none fail
    sc = _base(duration="40s", faults=[{"at": "10s", "duration": "20s", "kind": "outage", "target": "aws/us-east-1/a"}])
    res = meshsim.simulate(sc, executor="serial")
    w = _workload_bins(res)
    during = w[(w.t_s >= 11) & (w.t_s < 15)]
    share = during["failed_connect_failure"].sum() / during["completed"].sum()
    assert share == pytest.approx(0.5, abs=0.03)
    after = w[(w.t_s >= 16)]
    assert after["failed"].sum() == 0
    removed = _events(res, "endpoint_removed")
    assert sorted(removed.t_s) == [15.0, 15.0] and set(removed.zone) == {"aws/us-east-1/a"}
    added = _events(res, "endpoint_added")
    assert sorted(added.t_s) == [30.0, 30.0]


def test_crash_refuses_at_once_and_restarts_after_the_default_delay() -> None:
    sc = _base(
        duration="60s",
        mesh={"proxy": "none", "discovery_delay": "20s", "connect_timeout": "700ms"},
        faults=[{"at": "10s", "kind": "crash", "target": "api", "instances": 2}],
    )
    res = meshsim.simulate(sc, executor="serial")
    start = _events(res, "fault_start").iloc[0]
    assert start["replicas"] == 2
    assert list(_events(res, "fault_end").t_s) == [40.0]  # restart defaults to 30 s
    w = _workload_bins(res)
    during = w[(w.t_s >= 10) & (w.t_s < 30)]
    share = during["failed_connect_failure"].sum() / during["completed"].sum()
    assert share == pytest.approx(0.5, abs=0.03)
    # connection refused comes back at once: the failed requests are not slow
    assert during["latency_p99_ms"].max() < 15.0
    assert w[(w.t_s >= 30) & (w.t_s < 40)]["failed"].sum() == 0  # discovery removed them at 30 s
    assert sorted(_events(res, "endpoint_added").t_s) == [40.0, 40.0]


def test_crash_resets_work_in_flight() -> None:
    sc = _base(
        services={"api": {"placement": {"aws/us-east-1/a": 1}, "concurrency": 256, "service_time": "2s"}},
        duration="20s",
        faults=[{"at": "5s", "kind": "crash", "target": "api", "restart": "5s"}],
    )
    d = meshsim.simulate(sc, executor="serial").to_dict()["workloads"]["w"]
    # the ~100 requests in flight at 5 s end as resets (cause error), the ones during the crash
    # are refused (connect_failure); the rest succeed
    assert 90 <= d["failed"]["error"] <= 110
    assert d["failed"]["connect_failure"] > 0 and d["ok"] > 0


def test_restart_and_duration_of_a_crash() -> None:
    sc = _base(faults=[{"at": "5s", "kind": "crash", "target": "aws/us-east-1/b", "restart": "3s"}])
    res = meshsim.simulate(sc, executor="serial")
    assert list(_events(res, "fault_end").t_s) == [8.0]
    assert _events(res, "fault_start").iloc[0]["replicas"] == 1  # instances defaults to 1


def test_overlapping_faults_on_one_service_combine() -> None:
    sc = _base(
        faults=[
            {"at": "0s", "kind": "latency", "target": "api", "add": "5ms"},
            {"at": "0s", "kind": "latency", "target": "api", "add": "7ms"},
            {"at": "0s", "kind": "degrade", "target": "api", "factor": 2},
            {"at": "0s", "kind": "degrade", "target": "api", "factor": 1.5},
        ]
    )
    mean = meshsim.simulate(sc, executor="serial").to_dict()["workloads"]["w"]["latency_ms"]["mean"]
    assert mean == pytest.approx(10 * 3 + 12, rel=1e-6)


@pytest.mark.parametrize(
    "fault",
    [
        {"at": "1s", "kind": "errors", "target": "aws/us-east-1/a", "rate": 0.5},
        {"at": "1s", "kind": "degrade", "target": "aws", "factor": 2},
        {"at": "1s", "duration": "0s", "kind": "latency", "target": "api", "add": "5ms"},
    ],
)
def test_faults_the_engine_cannot_apply_are_input_errors(fault: dict) -> None:
    with pytest.raises(MeshsimInputError) as exc:
        meshsim.simulate(_base(faults=[fault]), executor="serial")
    assert "faults.0" in str(exc.value)


def test_same_seed_same_fault_timeline() -> None:
    sc = _base(faults=[{"at": "5s", "kind": "crash", "target": "api", "instances": 2, "restart": "5s"}])
    a = meshsim.simulate(copy.deepcopy(sc), executor="serial").to_json()
    b = meshsim.simulate(copy.deepcopy(sc), executor="serial").to_json()
    assert a == b


def test_load_fault_is_on_the_timeline() -> None:
    sc = _base(faults=[{"at": "10s", "duration": "10s", "kind": "load", "factor": 2}])
    res = meshsim.simulate(sc, executor="serial")
    w = _workload_bins(res).set_index("t_s")
    assert w.loc[15.0, "completed"] == pytest.approx(100, abs=2) and w.loc[25.0, "completed"] == pytest.approx(
        50, abs=2
    )
    assert list(_events(res, "fault_start").fault_kind) == ["load"]
    assert not math.isnan(w.loc[5.0, "latency_p50_ms"])


def test_outage_of_a_service_narrowed_to_one_zone() -> None:
    # only api's replicas in zone a go dark: round robin sends them half the calls until discovery
    sc = _base(
        faults=[{"at": "10s", "duration": "20s", "kind": "outage", "target": "api", "location": "aws/us-east-1/a"}]
    )
    res = meshsim.simulate(sc, executor="serial")
    start = _events(res, "fault_start").iloc[0]
    assert start["replicas"] == 2 and start["target"] == "api@aws/us-east-1/a"
    removed = _events(res, "endpoint_removed")
    assert set(removed.zone) == {"aws/us-east-1/a"} and len(removed) == 2


def test_crash_narrowed_to_a_location_picks_only_there() -> None:
    sc = _base(
        faults=[
            {
                "at": "5s",
                "kind": "crash",
                "target": "api",
                "location": "aws/us-east-1/b",
                "instances": 5,
                "restart": "10s",
            }
        ]
    )
    res = meshsim.simulate(sc, executor="serial")
    start = _events(res, "fault_start").iloc[0]
    assert start["replicas"] == 2  # capped at the two replicas in zone b
    removed = _events(res, "endpoint_removed")
    assert set(removed.zone) == {"aws/us-east-1/b"}


@pytest.mark.parametrize(
    ("fault", "field"),
    [
        ({"at": "1s", "kind": "outage", "target": "aws/us-east-1/a", "location": "aws/us-east-1/a"}, "location"),
        ({"at": "1s", "kind": "crash", "target": "api", "location": "gcp/us-central1"}, "location"),
    ],
)
def test_bad_locations_name_the_field(fault: dict, field: str) -> None:
    with pytest.raises(MeshsimInputError) as exc:
        meshsim.simulate(_base(faults=[fault]), executor="serial")
    assert f"faults.0.{field}" in str(exc.value)


def test_location_only_narrows_outages_and_crashes() -> None:
    with pytest.raises(MeshsimInputError) as exc:
        meshsim.load_scenario(
            _base(
                faults=[{"at": "1s", "kind": "latency", "target": "api", "add": "5ms", "location": "aws/us-east-1/a"}]
            )
        )
    assert "location" in str(exc.value)
