"""A zone outage under locality-aware routing, with and without outlier detection.

What is checked, and against what:
- Istio with outlier detection (references §1 "Locality failover"): priorities exist, so
  once the dead zone's hosts are ejected (consecutive_5xx connect failures, which come back
  after the connect timeout) all traffic fails over to the next zone. The attempts that fail
  are the ones sent before the first failures return: lambda x connect_timeout of them
  (a Poisson count), and retries hide them from users.
- Istio without outlier detection: no priorities and no ejection [S5]; round robin keeps
  sending the dead zone its share (2 of 4 hosts: exactly half the attempts) until the control
  plane drops the endpoints after mesh.discovery_delay.
- Kuma's default (locality on, no outlier detection [K1, K5]): the dead zone stays priority 0
  and takes every attempt until discovery removes it.
"""

from __future__ import annotations

import pandas as pd
from scipy import stats

import meshsim

RATE = 100.0
AT, OUTAGE, DISCOVERY, CONNECT = 20.0, 40.0, 15.0, 1.0


def _scenario(defaults: str, policy: dict) -> dict:
    return {
        "name": "zone-outage",
        "seed": 17,
        "duration": "70s",
        "warmup": "5s",
        "locations": {"aws": {"us-east-1": ["a", "b"]}},
        "network": {"same_zone": "0.1ms", "cross_zone": "0.5ms"},
        "mesh": {
            "proxy": "none",
            "defaults": defaults,
            "discovery_delay": f"{DISCOVERY}s",
            "connect_timeout": f"{CONNECT}s",
        },
        "services": {
            "api": {
                "placement": {"aws/us-east-1/a": 2, "aws/us-east-1/b": 2},
                "concurrency": 16,
                "service_time": {"dist": "exponential", "mean": "5ms"},
            }
        },
        "policies": {"api": policy},
        "workload": [{"name": "w", "entry": "api", "origin": "aws/us-east-1/a", "rate": f"{RATE}/s"}],
        "faults": [{"at": f"{AT}s", "duration": f"{OUTAGE}s", "kind": "outage", "target": "aws/us-east-1/a"}],
    }


def _bins(res: meshsim.Results, scope: str) -> pd.DataFrame:
    ts = res.timeseries()
    b = ts[ts.scope == scope].copy()
    b["count"] = b["attempts"] if scope == "service" else b["throughput_rps"]
    return b


def test_failover_with_outlier_detection_stops_errors_after_ejection() -> None:
    policy = {
        "outlier_detection": {
            "consecutive_5xx": 2,
            "interval": "1s",
            "base_ejection_time": "30s",
            "max_ejection_percent": 100,
        }
    }
    res = meshsim.simulate(_scenario("istio", policy), executor="serial")
    w = res.to_dict()["workloads"]["w"]
    assert w["failed"] == {}  # Istio's default retries (connect-failure) go to the live zone
    svc = _bins(res, "service")
    failed = svc[svc.failed_connect_failure > 0]
    # bins hold completions: a failure comes back one connect timeout after it was sent
    assert failed.t_s.min() >= AT + CONNECT and failed.t_s.max() < AT + 2 * CONNECT + 1.0
    n_failed = int(svc.failed_connect_failure.sum())
    # attempts sent before the ejections: lambda x connect_timeout, plus the 2 x 2 that the
    # two dead hosts need to reach consecutive_5xx
    lo, hi = stats.poisson.interval(0.999, RATE * CONNECT + 2 * 2)
    assert lo <= n_failed <= hi, n_failed
    # the dead zone's hosts were ejected, not just forgotten
    ev = res.events()
    assert (ev.kind == "ejection").sum() == 2 and ev[ev.kind == "ejection"].t_s.max() < AT + CONNECT + 0.1


def test_without_outlier_detection_traffic_goes_to_the_dead_zone_until_discovery() -> None:
    policy = {"load_balancer": "round_robin", "retries": {"attempts": 0}}
    res = meshsim.simulate(_scenario("istio", policy), executor="serial")
    w = _bins(res, "workload")
    during = w[(w.t_s >= AT + CONNECT) & (w.t_s < AT + DISCOVERY)]
    n = int(during["count"].sum())
    k = int(during["failed_connect_failure"].sum())
    lo, hi = stats.binom.interval(0.999, n, 0.5)
    assert lo <= k <= hi, (k, n)
    last_failure = w[w.failed_connect_failure > 0].t_s.max()
    # requests sent just before the endpoints are dropped fail one connect timeout later
    assert AT + DISCOVERY - 1.0 <= last_failure <= AT + DISCOVERY + CONNECT
    assert w[w.t_s >= AT + DISCOVERY + CONNECT + 1.0]["failed_connect_failure"].sum() == 0
    removed = res.events()
    assert sorted(removed[removed.kind == "endpoint_removed"].t_s) == [AT + DISCOVERY] * 2


def test_kuma_keeps_the_dead_zone_first_until_discovery() -> None:
    res = meshsim.simulate(_scenario("kuma", {"retries": {"attempts": 0}}), executor="serial")
    w = _bins(res, "workload")
    during = w[(w.t_s >= AT + CONNECT) & (w.t_s < AT + DISCOVERY)]
    assert during["failed_connect_failure"].sum() == during["count"].sum()  # every request
    after = w[w.t_s >= AT + DISCOVERY + CONNECT + 1.0]
    assert after["failed_connect_failure"].sum() == 0 and after["count"].sum() > 0
