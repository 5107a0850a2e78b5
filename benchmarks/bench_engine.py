"""Engine benchmarks (not part of `make test`): each prints a ratio against a baseline run in this process.

(a) M/M/1, 200k requests: meshsim vs a minimal hand-written SimPy model of the same queue;
(b) models/online-boutique.yaml with the Istio preset: end-user requests per second against
    the raw SimPy M/M/1 customers per second, and against a hand-written SimPy model of the
    same call graph (one process per call);
(c) a generated mesh of 495 services (Online Boutique tiled 45 times, five times the replicas):
    build time, and calls per second against Online Boutique's, (c1) at 45 times the load and
    (c2) at Online Boutique's total load spread over the copies;
(d) peak traced memory of a replication at 1e5 vs 1e7 requests (tracemalloc; --quick: 1e6);
(e) the cost of policies: online-boutique with and without the Istio preset.

Times are CPU seconds of this process (the best of a few runs), so other jobs on the machine
disturb the ratios less than they would wall time.

Run: .venv/bin/python benchmarks/bench_engine.py [--quick] [--only a,b,c,d,e]
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import numpy as np
import simpy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from meshsim import load_scenario, run_replication  # noqa: E402 (after the path insert)
from meshsim.experiments import apply_overrides  # noqa: E402
from meshsim.scenario import Scenario  # noqa: E402
from meshsim.topology import NetworkModel  # noqa: E402

RATE, MEAN_S = 80.0, 0.010


def best_cpu_s(fn: Callable[[], Any], rounds: int = 3) -> tuple[float, Any]:
    """The least CPU time of ``rounds`` runs of ``fn``, and its last result."""
    best, out = float("inf"), None
    for _ in range(rounds):
        t = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t)
    return best, out


# ----- (a) M/M/1 -----
def plain_simpy_mm1(n_requests: int, seed: int) -> float:
    """The smallest honest SimPy M/M/1: arrivals, a Resource, a timeout; returns mean response (s)."""
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1 / RATE, n_requests).tolist()
    works = rng.exponential(MEAN_S, n_requests).tolist()
    total = [0.0, 0]

    def request(work: float) -> Generator[Any, Any, None]:
        start = env.now
        with server.request() as req:
            yield req
            yield env.timeout(work)
        total[0] += env.now - start
        total[1] += 1

    def arrivals() -> Generator[Any, Any, None]:
        for gap, work in zip(gaps, works):
            yield env.timeout(gap)
            env.process(request(work))

    env.process(arrivals())
    env.run()
    return total[0] / total[1]


def mm1_scenario(n_requests: int) -> dict[str, Any]:
    return {
        "name": "bench-mm1",
        "seed": 1,
        "duration": f"{n_requests / RATE}s",
        "warmup": "0s",
        "network": {"same_zone": "0ms"},
        "mesh": {"proxy": "none"},
        "services": {"api": {"replicas": 1, "concurrency": 1, "service_time": {"dist": "exponential", "mean": "10ms"}}},
        "workload": [{"name": "w", "entry": "api", "rate": RATE}],
    }


# ----- (b) a hand-written SimPy model of a scenario's call graph -----
class HandWritten:
    """The call graph of a scenario as one writes it in SimPy by hand: a process per call.

    Same replicas, concurrency, service times, proxy overhead (one draw per proxy), network
    latency between zones, call probabilities and parallel steps; round-robin balancing, no
    policies (retries, timeouts), no metrics but the end-user latency.
    """

    def __init__(self, scenario: Scenario, seed: int) -> None:
        self.sc = scenario
        self.env = simpy.Environment()
        rng = np.random.default_rng(seed)
        self.net = NetworkModel(scenario, rng)
        ovh = scenario.mesh.proxy_overhead
        from meshsim.engine._simulation import PROXY_OVERHEAD
        from meshsim.scenario import DistSpec

        spec = ovh or DistSpec.model_validate(PROXY_OVERHEAD[scenario.mesh.proxy or "envoy"])
        self.overhead = spec.build().sampler(rng)
        self.u = np.random.default_rng(seed + 1)
        self.uniform = self.u.random
        self.replicas: dict[str, list[tuple[str, simpy.Resource]]] = {}
        self.work: dict[str, Callable[[], float]] = {}
        self.next: dict[str, int] = {}
        zones = scenario.zones()
        for name, svc in scenario.services.items():
            placement = svc.placement or {zones[0]: svc.replicas or 1}
            self.replicas[name] = [
                (zone, simpy.Resource(self.env, capacity=svc.concurrency or 16))
                for zone, n in placement.items()
                for _ in range(n)
            ]
            assert svc.service_time is not None
            self.work[name] = svc.service_time.build().sampler(rng)
            self.next[name] = 0
        self.latency: list[float] = []

    def delay(self, a: str, b: str) -> float:
        return self.net.delay(self.net.path(a, b), 1000)

    def call(self, caller_zone: str, service: str) -> Generator[Any, Any, None]:
        env = self.env
        reps = self.replicas[service]
        i = self.next[service]
        self.next[service] = i + 1
        zone, workers = reps[i % len(reps)]
        yield env.timeout(self.overhead() + self.delay(caller_zone, zone) + self.overhead())
        with workers.request() as req:
            yield req
            yield env.timeout(self.work[service]())
            for step in self.sc.call_steps(service):
                calls = [c for c in step.calls if c.probability >= 1.0 or self.uniform() < c.probability]
                if step.parallel:
                    yield env.all_of([env.process(self.call(zone, c.to)) for c in calls])
                else:
                    for c in calls:
                        yield env.process(self.call(zone, c.to))
        yield env.timeout(self.delay(zone, caller_zone))

    def user(self, origin: str, entry: str) -> Generator[Any, Any, None]:
        start = self.env.now
        yield self.env.process(self.call(origin, entry))
        self.latency.append(self.env.now - start)

    def arrivals(self, rate: float, origin: str, entry: str) -> Generator[Any, Any, None]:
        gaps = iter(np.random.default_rng(7).exponential(1 / rate, 10**7).tolist())
        while True:
            yield self.env.timeout(next(gaps))
            self.env.process(self.user(origin, entry))

    def run(self) -> int:
        w = self.sc.workload[0]
        self.env.process(self.arrivals(w.rate, w.origin or self.sc.zones()[0], w.entry))
        self.env.run(until=self.sc.warmup + self.sc.duration)
        return len(self.latency)


# ----- (c) a generated mesh -----
def tiled_mesh(
    boutique: Scenario, copies: int = 45, replica_factor: int = 5, duration_s: float = 3.0, rate_factor: float = 1.0
) -> dict:
    """Online Boutique tiled ``copies`` times (495 services) with ``replica_factor`` times its replicas.

    Each copy has its own services (``cart-7``), Istio policies and workload at the
    original rate times ``rate_factor``, so a call does the same work as in Online
    Boutique: what differs is the size of the mesh around it (and, at ``rate_factor`` 1,
    ``copies`` times the requests in flight).
    """
    base = boutique.model_dump(mode="json", by_alias=True, exclude_none=True)

    def renamed(step: Any, k: int) -> Any:
        if "parallel" in step:
            return {"parallel": [renamed(c, k) for c in step["parallel"]]}
        return {**step, "to": f"{step['to']}-{k}"}

    services: dict[str, Any] = {}
    policies: dict[str, Any] = {}
    workload: list[dict[str, Any]] = []
    for k in range(copies):
        for name, svc in base["services"].items():
            services[f"{name}-{k}"] = {
                **svc,
                "placement": {z: n * replica_factor for z, n in svc["placement"].items()},
                "calls": [renamed(step, k) for step in svc.get("calls", [])],
            }
        for name, pol in base.get("policies", {}).items():
            policies[f"{name}-{k}"] = pol
        for w in base["workload"]:
            rate = {"rate": f"{float(str(w['rate']).removesuffix('/s')) * rate_factor}/s"} if "rate" in w else {}
            workload.append({**w, **rate, "name": f"{w['name']}-{k}", "entry": f"{w['entry']}-{k}"})
    return {
        **base,
        "name": f"online-boutique-x{copies}",
        "duration": f"{duration_s}s",
        "warmup": "1s",
        "services": services,
        "policies": policies,
        "workload": workload,
        "slos": [],
    }


def calls_per_request(rep: Any) -> float:
    """Attempts to services per end-user request (both counted after warm-up)."""
    attempts = sum(s.attempts for s in rep.services.values())
    requests = sum(w.requests for w in rep.workloads.values())
    return attempts / requests


def simulated(count: float, scenario: Scenario) -> float:
    """``count`` (counted after warm-up) scaled to the whole simulated time, warm-up included.

    The CPU time of a run covers its warm-up too, so rates per CPU second use this.
    """
    return count * (scenario.warmup + scenario.duration) / scenario.duration


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller runs (memory at 1e6 instead of 1e7)")
    ap.add_argument("--only", default="a,b,c,d,e", help="which benchmarks, e.g. a,b")
    args = ap.parse_args()
    only = set(args.only.split(","))
    quick = args.quick

    n = 50_000 if quick else 200_000
    base_s, _ = best_cpu_s(lambda: plain_simpy_mm1(n, 1))
    raw_rate = n / base_s
    if "a" in only:
        sc = load_scenario(mm1_scenario(n))
        ours_s, rep = best_cpu_s(lambda: run_replication(sc, 0))
        print(
            f"(a) M/M/1, {n:,} requests: plain SimPy {base_s:.2f} s, meshsim {ours_s:.2f} s: "
            f"ratio {ours_s / base_s:.2f} (aim <= 1.2); mean response {rep.workloads['w'].latency.mean() * 1e3:.1f} ms "
            "(theory 50 ms)"
        )

    boutique = apply_overrides(ROOT / "models" / "online-boutique.yaml", ["duration=20s" if quick else "duration=60s"])
    ob_s, ob_rep = best_cpu_s(lambda: run_replication(boutique, 0))
    ob_reqs = sum(w.requests for w in ob_rep.workloads.values())
    ob_rate = simulated(ob_reqs, boutique) / ob_s
    ob_calls = calls_per_request(ob_rep)
    if "b" in only:
        hand_s, hand_n = best_cpu_s(lambda: HandWritten(boutique, 1).run())
        hand_rate = hand_n / hand_s  # it counts every request, warm-up included
        print(
            f"(b) online-boutique (Istio preset): {simulated(ob_reqs, boutique):,.0f} end-user requests "
            f"({ob_calls:.1f} calls each) in {ob_s:.2f} s = {ob_rate:,.0f} requests/s; raw SimPy M/M/1 "
            f"{raw_rate:,.0f} customers/s: ratio {ob_rate / raw_rate:.3f} (aim >= 0.2)"
        )
        print(
            f"    hand-written SimPy model of the same call graph (a process per call): {hand_rate:,.0f} requests/s; "
            f"meshsim is {ob_rate / hand_rate:.2f}x faster (aim >= 1.5)"
        )
    if "c" in only:
        from meshsim.engine import Simulation
        from meshsim.rng import replication_seeds

        per_call_ob = ob_rate * ob_calls
        # (c1) 45 copies at the original rate: 45x the requests in flight as well as the mesh;
        # (c2) the same total load as Online Boutique spread over the 45 copies: the mesh alone.
        cases = (("c1", 1.0, 1.0 if quick else 3.0), ("c2", 1 / 45, 45.0 if quick else 135.0))
        for label, rate_factor, duration_s in cases:
            t = time.process_time()
            big = load_scenario(tiled_mesh(boutique, duration_s=duration_s, rate_factor=rate_factor))
            load_s = time.process_time() - t
            t = time.process_time()
            sim = Simulation(big, replication_seeds(big.seed, 1)[0])
            build_s = time.process_time() - t
            t = time.process_time()
            sim.run()
            run_s = time.process_time() - t
            reqs = simulated(sum(w.requests for w in sim.rec.workloads.values()), big)
            calls = simulated(sum(s.attempts for s in sim.rec.services.values()), big)
            per_call_big = calls / run_s
            what = "at 45x the load" if rate_factor == 1.0 else "at Online Boutique's total load"
            print(
                f"({label}) Online Boutique x45 {what}, {len(big.services)} services, {len(sim.mesh.replicas):,} "
                f"replicas: load {load_s:.2f} s, build {build_s:.2f} s; {reqs:,.0f} requests "
                f"({calls / reqs:.1f} calls each) at {reqs / run_s:,.0f} requests/s, "
                f"{per_call_big:,.0f} calls/s vs online-boutique's {per_call_ob:,.0f}: "
                f"ratio {per_call_ob / per_call_big:.2f} (aim <= 1.3)"
            )
    if "d" in only:
        peaks = {}
        for size in (100_000, 1_000_000 if quick else 10_000_000):
            scenario = mm1_scenario(size)
            rate = size / 200.0  # 200 s of simulated time either way: the same number of time bins
            scenario["duration"] = "200s"
            scenario["workload"][0]["rate"] = rate
            scenario["services"]["api"]["service_time"] = {"dist": "exponential", "mean": f"{0.8 / rate * 1e3}ms"}
            sc = load_scenario(scenario)
            tracemalloc.start()
            run_replication(sc, 0)
            peaks[size] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        small, big_n = sorted(peaks)
        print(
            f"(d) peak traced memory: {peaks[small] / 1e6:.1f} MB at {small:,} requests, "
            f"{peaks[big_n] / 1e6:.1f} MB at {big_n:,} (same 200 s horizon): "
            f"ratio {peaks[big_n] / peaks[small]:.2f} (aim <= 1.2)"
        )
    if "e" in only:
        plain = load_scenario(
            {
                **boutique.model_dump(mode="json", by_alias=True, exclude_none=True),
                "mesh": {"proxy": "envoy"},
                "policies": {},
            }
        )
        plain_s, plain_rep = best_cpu_s(lambda: run_replication(plain, 0))
        plain_rate = simulated(sum(w.requests for w in plain_rep.workloads.values()), plain) / plain_s
        print(
            f"(e) policies: {plain_rate:,.0f} requests/s without a preset vs {ob_rate:,.0f} with Istio's: "
            f"slowdown {plain_rate / ob_rate:.2f}x (aim < 1.5x)"
        )


if __name__ == "__main__":
    main()
