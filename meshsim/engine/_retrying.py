"""Route-level behaviour of the caller's proxy.

Route and per-try timeouts, retries with Envoy's jittered back-off, retry limits and
budgets, hedging, and per-attempt bookkeeping.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from meshsim.engine._proxy import Cluster, Proxy
from meshsim.engine._runtime import (
    NO_ENDPOINT,
    OVERFLOW_LOCAL,
    PER_TRY_TIMEOUT,
    ROUTE_TIMEOUT,
    Attempt,
    Outcome,
    outcome,
)
from meshsim.scenario import EffectivePolicy

if TYPE_CHECKING:
    import simpy

    from meshsim.distributions import UniformSource
    from meshsim.engine._runtime import Replica
    from meshsim.metrics import Recorder
    from meshsim.scenario import Scenario

Gen = Generator[Any, Any, Any]
_GATEWAY = (502, 503, 504)

__all__ = ["RetryMixin", "retriable", "backoff_upper_s"]


def retriable(res: Outcome, pol: EffectivePolicy) -> bool:
    """Whether Envoy's ``retry_on`` conditions allow retrying ``res`` [E1].

    Local replies of the caller's own proxy (pool overflow, no healthy upstream)
    are not retried by ``5xx``; meshsim's ``overflow`` and ``rate_limited``
    conditions name them explicitly. gRPC conditions never match: services are HTTP.
    """
    on = pol.retry_on
    cause = res.cause
    if "5xx" in on and not res.local and (res.status >= 500 or res.no_response):
        return True
    if "gateway-error" in on and not res.local and res.status in _GATEWAY:
        return True
    if "reset" in on and res.no_response and cause != "connect_failure":
        return True
    if "connect-failure" in on and cause == "connect_failure":
        return True
    if "retriable-status-codes" in on and res.status in pol.retriable_status_codes and not res.local:
        return True
    if "retriable-4xx" in on and res.status == 409:
        return True
    if "overflow" in on and cause == "overflow":
        return True
    if "rate_limited" in on and res.status == 429:
        return True
    return bool("timeout" in on and cause == "timeout" and not res.local)


def backoff_upper_s(retry_number: int, base_s: float, max_s: float) -> float:
    """Envoy: retry N (1-based) waits U[0, (2^N - 1) x base), the bound capped at max [E1]."""
    bound_s: float = min((2**retry_number - 1) * base_s, max_s)
    return bound_s


class RetryMixin:
    """Mixed into :class:`~meshsim.engine.Simulation`."""

    if TYPE_CHECKING:
        # What the mixin uses of Simulation (declared for the type checker only).
        scenario: Scenario
        env: simpy.Environment
        rec: Recorder
        warmup_s: float
        u_policy: UniformSource
        splits: dict[str, tuple[list[str], list[float]]]
        on_attempt_end: list[Callable[[Cluster, int, Outcome, float], None]]

        def choose_version(self, service: str) -> str | None: ...
        def cluster(self, proxy: Proxy, service: str, version: str | None) -> Cluster: ...
        def new_span_id(self) -> int: ...
        def local_hop(self, proxy: Proxy, replica: Replica) -> bool: ...
        def exchange(self, proxy: Proxy, cluster: Cluster, replica: Replica, ctx: Attempt) -> Gen: ...
        def serve(self, replica: Replica, ctx: Attempt) -> Gen: ...

    def call(self, proxy: Proxy, service: str, parent: Attempt) -> Gen:
        """One logical call from ``proxy`` to ``service``: all attempts; its generator returns the outcome.

        A plain function handing back the right generator, so untraced calls pay no extra frame.
        """
        if parent.trace is not None and not proxy.is_ingress:
            return self._traced_call(proxy, service, parent)
        return self._call(proxy, service, parent)

    def _traced_call(self, proxy: Proxy, service: str, parent: Attempt) -> Gen:
        """A sampled request: a client span in the caller covers every attempt of the call."""
        span_id = self.new_span_id()
        start = self.env.now
        inner = Attempt(parent.original, parent.trace, span_id, parent.key)
        res = yield from self._call(proxy, service, inner)
        assert parent.trace is not None
        parent.trace.append(
            {
                "span_id": f"{span_id:016x}",
                "parent_id": f"{parent.span_id:016x}" if parent.span_id else None,
                "service": proxy.name,
                "version": proxy.replica.version if proxy.replica else None,
                "name": f"call {service}",
                "kind": "client",
                "peer_service": service,
                "start_s": start,
                "duration_s": self.env.now - start,
                "error": res.cause is not None,
                "status_code": res.status,
                "location": proxy.zone,
                "instance": f"{proxy.name}-{proxy.replica.rid}" if proxy.replica else None,
            }
        )
        return res

    def _call(self, proxy: Proxy, service: str, parent: Attempt) -> Gen:
        env = self.env
        version = self.choose_version(service) if self.splits else None
        cluster = proxy.clusters.get((service, version)) or self.cluster(proxy, service, version)
        if cluster.trivial:
            # the short path for a policy with nothing to enforce: pick, send, count
            ep = cluster.pick((), parent.key)
            if ep is None:
                self._record(proxy, service, NO_ENDPOINT, 0, False, parent.original)
                return NO_ENDPOINT
            replica = cluster.endpoints[ep]
            active = cluster.active
            active[ep] += 1
            t0 = env.now
            # nothing can abandon this attempt (no timeouts), so the caller's context is reused
            if self.local_hop(proxy, replica):
                res = yield from self.serve(replica, parent)
            else:
                res = yield from self.exchange(proxy, cluster, replica, parent)
            active[ep] -= 1
            if self.on_attempt_end:
                for hook in self.on_attempt_end:
                    hook(cluster, ep, res, env.now - t0)
            now = env.now
            if now >= self.warmup_s:
                self.rec.attempt_done(proxy.name, service, res.cause, False, False, parent.original, now)
            return res
        pol = cluster.policy
        if pol.mirror is not None and self.u_policy() * 100.0 < pol.mirror.percent:
            self._mirror(proxy, service, pol.mirror.to, parent)
        deadline = env.now + pol.timeout_s if pol.timeout_s else None
        tried: tuple[int, ...] = ()
        n = 0
        limit = cluster.retry_limit
        while True:
            if n > 0 and limit is not None:
                limit.started()
            res, ep = yield from self.attempt(proxy, cluster, pol, deadline, n, tried, parent)
            if n > 0 and limit is not None:
                limit.finished()
            if res.cause is None or res is ROUTE_TIMEOUT or n >= pol.retry_attempts or not retriable(res, pol):
                if limit is not None:
                    limit.deposit(env.now)  # Linkerd deposits for responses it does not retry
                return res
            if limit is not None and not limit.admit(cluster.total_active + len(cluster.pending), env.now):
                limit.deposit(env.now)  # a response that is not retried still deposits (Linkerd [L11])
                if env.now >= self.warmup_s:
                    self.rec.services[service].budget_refusals += 1
                return outcome("budget_exhausted", res.status, local=True)
            n += 1
            if pol.backoff_base_s:
                wait = self.u_policy() * backoff_upper_s(
                    n, pol.backoff_base_s, pol.backoff_max_s or 10 * pol.backoff_base_s
                )
                if deadline is not None and env.now + wait >= deadline:
                    yield env.timeout(deadline - env.now)
                    return ROUTE_TIMEOUT
                if wait > 0:
                    yield env.timeout(wait)
            if pol.retry_different_host and ep >= 0:
                tried = tried + (ep,)

    def _mirror(self, proxy: Proxy, service: str, target: str, parent: Attempt) -> None:
        """Istio mirroring: a best-effort copy the caller never waits for.

        The copy goes to a version of the same service, or to another service. Its load is
        real; its outcome is dropped.
        """
        shadow = Attempt(False, None, 0, parent.key)
        if target in self.scenario.services:
            self.env.process(self._call(proxy, target, shadow))
        else:
            cluster = self.cluster(proxy, service, target)
            self.env.process(self._shadow(proxy, cluster, shadow))

    def _shadow(self, proxy: Proxy, cluster: Cluster, ctx: Attempt) -> Gen:
        ep = cluster.pick((), ctx.key)
        if ep is None:
            return None
        res = yield from self.exchange(proxy, cluster, cluster.endpoints[ep], ctx)
        if self.env.now >= self.warmup_s:
            self.rec.attempt_done(proxy.name, cluster.service, res.cause, False, False, False, self.env.now)
        return None

    def attempt(
        self,
        proxy: Proxy,
        cluster: Cluster,
        pol: EffectivePolicy,
        deadline: float | None,
        n: int,
        tried: tuple[int, ...],
        parent: Attempt,
    ) -> Gen:
        """One try (with its hedges): returns (outcome, endpoint index or -1)."""
        env = self.env
        service = cluster.service
        original = parent.original and n == 0
        if deadline is not None and env.now >= deadline:
            return ROUTE_TIMEOUT, -1
        if cluster.breaker is not None and not cluster.breaker.allow(env.now):
            self._record(proxy, service, OVERFLOW_LOCAL, n, False, original)
            return OVERFLOW_LOCAL, -1
        fault = pol.fault
        if fault is not None:
            if fault.abort is not None and self.u_policy() * 100.0 < fault.abort.percent:
                res = outcome("error", fault.abort.status, local=True)
                self._record(proxy, service, res, n, False, original)
                return res, -1
            if fault.delay is not None and self.u_policy() * 100.0 < fault.delay.percent:
                wait = fault.delay.fixed
                if deadline is not None and env.now + wait >= deadline:
                    yield env.timeout(deadline - env.now)
                    self._record(proxy, service, ROUTE_TIMEOUT, n, False, original)
                    return ROUTE_TIMEOUT, -1
                yield env.timeout(wait)
        slot = cluster.acquire()
        if slot is False:
            self._record(proxy, service, OVERFLOW_LOCAL, n, False, original)
            return OVERFLOW_LOCAL, -1
        if slot is not True:
            # pending for a connection: counts against the route timeout only [E2]
            if deadline is not None:
                timer = env.timeout(max(0.0, deadline - env.now))
                yield slot | timer
                if not slot.triggered:
                    cluster.abandon_pending(slot)
                    self._record(proxy, service, ROUTE_TIMEOUT, n, False, original)
                    return ROUTE_TIMEOUT, -1
            else:
                yield slot
        ep = cluster.pick(tried, parent.key)
        if ep is None:
            cluster.release()
            self._record(proxy, service, NO_ENDPOINT, n, False, original)
            return NO_ENDPOINT, -1
        if pol.hedging is not None:
            res, ep = yield from self._hedged(proxy, cluster, pol, deadline, n, ep, parent, original)
            cluster.release()
            return res, ep
        res = yield from self._one(proxy, cluster, pol, deadline, ep, parent, original, n, False)
        cluster.release()
        return res, ep

    def _one(
        self,
        proxy: Proxy,
        cluster: Cluster,
        pol: EffectivePolicy,
        deadline: float | None,
        ep: int,
        parent: Attempt,
        original: bool,
        n: int,
        hedge: bool,
    ) -> Gen:
        env = self.env
        replica = cluster.endpoints[ep]
        trace = parent.trace
        ctx = Attempt(original, trace, parent.span_id, parent.key)
        cluster.active[ep] += 1
        t0 = env.now
        limit = pol.per_try_timeout_s
        route_left = deadline - t0 if deadline is not None else None
        if route_left is not None and (limit is None or route_left <= limit):
            limit, fired = route_left, ROUTE_TIMEOUT
        else:
            fired = PER_TRY_TIMEOUT
        if limit is None:
            res = yield from self.exchange(proxy, cluster, replica, ctx)
        else:
            proc = env.process(self.exchange(proxy, cluster, replica, ctx))
            timer = env.timeout(limit)
            yield proc | timer
            if proc.triggered:
                res = proc.value
            else:
                ctx.abandoned = True  # the upstream keeps working unless it cancels
                if replica.spec.cancel_on_timeout and proc.is_alive:
                    proc.interrupt("timeout")
                res = fired
        cluster.active[ep] -= 1
        self._after(proxy, cluster, ep, res, env.now - t0, n, hedge, original)
        return res

    def _hedged(
        self,
        proxy: Proxy,
        cluster: Cluster,
        pol: EffectivePolicy,
        deadline: float | None,
        n: int,
        ep: int,
        parent: Attempt,
        original: bool,
    ) -> Gen:
        """Envoy-style hedging: another attempt after ``delay`` (or a per-try timeout); first success wins."""
        env = self.env
        hedging = pol.hedging
        assert hedging is not None
        procs = [env.process(self._one(proxy, cluster, pol, deadline, ep, parent, original, n, False))]
        used = [ep]
        last: Outcome = ROUTE_TIMEOUT
        while True:
            pending = [p for p in procs if not p.triggered]
            for p in procs:
                if p.triggered and p.value.cause is None:  # type: ignore[union-attr]  # simpy types Event.value as Optional[Any]
                    return p.value, used[procs.index(p)]
            if not pending and len(procs) >= hedging.max_attempts:
                return procs[-1].value if procs else last, used[-1]
            waits: list[simpy.Event] = list(pending)
            can_hedge = len(procs) < hedging.max_attempts
            hedge_timer = env.timeout(hedging.delay) if (can_hedge and hedging.delay is not None) else None
            if hedge_timer is not None:
                waits.append(hedge_timer)
            if deadline is not None:
                waits.append(env.timeout(max(0.0, deadline - env.now)))
            if not waits:
                return procs[-1].value, used[-1]
            yield env.any_of(waits)
            if any(p.triggered and p.value.cause is None for p in procs):  # type: ignore[union-attr]  # simpy types Event.value as Optional[Any]
                continue
            if deadline is not None and env.now >= deadline and all(not p.triggered for p in procs):
                return ROUTE_TIMEOUT, used[-1]
            failed_now = [p for p in procs if p.triggered]
            start_hedge = (
                (hedge_timer is not None and hedge_timer.triggered)
                or (hedging.on_per_try_timeout and any(p.value is PER_TRY_TIMEOUT for p in failed_now))
                or (failed_now and len(failed_now) == len(procs) and can_hedge)
            )
            if start_hedge and can_hedge:
                nxt = cluster.pick(tuple(used), parent.key)
                if nxt is None:
                    if not pending:
                        return procs[-1].value, used[-1]
                    continue
                used.append(nxt)
                procs.append(env.process(self._one(proxy, cluster, pol, deadline, nxt, parent, original, n, True)))

    def _after(
        self,
        proxy: Proxy,
        cluster: Cluster,
        ep: int,
        res: Outcome,
        rtt_s: float,
        n: int,
        hedge: bool,
        original: bool,
    ) -> None:
        """Per-attempt bookkeeping in the caller's proxy: detectors, balancer feedback, metrics."""
        now = self.env.now
        failure = res.cause is not None and (res.status >= 500 or res.no_response)
        if cluster.outlier is not None and cluster.outlier.record(
            ep, failure, failure and res.status in _GATEWAY, now, cluster.known()
        ):
            self._ejected(cluster, ep, now)
        if cluster.accrual is not None and cluster.accrual.record(ep, failure, now):
            self._ejected(cluster, ep, now)
        if cluster.ewma is not None:
            cluster.ewma.observe(ep, rtt_s, cluster, now)
        if cluster.breaker is not None:
            cluster.breaker.record(now, res.no_response, res.status, rtt_s)
        for hook in self.on_attempt_end:
            hook(cluster, ep, res, rtt_s)
        self._record(proxy, cluster.service, res, n, hedge, original)

    def _ejected(self, cluster: Cluster, ep: int, now: float) -> None:
        if now >= self.warmup_s:
            self.rec.services[cluster.service].ejections += 1
            self.rec.event(
                now, "ejection", service=cluster.service, caller=cluster.proxy.name, replica=cluster.endpoints[ep].rid
            )

    def _record(self, proxy: Proxy, service: str, res: Outcome, n: int, hedge: bool, original: bool) -> None:
        now = self.env.now
        if now >= self.warmup_s:
            self.rec.attempt_done(proxy.name, service, res.cause, n > 0, hedge, original and not hedge, now)
