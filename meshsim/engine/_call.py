"""A logical call in the caller's proxy: version, every attempt, retries, timeouts and hedging.

The order of checks follows Envoy's router [E1, E2]: the route timeout covers every attempt
and back-off; each attempt passes the breaker, fault injection and the connection pool
(pending requests count against the route timeout only), picks an endpoint (a retry avoids
the hosts already tried when ``retry_different_host``), and waits for the answer or its
per-try timeout; a failed attempt is retried when the retry policy matches, the retry limit
admits it and the attempts are not used up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from simpy.events import NORMAL

from meshsim.engine._exchange import Exchange
from meshsim.engine._proxy import GRANTED, POOL_FULL, Cluster, Proxy
from meshsim.engine._runtime import (
    NO_ENDPOINT,
    NULL_WAITER,
    OVERFLOW_LOCAL,
    PER_TRY_TIMEOUT,
    ROUTE_TIMEOUT,
    Context,
    Outcome,
    Waiter,
    Wake,
    outcome,
)
from meshsim.engine._timers import Timer

if TYPE_CHECKING:
    from meshsim.engine._path import RequestPath
    from meshsim.scenario._policies import HedgingSpec

__all__ = ["Call", "Hedge"]


def _try_limit(cluster: Cluster, deadline: float | None, now: float) -> tuple[float | None, Outcome]:
    """How long one attempt may take (s, None: no limit) and the outcome when it runs out."""
    limit_s = cluster.per_try_timeout_s
    if deadline is not None:
        left = deadline - now
        if limit_s is None or left <= limit_s:
            return left, ROUTE_TIMEOUT
    return limit_s, PER_TRY_TIMEOUT


class Call(Wake):
    """One logical call from ``proxy`` to ``service``; ``owner.resume(outcome, call)`` at its end."""

    __slots__ = (
        "path",
        "proxy",
        "service",
        "version",
        "cluster",
        "ctx",
        "try_ctx",
        "owner",
        "hooked",
        "started_s",
        "deadline",
        "n",
        "tried",
        "ep",
        "exchange",
        "timer",
        "span_id",
        "local_res",
    )

    def __init__(
        self,
        path: RequestPath,
        proxy: Proxy,
        service: str,
        version: str | None,
        cluster: Cluster,
        ctx: Context,
        owner: Waiter,
        hooked: bool = True,
    ) -> None:
        """A call through ``cluster`` (``version`` is the routed subset, None without a split)."""
        self.path = path
        self.proxy = proxy
        self.service = service
        self.version = version
        self.cluster = cluster
        self.ctx = ctx
        self.try_ctx = ctx
        self.owner = owner
        self.hooked = hooked
        self.started_s = path.env._now
        self.deadline: float | None = None
        self.n = 0  # attempts made before the current one
        self.tried: tuple[int, ...] = ()
        self.ep = -1
        self.exchange: Exchange | None = None
        self.timer: Timer | None = None
        self.span_id = 0
        self.local_res: Outcome = ROUTE_TIMEOUT  # an answer of the proxy's own on its way back

    def start(self) -> None:
        """Mirror, start the route timeout, make the first attempt."""
        path = self.path
        now = self.started_s
        ctx = self.ctx
        if ctx.trace is not None and not self.proxy.is_ingress:
            # a client span in the caller covers every attempt of the call
            self.span_id = path.tracing.new_span_id()
            self.try_ctx = ctx.child(self.span_id)
        pol = self.cluster.policy
        if pol.mirror is not None and path.u_policy() * 100.0 < pol.mirror.percent:
            self._mirror(pol.mirror.to)
        if pol.timeout_s:
            self.deadline = now + pol.timeout_s
        self._attempt()

    def _mirror(self, target: str) -> None:
        """Istio mirroring: a best-effort copy the caller never waits for.

        The copy goes to a version of the same service, or to another service. Its load is
        real; its outcome is dropped.
        """
        path = self.path
        shadow = Context(False, None, 0, self.ctx.key, self.ctx.priority)
        if target in path.mesh.scenario.services:
            path.call(self.proxy, target, shadow, NULL_WAITER, hooked=False)
            return
        cluster = path.cluster(self.proxy, self.service, target)
        ep = cluster.pick((), shadow.key)
        if ep is not None:
            Exchange(path, self.proxy, cluster, ep, shadow, NULL_WAITER, direct=True, may_retry=False).start()

    # ----- one attempt -----
    def _attempt(self) -> None:
        path = self.path
        cluster = self.cluster
        now = path.env._now
        n = self.n
        limit = cluster.retry_limit
        if n > 0 and limit is not None:
            limit.started()
        if self.deadline is not None and now >= self.deadline:
            self._tried(ROUTE_TIMEOUT, -1)
            return
        if n > 0:
            self.try_ctx = self.try_ctx.retry()  # a retry and what it calls are extra load
        if cluster.breaker is not None and not cluster.breaker.allow(now):
            self._local(OVERFLOW_LOCAL)
            return
        fault = cluster.policy.fault
        if fault is not None:
            if fault.abort is not None and path.u_policy() * 100.0 < fault.abort.percent:
                self._local(outcome("error", fault.abort.status, local=True))
                return
            if fault.delay is not None and path.u_policy() * 100.0 < fault.delay.percent:
                wait = fault.delay.fixed
                if self.deadline is not None and now + wait >= self.deadline:
                    self.callbacks = _FAULT_DELAY_TIMED_OUT
                    path.schedule(self, NORMAL, self.deadline - now)
                else:
                    self.callbacks = _FAULT_DELAY_DONE
                    path.schedule(self, NORMAL, wait)
                return
        self._acquire()

    def _local(self, res: Outcome) -> None:
        """The caller's proxy answered the attempt itself."""
        path = self.path
        path.record(self.cluster, res, self.n, False, self.try_ctx.original)
        if self.cluster.policy.local_reply_hop and res is not ROUTE_TIMEOUT:
            cost_s = path.local_reply_s(self.proxy)  # a proxy a hop away (Traefik)
            if cost_s > 0:
                self.local_res = res
                self.callbacks = _LOCAL_REPLY
                path.schedule(self, NORMAL, cost_s)
                return
        self._tried(res, -1)

    def _local_replied(self) -> None:
        self._tried(self.local_res, -1)

    def _fault_delay_timed_out(self) -> None:
        self._local(ROUTE_TIMEOUT)

    def _acquire(self) -> None:
        slot = self.cluster.acquire(self)
        if slot == GRANTED:
            self._send()
        elif slot == POOL_FULL:
            self._local(OVERFLOW_LOCAL)
        elif self.deadline is not None:
            # pending for a connection: counts against the route timeout only [E2]
            self.timer = Timer(self)
            self.path.timers.once(max(0.0, self.deadline - self.path.env._now), self.timer)

    def _stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def granted(self) -> None:
        """The pool handed this pending call a slot: send after the current event."""
        self._stop_timer()
        self.callbacks = _SEND
        self.path.schedule(self, NORMAL, 0.0)

    def _send(self) -> None:
        cluster = self.cluster
        ep = cluster.pick(self.tried, self.ctx.key)
        if ep is None:
            cluster.release()
            self._local(NO_ENDPOINT)
            return
        if cluster.policy.hedging is not None:
            Hedge(self, cluster.policy.hedging).start(ep)
            return
        path = self.path
        now = path.env._now
        exchange = Exchange(path, self.proxy, cluster, ep, self.try_ctx, self)
        self.exchange = exchange
        self.ep = ep
        cluster.active[ep] += 1
        limit_s, fired = _try_limit(cluster, self.deadline, now)
        if limit_s is not None:
            self.timer = Timer(self, fired)
            if fired is PER_TRY_TIMEOUT:
                path.timers.every(limit_s, self.timer)  # the policy's per-try timeout: one lane for all
            else:
                path.timers.once(limit_s, self.timer)
        exchange.start()

    def resume(self, res: Outcome, child: Any) -> None:
        """The current attempt's answer (answers of abandoned attempts never come here)."""
        if child is not self.exchange:
            return
        self._stop_timer()
        self._answered(res)

    def on_timer(self, timer: Timer) -> None:
        """A per-try or route timeout fired while waiting for an answer or a connection slot."""
        if timer is not self.timer:
            return  # the attempt ended before
        self.timer = None
        exchange = self.exchange
        if exchange is None:  # pending for a connection slot
            self.cluster.abandon_pending(self)
            self._local(ROUTE_TIMEOUT)
            return
        exchange.abandoned = True  # the upstream keeps working unless it cancels
        if exchange.replica.spec.cancel_on_timeout:
            exchange.cancel()
        self._answered(timer.fired)

    def _answered(self, res: Outcome) -> None:
        exchange = self.exchange
        assert exchange is not None
        self.exchange = None
        cluster = self.cluster
        ep = self.ep
        cluster.active[ep] -= 1
        path = self.path
        path.attempt_ended(cluster, ep, res, path.env._now - exchange.sent_s, self.n, False, self.try_ctx.original)
        cluster.release()
        self._tried(res, ep)

    def hedged(self, res: Outcome, ep: int) -> None:
        """The hedged attempt ended (see :class:`Hedge`)."""
        self.cluster.release()
        self._tried(res, ep)

    def after_try(self, res: Outcome, ep: int) -> None:
        """Take over after the first try, made outside a Call, ended with ``res`` (``ep`` -1: none)."""
        self._tried(res, ep)

    # ----- retries -----
    def _tried(self, res: Outcome, ep: int) -> None:
        """Attempt ``n`` ended with ``res`` (``ep`` -1: it never reached an endpoint): retry or finish."""
        path = self.path
        cluster = self.cluster
        retries = cluster.retries
        limit = cluster.retry_limit
        now = path.env._now
        n = self.n
        if n > 0 and limit is not None:
            limit.finished()
        if (
            res.cause is None
            or res is ROUTE_TIMEOUT
            or n >= retries.attempts
            or not retries.retriable(res)
            or (retries.retry_window_s is not None and now - self.started_s >= retries.retry_window_s)
        ):
            if limit is not None:
                limit.deposit(now)  # Linkerd deposits for responses it does not retry
            self._finish(res)
            return
        if limit is not None and not limit.admit(cluster.total_active + len(cluster.pending), now):
            limit.deposit(now)  # a response that is not retried still deposits (Linkerd [L11])
            if now >= path.warmup_s:
                path.rec.services[self.service].budget_refusals += 1
            self._finish(outcome("budget_exhausted", res.status, local=True))
            return
        self.n = n + 1
        if now >= path.warmup_s and cluster.meter is not None:
            cluster.meter.retry_decided(now)
        if cluster.policy.retry_different_host and ep >= 0:
            self.tried = self.tried + (ep,)
        wait = retries.backoff_s(self.n)
        if wait > 0:
            if self.deadline is not None and now + wait >= self.deadline:
                self.callbacks = _BACKOFF_TIMED_OUT
                path.schedule(self, NORMAL, self.deadline - now)
            else:
                self.callbacks = _RETRY
                path.schedule(self, NORMAL, wait)
            return
        self._attempt()

    def _backoff_timed_out(self) -> None:
        self._finish(ROUTE_TIMEOUT)

    def _finish(self, res: Outcome) -> None:
        path = self.path
        if self.span_id:
            self._span(res)
        if self.hooked:
            for hook in path.hooks.call_end:
                hook(self.service, self.version, res, self.started_s)
        self.owner.resume(res, self)

    def _span(self, res: Outcome) -> None:
        proxy = self.proxy
        trace = self.ctx.trace
        assert trace is not None
        parent_id = self.ctx.span_id
        trace.append(
            {
                "span_id": f"{self.span_id:016x}",
                "parent_id": f"{parent_id:016x}" if parent_id else None,
                "service": proxy.name,
                "version": proxy.replica.version if proxy.replica else None,
                "name": f"call {self.service}",
                "kind": "client",
                "peer_service": self.service,
                "start_s": self.started_s,
                "duration_s": self.path.env._now - self.started_s,
                "error": res.cause is not None,
                "status_code": res.status,
                "location": proxy.zone,
                "instance": f"{proxy.name}-{proxy.replica.rid}" if proxy.replica else None,
            }
        )


