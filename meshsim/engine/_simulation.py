"""One replication: a SimPy environment, the mesh, the request path, the controllers; build and run.

A call goes from the caller's proxy (policy: split, breaker, fault injection, pool,
balancer, retries, timeouts, hedging) over the network to a replica's inbound proxy, waits
in the replica's FIFO queue for a worker, takes its service time, makes its downstream
calls, and comes back (:mod:`._path`, :mod:`._call`, :mod:`._exchange`). Workloads, faults,
autoscalers and rollouts are controllers that act through :class:`~._control.Control`.
Every counted end-user request ends in exactly one outcome or is counted in flight.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import simpy

from meshsim.distributions import uniform_sampler
from meshsim.engine import _autoscaling, _faults, _population, _rollout, _workloads
from meshsim.engine._control import Control, Hooks
from meshsim.engine._mesh import Mesh, Routing
from meshsim.engine._path import RequestPath, Tracing
from meshsim.engine._proxy import Cluster, Proxy
from meshsim.meshes import PROXY_FOR_PRESET, PROXY_OVERHEAD
from meshsim.metrics import Recorder
from meshsim.rng import Streams
from meshsim.scenario import DistSpec, Scenario
from meshsim.topology import NetworkModel

__all__ = ["PROXY_OVERHEAD", "Simulation"]

#: Wall time between progress reports and stop checks while a run goes, seconds.
CHECK_EVERY_S = 0.1


@contextmanager
def _built_objects_frozen() -> Iterator[None]:
    """Keep the garbage collector's full passes off everything built before the run (``gc.freeze``).

    A mesh of thousands of replicas is hundreds of thousands of long-lived objects that
    every full collection would walk again. The run's own objects are collected as usual,
    and everything is unfrozen when the run ends, so nothing it leaves behind escapes
    collection.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _bin_s(duration_s: float) -> float:
    """1 s bins, widened for runs over an hour so the time series stays small."""
    return max(1.0, float(int(duration_s // 3600) + 1)) if duration_s > 3600 else 1.0


class Simulation:
    """One replication of one scenario."""

    def __init__(
        self, scenario: Scenario, seed_sequence: np.random.SeedSequence, replication: int = 0, trace_sample: float = 0.0
    ) -> None:
        """Build the mesh, the request path and the controllers; nothing runs yet."""
        self.scenario = scenario
        self.replication = replication
        self.env = simpy.Environment()
        self.streams = Streams(seed_sequence)
        self.warmup_s = scenario.warmup
        self.end_s = scenario.warmup + scenario.duration
        self.stopped_s: float | None = None  # when a run was stopped before its end (partial)
        self.rec = Recorder(self.warmup_s, _bin_s(scenario.duration))
        self.extras: dict[str, Any] = {}  # results beyond the recorder's, e.g. "rollout" (docs/results.md)
        self.net = NetworkModel(scenario, self.streams.get("network"))
        self.mesh = Mesh(scenario, self.env, self.streams, self.rec, self.end_s)
        self.hooks = Hooks()
        self.tracing = Tracing(trace_sample, replication, uniform_sampler(self.streams.get("trace")))
        self.path = RequestPath(
            self.env,
            self.mesh,
            Routing(scenario, uniform_sampler(self.streams.get("routing"))),
            self.net,
            self.rec,
            self.hooks,
            self.streams,
            self._overhead(),
            self.tracing,
        )
        self.mesh.attach(self.path)
        self.control = Control(
            scenario,
            self.env,
            self.streams,
            self.mesh,
            self.path.routing,
            self.net,
            self.rec,
            self.hooks,
            self.path,
            self.end_s,
            self.extras,
        )
        _faults.install(self.control)
        _autoscaling.install(self.control)
        _rollout.install(self.control)

    def _overhead(self) -> Callable[[], float] | None:
        mesh = self.scenario.mesh
        proxy = mesh.proxy or PROXY_FOR_PRESET[mesh.defaults]
        overhead = (mesh.proxy_overhead or DistSpec.model_validate(PROXY_OVERHEAD[proxy])).build()
        return None if overhead.is_zero else overhead.sampler(self.streams.get("proxy"))

    @property
    def spans(self) -> list[dict[str, Any]]:
        """Spans of the sampled requests that finished."""
        return self.tracing.spans

    def cluster(self, proxy: Proxy, service: str, version: str | None) -> Cluster:
        """``proxy``'s view of ``service`` (``version``): balancer, pool, detectors (made on first use)."""
        return self.path.cluster(proxy, service, version)

    # ----- running -----
    def run(
        self,
        progress: Callable[[float], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Recorder:
        """Run to the end of warm-up plus duration; returns the recorder.

        ``progress(fraction)`` is told how much of the simulated time is done, about every
        0.1 s of wall time; when ``should_stop()`` turns true the run ends there and
        :attr:`stopped_s` says when (the results are partial). Neither changes the results.
        """
        sources = _workloads.install(self.control, _population.Population)
        env = self.env
        end_s = self.end_s
        with _built_objects_frozen():
            if progress is None and should_stop is None:
                env.run(until=end_s)
            else:
                self._run_in_steps(progress, should_stop)
        _workloads.in_flight_ages(sources, float(env.now))
        self._close_busy(float(env.now))
        self.rec.flush()
        return self.rec

    def _run_in_steps(self, progress: Callable[[float], None] | None, should_stop: Callable[[], bool] | None) -> None:
        # Stopping at a step's end puts one extra event on the queue, before any other at
        # that time: the order of the model's own events, hence the results, is unchanged.
        env = self.env
        end_s = self.end_s
        step_s = end_s / 1000.0
        while env.now < end_s:
            if should_stop is not None and should_stop():
                self.stopped_s = float(env.now)
                return
            started = time.perf_counter()
            env.run(until=min(end_s, env.now + step_s))
            took = time.perf_counter() - started
            # aim each step at CHECK_EVERY_S of wall time
            step_s *= min(2.0, max(0.5, CHECK_EVERY_S / took)) if took > 0 else 2.0
            if progress is not None:
                progress(min(1.0, env.now / end_s))

    def _close_busy(self, now_s: float) -> None:
        """Add each replica's busy time and capacity over the measured window to its service."""
        warm = self.warmup_s
        for r in self.mesh.replicas:
            r.workers.close(now_s)
            start = max(r.started_s, warm)
            stop = r.stopped_s if r.stopped_s is not None else now_s
            s = self.rec.services[r.service]
            s.busy_s += r.busy_s
            if stop > start:
                s.capacity_s += r.spec.busy_units * (stop - start)
