"""One attempt on the wire: the caller's proxy, the network, the callee's proxy, and back.

The outbound proxy, the network and the inbound proxy are one delay (nothing can interrupt
it); then the replica's service discipline (:mod:`._server`) takes the attempt, and its
answer travels back. A ``direct`` exchange is a whole call whose policy has no timers,
limits or hedges: it keeps the per-attempt books itself and hands over to a
:class:`~._call.Call` only when a retry is due.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from simpy.events import NORMAL

from meshsim.engine._proxy import Cluster, Proxy
from meshsim.engine._runtime import CONNECT_FAILURE, OK, RATE_LIMITED, Context, Outcome, Waiter, Wake

if TYPE_CHECKING:
    from meshsim.engine._path import RequestPath
    from meshsim.engine._server import Visit
    from meshsim.topology import Path

__all__ = ["Exchange"]


class Exchange(Wake):
    """One attempt from a caller's proxy to one replica, and the answer's way back.

    ``owner.resume(outcome, exchange)`` receives the answer unless the owner gave up first
    (``abandoned``). The replica's side fills in when it arrived, got a worker and was
    done (seconds).
    """

    __slots__ = (
        "path",
        "proxy",
        "cluster",
        "ep",
        "replica",
        "ctx",
        "owner",
        "direct",
        "may_retry",
        "sent_s",
        "out_path",
        "back_path",
        "res",
        "abandoned",
        "cancelled",
        "visit",
        "arrived_s",
        "started_s",
        "ended_s",
        "epoch",
        "span_id",
    )
    # filled in by the replica's side (meshsim.engine._server) before anything reads them
    arrived_s: float  # when it reached the replica
    started_s: float  # when it got a worker
    ended_s: float  # when the replica answered
    epoch: int  # the replica's epoch on arrival (a crash bumps it)
    span_id: int  # its server span, when the request is sampled

    def __init__(
        self,
        path: RequestPath,
        proxy: Proxy,
        cluster: Cluster,
        ep: int,
        ctx: Context,
        owner: Waiter,
        direct: bool = False,
        may_retry: bool = True,
    ) -> None:
        """An attempt from ``proxy`` to endpoint ``ep`` of ``cluster``, answered to ``owner``.

        ``direct``: the attempt is a whole call and keeps its own books; ``may_retry``: a
        direct one hands over to a Call when its policy retries the answer (not a mirrored copy).
        """
        self.path = path
        self.proxy = proxy
        self.cluster = cluster
        self.ep = ep
        self.replica = cluster.endpoints[ep]
        self.ctx = ctx
        self.owner = owner
        self.direct = direct
        self.may_retry = may_retry
        self.out_path: Path | None = None
        self.res: Outcome = OK
        self.abandoned = False  # the owner stopped waiting (a timeout)
        self.cancelled = False  # ... and told the callee to stop (cancel_on_timeout)
        self.visit: Visit | None = None
        # set by the replica's side before they are read: arrived_s, started_s, ended_s, epoch,
        # span_id (left out here: a call is made hundreds of thousands of times a second)

    def start(self) -> None:
        """Send: the outbound proxy, the network and the inbound proxy as one delay."""
        path = self.path
        replica = self.replica
        proxy = self.proxy
        self.sent_s = path.env._now
        if self.direct:
            self.cluster.active[self.ep] += 1
        net = path.net
        ovh = path.overhead
        if (
            ovh is None
            and net.quiet
            and replica.limiter is None
            and (proxy.zone is None or proxy.zone == replica.zone)
            and not (replica.blackholed or replica.refusing or net.partitions or net.extra)
        ):
            if replica.spec.refuse_share and replica.spec.refuses():
                self._refused(0.0)
                return
            replica.workers.admit(self)  # a local hop costs nothing on the way (RequestPath.local_hop)
            return
        delay = ovh() if (ovh is not None and not proxy.is_ingress) else 0.0  # the caller's outbound proxy
        if replica.blackholed or (net.partitions and net.cut(proxy.zone, replica.zone)):
            # a black hole: the connect attempt waits for the connect timeout
            self.res = CONNECT_FAILURE
            self.callbacks = _FAILED
            path.schedule(self, NORMAL, delay + self.cluster.policy.connect_timeout_s)
            return
        route = self.cluster.routes[self.ep]
        if route is None:
            route = self.cluster.route(self.ep, net)
        out, self.back_path = route
        self.out_path = out
        outbound_s = delay
        if out.loss or out.bytes_per_s:
            delay += net.delay(out, replica.spec.request_bytes)
        elif not out.zero:
            delay += out.latency()  # NetworkModel.delay without bandwidth and loss
        if net.extra:
            delay += net.extra_delay(proxy.zone, replica.zone)
        if replica.refusing or (replica.spec.refuse_share and replica.spec.refuses()):
            # the SYN and the RST: with refusal_round_trip one network round trip and the
            # retrying proxy's own work for the try (half a traversal: it builds the request
            # and dials, but nothing is forwarded, so no inbound proxy and no service);
            # else the way there, outbound proxy included, twice
            if self.cluster.policy.refusal_round_trip:
                self._refused(2 * (delay - outbound_s) + (0.5 * ovh() if ovh is not None else 0.0))
            else:
                self._refused(2 * delay)
            return
        if ovh is not None:
            delay += ovh()  # the callee's inbound proxy
        if delay > 0:
            self.callbacks = _ARRIVE
            path.schedule(self, NORMAL, delay)
        else:
            self._arrive()

    def _refused(self, cost_s: float) -> None:
        """The replica refused the connection; the caller learns it after ``cost_s`` seconds."""
        self.res = CONNECT_FAILURE
        if cost_s > 0:
            self.callbacks = _FAILED
            self.path.schedule(self, NORMAL, cost_s)
        else:
            self._end()

    def _arrive(self) -> None:
        if self.cancelled:
            return  # reset by the caller on the way: the callee never sees it
        replica = self.replica
        limiter = replica.limiter
        if limiter is not None and not limiter.take(self.path.env._now):
            self.respond(RATE_LIMITED)
            return
        replica.workers.admit(self)

    # ----- the answer -----
    def back_delay(self) -> float:
        """The answer's one-way trip back, seconds (0 for a local hop)."""
        out = self.out_path
        if out is None or (out.zero and not out.bytes_per_s):
            return 0.0
        back = self.back_path
        if back.loss or back.bytes_per_s:
            return self.path.net.delay(back, self.replica.spec.response_bytes)
        return 0.0 if back.zero else back.latency()  # NetworkModel.delay without bandwidth and loss

    def respond(self, res: Outcome) -> None:
        """The replica answers ``res`` now; the answer starts its way back."""
        self.res = res
        back = self.back_delay()
        if back > 0:
            self.callbacks = _BACK
            self.path.schedule(self, NORMAL, back)
        else:
            self._back()

    def answer_at(self, res: Outcome, ended_s: float) -> None:
        """The replica will be done at ``ended_s`` with ``res`` (a planned visit); schedule the answer's arrival."""
        self.res = res
        self.ended_s = ended_s
        path = self.path
        self.callbacks = _PLANNED
        path.schedule(self, NORMAL, ended_s - path.env._now + self.back_delay())

    def _planned_back(self) -> None:
        self.replica.workers.complete(self)
        self._back()

    def _back(self) -> None:
        out = self.out_path
        if out is not None and out.relation != "same_zone" and self.path.env._now >= self.path.warmup_s:
            self._count_bytes(out)
        self._end()

    def _count_bytes(self, out: Path) -> None:
        meter = self.cluster.meter
        if meter is None:
            return
        spec = self.replica.spec
        edge = meter.edge
        nbytes = spec.request_bytes + spec.response_bytes
        if out.relation == "cross_zone":
            edge.bytes_cross_zone += nbytes
        elif out.relation == "cross_region":
            edge.bytes_cross_region += nbytes
        else:
            edge.bytes_cross_cloud += nbytes
        # each direction is priced by its sender's provider (network.Path.back_price_per_gb)
        edge.egress_usd += (spec.request_bytes * out.price_per_gb + spec.response_bytes * out.back_price_per_gb) / 1e9

    def _end(self) -> None:
        res = self.res
        if self.direct:
            cluster = self.cluster
            path = self.path
            cluster.active[self.ep] -= 1
            now = path.env._now
            if cluster.observed or path.hooks.attempt_end:
                path.attempt_ended(cluster, self.ep, res, now - self.sent_s, 0, False, self.ctx.original)
            elif now >= path.warmup_s and cluster.meter is not None:
                cluster.meter.attempt(res.cause, False, False, self.ctx.original, now)
            if res.cause is not None and self.may_retry and cluster.retries.attempts:
                path.after_first_try(self, res)  # a retry may be due: a Call takes over
                return
            if cluster.retry_limit is not None:
                cluster.retry_limit.deposit(path.env._now)
        if not self.abandoned:
            self.owner.resume(res, self)

    def cancel(self) -> None:
        """The caller resets the attempt: the callee stops working on it (``cancel_on_timeout``)."""
        self.cancelled = True
        if self.visit is not None:
            self.visit.cancel()


_ARRIVE: tuple[Callable[[Exchange], None]] = (Exchange._arrive,)
_BACK: tuple[Callable[[Exchange], None]] = (Exchange._back,)
_PLANNED: tuple[Callable[[Exchange], None]] = (Exchange._planned_back,)
_FAILED: tuple[Callable[[Exchange], None]] = (Exchange._end,)
