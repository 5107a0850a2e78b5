"""The request path: its shortcuts give the same answers as the long way, with fewer events.

- A service without calls plans its FIFO queue on arrival (PlannedWorkers); the same
  service with an event per step (QueuedWorkers) gives the very same latencies.
- A call whose policy has no timers is one exchange until a retry is due; the same policy
  with a timer that never fires goes through a Call object and gives the same numbers.
- The proxies and the network on the way there are one event: a leaf call costs two
  events, a call that calls on costs three.
"""

from __future__ import annotations

from typing import Any

import pytest
import simpy

import meshsim
from meshsim.engine import Simulation
from meshsim.rng import replication_seeds


def _mmc(cancel: bool) -> dict[str, Any]:
    return {
        "name": "mmc",
        "seed": 5,
        "duration": "60s",
        "warmup": "2s",
        "network": {"same_zone": "0ms"},
        "mesh": {"proxy": "none"},
        "services": {
            "api": {
                "replicas": 1,  # one replica: its draws go to requests in arrival order either way
                "concurrency": 3,
                "queue_limit": 4,
                "service_time": {"dist": "exponential", "mean": "20ms"},
                "cancel_on_timeout": cancel,  # never used here: only keeps the event-driven queue
            }
        },
        "workload": [{"name": "w", "entry": "api", "rate": "140/s"}],
    }


def test_planned_and_queued_workers_are_the_same_fifo_queue() -> None:
    planned = meshsim.simulate(_mmc(False), 1, executor="serial")
    queued = meshsim.simulate(_mmc(True), 1, executor="serial")
    sc = planned.scenario
    assert sc.services["api"].cancel_on_timeout is False
    p, q = planned.to_dict(), queued.to_dict()
    assert p["workloads"] == q["workloads"]  # every latency the same, to the last digit
    sp, sq = p["services"]["api"], q["services"]["api"]
    assert sp["received"] == sq["received"] and sp["failed"] == sq["failed"]
    assert sp["failed"].get("overflow", 0) > 0  # the queue limit was reached, in both alike
    assert sp["queue_wait_ms"] == sq["queue_wait_ms"]
    assert sp["utilization"] == pytest.approx(sq["utilization"], rel=1e-9)


def _retrying(timeout: str | None) -> dict[str, Any]:
    policy: dict[str, Any] = {"retries": {"attempts": 2, "retry_on": ["5xx"], "backoff": {"base": "5ms"}}}
    if timeout:
        policy["timeout"] = timeout
    return {
        "name": "retrying",
        "seed": 9,
        "duration": "30s",
        "warmup": "1s",
        "locations": {"aws": {"us-east-1": ["a", "b"]}},
        "network": {"same_zone": "0.1ms", "cross_zone": {"dist": "lognormal", "median": "0.5ms", "p99": "2ms"}},
        "mesh": {"proxy": "envoy"},
        "services": {
            "front": {
                "placement": {"aws/us-east-1/a": 2},
                "service_time": "1ms",
                "calls": ["back", {"to": "back", "probability": 0.5}],
            },
            "back": {
                "placement": {"aws/us-east-1/a": 1, "aws/us-east-1/b": 2},
                "service_time": {"dist": "exponential", "mean": "2ms"},
                "error_rate": 0.3,
            },
        },
        "policies": {"back": policy},
        "workload": [{"name": "w", "entry": "front", "origin": "aws/us-east-1/a", "rate": "100/s"}],
    }


def test_a_timer_that_never_fires_changes_nothing() -> None:
    direct = meshsim.simulate(_retrying(None), 1, executor="serial").to_dict()
    timed = meshsim.simulate(_retrying("1h"), 1, executor="serial").to_dict()
    back = direct["services"]["back"]
    assert back["retries"] > 0.2 * back["attempts"]  # retries happened: the Call took over after first tries
    assert direct["workloads"] == timed["workloads"]
    assert direct["services"] == timed["services"]
    assert direct["edges"] == timed["edges"]


class _Counting(simpy.Environment):
    """Counts the events it processes."""

    def __init__(self) -> None:
        super().__init__()
        self.events = 0

    def step(self) -> None:
        self.events += 1
        super().step()


def test_a_leaf_call_is_two_events_and_a_call_that_calls_on_three(monkeypatch: pytest.MonkeyPatch) -> None:
    sc = meshsim.load_scenario(
        {
            "name": "chain",
            "duration": "20s",
            "warmup": "0s",
            "network": {"same_zone": {"dist": "lognormal", "median": "0.1ms", "p99": "1ms"}},
            "mesh": {"proxy": "envoy"},
            "services": {
                "front": {"service_time": "1ms", "calls": ["back"]},
                "back": {"service_time": "2ms"},
            },
            "workload": [{"name": "w", "entry": "front", "rate": "50/s", "arrival": "constant"}],
        }
    )
    monkeypatch.setattr(simpy, "Environment", _Counting)  # the engine builds its environment from here
    sim = Simulation(sc, replication_seeds(sc.seed, 1)[0])
    assert isinstance(sim.env, _Counting)
    rec = sim.run()
    requests = rec.workloads["w"].requests
    done = rec.workloads["w"].ok
    assert 998 <= requests <= 1000 and done >= requests - 1
    # per request: its arrival, front (there, work done, back) and back (there, answer back)
    per_request = 1 + 3 + 2
    assert per_request * done <= sim.env.events <= per_request * requests + 2  # + the end of the run
