"""The engine against queueing closed forms (docs/references.md §11 and §16, values computed there)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from .conftest import assert_matches, queue_scenario, replicate, values


def erlang_b(c: int, a: float) -> float:
    """Erlang B by the recursion B_k = a B_{k-1} / (k + a B_{k-1})."""
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(c: int, lam: float, mu: float) -> float:
    """P(wait) of M/M/c: C = B / (1 - rho (1 - B))."""
    rho = lam / (c * mu)
    b = erlang_b(c, lam / mu)
    return b / (1 - rho * (1 - b))


def exp_service(mean: str, concurrency: int = 1, **extra) -> dict:
    return {"replicas": 1, "concurrency": concurrency, "service_time": {"dist": "exponential", "mean": mean}, **extra}


def test_mm1_mean_and_p99():
    """M/M/1 lambda=80/s, mu=100/s: E[T] = 1/(mu-lambda) = 50 ms, p99 = ln(100)/(mu-lambda) = 230.26 ms."""
    t = replicate(queue_scenario("mm1", {"s": exp_service("10ms")}, 80, 300))
    assert_matches(values(t, "workload", "w", "latency_mean"), 0.050, what="M/M/1 mean")
    assert_matches(values(t, "workload", "w", "latency_p99"), math.log(100) / 20, quantile=True, what="M/M/1 p99")
    assert_matches(values(t, "service", "s", "utilization"), 0.8, what="M/M/1 utilization")


def test_mmc_erlang_c_wait_and_probability_of_waiting():
    """M/M/c c=10, lambda=80, mu=10: C = 0.4092, E[Wq] = C/(c mu - lambda) = 20.46 ms (Erlang C)."""
    c_theory = erlang_c(10, 80, 10)
    assert c_theory == pytest.approx(0.4092, abs=5e-4)
    t = replicate(queue_scenario("mmc", {"s": exp_service("100ms", concurrency=10)}, 80, 300))
    assert_matches(values(t, "service", "s", "waited_fraction"), c_theory, what="Erlang C P(wait)")
    assert_matches(values(t, "service", "s", "queue_wait_mean"), c_theory / 20.0, what="Erlang C E[Wq]")
    assert_matches(values(t, "workload", "w", "latency_mean"), 0.1 + c_theory / 20.0, what="M/M/c E[T]")


def test_md1_pollaczek_khinchine():
    """M/D/1 lambda=80, D=10 ms: E[Wq] = lambda D^2 / (2(1-rho)) = 20 ms, so E[T] = 30 ms."""
    t = replicate(queue_scenario("md1", {"s": {"replicas": 1, "concurrency": 1, "service_time": "10ms"}}, 80, 300))
    assert_matches(values(t, "service", "s", "queue_wait_mean"), 0.020, what="M/D/1 E[Wq]")
    assert_matches(values(t, "workload", "w", "latency_mean"), 0.030, what="M/D/1 E[T]")


def test_mg1_gamma_pollaczek_khinchine():
    """M/G/1 with gamma service (mean 10 ms, cv 1.5), lambda=60: E[Wq] = lambda E[S^2]/(2(1-rho)) = 24.375 ms."""
    es2 = 0.010**2 * (1 + 1.5**2)
    wq = 60 * es2 / (2 * (1 - 0.6))
    service = {"replicas": 1, "concurrency": 1, "service_time": {"dist": "gamma", "mean": "10ms", "cv": 1.5}}
    t = replicate(queue_scenario("mg1", {"s": service}, 60, 400), replications=10)
    assert_matches(values(t, "service", "s", "queue_wait_mean"), wq, what="M/G/1 E[Wq]")


def test_mm1k_blocking_via_queue_limit():
    """M/M/1/K lambda=80, mu=100, K=10 (1 serving + queue_limit 9).

    P_block = (1-rho) rho^K / (1-rho^(K+1)) = 0.02349.
    """
    rho, k = 0.8, 10
    p_block = (1 - rho) * rho**k / (1 - rho ** (k + 1))
    t = replicate(queue_scenario("mm1k", {"s": exp_service("10ms", queue_limit=9)}, 80, 300))
    assert_matches(values(t, "workload", "w", "error_rate"), p_block, what="M/M/1/K blocking")


def test_erlang_b_loss_system():
    """M/M/c/c (queue_limit 0), c=10, a=8 Erlang: blocking = Erlang B = 0.12166."""
    assert erlang_b(10, 8) == pytest.approx(0.12166, abs=1e-5)
    t = replicate(queue_scenario("loss", {"s": exp_service("100ms", concurrency=10, queue_limit=0)}, 80, 300))
    assert_matches(values(t, "workload", "w", "error_rate"), erlang_b(10, 8), what="Erlang B")


def test_jackson_tandem_network():
    """Open Jackson tandem lambda=80; mu=100, 120, 150: E[T] = sum 1/(mu_i - lambda) = 89.29 ms;
    T is hypoexponential with rates mu_i - lambda, p99 = 281.6 ms (references §11)."""
    services = {
        "router": {
            "replicas": 1,
            "concurrency": 10_000,
            "holds_worker_during_calls": False,
            "service_time": "0ms",
            "calls": ["a", "b", "c"],
        },
        "a": exp_service("10ms"),
        "b": exp_service(f"{1000 / 120}ms"),
        "c": exp_service(f"{1000 / 150}ms"),
    }
    rates = np.array([20.0, 40.0, 70.0])
    mean = float(np.sum(1 / rates))

    # hypoexponential tail: P(T > t) = sum_i prod_{j != i} r_j / (r_j - r_i) e^{-r_i t}
    def tail(t_s: float) -> float:
        return sum(np.prod([r2 / (r2 - r1) for r2 in rates if r2 != r1]) * math.exp(-r1 * t_s) for r1 in rates)

    from scipy.optimize import brentq

    p99 = brentq(lambda x: tail(x) - 0.01, 0.01, 2.0)
    assert p99 == pytest.approx(0.2816, abs=5e-4)
    t = replicate(queue_scenario("tandem", services, 80, 300))
    assert_matches(values(t, "workload", "w", "latency_mean"), mean, what="tandem E[T]")
    assert_matches(values(t, "workload", "w", "latency_p99"), p99, quantile=True, what="tandem p99")


def test_littles_law_at_every_station():
    """Little's law L = lambda W, per station: the time-average number in a replica equals its
    arrival rate times its mean response time (a sample-path identity, up to edge effects)."""
    services = {
        "front": {
            "replicas": 2,
            "concurrency": 4,
            "service_time": {"dist": "lognormal", "median": "20ms", "p99": "120ms"},
            "calls": [{"to": "db", "probability": 0.7}],
        },
        "db": exp_service("5ms", concurrency=2),
    }
    t = replicate(queue_scenario("little", services, 120, 200), replications=4)
    for name in ("front", "db"):
        lam = values(t, "service", name, "throughput")
        w = values(t, "service", name, "latency_mean")
        l_obs = values(t, "service", name, "mean_in_system")
        np.testing.assert_allclose(l_obs, lam * w, rtol=0.01, err_msg=f"Little's law at {name}")


def test_max_of_parallel_exponential_calls():
    """Fan-out to n=10 parallel Exp(10 ms) legs without queueing: the response is the maximum,
    mean = 10 ms x H_10 = 29.29 ms, p99 = -10 ms ln(1 - 0.99^(1/10)) = 69.0 ms (references §16)."""
    n = 10
    leaf = {"replicas": 1, "concurrency": 100_000, "service_time": {"dist": "exponential", "mean": "10ms"}}
    services = {
        "root": {"replicas": 1, "concurrency": 100_000, "service_time": "0ms", "calls": [{"parallel": ["leaf"] * n}]},
        "leaf": leaf,
    }
    mean = 0.010 * sum(1 / k for k in range(1, n + 1))
    p99 = -0.010 * math.log(1 - 0.99 ** (1 / n))
    assert mean * 1e3 == pytest.approx(29.29, abs=0.01) and p99 * 1e3 == pytest.approx(69.0, abs=0.1)
    t = replicate(queue_scenario("fanout", services, 100, 200))
    assert_matches(values(t, "workload", "w", "latency_mean"), mean, what="max of 10 exponentials, mean")
    assert_matches(values(t, "workload", "w", "latency_p99"), p99, quantile=True, what="max of 10 exponentials, p99")


def test_mmc_against_ciw_as_an_outside_implementation():
    """The same M/M/c (c=10, lambda=80, mu=10) simulated by Ciw, an independent queueing-network DES:
    the two means must agree within their combined 99% interval (and both with Erlang C's 120.46 ms)."""
    ciw = pytest.importorskip("ciw")
    ours = values(
        replicate(queue_scenario("mmc", {"s": exp_service("100ms", concurrency=10)}, 80, 300)),
        "workload",
        "w",
        "latency_mean",
    )
    theirs = []
    for seed in range(8):
        ciw.seed(seed)  # Ciw only offers a global seed; it is used here, in the test, and nowhere else
        net = ciw.create_network(
            arrival_distributions=[ciw.dists.Exponential(80.0)],
            service_distributions=[ciw.dists.Exponential(10.0)],
            number_of_servers=[10],
        )
        sim = ciw.Simulation(net)
        sim.simulate_until_max_time(320.0)
        recs = [r for r in sim.get_all_records() if r.arrival_date > 20.0]
        theirs.append(np.mean([r.exit_date - r.arrival_date for r in recs]))
    theirs = np.array(theirs)
    diff = ours.mean() - theirs.mean()
    se = math.sqrt(ours.var(ddof=1) / ours.size + theirs.var(ddof=1) / theirs.size)
    assert abs(diff) <= stats.t.ppf(0.995, ours.size + theirs.size - 2) * se, (
        f"meshsim {ours.mean() * 1e3:.2f} ms vs Ciw {theirs.mean() * 1e3:.2f} ms"
    )
    assert_matches(theirs, 0.1 + erlang_c(10, 80, 10) / 20, what="Ciw vs Erlang C")
