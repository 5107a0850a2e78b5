"""Parallel replications: process-pool speed-up and the Dask LocalCluster's overhead (not part of `make test`).

(a) 8 replications in one process vs the local process pool on every core
    (aim: >= 1.8x on 2 cores); the results must be byte-identical;
(b) the same 8 on a Dask LocalCluster (one single-threaded worker process per core):
    its wall time against the pool's, and the cluster's own start + stop time.

Engines run in alternation for ``--rounds`` rounds and the best wall time of each is kept,
so a burst of other work on the machine hurts less; the load average is printed too.

Run: .venv/bin/python benchmarks/bench_parallel.py [--replications 8] [--model FILE]
     [--duration 10s] [--rounds 2] [--no-dask]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from meshsim import simulate  # noqa: E402 (after the path insert)
from meshsim.experiments import apply_overrides  # noqa: E402


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (the pool's workers)."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(scenario, replications: int, executor: str) -> tuple[float, float, str]:
    """(wall s, CPU s of this process and the pool's workers, results JSON)."""
    c0, t0 = _cpu_s(), time.perf_counter()
    res = simulate(scenario, replications, executor=executor)
    return time.perf_counter() - t0, _cpu_s() - c0, res.to_json()


def cluster_start_stop(workers: int) -> tuple[float, float]:
    from dask.distributed import Client, LocalCluster

    t0 = time.perf_counter()
    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
    )
    client = Client(cluster)
    started = time.perf_counter() - t0
    t1 = time.perf_counter()
    client.close()
    cluster.close()
    return started, time.perf_counter() - t1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replications", type=int, default=8)
    ap.add_argument("--model", default=str(ROOT / "models" / "online-boutique.yaml"))
    ap.add_argument("--duration", default="10s", help="simulated duration per replication")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds; the best of each engine counts")
    ap.add_argument("--no-dask", action="store_true")
    args = ap.parse_args()

    cores = os.cpu_count() or 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    scenario = apply_overrides(args.model, [f"duration={args.duration}"])
    n = args.replications
    print(f"{scenario.name}, duration {args.duration}, {n} replications, {cores} cores, load average {load:.2f}")
    simulate(apply_overrides(args.model, ["duration=1s"]), 1, executor="serial")  # imports, caches

    engines = ["serial", "process"] + ([] if args.no_dask else ["dask-local"])
    best: dict[str, float] = {}
    cpu: dict[str, float] = {}
    outputs: dict[str, str] = {}
    for _ in range(args.rounds):
        for engine in engines:
            wall, used, text = timed(scenario, n, engine)
            if wall < best.get(engine, float("inf")):
                best[engine], cpu[engine] = wall, used
            outputs[engine] = text
    serial_s, pool_s = best["serial"], best["process"]
    ideal = min(cores, n)
    print(f"(a) one process       {serial_s:7.2f} s  ({serial_s / n:.2f} s per replication)")
    print(
        f"    process pool      {pool_s:7.2f} s  speed-up {serial_s / pool_s:.2f}x (ideal {ideal}x, "
        f"efficiency {serial_s / pool_s / ideal:.0%}); identical: {outputs['process'] == outputs['serial']}"
    )
    share = cpu["process"] / (pool_s * ideal)
    print(
        f"    CPU used / (wall x workers): one process {cpu['serial'] / serial_s:.0%}, pool {share:.0%}"
        + (" (well under 100%: other jobs share the cores, so the speed-up is understated)" if share < 0.85 else "")
    )
    if args.no_dask:
        return
    dask_s = best["dask-local"]
    start_s, stop_s = cluster_start_stop(min(cores, n))
    print(
        f"(b) dask LocalCluster {dask_s:7.2f} s  {dask_s / pool_s:.2f}x the pool's wall time "
        f"(+{dask_s - pool_s:.2f} s); speed-up vs one process {serial_s / dask_s:.2f}x; "
        f"identical: {outputs['dask-local'] == outputs['serial']}"
    )
    print(
        f"    cluster start {start_s:.2f} s, stop {stop_s:.2f} s "
        f"(so the per-run overhead beyond start/stop is {dask_s - pool_s - start_s - stop_s:+.2f} s)"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "")


if __name__ == "__main__":  # LocalCluster spawns its workers: this guard is required
    main()
