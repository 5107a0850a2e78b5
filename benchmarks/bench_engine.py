"""Engine benchmarks (not part of `make test`); prints ratios against baselines run in this process.

(a) meshsim vs a minimal hand-written SimPy model of the same M/M/1 queue, 200k requests each;
(b) end-user requests simulated per wall-clock second on models/online-boutique.yaml;
(c) peak memory of a replication at 1e5 vs 1e6 requests (tracemalloc);
(d) the cost of policies: online-boutique with and without the Istio preset.

Run: .venv/bin/python benchmarks/bench_engine.py [--quick]
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import simpy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from meshsim import load_scenario, run_replication  # noqa: E402

RATE, MEAN_S = 80.0, 0.010


def plain_simpy_mm1(n_requests: int, seed: int) -> float:
    """The smallest honest SimPy M/M/1: arrivals, a Resource, a timeout; returns mean response (s)."""
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1 / RATE, n_requests).tolist()
    works = rng.exponential(MEAN_S, n_requests).tolist()
    total = [0.0, 0]

    def request(work: float):
        start = env.now
        with server.request() as req:
            yield req
            yield env.timeout(work)
        total[0] += env.now - start
        total[1] += 1

    def arrivals():
        for gap, work in zip(gaps, works):
            yield env.timeout(gap)
            env.process(request(work))

    env.process(arrivals())
    env.run()
    return total[0] / total[1]


def mm1_scenario(n_requests: int, defaults: str | None = None) -> dict:
    return {
        "name": "bench-mm1",
        "seed": 1,
        "duration": f"{n_requests / RATE}s",
        "network": {"same_zone": "0ms"},
        "mesh": {"proxy": "none", **({"defaults": defaults} if defaults else {})},
        "services": {"api": {"replicas": 1, "concurrency": 1, "service_time": {"dist": "exponential", "mean": "10ms"}}},
        "workload": [{"name": "w", "entry": "api", "rate": RATE}],
    }


def timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, out


def main() -> None:
    quick = "--quick" in sys.argv
    n = 50_000 if quick else 200_000
    sc = load_scenario(mm1_scenario(n))
    base_s, base_mean = min(timed(plain_simpy_mm1, n, s) for s in range(3))
    ours_s, rep = min(timed(run_replication, sc, s) for s in range(3))
    print(
        f"(a) M/M/1, {n:,} requests: plain SimPy {base_s:.2f} s, meshsim {ours_s:.2f} s, "
        f"ratio {ours_s / base_s:.2f} (aim <= 1.5); mean response {base_mean * 1e3:.1f} ms vs "
        f"{rep.workloads['w'].latency.mean() * 1e3:.1f} ms (theory 50 ms)"
    )

    boutique = load_scenario(ROOT / "models" / "online-boutique.yaml")
    wall, rep = timed(run_replication, boutique, 0)
    reqs = sum(w.requests for w in rep.workloads.values())
    print(f"(b) online-boutique: {reqs:,} end-user requests in {wall:.2f} s = {reqs / wall:,.0f} requests/s")

    plain = load_scenario(
        {
            **boutique.model_dump(mode="json", by_alias=True, exclude_none=True),
            "mesh": {"proxy": "envoy"},
            "policies": {},
        }
    )
    wall_plain, rep_plain = timed(run_replication, plain, 0)
    r_plain = sum(w.requests for w in rep_plain.workloads.values()) / wall_plain
    print(
        f"(d) policies: {r_plain:,.0f} req/s without a preset vs {reqs / wall:,.0f} with Istio's: "
        f"slowdown {r_plain / (reqs / wall):.2f}x (aim < 1.5x)"
    )

    # Memory must not grow with the number of requests: same simulated time (bins), 10x the traffic
    peaks = {}
    for size in (100_000, 1_000_000 if not quick else 300_000):
        scenario = mm1_scenario(size)
        rate = size / 200.0  # 200 s of simulated time either way
        scenario["duration"] = "200s"
        scenario["workload"][0]["rate"] = rate
        scenario["services"]["api"]["concurrency"] = 1
        scenario["services"]["api"]["service_time"] = {"dist": "exponential", "mean": f"{0.8 / rate * 1e3}ms"}
        tracemalloc.start()
        run_replication(load_scenario(scenario), 0)
        peaks[size] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    small, big = sorted(peaks)
    print(
        f"(c) peak traced memory: {peaks[small] / 1e6:.1f} MB at {small:,} requests, "
        f"{peaks[big] / 1e6:.1f} MB at {big:,} (same 200 s horizon): ratio {peaks[big] / peaks[small]:.2f} (aim <= 1.2)"
    )


if __name__ == "__main__":
    main()
