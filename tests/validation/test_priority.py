"""Non-preemptive priority (``discipline: priority``) against Cobham's M/G/1 formula (docs/references.md §11).

Two workloads into one worker with exponential 10 ms work: high priority at 30/s, low at
50/s (rho 0.3 + 0.5). W0 = sum lambda_i E[S_i^2] / 2 = 8 ms; the class-k wait is
W0 / ((1 - sigma_{k-1}) (1 - sigma_k)): 11.43 ms for the high class, 57.14 ms for the low
one, so E[T] = 21.43 ms and 67.14 ms, where FIFO gives both 50 ms.
"""

from __future__ import annotations

from typing import Any

from .conftest import assert_matches, replicate, values


def _scenario(discipline: str = "priority") -> dict[str, Any]:
    return {
        "name": "priority",
        "seed": 2026,
        "duration": "200s",
        "warmup": "20s",
        "network": {"same_zone": "0ms"},
        "mesh": {"proxy": "none"},
        "services": {
            "s": {
                "replicas": 1,
                "concurrency": 1,
                "discipline": discipline,
                "service_time": {"dist": "exponential", "mean": "10ms"},
            }
        },
        "workload": [
            {"name": "high", "entry": "s", "rate": "30/s", "priority": 10},
            {"name": "low", "entry": "s", "rate": "50/s"},
        ],
    }


def test_two_classes_match_cobham():
    w0 = (30 + 50) * 2 * 0.010**2 / 2
    high, low = 0.010 + w0 / (1 - 0.3), 0.010 + w0 / ((1 - 0.3) * (1 - 0.8))
    t = replicate(_scenario())
    assert_matches(values(t, "workload", "high", "latency_mean"), high, what="priority: high class E[T]")
    assert_matches(values(t, "workload", "low", "latency_mean"), low, what="priority: low class E[T]")
