"""The network model: relations, the default region table, precedence, loss, bandwidth, egress cost."""

from __future__ import annotations

import math

import numpy as np
import pytest

import meshsim
from meshsim.stats import mean_ci
from meshsim.topology import (
    EGRESS_USD_PER_GB,
    REGION_METRO,
    REGION_RTT_MS,
    RTT_FIT_INTERCEPT_MS,
    RTT_FIT_MS_PER_KM,
    TCP_MIN_RTO_S,
    NetworkModel,
    distance_km,
    region_rtt_ms,
    relation,
)

GIB = 1.073741824


def _scenario(**over: object) -> dict:
    sc: dict = {
        "name": "net",
        "seed": 5,
        "duration": "20s",
        "warmup": "0s",
        "locations": {"aws": {"us-east-1": ["a", "b"], "eu-west-1": ["a"]}, "gcp": {"europe-west1": ["b"]}},
        "network": {"same_zone": "0ms", "cross_zone": "0ms"},
        "mesh": {"proxy": "none"},
        "services": {"api": {"placement": {"aws/us-east-1/a": 1}, "concurrency": 64, "service_time": "1ms"}},
        "workload": [{"name": "w", "entry": "api", "origin": "aws/us-east-1/a", "rate": "50/s", "arrival": "constant"}],
    }
    sc.update(over)
    return sc


def _net(sc: dict) -> NetworkModel:
    return NetworkModel(meshsim.load_scenario(sc), np.random.default_rng(0))


def _median_s(dist: object) -> float:
    return math.exp(dist.p("mu"))  # type: ignore[attr-defined]


def test_relation_of_location_paths() -> None:
    assert relation("aws/us-east-1/a", "aws/us-east-1/a") == "same_zone"
    assert relation("aws/us-east-1/a", "aws/us-east-1/b") == "cross_zone"
    assert relation("aws/us-east-1", "aws/us-east-1/b") == "cross_zone"  # an origin without a zone
    assert relation("aws/us-east-1/a", "aws/eu-west-1/a") == "cross_region"
    assert relation("aws/us-east-1/a", "gcp/europe-west1/b") == "cross_cloud"
    assert relation(None, "aws/us-east-1/a") == "same_zone"


def test_published_round_trip_becomes_a_one_way_median() -> None:
    # references §15: AWS us-east-1 <-> eu-west-1 76.0 ms RTT (aws-ping, 2019-06)
    net = _net(_scenario())
    dist = net.latency_distribution("aws/us-east-1/a", "aws/eu-west-1/a")
    assert _median_s(dist) == pytest.approx(0.038, rel=1e-9)
    assert region_rtt_ms("aws/us-east-1/a", "aws/eu-west-1/a") == (76.0, "published")


def test_unlisted_pairs_are_estimated_from_distance() -> None:
    rtt, how = region_rtt_ms("aws/us-east-1", "gcp/europe-west1")  # type: ignore[misc]
    assert how == "estimated"
    # Ashburn to Belgium is ~6,100 km: the fitted line gives ~87 ms; it must sit between the
    # published us-east-1 <-> eu-west-1 (76) and us-east-1 <-> eu-central-1 (88) neighbours
    assert 70.0 < rtt < 95.0
    # the same metro in two clouds: only the intercept (cross-cloud in one metro is 1-10 ms, references §15)
    same_metro, _ = region_rtt_ms("aws/us-east-1", "gcp/us-east4")  # type: ignore[misc]
    assert 1.0 <= same_metro <= 10.0


def test_fitted_line_matches_the_published_pairs() -> None:
    # the two constants in regions.py are a least-squares fit: refit and compare
    ibm = {
        ("wash", "lon"): (75.0, (38.9, -77.04), (51.51, -0.13)),
        ("fra", "lon"): (13.0, (50.11, 8.68), (51.51, -0.13)),
    }
    xs, ys = [], []
    for pair, rtt in REGION_RTT_MS.items():
        a, b = sorted(pair)
        xs.append(distance_km(REGION_METRO[a], REGION_METRO[b]))
        ys.append(rtt)
    for rtt, pa, pb in ibm.values():
        xs.append(distance_km(pa, pb))
        ys.append(rtt)
    slope, intercept = np.polyfit(xs, ys, 1)
    assert intercept == pytest.approx(RTT_FIT_INTERCEPT_MS, abs=0.05)
    assert slope == pytest.approx(RTT_FIT_MS_PER_KM, rel=0.01)


def test_precedence_link_then_user_default_then_table() -> None:
    link = {"between": ["aws/us-east-1", "aws/eu-west-1"], "latency": "5ms"}
    net = _net(_scenario(network={"same_zone": "0ms", "cross_region": "20ms", "links": [link]}))
    assert net.latency_distribution("aws/us-east-1/a", "aws/eu-west-1/a").mean() == pytest.approx(0.005)
    net = _net(_scenario(network={"same_zone": "0ms", "cross_region": "20ms"}))
    assert net.latency_distribution("aws/us-east-1/a", "aws/eu-west-1/a").mean() == pytest.approx(0.020)
    net = _net(_scenario(network={"same_zone": "0ms", "use_region_table": False}))
    # no table: the continental fallback (70 ms RTT)
    assert _median_s(net.latency_distribution("aws/us-east-1/a", "aws/eu-west-1/a")) == pytest.approx(0.035)