_FAULT_DELAY_DONE: tuple[Callable[[Call], None]] = (Call._acquire,)
_FAULT_DELAY_TIMED_OUT: tuple[Callable[[Call], None]] = (Call._fault_delay_timed_out,)
_SEND: tuple[Callable[[Call], None]] = (Call._send,)
_LOCAL_REPLY: tuple[Callable[[Call], None]] = (Call._local_replied,)
_RETRY: tuple[Callable[[Call], None]] = (Call._attempt,)
_BACKOFF_TIMED_OUT: tuple[Callable[[Call], None]] = (Call._backoff_timed_out,)


class Hedge:
    """Hedged attempts [Dean and Barroso]: another endpoint after ``delay`` or a per-try timeout.

    The first success wins. A hedge starts when the hedge delay passes since the last one,
    when an attempt hits its per-try timeout (``on_per_try_timeout``), or when every attempt
    so far has failed; at most ``max_attempts`` in all, each to an endpoint not used yet when
    there is one, and only before the route deadline. With nothing left to wait for and no hedge to start, the
    last failure is the answer. Attempts that lose the race run on and keep their books.
    """

    __slots__ = ("call", "spec", "exchanges", "timers", "used", "outstanding", "last", "done", "delay_timer")

    def __init__(self, call: Call, spec: HedgingSpec) -> None:
        """Hedging of ``call``'s current attempt, as ``spec`` says."""
        self.call = call
        self.spec = spec
        self.exchanges: list[Exchange] = []
        self.timers: list[Timer | None] = []
        self.used: list[int] = []
        self.outstanding = 0
        self.last: Outcome = ROUTE_TIMEOUT
        self.done = False
        self.delay_timer: Timer | None = None

    def start(self, ep: int) -> None:
        """Send the first attempt to ``ep``."""
        self._launch(ep)

    def _launch(self, ep: int) -> None:
        call = self.call
        path = call.path
        cluster = call.cluster
        now = path.env._now
        hedge = bool(self.exchanges)
        ctx = call.try_ctx if not hedge else call.try_ctx.retry()  # a hedge's calls are extra load
        exchange = Exchange(path, call.proxy, cluster, ep, ctx, self)
        self.exchanges.append(exchange)
        self.used.append(ep)
        self.outstanding += 1
        cluster.active[ep] += 1
        limit_s, fired = _try_limit(cluster, call.deadline, now)
        timer = None
        if limit_s is not None:
            timer = Timer(self, fired)
            if fired is PER_TRY_TIMEOUT:
                path.timers.every(limit_s, timer)
            else:
                path.timers.once(limit_s, timer)
        self.timers.append(timer)
        if self.delay_timer is not None:
            self.delay_timer.cancel()
            self.delay_timer = None
        if self.spec.delay is not None and len(self.exchanges) < self.spec.max_attempts:
            self.delay_timer = Timer(self)
            path.timers.every(self.spec.delay, self.delay_timer)
        exchange.start()

    def resume(self, res: Outcome, child: Any) -> None:
        """An attempt answered (one that timed out was abandoned and never answers here)."""
        i = self.exchanges.index(child)
        timer = self.timers[i]
        if timer is not None:
            timer.cancel()
            self.timers[i] = None
        self._ended_with(i, res)

    def on_timer(self, timer: Timer) -> None:
        """The hedge delay passed, or an attempt's per-try (or route) limit ran out."""
        if timer is self.delay_timer:
            self.delay_timer = None
            if not self.done:
                self._maybe_hedge()
            return
        if timer not in self.timers:
            return
        i = self.timers.index(timer)
        self.timers[i] = None
        exchange = self.exchanges[i]
        exchange.abandoned = True
        if exchange.replica.spec.cancel_on_timeout:
            exchange.cancel()
        self._ended_with(i, timer.fired)

    def _ended_with(self, i: int, res: Outcome) -> None:
        call = self.call
        path = call.path
        exchange = self.exchanges[i]
        call.cluster.active[exchange.ep] -= 1
        rtt_s = path.env._now - exchange.sent_s
        path.attempt_ended(call.cluster, exchange.ep, res, rtt_s, call.n, i > 0, call.try_ctx.original)
        self.outstanding -= 1
        if self.done:
            return  # a loser of the race: its books are kept, its answer is not
        if res.cause is None:
            self._end(res, exchange.ep)
            return
        self.last = res
        if res is PER_TRY_TIMEOUT and self.spec.on_per_try_timeout or self.outstanding == 0:
            self._maybe_hedge()
        if not self.done and self.outstanding == 0:
            self._end(self.last, self.used[-1])

    def _maybe_hedge(self) -> None:
        call = self.call
        if len(self.exchanges) >= self.spec.max_attempts:
            return
        if call.deadline is not None and call.path.env._now >= call.deadline:
            return
        nxt = call.cluster.pick(tuple(self.used), call.ctx.key)
        if nxt is None:
            return
        self._launch(nxt)

    def _end(self, res: Outcome, ep: int) -> None:
        self.done = True
        if self.delay_timer is not None:
            self.delay_timer.cancel()
            self.delay_timer = None
        self.call.hedged(res, ep)
