"""Processor sharing against the M/G/1-PS and M/M/k closed forms (docs/references.md, processor sharing).

The service time is hyperexponential (0.9 x Exp(5 ms) + 0.1 x Exp(55 ms): E[S] = 10 ms,
E[S^2] = 650 ms^2); at lambda = 70/s (rho = 0.7) FIFO gives the Pollaczek-Khinchine
E[T] = 85.8 ms and PS gives E[S]/(1-rho) = 33.3 ms, whatever the shape (insensitivity).
"""

from __future__ import annotations

import numpy as np

from meshsim import load_scenario
from meshsim.engine import Simulation
from meshsim.rng import replication_seeds

from .conftest import assert_matches, queue_scenario, replicate, values

RATE = 70.0
MEAN_S = 0.010
SECOND_MOMENT_S2 = 2 * (0.9 * 0.005**2 + 0.1 * 0.055**2)
HYPER = {
    "dist": "mixture",
    "components": [
        {"weight": 0.9, "dist": {"dist": "exponential", "mean": "5ms"}},
        {"weight": 0.1, "dist": {"dist": "exponential", "mean": "55ms"}},
    ],
}


def _server(discipline: str, **extra: object) -> dict[str, object]:
    threads = 100_000 if discipline == "processor_sharing" else 1  # PS: every request gets a thread
    return {"replicas": 1, "concurrency": threads, "discipline": discipline, "service_time": HYPER, **extra}


def test_mg1_ps_mean_is_insensitive_and_differs_from_fifo():
    """M/G/1-PS: E[T] = E[S]/(1-rho) = 33.3 ms; the same queue FIFO: P-K E[T] = 85.8 ms (2.6x)."""
    rho = RATE * MEAN_S
    ps_theory = MEAN_S / (1 - rho)
    fifo_theory = MEAN_S + RATE * SECOND_MOMENT_S2 / (2 * (1 - rho))
    assert fifo_theory / ps_theory > 2.5
    ps = replicate(queue_scenario("mg1-ps", {"s": _server("processor_sharing")}, RATE, 200), replications=10)
    assert_matches(values(ps, "workload", "w", "latency_mean"), ps_theory, what="M/G/1-PS E[T]")
    # utilization is CPU (cores in use / cores), not threads: rho
    assert_matches(values(ps, "service", "s", "utilization"), rho, what="M/G/1-PS utilization")
    fifo = replicate(queue_scenario("mg1-fifo", {"s": _server("fifo")}, RATE, 200), replications=10)
    assert_matches(values(fifo, "workload", "w", "latency_mean"), fifo_theory, what="M/G/1-FIFO E[T] (P-K)")


def _conditional_ratios(replication: int) -> tuple[float, float]:
    """mean T / mean S of the short (S < 20 ms) and the long requests of one replication."""
    scenario = load_scenario(queue_scenario("mg1-ps-cond", {"s": _server("processor_sharing")}, RATE, 150))
    seed = replication_seeds(scenario.seed, replication + 1)[replication]
    sim = Simulation(scenario, seed, replication, trace_sample=1.0)
    spec = sim.mesh.versions[("s", None)]
    draw = spec.sampler
    work_at: dict[float, float] = {}  # arrival time -> the work drawn for it (every request starts at once)

    def recording() -> float:
        work = draw()
        work_at[sim.env.now] = work
        return work

    spec.sampler = recording
    sim.run()
    pairs = np.array(
        [(work_at[s["start_s"]], s["duration_s"]) for s in sim.spans if s["kind"] == "server" and s["start_s"] >= 20.0]
    )
    short = pairs[:, 0] < 0.020
    return (
        float(pairs[short, 1].sum() / pairs[short, 0].sum()),
        float(pairs[~short, 1].sum() / pairs[~short, 0].sum()),
    )


def test_mg1_ps_conditional_response_time_is_proportional_to_the_work():
    """M/G/1-PS: E[T | S = s] = s/(1-rho), so short and long requests alike take 1/(1-rho) = 3.33x their work."""
    ratios = np.array([_conditional_ratios(r) for r in range(8)])
    theory = 1 / (1 - RATE * MEAN_S)
    assert_matches(ratios[:, 0], theory, what="PS E[T | S < 20 ms] / E[S | S < 20 ms]")
    assert_matches(ratios[:, 1], theory, what="PS E[T | S >= 20 ms] / E[S | S >= 20 ms]")


def test_two_core_ps_with_exponential_work_matches_mm2():
    """k cores shared, each request at min(1, k/n): with exponential work the count is the M/M/k chain.

    M/M/2 with lambda = 150/s, mu = 100/s (rho = 0.75): P(wait) = 2 rho^2 / (1 + rho) = 0.6429,
    E[T] = 1/mu + C/(2 mu - lambda) = 22.86 ms (Little's law on the same chain for PS).
    """
    rho = 0.75
    c_wait = 2 * rho**2 / (1 + rho)
    theory = 0.010 + c_wait / (200 - 150)
    service = {
        "replicas": 1,
        "concurrency": 100_000,
        "discipline": "processor_sharing",
        "cores": 2,
        "service_time": {"dist": "exponential", "mean": "10ms"},
    }
    t = replicate(queue_scenario("mm2-ps", {"s": service}, 150, 200), replications=8)
    assert_matches(values(t, "workload", "w", "latency_mean"), theory, what="2-core PS E[T] (M/M/2)")
    assert_matches(values(t, "service", "s", "utilization"), rho, what="2-core PS utilization (cores in use / 2)")
