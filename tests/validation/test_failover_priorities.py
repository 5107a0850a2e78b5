"""Envoy priority load and panic, checked against the closed forms of Envoy's documentation.

Source: Envoy docs, "Priority levels", "Overprovisioning factor" and "Panic threshold"
(docs/references.md §0 items 8, [E7], [E8]) and LoadBalancerBase in
source/common/upstream/load_balancer_impl.cc: health(P) = min(100, 1.4 x 100 x healthy / hosts);
priority P takes min(left, health(P) x 100 / normalised total health); below a normalised
total of 100, a priority whose healthy share is under the panic threshold balances over all
its hosts, and when every priority panics the load follows host counts. Each check draws
20,000 picks and accepts the closed form inside a 99.9% binomial interval.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import meshsim
from meshsim.engine import Simulation
from meshsim.engine._proxy import Cluster, Proxy

N_PICKS = 20_000


def _cluster(
    p0_hosts: int, p1_hosts: int, panic: float | None, defaults: str = "istio", locality: dict | None = None
) -> tuple[Cluster, list[int], list[int]]:
    policy: dict = {"outlier_detection": {"consecutive_5xx": 5, "max_ejection_percent": 100}}
    if panic is not None:
        policy["outlier_detection"]["min_health_percent"] = panic
    if locality is not None:
        policy["locality"] = locality
    sc = meshsim.load_scenario(
        {
            "name": "prio",
            "seed": 1,
            "duration": "1s",
            "locations": {"aws": {"us-east-1": ["a", "b"]}},
            "mesh": {"proxy": "none", "defaults": defaults},
            "services": {
                "api": {"placement": {"aws/us-east-1/a": p0_hosts, "aws/us-east-1/b": p1_hosts}, "service_time": "1ms"}
            },
            "policies": {"api": policy},
            "workload": [{"name": "w", "entry": "api", "rate": "1/s"}],
        }
    )
    sim = Simulation(sc, np.random.SeedSequence(3))
    cluster = sim.cluster(Proxy("caller", "aws/us-east-1/a", True), "api", None)
    p0 = [i for i, r in enumerate(cluster.endpoints) if r.zone == "aws/us-east-1/a"]
    p1 = [i for i, r in enumerate(cluster.endpoints) if r.zone == "aws/us-east-1/b"]
    return cluster, p0, p1


def _eject(cluster: Cluster, idx: list[int]) -> None:
    assert cluster.outlier is not None
    for i in idx:
        cluster.outlier.ejected_until[i] = 1e12


def _picks(cluster: Cluster) -> np.ndarray:
    return np.array([cluster.pick((), 0) for _ in range(N_PICKS)])


def _within(count: int, p: float) -> bool:
    lo, hi = stats.binom.interval(0.999, N_PICKS, p)
    return lo <= count <= hi


def test_all_healthy_priority_zero_takes_everything() -> None:
    cluster, p0, _ = _cluster(4, 4, None)
    picks = _picks(cluster)
    assert set(picks) <= set(p0)


def test_overprovisioning_keeps_load_until_health_drops_below_71_percent() -> None:
    # 10 hosts in P0, 3 ejected: health min(100, 1.4 x 70) = 98 -> P0 98 %, P1 2 %
    cluster, p0, p1 = _cluster(10, 4, None)
    _eject(cluster, p0[:3])
    picks = _picks(cluster)
    assert _within(int(np.isin(picks, p1).sum()), 0.02)
    assert not np.isin(picks, p0[:3]).any()
    # 2 ejected: 1.4 x 80 = 112 -> capped at 100, P1 gets nothing
    cluster, p0, p1 = _cluster(10, 4, None)
    _eject(cluster, p0[:2])
    assert not np.isin(_picks(cluster), p1).any()


def test_load_spills_by_health_when_the_total_is_below_100() -> None:
    # P0 4 hosts, 3 ejected (health 35); P1 4 hosts, 2 ejected (health 70); total 105 -> 100:
    # P0 35 %, P1 65 %; Istio's panic threshold 0 keeps ejected hosts out
    cluster, p0, p1 = _cluster(4, 4, None)
    _eject(cluster, p0[:3] + p1[:2])
    picks = _picks(cluster)
    assert _within(int(np.isin(picks, p0).sum()), 0.35)
    assert not np.isin(picks, p0[:3] + p1[:2]).any()


def test_panic_in_one_priority_uses_all_its_hosts() -> None:
    # P0 5 hosts, 1 healthy (20 %, health 28); P1 2 hosts, 1 healthy (50 %, health 70):
    # total 98 < 100, P0 panics (20 < 50), P1 does not; loads 28/98 and 70/98.
    # P0's share goes to all 5 of its hosts, so ejected hosts get 28/98 x 4/5 of the picks.
    cluster, p0, p1 = _cluster(5, 2, 50)
    _eject(cluster, p0[:4] + p1[:1])
    picks = _picks(cluster)
    assert _within(int(np.isin(picks, p0).sum()), 28 / 98)
    assert _within(int(np.isin(picks, p0[:4]).sum()), 28 / 98 * 4 / 5)
    assert not np.isin(picks, p1[:1]).any()


def test_total_panic_spreads_load_by_host_counts() -> None:
    # P0 8 hosts, P1 4 hosts, 25 % healthy in each: health 35 + 35 = 70, both panic:
    # load by host counts (8/12, 4/12), every host used, ejected or not
    cluster, p0, p1 = _cluster(8, 4, 50)
    _eject(cluster, p0[:6] + p1[:3])
    picks = _picks(cluster)
    assert _within(int(np.isin(picks, p0).sum()), 8 / 12)
    assert _within(int(np.isin(picks, p0[:6] + p1[:3]).sum()), 9 / 12)


def test_no_healthy_host_and_panic_off_is_no_endpoint() -> None:
    cluster, p0, p1 = _cluster(2, 2, None)  # Istio: minHealthPercent 0, panic off
    _eject(cluster, p0 + p1)
    assert cluster.pick((), 0) is None


def test_istio_without_outlier_detection_has_no_locality_priorities() -> None:
    # Istio applies failover priorities only with outlier detection [S5]: otherwise one flat set
    sc = meshsim.load_scenario(
        {
            "name": "flat",
            "duration": "1s",
            "locations": {"aws": {"us-east-1": ["a", "b"]}},
            "mesh": {"proxy": "none", "defaults": "istio"},
            "services": {"api": {"placement": {"aws/us-east-1/a": 2, "aws/us-east-1/b": 2}, "service_time": "1ms"}},
            "policies": {"api": {"load_balancer": "round_robin"}},
            "workload": [{"name": "w", "entry": "api", "rate": "1/s"}],
        }
    )
    sim = Simulation(sc, np.random.SeedSequence(3))
    cluster = sim.cluster(Proxy("caller", "aws/us-east-1/a", True), "api", None)
    assert cluster.policy.locality is not None and cluster.locality is None
    zones = [cluster.endpoints[cluster.pick((), 0)].zone for _ in range(400)]
    assert zones.count("aws/us-east-1/b") == 200  # round robin over both zones


def test_kuma_keeps_traffic_in_the_local_kuma_zone() -> None:
    # Kuma: locality on, cross-zone off unless configured [K5]; a Kuma zone maps to a region
    sc = meshsim.load_scenario(
        {
            "name": "kuma",
            "duration": "1s",
            "locations": {"aws": {"us-east-1": ["a", "b"]}, "gcp": {"us-central1": ["a"]}},
            "mesh": {"proxy": "none", "defaults": "kuma"},
            "services": {"api": {"placement": {"aws/us-east-1/b": 2, "gcp/us-central1/a": 2}, "service_time": "1ms"}},
            "workload": [{"name": "w", "entry": "api", "rate": "1/s"}],
        }
    )
    sim = Simulation(sc, np.random.SeedSequence(3))
    cluster = sim.cluster(Proxy("caller", "aws/us-east-1/a", True), "api", None)
    picks = {cluster.endpoints[cluster.pick((), 0)].zone for _ in range(200)}
    assert picks == {"aws/us-east-1/b"}
    for r in cluster.endpoints:
        if r.zone.startswith("aws/"):
            r.known = False  # the local zone's replicas are gone
    assert cluster.pick((), 0) is None  # no cross-zone failover configured: no endpoint


@pytest.mark.parametrize("failover", [["gcp/us-central1"], []])
def test_failover_list_orders_the_remote_priorities(failover: list[str]) -> None:
    sc = meshsim.load_scenario(
        {
            "name": "fo",
            "duration": "1s",
            "locations": {"aws": {"us-east-1": ["a"], "us-west-2": ["a"]}, "gcp": {"us-central1": ["a"]}},
            "mesh": {"proxy": "none", "defaults": "istio"},
            "services": {
                "api": {
                    "placement": {"aws/us-east-1/a": 1, "aws/us-west-2/a": 1, "gcp/us-central1/a": 1},
                    "service_time": "1ms",
                }
            },
            "policies": {
                "api": {
                    "outlier_detection": {"consecutive_5xx": 1, "max_ejection_percent": 100},
                    "locality": {"prefer": "zone", "failover": failover},
                }
            },
            "workload": [{"name": "w", "entry": "api", "rate": "1/s"}],
        }
    )
    sim = Simulation(sc, np.random.SeedSequence(3))
    cluster = sim.cluster(Proxy("caller", "aws/us-east-1/a", True), "api", None)
    _eject(cluster, [0])
    zones = {cluster.endpoints[cluster.pick((), 0)].zone for _ in range(300)}
    if failover:
        assert zones == {"gcp/us-central1/a"}
    else:
        assert zones == {"aws/us-west-2/a", "gcp/us-central1/a"}  # one "everything else" priority
