"""The request path: what every call shares on its way (clusters, network, metrics, hooks, tracing).

A logical call (:func:`RequestPath.call`) is a :class:`~meshsim.engine._call.Call` (route,
retries, timeouts, hedging) made of :class:`~meshsim.engine._exchange.Exchange` objects (one
attempt on the wire: caller proxy, network, callee proxy, the replica's
:class:`~meshsim.engine._exchange.Visit`, and back). When the destination's policy has
nothing to enforce, the call is one exchange and no :class:`Call` object is made.

These objects are small state machines: each step schedules the next on SimPy's event
queue (see :class:`~meshsim.engine._runtime.Wake`) instead of running a SimPy process, and
the delays that no timer can interrupt (proxy, network, proxy) are one event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import simpy

from meshsim.distributions import Sampler, uniform_sampler
from meshsim.engine._call import Call
from meshsim.engine._clients import ClientRetries, SdkCall
from meshsim.engine._exchange import Exchange
from meshsim.engine._policies import LoadBalancer, RetryPolicy
from meshsim.engine._proxy import Cluster, Proxy, shared_policy
from meshsim.engine._retrying import GATEWAY_STATUSES
from meshsim.engine._runtime import NO_ENDPOINT, Context, Outcome, Replica, Waiter, Wake
from meshsim.engine._timers import Timers

if TYPE_CHECKING:
    from meshsim.engine._control import Hooks
    from meshsim.engine._mesh import Mesh, Routing
    from meshsim.metrics import Recorder
    from meshsim.rng import Streams
    from meshsim.topology import NetworkModel

__all__ = ["RequestPath", "Tracing"]

#: ``env.schedule`` typed for the engine's own queue entries.
Schedule = Callable[[Wake, int, float], None]


class Tracing:
    """Sampled requests (``trace_sample``): span ids, the spans of finished requests."""

    def __init__(self, sample: float, replication: int, uniform: Sampler) -> None:
        """Sample share ``sample`` of requests, drawing from ``uniform``; ids are unique per replication."""
        self.sample = sample
        self.replication = replication
        self.uniform = uniform
        self.spans: list[dict[str, Any]] = []
        self._next_span = 1
        self.traces_done = 0

    def new_span_id(self) -> int:
        """A span id unique within the replication (deterministic: a counter)."""
        self._next_span += 1
        return self._next_span + (self.replication << 40)


class RequestPath:
    """Shared state of the request path in one replication."""

    def __init__(
        self,
        env: simpy.Environment,
        mesh: Mesh,
        routing: Routing,
        network: NetworkModel,
        recorder: Recorder,
        hooks: Hooks,
        streams: Streams,
        overhead: Callable[[], float] | None,
        tracing: Tracing,
    ) -> None:
        """Wire the request path to the mesh, the network, the recorder and the controllers' hooks."""
        self.env = env
        # SimPy's scheduler takes any object with ``callbacks`` (see Wake); typed for ours
        self.schedule: Schedule = env.schedule  # type: ignore[assignment]
        self.timers = Timers(env, self.schedule)
        self.mesh = mesh
        self.routing = routing
        self.net = network
        self.rec = recorder
        self.hooks = hooks
        self.overhead = overhead  # one proxy traversal (s), None when proxies cost nothing
        self.tracing = tracing
        self.warmup_s = recorder.warmup_s
        self.u_policy = uniform_sampler(streams.get("policy"))
        # the callers' SDKs (policies.<service>.client): their specs, and one client per caller and service
        self._sdk_specs = {
            name: pol.client
            for name, pol in mesh.scenario.policies.items()
            if pol.client is not None and name in mesh.scenario.services
        }
        self._sdk_clients: dict[tuple[Proxy, str], ClientRetries] = {}
        self._u_sdk = uniform_sampler(streams.get("sdk")) if self._sdk_specs else None
        self._shared: dict[tuple[str, str | None], tuple[RetryPolicy, LoadBalancer | None]] = {}

    # ----- clusters -----
    def cluster(self, proxy: Proxy, service: str, version: str | None) -> Cluster:
        """``proxy``'s cluster for ``service`` (and ``version``), made on first use."""
        key = (service, version)
        c = proxy.clusters.get(key)
        if c is None:
            mesh = self.mesh
            policy = mesh.policy(service, version)
            shared = self._shared.get(key)
            if shared is None:
                shared = self._shared[key] = shared_policy(policy, self.u_policy)
            c = Cluster(
                self.env,
                proxy,
                service,
                version,
                mesh.endpoints[key],
                policy,
                self.u_policy,
                mesh.membership(service),
                self.rec.edge(proxy.name, service),
                shared,
            )
            proxy.clusters[key] = c
            if version is None:
                proxy.unsplit[service] = c
        return c

    def local_hop(self, proxy: Proxy, replica: Replica) -> bool:
        """True when a call to ``replica`` costs nothing on the way.

        That is: same place, no proxies, no network faults, no rate limit; the exchange then
        goes straight to the server.
        """
        net = self.net
        return (
            self.overhead is None
            and net.quiet
            and replica.limiter is None
            and (proxy.zone is None or proxy.zone == replica.zone)
            and not (replica.blackholed or replica.refusing or net.partitions or net.extra)
        )

    def local_reply_s(self, proxy: Proxy) -> float:
        """What an answer of a proxy's own costs its caller when the proxy is a hop away, seconds.

        A network round trip within the caller's zone and half a proxy traversal (the proxy
        reads the request but forwards nothing): about 0.66 ms against 0.63-0.69 ms measured
        for a Traefik breaker's fallback on loopback (docs/lab.md).
        """
        cost_s = 0.0
        if not self.net.quiet:
            there = self.net.path(proxy.zone, proxy.zone)
            if not there.zero:
                cost_s = 2 * there.latency()
        ovh = self.overhead
        return cost_s + (0.5 * ovh() if ovh is not None else 0.0)

    # ----- calls -----
    def call(
        self, proxy: Proxy, service: str, ctx: Context, owner: Waiter, hooked: bool = True, sdk: bool = True
    ) -> None:
        """Start one logical call from ``proxy`` to ``service``; ``owner.resume(outcome, ...)`` when it ends.

        ``hooked`` False leaves the call out of the ``call_end`` hooks (mirrored copies). A
        service's call to a destination with an SDK client (``policies.<service>.client``) goes
        through the SDK's retries; ``sdk`` False is one of the SDK's tries (the mesh layer only).
        """
        if sdk and self._sdk_specs and hooked and not proxy.is_ingress:
            spec = self._sdk_specs.get(service)
            if spec is not None:
                key = (proxy, service)
                client = self._sdk_clients.get(key)
                if client is None:
                    assert self._u_sdk is not None
                    client = self._sdk_clients[key] = ClientRetries(spec, self._u_sdk, self.env)
                SdkCall(self, proxy, service, ctx, owner, client).start()
                return
        routing = self.routing
        if routing.splits:
            version = routing.choose(service)
            cluster = proxy.clusters.get((service, version)) or self.cluster(proxy, service, version)
        else:
            version = None
            cluster = proxy.unsplit.get(service) or self.cluster(proxy, service, None)
        if cluster.direct and ctx.trace is None and not (hooked and self.hooks.call_end):
            # no timers, limits or hedges: the first try is one exchange that keeps its own
            # books; a Call takes over only when a retry is due (after_first_try)
            ep = cluster.pick((), ctx.key)
            if ep is None and cluster.policy.local_reply_hop:
                Call(self, proxy, service, version, cluster, ctx, owner, hooked).start()  # its 503 costs a hop
                return
            if ep is None:
                self.record(cluster, NO_ENDPOINT, 0, False, ctx.original)
                Call(self, proxy, service, version, cluster, ctx, owner, hooked).after_try(NO_ENDPOINT, -1)
                return
            Exchange(self, proxy, cluster, ep, ctx, owner, True).start()
            return
        Call(self, proxy, service, version, cluster, ctx, owner, hooked).start()

    def after_first_try(self, exchange: Exchange, res: Outcome) -> None:
        """A direct exchange failed: a :class:`Call` decides on a retry (and makes it)."""
        cluster = exchange.cluster
        call = Call(self, exchange.proxy, cluster.service, cluster.version, cluster, exchange.ctx, exchange.owner)
        call.started_s = exchange.sent_s
        call.after_try(res, exchange.ep)

    # ----- per-attempt books -----
    def attempt_ended(
        self, cluster: Cluster, ep: int, res: Outcome, rtt_s: float, n: int, hedge: bool, original: bool
    ) -> None:
        """Per-attempt bookkeeping in the caller's proxy: detectors, balancer feedback, hooks, metrics."""
        now = self.env._now
        if cluster.health:
            failure = res.cause is not None and (res.status >= 500 or res.no_response)
            gateway = failure and res.status in GATEWAY_STATUSES
            members = cluster.known()
            for detector in cluster.health:
                if detector.record(ep, failure, gateway, now, members):
                    self._ejected(cluster, ep, now)
        if cluster.ewma is not None:
            cluster.ewma.observe(ep, rtt_s, cluster, now)
        if cluster.breaker is not None:
            cluster.breaker.record(now, res.no_response, res.status, rtt_s)
        for hook in self.hooks.attempt_end:
            hook(cluster, ep, res, rtt_s)
        if now >= self.warmup_s and cluster.meter is not None:
            cluster.meter.attempt(res.cause, n > 0, hedge, original and not hedge, now)

    def record(self, cluster: Cluster, res: Outcome, n: int, hedge: bool, original: bool) -> None:
        """Count an attempt that ended in the caller's own proxy (never reached a replica)."""
        now = self.env._now
        if now >= self.warmup_s and cluster.meter is not None:
            cluster.meter.attempt(res.cause, n > 0, hedge, original and not hedge, now)

    def _ejected(self, cluster: Cluster, ep: int, now: float) -> None:
        if now >= self.warmup_s:
            self.rec.services[cluster.service].ejections += 1
            self.rec.event(
                now, "ejection", service=cluster.service, caller=cluster.proxy.name, replica=cluster.endpoints[ep].rid
            )
