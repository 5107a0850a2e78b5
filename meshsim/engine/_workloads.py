"""End-user traffic: arrival processes with rate profiles, and the end user's own timeout and retries."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from meshsim.distributions import Distribution
from meshsim.engine._proxy import Proxy
from meshsim.engine._runtime import ROUTE_TIMEOUT, Attempt, Outcome
from meshsim.scenario import Workload

if TYPE_CHECKING:
    from meshsim.engine._core import Simulation

Gen = Generator[Any, Any, Any]

__all__ = ["start_workloads", "rate_changes"]


def rate_changes(sim: Simulation, w: Workload) -> list[tuple[float, float]]:
    """(time s, rate /s) steps of ``w``: its profile times any active ``load`` faults."""
    times = {0.0}
    times.update(step.at for step in w.profile)
    loads = [f for f in sim.scenario.faults if f.kind == "load" and f.target in (None, w.name)]
    for f in loads:
        times.add(f.at)
        if f.duration is not None:
            times.add(f.at + f.duration)
    steps = sorted(w.profile, key=lambda s: s.at)
    out = []
    for t in sorted(times):
        rate = w.rate
        for step in steps:
            if step.at <= t:
                rate = step.rate
        for f in loads:
            if f.at <= t and (f.duration is None or t < f.at + f.duration):
                rate *= f.factor or 1.0
        out.append((t, rate))
    return out


def start_workloads(sim: Simulation) -> None:
    """Start one arrival process per workload."""
    for w in sim.scenario.workload:
        ingress = Proxy(f"workload:{w.name}", w.origin, True)
        sim.env.process(_arrivals(sim, w, ingress))


def _arrivals(sim: Simulation, w: Workload, ingress: Proxy) -> Gen:
    env = sim.env
    rng = sim.streams.get(f"arrivals/{w.name}")
    unit_exp = Distribution("exponential", (("mean", 1.0),)).sampler(rng)
    steps = rate_changes(sim, w)
    i = 0
    poisson = w.arrival == "poisson"
    end = sim.end_s
    while env.now < end:
        while i + 1 < len(steps) and steps[i + 1][0] <= env.now:
            i += 1
        rate = steps[i][1]
        next_change = steps[i + 1][0] if i + 1 < len(steps) else None
        if rate <= 0:
            if next_change is None:
                return
            yield env.timeout(next_change - env.now)
            continue
        gap = unit_exp() / rate if poisson else 1.0 / rate
        if next_change is not None and env.now + gap > next_change:
            # the exponential is memoryless: restart the draw at the new rate
            yield env.timeout(next_change - env.now)
            continue
        yield env.timeout(gap)
        if env.now < end:
            env.process(_user_request(sim, w, ingress))


def _user_request(sim: Simulation, w: Workload, ingress: Proxy) -> Gen:
    env = sim.env
    start = env.now
    counted = start >= sim.warmup_s
    rec = sim.rec
    if counted:
        rec.workloads[w.name].requests += 1
    trace: list[dict[str, Any]] | None = None
    if sim.trace_sample > 0.0 and counted and sim.u_trace() < sim.trace_sample:
        trace = []
    # request keys only matter to ring-hash balancing; skip the draw otherwise
    key = int(sim.u_keys() * 1_000_000) if sim.needs_keys else 0
    client = w.client
    if client.retries == 0 and client.timeout is None:
        res: Outcome = yield from sim.call(ingress, w.entry, Attempt(True, trace, 0, key))
    else:
        res = ROUTE_TIMEOUT
        for i in range(1 + client.retries):
            ctx = Attempt(i == 0, trace, 0, key)
            if client.timeout is not None:
                proc = env.process(sim.call(ingress, w.entry, ctx))
                timer = env.timeout(client.timeout)
                yield proc | timer
                # the user gave up; the mesh keeps working
                res = proc.value if proc.triggered else ROUTE_TIMEOUT  # type: ignore[assignment]  # simpy types Event.value as Optional[Any]
            else:
                res = yield from sim.call(ingress, w.entry, ctx)
            if res.cause is None:
                break
            if client.backoff > 0 and i < client.retries:
                wait = client.backoff * 2**i * sim.u_policy() if client.jitter else client.backoff
                yield env.timeout(wait)
    if counted:
        now = env.now
        rec.workload_done(w.name, res.cause, now - start, now)
        if trace:
            sim.traces_done += 1
            tid = f"{sim.replication:08x}{sim.traces_done:024x}"
            for span in trace:
                span["trace_id"] = tid
                span["workload"] = w.name
            sim.spans.extend(trace)