def test_prices_follow_the_sending_provider_and_link_overrides() -> None:
    net = _net(_scenario())
    assert net.price("aws/us-east-1/a", "aws/us-east-1/b") == pytest.approx(0.02)  # $0.01 each side
    assert net.price("aws/us-east-1/a", "aws/eu-west-1/a") == pytest.approx(0.02)
    assert net.price("aws/us-east-1/a", "gcp/europe-west1/b") == pytest.approx(0.09)
    assert net.price("gcp/europe-west1/b", "aws/us-east-1/a") == pytest.approx(0.12 / GIB)
    assert net.price("aws/us-east-1", "aws/us-east-1/b") == 0.0  # a region-level origin has no zone
    link = {"between": ["aws", "gcp"], "egress_cost_per_gb": 0.05}
    net = _net(_scenario(network={"same_zone": "0ms", "links": [link]}))
    assert net.price("gcp/europe-west1/b", "aws/us-east-1/a") == 0.05
    assert net.price("aws/us-east-1/a", "gcp/europe-west1/b") == 0.05


def test_exact_egress_cost_of_a_cross_cloud_edge() -> None:
    # constant sizes and no failures: cost = attempts x (request x price(a->b) + response x price(b->a))
    sc = _scenario(
        services={
            "front": {
                "placement": {"aws/us-east-1/a": 1},
                "concurrency": 64,
                "service_time": "1ms",
                "calls": ["catalog"],
            },
            "catalog": {
                "placement": {"gcp/europe-west1/b": 1},
                "concurrency": 64,
                "service_time": "1ms",
                "request_size": "3KB",
                "response_size": "50KB",
            },
        },
        network={"same_zone": "0ms", "cross_cloud": "10ms"},
        workload=[{"name": "w", "entry": "front", "origin": "aws/us-east-1/a", "rate": "40/s", "arrival": "constant"}],
    )
    res = meshsim.simulate(sc, replications=1, executor="serial")
    edges = res.edges().set_index(["from", "to"])
    attempts = int(edges.loc[("front", "catalog"), "attempts"])
    assert attempts > 700 and edges.loc[("front", "catalog"), "failed_error"] == 0
    per_call = (3000 * EGRESS_USD_PER_GB["aws"]["internet"] + 50000 * EGRESS_USD_PER_GB["gcp"]["internet"]) / 1e9
    assert edges.loc[("front", "catalog"), "egress_usd"] == pytest.approx(attempts * per_call, rel=1e-9)
    assert edges.loc[("front", "catalog"), "bytes_cross_cloud"] == attempts * 53000
    cost = res.to_dict()["cost"]
    done = res.to_dict()["workloads"]["w"]["ok"]
    assert cost["egress_usd"] == pytest.approx(attempts * per_call, rel=1e-6)
    assert cost["usd_per_million_requests"] == pytest.approx(attempts * per_call / done * 1e6, rel=1e-5)


def test_bandwidth_adds_size_over_bandwidth() -> None:
    # 1 Mbps = 125,000 bytes/s: a 1,250-byte request takes 10 ms more, a 12,500-byte answer 100 ms
    sc = _scenario(
        network={
            "same_zone": "0ms",
            "cross_zone": "0ms",
            "links": [{"between": ["aws/us-east-1/a", "aws/us-east-1/b"], "latency": "2ms", "bandwidth": "1Mbps"}],
        },
        services={
            "api": {
                "placement": {"aws/us-east-1/b": 1},
                "concurrency": 64,
                "service_time": "1ms",
                "request_size": 1250,
                "response_size": 12500,
            }
        },
    )
    res = meshsim.simulate(sc, replications=1, executor="serial")
    mean = res.to_dict()["workloads"]["w"]["latency_ms"]["mean"]
    assert mean == pytest.approx(2 + 10 + 1 + 2 + 100, rel=1e-6)


def test_loss_raises_latency_but_not_errors() -> None:
    # One segment per message, loss p, RTO0 = 200 ms + RTT (Linux), doubling on each repeated
    # loss: E[added delay per message] = p RTO0 (1 + 2p + 4p^2 + ...) = p RTO0 / (1 - 2p);
    # a call has two messages (request and response).
    p, one_way = 0.05, 0.010
    link = {"between": ["aws/us-east-1/a", "aws/us-east-1/b"], "latency": "10ms", "loss": p}
    sc = _scenario(
        network={"same_zone": "0ms", "links": [link]},
        duration="60s",
        services={"api": {"placement": {"aws/us-east-1/b": 1}, "concurrency": 256, "service_time": "1ms"}},
        workload=[{"name": "w", "entry": "api", "origin": "aws/us-east-1/a", "rate": "100/s"}],
    )
    res = meshsim.simulate(sc, replications=6, executor="serial")
    d = res.to_dict()["workloads"]["w"]
    assert d["failed"] == {} and d["error_rate"] == 0.0
    table = res.metrics_table_si()
    means = table[(table.scope == "workload") & (table.metric == "latency_mean")]["value"].to_numpy()
    rto0 = TCP_MIN_RTO_S + 2 * one_way
    expected = 2 * one_way + 0.001 + 2 * p * rto0 / (1 - 2 * p)
    m, lo, hi = mean_ci(list(means), 0.995)  # a 99.5% interval over 6 replications
    assert lo <= expected <= hi, (m, lo, hi, expected)
    assert m > 2 * one_way + 0.001 + 0.015  # visibly slower than the loss-free 21 ms
