"""Queue length per service against M/M/1 and M/M/c (Little's law on the wait: Lq = lambda E[Wq])."""

from __future__ import annotations

import numpy as np

from .conftest import assert_matches, queue_scenario, replicate, values
from .test_queueing_theory import erlang_c, exp_service


def test_mm1_mean_queue_length():
    """M/M/1 lambda = 80/s, mu = 100/s: Lq = rho^2 / (1 - rho) = 3.2 waiting on average."""
    t = replicate(queue_scenario("mm1-lq", {"s": exp_service("10ms")}, 80, 200))
    assert_matches(values(t, "service", "s", "queue_length_mean"), 3.2, what="M/M/1 Lq")
    # the 99th percentile second is far above the mean (the queue length is geometric)
    assert np.all(values(t, "service", "s", "queue_length_p99") > 3.2)


def test_mmc_queue_length_behind_a_caller():
    """M/M/c c = 10 reached through a router (the event-driven queue): Lq = lambda C / (c mu - lambda) = 1.637."""
    lq = 80 * erlang_c(10, 80, 10) / 20.0
    services = {
        "router": {"replicas": 1, "concurrency": 10_000, "service_time": "0ms", "calls": ["s"]},
        "s": exp_service("100ms", concurrency=10),
    }
    t = replicate(queue_scenario("mmc-lq", services, 80, 200))
    assert_matches(values(t, "service", "s", "queue_length_mean"), lq, what="M/M/c Lq")
    assert_matches(values(t, "service", "router", "queue_length_mean"), 0.0, what="no queue at the router")
