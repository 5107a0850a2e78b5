"""Cascade analysis: dependencies (hard vs optional), critical paths, blast-radius tables."""

from __future__ import annotations

import pytest

import meshsim
from meshsim.analysis import (
    blast_radius,
    critical_path,
    dependency_graph,
    dependents,
    fault_targets,
    fault_windows,
)


def _svc(time: str, calls: list | None = None, zone: str = "aws/us-east-1/a") -> dict:
    out: dict = {"placement": {zone: 2}, "concurrency": 32, "service_time": time}
    if calls:
        out["calls"] = calls
    return out


def _scenario(services: dict, faults: list | None = None, **over: object) -> dict:
    sc: dict = {
        "name": "cascade",
        "seed": 4,
        "duration": "40s",
        "warmup": "0s",
        "locations": {"aws": {"us-east-1": ["a", "b"]}},
        "network": {"same_zone": "0ms", "cross_zone": "1ms"},
        "mesh": {"proxy": "none"},
        "services": services,
        "workload": [{"name": "shop", "entry": "a", "origin": "aws/us-east-1/a", "rate": "40/s"}],
        "faults": faults or [],
    }
    sc.update(over)
    return sc


CHAIN = {"a": _svc("2ms", ["b"]), "b": _svc("3ms", ["c"]), "c": _svc("5ms")}
FANOUT = {"a": _svc("2ms", [{"parallel": ["b", {"to": "c", "optional": True}]}]), "b": _svc("3ms"), "c": _svc("5ms")}


def test_dependents_of_a_chain_are_all_hard() -> None:
    df = dependents(meshsim.load_scenario(_scenario(CHAIN))).set_index("service")
    assert list(df["dependency"]) == ["hard"] * 3
    assert df.loc["c", "path"] == "a -> b -> c"
    assert df.loc["c", "calls_per_request"] == pytest.approx(1.0)


def test_optional_calls_make_optional_dependencies() -> None:
    services = {
        "a": _svc("2ms", [{"parallel": ["b", {"to": "c", "optional": True, "probability": 0.5}]}]),
        "b": _svc("3ms", [{"to": "d", "count": 3}]),
        "c": _svc("5ms", ["d"]),
        "d": _svc("1ms"),
    }
    sc = meshsim.load_scenario(_scenario(services))
    df = dependents(sc).set_index("service")
    assert df.loc["b", "dependency"] == "hard"
    assert df.loc["c", "dependency"] == "optional" and df.loc["c", "calls_per_request"] == pytest.approx(0.5)
    # d is reached hard through b, even though c also calls it
    assert df.loc["d", "dependency"] == "hard" and df.loc["d", "path"] == "a -> b -> d"
    assert df.loc["d", "calls_per_request"] == pytest.approx(3 + 0.5)
    g = dependency_graph(sc)
    assert g.edges["a", "c"]["optional"] and not g.edges["a", "b"]["optional"]


def test_critical_path_adds_sequences_and_takes_the_slowest_parallel_branch() -> None:
    services = {
        "a": _svc("2ms", ["b", {"parallel": ["c", "d"]}]),
        "b": _svc("3ms"),
        "c": _svc("5ms"),
        "d": _svc("20ms", zone="aws/us-east-1/b"),
    }
    cp = critical_path(meshsim.load_scenario(_scenario(services)), "shop")
    assert list(cp["service"]) == ["a", "b", "d"]
    assert list(cp["step"]) == ["entry", "seq", "parallel"]
    # a: 2 ms + b: 3 ms + max(c: 5 ms, d: 20 ms + 2 x 1 ms across zones) = 27 ms
    assert cp.iloc[0]["subtree_ms"] == pytest.approx(27.0)
    assert cp.set_index("service").loc["d", "network_ms"] == pytest.approx(2.0)
    assert cp.iloc[0]["share"] == pytest.approx(1.0)


def test_fault_targets_by_kind() -> None:
    services = {"a": _svc("2ms", ["b"]), "b": _svc("3ms", zone="aws/us-east-1/b")}
    faults = [
        {"at": "1s", "kind": "outage", "target": "aws/us-east-1/b"},
        {"at": "1s", "kind": "errors", "target": "a", "rate": 0.1},
        {"at": "1s", "kind": "partition", "between": ["aws/us-east-1/a", "aws/us-east-1/b"]},
        {"at": "1s", "kind": "load", "factor": 2},
    ]
    sc = meshsim.load_scenario(_scenario(services, faults))
    # a partition hits the callees of calls that cross it: a (zone a) calls b (zone b)
    assert [fault_targets(sc, f) for f in sc.faults] == [{"b"}, {"a"}, {"b"}, {"a", "b"}]
    win = fault_windows(sc)
    assert list(win["end_s"]) == [40.0] * 4  # no duration: to the end of the run


def test_blast_radius_of_a_chain() -> None:
    faults = [{"at": "10s", "duration": "10s", "kind": "errors", "target": "c", "rate": 0.5}]
    res = meshsim.simulate(_scenario(CHAIN, faults), executor="serial")
    br = blast_radius(res).set_index(["scope", "name"])
    assert set(br.index) == {("service", "a"), ("service", "b"), ("service", "c"), ("workload", "shop")}
    assert br.loc[("service", "c"), "role"] == "target"
    assert br.loc[("service", "b"), "role"] == "cascade" and br.loc[("service", "b"), "via"] == "b -> c"
    assert br.loc[("service", "a"), "via"] == "a -> b -> c"
    assert br.loc[("workload", "shop"), "via"] == "shop -> a -> b -> c"
    # half of c's calls fail for 10 s of the 15 s window (5 s settling), and every one of
    # them fails its callers (hard dependencies)
    assert br.loc[("service", "c"), "error_rate"] == pytest.approx(0.5 * 10 / 15, abs=0.07)
    assert br.loc[("service", "a"), "failed"] == br.loc[("service", "c"), "failed"]
    assert (br["baseline_error_rate"] == 0).all() and (br["top_cause"] == "error").all()


def test_blast_radius_of_a_fan_out_stops_at_optional_calls() -> None:
    faults = [{"at": "10s", "duration": "10s", "kind": "errors", "target": "c", "rate": 1.0}]
    res = meshsim.simulate(_scenario(FANOUT, faults), executor="serial")
    br = blast_radius(res)
    assert list(zip(br.scope, br.name, br.role)) == [("service", "c", "target")]
    everything = blast_radius(res, all_rows=True).set_index(["scope", "name"])
    assert everything.loc[("service", "a"), "role"] == "unaffected"
    assert everything.loc[("service", "b"), "failed"] == 0


def test_blast_radius_of_a_zone_outage_names_the_services_in_it() -> None:
    services = {
        "a": _svc("2ms", [{"to": "c", "optional": True}, {"to": "b"}]),
        "b": _svc("3ms", zone="aws/us-east-1/b"),
        "c": _svc("5ms", zone="aws/us-east-1/b"),
    }
    faults = [{"at": "10s", "duration": "10s", "kind": "outage", "target": "aws/us-east-1/b"}]
    sc = _scenario(services, faults, mesh={"proxy": "none", "discovery_delay": "60s", "connect_timeout": "200ms"})
    br = blast_radius(meshsim.simulate(sc, executor="serial")).set_index(["scope", "name"])
    assert br.loc[("service", "b"), "role"] == "target" and br.loc[("service", "c"), "role"] == "target"
    assert br.loc[("service", "b"), "top_cause"] == "connect_failure"
    assert br.loc[("service", "a"), "via"] == "a -> b"  # hard through b, not through optional c
