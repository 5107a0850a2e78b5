"""The simulation: one SimPy environment, the replicas, and the life of a request.

A call goes from the caller's proxy (policy: split, breaker, fault injection,
pool, balancer, retries, timeouts, hedging) over the network to a replica's
inbound proxy, waits in the replica's FIFO queue for a worker, takes its service
time, makes its downstream calls, and comes back. Every counted end-user request
ends in exactly one outcome or is counted in flight.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from meshsim.distributions import Distribution, UniformSource, constant
from meshsim.engine._controllers import install as install_controllers
from meshsim.engine._limits import TokenBucket
from meshsim.engine._proxy import Cluster, Proxy
from meshsim.engine._retrying import RetryMixin
from meshsim.engine._runtime import (
    CONNECT_FAILURE,
    DEFAULT_ZONE,
    OK,
    OVERFLOW_REMOTE,
    RATE_LIMITED,
    RESET,
    Attempt,
    Membership,
    Outcome,
    Replica,
    VersionRuntime,
    outcome,
)
from meshsim.meshes import PROXY_FOR_PRESET
from meshsim.metrics import Recorder
from meshsim.rng import Streams
from meshsim.scenario import CallSpec, EffectivePolicy, Scenario, Service, ServiceVersion, resolve_policy
from meshsim.topology import NetworkModel, Path

if TYPE_CHECKING:
    from meshsim.engine._autoscaling import Autoscaler
    from meshsim.engine._faults import FaultController

__all__ = ["Simulation", "PROXY_OVERHEAD"]

Gen = Generator[Any, Any, Any]

# Per proxy traversal, one direction's processing cost folded into one draw
# (docs/proxies.md): Istio 1.10-1.15 measured +2.65 ms at p90 for the two
# proxies of a hop [P1]; Linkerd added 0.35-0.5x Istio's latency in the
# Kinvolk harness [P3, P4]; Traefik publishes no figure, so the Envoy prior is
# reused and labelled an assumption.
PROXY_OVERHEAD = {
    "envoy": {"dist": "lognormal", "median": "0.6ms", "p99": "2.5ms"},
    "linkerd2-proxy": {"dist": "lognormal", "median": "0.3ms", "p99": "1.2ms"},
    "traefik": {"dist": "lognormal", "median": "0.6ms", "p99": "2.5ms"},
    "none": "0ms",
}

_FIELDS = (
    "concurrency",
    "queue_limit",
    "holds_worker_during_calls",
    "service_time",
    "error_rate",
    "request_size",
    "response_size",
    "calls",
    "cancel_on_timeout",
    "placement",
    "replicas",
    "contention",
)
_DEFAULTS: dict[str, Any] = {
    "concurrency": 16,
    "queue_limit": None,
    "holds_worker_during_calls": True,
    "error_rate": 0.0,
    "request_size": 1000,
    "response_size": 1000,
    "calls": [],
    "cancel_on_timeout": False,
    "contention": 0.0,
}


def _field(svc: Service, ver: ServiceVersion | None, name: str) -> Any:
    if ver is not None and getattr(ver, name) is not None:
        return getattr(ver, name)
    val = getattr(svc, name)
    return val if val is not None else _DEFAULTS.get(name)


class Simulation(RetryMixin):
    """One replication of one scenario."""

    # Set by the controllers only when the scenario asks for them (read with getattr):
    fault_controller: FaultController
    autoscalers: list[Autoscaler]
    extras: dict[str, Any]  # results beyond the recorder's, e.g. "rollout" (docs/results.md)

    def __init__(
        self, scenario: Scenario, seed_sequence: np.random.SeedSequence, replication: int = 0, trace_sample: float = 0.0
    ) -> None:
        self.scenario = scenario
        self.replication = replication
        self.env = simpy.Environment()
        self.streams = Streams(seed_sequence)
        self.warmup_s = scenario.warmup
        self.end_s = scenario.warmup + scenario.duration
        # 1 s bins, widened for runs over an hour so the time series stays small
        self.rec = Recorder(
            self.warmup_s,
            bin_s=max(1.0, float(int(scenario.duration // 3600) + 1)) if scenario.duration > 3600 else 1.0,
        )
        self.net = NetworkModel(scenario, self.streams.get("network"))
        self.u_routing = UniformSource(self.streams.get("routing"))
        self.u_policy = UniformSource(self.streams.get("policy"))
        self.u_keys = UniformSource(self.streams.get("keys"))
        self.u_trace = UniformSource(self.streams.get("trace"))
        self.trace_sample = trace_sample
        self.spans: list[dict[str, Any]] = []
        self._next_span = 1
        self.traces_done = 0
        self.needs_keys = any(
            (pol.load_balancer is not None and pol.load_balancer.kind == "ring_hash")
            or any(v.load_balancer is not None and v.load_balancer.kind == "ring_hash" for v in pol.versions.values())
            for pol in scenario.policies.values()
        )
        mesh = scenario.mesh
        proxy = mesh.proxy or PROXY_FOR_PRESET[mesh.defaults]
        from meshsim.scenario import DistSpec

        overhead = mesh.proxy_overhead or DistSpec.model_validate(PROXY_OVERHEAD[proxy])
        ovh: Distribution = overhead.build()
        self.overhead = None if ovh.is_zero else ovh.sampler(self.streams.get("proxy"))
        self.versions: dict[tuple[str, str | None], VersionRuntime] = {}
        self.endpoints: dict[tuple[str, str | None], list[Replica]] = {}
        self.replicas: list[Replica] = []
        self.memberships: dict[str, Membership] = {}
        self.proxies: dict[int, Proxy] = {}
        self.policies: dict[tuple[str, str | None], EffectivePolicy] = {}
        self.splits: dict[str, tuple[list[str], list[float]]] = {}
        for name, svc in scenario.services.items():
            self._build_service(name, svc)
        for name, pol in scenario.policies.items():
            if pol.split:
                versions = list(pol.split)
                self.splits[name] = (versions, [pol.split[v] for v in versions])
        # hooks: (cluster, endpoint index, outcome, round trip s)
        self.on_attempt_end: list[Callable[[Cluster, int, Outcome, float], None]] = []
        self._install_controllers()

    # ----- building -----
    def _build_service(self, name: str, svc: Service) -> None:
        versions: list[tuple[str | None, ServiceVersion | None]] = (
            [(v, ver) for v, ver in svc.versions.items()] if svc.versions else [(None, None)]
        )
        all_eps: list[Replica] = []
        zones = self.scenario.zones()
        for vname, ver in versions:
            st = _field(svc, ver, "service_time")
            service_time = st.build() if st is not None else constant(0.0)
            stream = f"service/{name}/{vname or ''}"
            calls = [
                ("par", list(step.calls)) if step.parallel else ("seq", step.calls[0])
                for step in self.scenario.call_steps(name, vname)
            ]
            spec = VersionRuntime(
                service=name,
                version=vname,
                concurrency=_field(svc, ver, "concurrency"),
                queue_limit=_field(svc, ver, "queue_limit"),
                holds_worker=_field(svc, ver, "holds_worker_during_calls"),
                service_time=service_time,
                error_rate=_field(svc, ver, "error_rate"),
                request_bytes=_field(svc, ver, "request_size"),
                response_bytes=_field(svc, ver, "response_size"),
                calls=calls,
                cancel_on_timeout=_field(svc, ver, "cancel_on_timeout"),
                contention_s=_field(svc, ver, "contention"),
                sampler=service_time.sampler(self.streams.get(stream + "/time")),
                uniform=UniformSource(self.streams.get(stream + "/errors")),
            )
            self.versions[(name, vname)] = spec
            placement = _field(svc, ver, "placement")
            if placement is None:
                n = _field(svc, ver, "replicas")
                zone = zones[0] if zones else DEFAULT_ZONE
                placement = {zone: 1 if n is None else n}
            eps: list[Replica] = []
            for zone, count in placement.items():
                for _ in range(count):
                    eps.append(self.add_replica(spec, zone))
            self.endpoints[(name, vname)] = eps
            all_eps.extend(eps)
        if svc.versions:
            self.endpoints[(name, None)] = all_eps

    def add_replica(self, spec: VersionRuntime, zone: str) -> Replica:
        """Start a replica (also used by the autoscaler); it joins its endpoint lists."""
        membership = self.memberships.setdefault(spec.service, Membership())
        membership.version += 1  # a new endpoint
        r = Replica(self.env, len(self.replicas), spec, zone, membership)
        self.replicas.append(r)
        self.proxies[r.rid] = Proxy(spec.service, zone, False, r)
        pol = self.scenario.policies.get(spec.service)
        rl = pol.rate_limit if pol is not None else None
        if rl is not None:
            r.bucket = TokenBucket(rl.rate, rl.burst)
        if (spec.service, spec.version) in self.endpoints:
            self.endpoints[(spec.service, spec.version)].append(r)
            if spec.version is not None:
                self.endpoints[(spec.service, None)].append(r)
        return r

    def _install_controllers(self) -> None:
        install_controllers(self)

    def policy(self, service: str, version: str | None) -> EffectivePolicy:
        key = (service, version)
        p = self.policies.get(key)
        if p is None:
            p = self.policies[key] = resolve_policy(self.scenario, service, version)
        return p

    def cluster(self, proxy: Proxy, service: str, version: str | None) -> Cluster:
        key = (service, version)
        c = proxy.clusters.get(key)
        if c is None:
            c = proxy.clusters[key] = Cluster(
                self.env,
                proxy,
                service,
                version,
                self.endpoints[key],
                self.policy(service, version),
                self.u_policy,
                self.memberships.setdefault(service, Membership()),
            )
        return c

    def choose_version(self, service: str) -> str | None:
        split = self.splits.get(service)
        if split is None:
            return None
        versions, weights = split
        total = sum(weights)
        if total <= 0:
            return None
        u = self.u_routing() * total
        acc = 0.0
        for v, w in zip(versions, weights):
            acc += w
            if u < acc:
                return v
        return versions[-1]

    def new_span_id(self) -> int:
        """A span id unique within the replication (deterministic: a counter)."""
        self._next_span += 1
        return self._next_span + (self.replication << 40)

    def local_hop(self, proxy: Proxy, replica: Replica) -> bool:
        """True when a call to ``replica`` costs nothing on the way.

        That is: same place, no proxies, no network faults, no rate limit; the engine then
        goes straight to the server.
        """
        net = self.net
        return (
            self.overhead is None
            and net.quiet
            and replica.bucket is None
            and (proxy.zone is None or proxy.zone == replica.zone)
            and not (replica.blackholed or replica.refusing or net.partitions or net.extra)
        )

    # ----- the network exchange and the server -----
    def exchange(self, proxy: Proxy, cluster: Cluster, replica: Replica, ctx: Attempt) -> Gen:
        """Caller proxy -> network -> callee: returns the callee's outcome."""
        env = self.env
        spec = replica.spec
        net = self.net
        ovh = self.overhead
        if self.local_hop(proxy, replica):
            res: Outcome = yield from self.serve(replica, ctx)
            return res
        delay = 0.0
        if ovh is not None and not proxy.is_ingress:
            delay += ovh()  # the caller's outbound proxy
        if replica.blackholed or net.cut(proxy.zone, replica.zone):
            # a black hole: the connect attempt waits for the connect timeout
            yield env.timeout(delay + cluster.policy.connect_timeout_s)
            return CONNECT_FAILURE
        path = net.path(proxy.zone, replica.zone)
        delay += net.delay(path, spec.request_bytes) + net.extra_delay(proxy.zone, replica.zone)
        if replica.refusing:
            if delay > 0:
                yield env.timeout(2 * delay)  # the SYN and the RST
            return CONNECT_FAILURE
        if ovh is not None:
            delay += ovh()  # the callee's inbound proxy
        if delay > 0:
            yield env.timeout(delay)
        if replica.bucket is not None and not replica.bucket.take(env.now):
            res = RATE_LIMITED
        else:
            res = yield from self.serve(replica, ctx)
        back = (
            net.delay(net.path(replica.zone, proxy.zone), spec.response_bytes)
            if not path.zero or path.bytes_per_s
            else 0.0
        )
        if back > 0:
            yield env.timeout(back)
        if path.relation != "same_zone" and env.now >= self.warmup_s:
            self._count_bytes(proxy, spec, path)
        return res

    def _count_bytes(self, proxy: Proxy, spec: VersionRuntime, path: Path) -> None:
        nbytes = spec.request_bytes + spec.response_bytes
        edge = self.rec.edges[(proxy.name, spec.service)]
        attr = {
            "cross_zone": "bytes_cross_zone",
            "cross_region": "bytes_cross_region",
            "cross_cloud": "bytes_cross_cloud",
        }[path.relation]
        setattr(edge, attr, getattr(edge, attr) + nbytes)
        # each direction is priced by its sender's provider (network.Path.back_price_per_gb)
        edge.egress_usd += (spec.request_bytes * path.price_per_gb + spec.response_bytes * path.back_price_per_gb) / 1e9

    def _busy(self, replica: Replica, delta: int) -> None:
        now = self.env.now
        start = replica.busy_since if replica.busy_since > self.warmup_s else self.warmup_s
        if now > start:
            replica.busy_s += replica.busy_workers * (now - start)
        replica.busy_since = now
        replica.busy_workers += delta

    def serve(self, replica: Replica, ctx: Attempt) -> Gen:
        """The replica's queue, a worker, the service time and the downstream calls."""
        env = self.env
        spec = replica.spec
        workers = replica.workers
        if (
            spec.queue_limit is not None
            and workers.count >= workers.capacity
            and len(workers.queue) >= spec.queue_limit
        ):
            return OVERFLOW_REMOTE
        arrive = env.now
        epoch = replica.epoch
        span_id = 0
        if ctx.trace is not None:
            span_id = self.new_span_id()
        req = workers.request()
        held = False
        warm = self.warmup_s
        granted = arrive
        try:
            yield req
            held = True
            self._busy(replica, +1)
            granted = env.now
            work = spec.sampler() * spec.degrade_factor
            if spec.contention_s:
                work += spec.contention_s * (replica.busy_workers - 1)  # the others in progress slow this one
            if spec.extra_latency is not None:
                work += spec.extra_latency()
            if work > 0:
                yield env.timeout(work)
            if ctx.abandoned and env.now >= self.warmup_s:
                self.rec.services[spec.service].wasted_s += work
            err = spec.error_rate + spec.extra_error_rate
            if err > 0.0 and spec.uniform() < err:
                res: Outcome = outcome("error", 500)
            elif spec.calls:
                if not spec.holds_worker:
                    self._busy(replica, -1)
                    workers.release(req)
                    held = False
                res = yield from self.downstream(replica, spec, ctx, span_id)
            else:
                res = OK
        except simpy.Interrupt:
            res = RESET  # cancelled by the caller (cancel_on_timeout)
        finally:
            if held:
                self._busy(replica, -1)
                workers.release(req)
            elif not req.triggered:
                req.cancel()
        if replica.epoch != epoch:
            res = RESET  # the replica crashed while working on this request
        now = env.now
        if now >= warm:
            self.rec.served(spec.service, now - arrive, granted - arrive, now)
            # time in the replica (queue + service), integrated over the measured window: L of Little's law
            self.rec.services[spec.service].in_system_s += now - (arrive if arrive > warm else warm)
        if ctx.trace is not None:
            ctx.trace.append(
                {
                    "span_id": f"{span_id:016x}",
                    "parent_id": f"{ctx.span_id:016x}" if ctx.span_id else None,
                    "service": spec.service,
                    "version": spec.version,
                    "name": f"serve {spec.service}",
                    "kind": "server",
                    "peer_service": None,
                    "start_s": arrive,
                    "duration_s": now - arrive,
                    "error": res.cause is not None,
                    "status_code": res.status,
                    "location": replica.zone,
                    "instance": f"{spec.service}-{replica.rid}",
                    "request_bytes": spec.request_bytes,
                    "response_bytes": spec.response_bytes,
                }
            )
        return res

    def downstream(self, replica: Replica, spec: VersionRuntime, ctx: Attempt, span_id: int) -> Gen:
        """Make the service's calls in order; parallel groups wait for all their calls."""
        proxy = self.proxies[replica.rid]
        env = self.env
        u = spec.uniform
        child = Attempt(ctx.original, ctx.trace, span_id, ctx.key)
        res: Outcome
        for kind, item in spec.calls:
            if kind == "seq":
                call: CallSpec = item
                if call.probability < 1.0 and u() >= call.probability:
                    continue
                for _ in range(call.count):
                    res = yield from self.call(proxy, call.to, child)
                    if res.cause is not None and not call.optional:
                        return outcome(res.cause, 500)  # the caller fails with its dependency's cause
            else:
                procs = []
                for call in item:
                    if call.probability < 1.0 and u() >= call.probability:
                        continue
                    procs.append((call, env.process(self._repeat(proxy, call, child))))
                if procs:
                    yield env.all_of([p for _, p in procs])
                    for call, p in procs:
                        res = p.value  # type: ignore[assignment]  # simpy types Event.value as Optional[Any]
                        if res.cause is not None and not call.optional:
                            return outcome(res.cause, 500)
        return OK

    def _repeat(self, proxy: Proxy, call: CallSpec, ctx: Attempt) -> Gen:
        res: Outcome = OK
        for _ in range(call.count):
            res = yield from self.call(proxy, call.to, ctx)
            if res.cause is not None:
                return res
        return res

    # ----- workloads -----
    def run(self) -> Recorder:
        """Run to the end of warm-up plus duration; returns the recorder."""
        from meshsim.engine._workloads import start_workloads

        start_workloads(self)
        self.env.run(until=self.end_s)
        self._close_busy()
        return self.rec

    def _close_busy(self) -> None:
        for r in self.replicas:
            self._busy(r, 0)
            start = max(r.started_s, self.warmup_s)
            stop = r.stopped_s if r.stopped_s is not None else self.end_s
            s = self.rec.services[r.service]
            s.busy_s += r.busy_s
            if stop > start:
                s.capacity_s += r.spec.concurrency * (stop - start)
